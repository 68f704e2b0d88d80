"""credentials: types, certificates, serial counters

Revision ID: 0005_credentials
Revises: 0004_coverage
Create Date: 2026-11-28 14:36:37.468233

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_credentials'
down_revision = '0004_coverage'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('serial_counters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('issuer_code', sa.String(length=32), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_serial_counters')),
    sa.UniqueConstraint('issuer_code', 'year', name=op.f('uq_serial_counters_issuer_code_year'))
    )
    op.create_table('credential_types',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('design', sa.String(length=64), nullable=False),
    sa.Column('issuer_unit_id', sa.Integer(), nullable=False),
    sa.Column('issuer_name', sa.String(length=120), nullable=False),
    sa.Column('issuer_code', sa.String(length=32), nullable=False),
    sa.Column('serial_format', sa.String(length=64), nullable=False),
    sa.Column('required_program_ids', sa.JSON(), nullable=False),
    sa.Column('min_training_hours', sa.Numeric(precision=6, scale=1), nullable=True),
    sa.Column('min_supervision_hours', sa.Numeric(precision=6, scale=1), nullable=True),
    sa.Column('period_year', sa.Integer(), nullable=True),
    sa.Column('transition_from', sa.String(length=32), nullable=True),
    sa.Column('transition_to', sa.String(length=32), nullable=True),
    sa.Column('validity_months', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['issuer_unit_id'], ['org_units.id'], name=op.f('fk_credential_types_issuer_unit_id_org_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credential_types')),
    sa.UniqueConstraint('name', name=op.f('uq_credential_types_name'))
    )
    op.create_table('certificates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('credential_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('serial', sa.String(length=64), nullable=False),
    sa.Column('verification_code', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('issued_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('revoke_reason', sa.String(length=255), nullable=True),
    sa.Column('replaces_id', sa.Integer(), nullable=True),
    sa.Column('superseded_by_id', sa.Integer(), nullable=True),
    sa.Column('claims', sa.JSON(), nullable=False),
    sa.Column('design', sa.String(length=64), nullable=False),
    sa.Column('design_version', sa.String(length=16), nullable=False),
    sa.Column('pdf_path', sa.String(length=255), nullable=True),
    sa.Column('pdf_sha256', sa.String(length=64), nullable=True),
    sa.Column('issued_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('valid','revoked')", name=op.f('ck_certificates_status')),
    sa.ForeignKeyConstraint(['credential_id'], ['credential_types.id'], name=op.f('fk_certificates_credential_id_credential_types')),
    sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_certificates_issued_by_id_users')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_certificates_person_id_people')),
    sa.ForeignKeyConstraint(['replaces_id'], ['certificates.id'], name=op.f('fk_certificates_replaces_id_certificates')),
    sa.ForeignKeyConstraint(['superseded_by_id'], ['certificates.id'], name=op.f('fk_certificates_superseded_by_id_certificates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificates')),
    sa.UniqueConstraint('serial', name=op.f('uq_certificates_serial')),
    sa.UniqueConstraint('verification_code', name=op.f('uq_certificates_verification_code'))
    )
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.create_index('ix_certificates_person', ['person_id', 'credential_id'], unique=False)



def downgrade():
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_index('ix_certificates_person')

    op.drop_table('certificates')
    op.drop_table('credential_types')
    op.drop_table('serial_counters')
