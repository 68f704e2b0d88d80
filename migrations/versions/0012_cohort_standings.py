"""cohort standings: per cohort member, trained and supervised by the cohort's rule, kept current on write

Revision ID: 0012_cohort_standings
Revises: 0011_unit_figures
Create Date: 2026-11-30 13:50:00

Dashboards count these rows instead of summing every member's months on every load. ``cohort_people``
holds a row per cohort and member: whether the member meets the cohort's training rule and its
supervision rule (counting confirmed supervision only, and counting unconfirmed supervision too), the
first month each hours rule was reached, and the unit the member works in now. The table is filled
from the existing cohorts, people and monthly rollups by the application's own recomputation (``lms
ledger rebuild`` runs the same) at the end of 0013_assessments: the rules read that revision's
columns (a course with assessments is completed by those who passed them), so they cannot run on
this revision's schema. (Databases upgraded to this revision before 0013 existed were filled here;
0013 fills them again, with the same rows.) No existing row changes. Downgrade drops the table
(derived data).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_cohort_standings'
down_revision = '0011_unit_figures'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('cohort_people',
    sa.Column('cohort_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('trained', sa.Boolean(), nullable=False),
    sa.Column('supervised', sa.Boolean(), nullable=False),
    sa.Column('supervised_any', sa.Boolean(), nullable=False),
    sa.Column('trained_month', sa.Integer(), nullable=True),
    sa.Column('supervised_month', sa.Integer(), nullable=True),
    sa.Column('supervised_any_month', sa.Integer(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['cohort_id'], ['cohorts.id'], name=op.f('fk_cohort_people_cohort_id_cohorts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_cohort_people_person_id_people'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['org_units.id'], name=op.f('fk_cohort_people_unit_id_org_units'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('cohort_id', 'person_id', name=op.f('pk_cohort_people'))
    )
    op.create_index('ix_cohort_people_person', 'cohort_people', ['person_id'], unique=False)
    # Filled at the end of 0013_assessments, by the application's rules (which read its columns).


def downgrade():
    op.drop_index('ix_cohort_people_person', table_name='cohort_people')
    op.drop_table('cohort_people')
