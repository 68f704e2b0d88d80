"""supervision: records and credits

Revision ID: 0003_supervision
Revises: 0002_training
Create Date: 2026-11-28 14:20:09.232050

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003_supervision'
down_revision = '0002_training'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('supervision_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('supervisor_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('format', sa.String(length=12), nullable=False),
    sa.Column('mode', sa.String(length=8), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('hours', sa.Numeric(precision=3, scale=1), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('functions', sa.JSON(), nullable=False),
    sa.Column('advice', sa.Text(), nullable=True),
    sa.Column('follow_up', sa.Text(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("format IN ('individual','group')", name=op.f('ck_supervision_records_format')),
    sa.CheckConstraint("kind IN ('special','overall','peer')", name=op.f('ck_supervision_records_kind')),
    sa.CheckConstraint("mode IN ('onsite','online')", name=op.f('ck_supervision_records_mode')),
    sa.CheckConstraint('hours > 0 AND hours <= 8', name=op.f('ck_supervision_records_hours')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_supervision_records_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['supervisor_id'], ['people.id'], name=op.f('fk_supervision_records_supervisor_id_people')),
    sa.ForeignKeyConstraint(['unit_id'], ['org_units.id'], name=op.f('fk_supervision_records_unit_id_org_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_records'))
    )
    with op.batch_alter_table('supervision_records', schema=None) as batch_op:
        batch_op.create_index('ix_supervision_records_supervisor', ['supervisor_id', 'held_on'], unique=False)
        batch_op.create_index('ix_supervision_records_unit_date', ['unit_id', 'held_on'], unique=False)

    op.create_table('supervision_credits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('hours', sa.Numeric(precision=3, scale=1), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.String(length=255), nullable=True),
    sa.Column('responded_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("status IN ('unconfirmed','confirmed','disputed')", name=op.f('ck_supervision_credits_status')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_supervision_credits_person_id_people')),
    sa.ForeignKeyConstraint(['record_id'], ['supervision_records.id'], name=op.f('fk_supervision_credits_record_id_supervision_records'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_credits')),
    sa.UniqueConstraint('record_id', 'person_id', name=op.f('uq_supervision_credits_record_id_person_id'))
    )
    with op.batch_alter_table('supervision_credits', schema=None) as batch_op:
        batch_op.create_index('ix_supervision_credits_person', ['person_id', 'status'], unique=False)



def downgrade():
    with op.batch_alter_table('supervision_credits', schema=None) as batch_op:
        batch_op.drop_index('ix_supervision_credits_person')

    op.drop_table('supervision_credits')
    with op.batch_alter_table('supervision_records', schema=None) as batch_op:
        batch_op.drop_index('ix_supervision_records_unit_date')
        batch_op.drop_index('ix_supervision_records_supervisor')

    op.drop_table('supervision_records')
