"""coverage: cohorts, monthly ledger rollups, certification date

Revision ID: 0004_coverage
Revises: 0003_supervision
Create Date: 2026-11-28 14:24:40.771333

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004_coverage'
down_revision = '0003_supervision'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('cohorts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=True),
    sa.Column('include_rule', sa.Boolean(), nullable=False),
    sa.Column('added_ids', sa.JSON(), nullable=False),
    sa.Column('excluded_ids', sa.JSON(), nullable=False),
    sa.Column('min_training_hours', sa.Numeric(precision=6, scale=1), nullable=True),
    sa.Column('min_courses', sa.Integer(), nullable=True),
    sa.Column('program_ids', sa.JSON(), nullable=False),
    sa.Column('min_supervision_hours', sa.Numeric(precision=6, scale=1), nullable=True),
    sa.Column('min_supervision_sessions', sa.Integer(), nullable=True),
    sa.Column('training_target', sa.Numeric(precision=4, scale=3), nullable=False),
    sa.Column('supervision_target', sa.Numeric(precision=4, scale=3), nullable=False),
    sa.Column('frozen_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('supervision_target > 0 AND supervision_target <= 1', name=op.f('ck_cohorts_supervision_target')),
    sa.CheckConstraint('training_target > 0 AND training_target <= 1', name=op.f('ck_cohorts_training_target')),
    sa.ForeignKeyConstraint(['unit_id'], ['org_units.id'], name=op.f('fk_cohorts_unit_id_org_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cohorts'))
    )
    with op.batch_alter_table('cohorts', schema=None) as batch_op:
        batch_op.create_index('ix_cohorts_unit_year', ['unit_id', 'year'], unique=False)

    op.create_table('cohort_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cohort_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['cohort_id'], ['cohorts.id'], name=op.f('fk_cohort_members_cohort_id_cohorts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_cohort_members_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cohort_members')),
    sa.UniqueConstraint('cohort_id', 'person_id', name=op.f('uq_cohort_members_cohort_id_person_id'))
    )
    with op.batch_alter_table('cohort_members', schema=None) as batch_op:
        batch_op.create_index('ix_cohort_members_person', ['person_id'], unique=False)

    op.create_table('person_months',
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Integer(), nullable=False),
    sa.Column('training_hours', sa.Numeric(precision=8, scale=1), nullable=False),
    sa.Column('training_sessions', sa.Integer(), nullable=False),
    sa.Column('courses_completed', sa.Integer(), nullable=False),
    sa.Column('supervision_hours_confirmed', sa.Numeric(precision=8, scale=1), nullable=False),
    sa.Column('supervision_sessions_confirmed', sa.Integer(), nullable=False),
    sa.Column('supervision_hours_unconfirmed', sa.Numeric(precision=8, scale=1), nullable=False),
    sa.Column('supervision_sessions_unconfirmed', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_person_months_person_id_people'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('person_id', 'month', name=op.f('pk_person_months'))
    )
    with op.batch_alter_table('person_months', schema=None) as batch_op:
        batch_op.create_index('ix_person_months_month', ['month', 'person_id'], unique=False)

    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.add_column(sa.Column('certified_on', sa.Date(), nullable=True))



def downgrade():
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_column('certified_on')

    with op.batch_alter_table('person_months', schema=None) as batch_op:
        batch_op.drop_index('ix_person_months_month')

    op.drop_table('person_months')
    with op.batch_alter_table('cohort_members', schema=None) as batch_op:
        batch_op.drop_index('ix_cohort_members_person')

    op.drop_table('cohort_members')
    with op.batch_alter_table('cohorts', schema=None) as batch_op:
        batch_op.drop_index('ix_cohorts_unit_year')

    op.drop_table('cohorts')
