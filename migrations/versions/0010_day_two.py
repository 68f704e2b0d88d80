"""day-two work: close programs and courses, cancel sessions, void supervision, notices, credential types

Revision ID: 0010_day_two
Revises: 0009_jobs
Create Date: 2026-11-30 06:00:00

Corrections from the browser keep history instead of deleting it: a program or course with
attendance is closed (``closed_at``), a session is cancelled with a reason (its attendance kept,
never counted), a supervision record is voided with a reason (its credits stop counting). The
``person_notices`` table holds what the people concerned are told in the app. Credential types, now
edited from the browser, gain an English title, required program tiers and the issuer's seal (a
key of the file store). New nullable columns and a new table: no existing row changes, and every
existing session, record, course and program stays as it was (not cancelled, not voided, open);
an existing credential type requires no tier (NULL reads as none) and has no seal. A certificate
remembers the bulk approval (job) that issued it, so that the batch can be revoked at once;
certificates issued before have none. A user's calendar feed address is keyed by a nonce, made
on first use. Units can be closed, and a unit's code may be one the academy generated (service
units without an official code): existing units keep their codes, marked as not generated.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_day_two'
down_revision = '0009_jobs'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('org_units', schema=None) as batch_op:
        batch_op.add_column(sa.Column('code_generated', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('course_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancelled_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('cancel_reason', sa.String(length=255), nullable=True))
    with op.batch_alter_table('supervision_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('voided_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('void_reason', sa.String(length=255), nullable=True))
    with op.batch_alter_table('credential_types', schema=None) as batch_op:
        batch_op.add_column(sa.Column('title_en', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('required_tiers', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('seal_key', sa.String(length=255), nullable=True))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('calendar_nonce', sa.String(length=32), nullable=True))
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('job_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_certificates_job_id', ['job_id'], unique=False)
        batch_op.create_foreign_key(op.f('fk_certificates_job_id_jobs'), 'jobs', ['job_id'], ['id'],
                                    ondelete='SET NULL')
    op.create_table(
        'person_notices',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('read_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_person_notices_person_id_people'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_person_notices')),
    )
    with op.batch_alter_table('person_notices', schema=None) as batch_op:
        batch_op.create_index('ix_person_notices_person', ['person_id', 'read_at'], unique=False)


def downgrade():
    with op.batch_alter_table('person_notices', schema=None) as batch_op:
        batch_op.drop_index('ix_person_notices_person')
    op.drop_table('person_notices')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('calendar_nonce')
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('fk_certificates_job_id_jobs'), type_='foreignkey')
        batch_op.drop_index('ix_certificates_job_id')
        batch_op.drop_column('job_id')
    with op.batch_alter_table('credential_types', schema=None) as batch_op:
        batch_op.drop_column('seal_key')
        batch_op.drop_column('required_tiers')
        batch_op.drop_column('title_en')
    with op.batch_alter_table('supervision_records', schema=None) as batch_op:
        batch_op.drop_column('void_reason')
        batch_op.drop_column('voided_at')
    with op.batch_alter_table('course_sessions', schema=None) as batch_op:
        batch_op.drop_column('cancel_reason')
        batch_op.drop_column('cancelled_at')
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.drop_column('closed_at')
    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.drop_column('closed_at')
    with op.batch_alter_table('org_units', schema=None) as batch_op:
        batch_op.drop_column('closed_at')
        batch_op.drop_column('code_generated')
