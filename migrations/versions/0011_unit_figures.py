"""unit figures: per unit and year, the figures of the people placed on it, kept current on write

Revision ID: 0011_unit_figures
Revises: 0010_day_two
Create Date: 2026-11-30 10:00:00

Reports and dashboards sum these rows over a subtree instead of scanning every person under it.
``unit_years`` holds, per unit and year, the person-times and the distinct people trained and
supervised of the people placed directly on the unit; ``unit_people`` the number of its active
people. Both are filled here from the existing monthly rollups (``person_months``) and people, in
the same statement the application's ``lms ledger rebuild`` uses; no existing row changes.
Two indexes gain the column a report filters on, so that counting a subtree's course sessions
(not cancelled) and supervision records (not voided) reads the index alone:
``ix_course_sessions_course_start`` (course, start, cancelled) and ``ix_supervision_records_unit_date``
(unit, date, voided). Downgrade drops the two tables (they are derived data) and restores the indexes.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_unit_figures'
down_revision = '0010_day_two'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('unit_years',
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('training_person_times', sa.Integer(), nullable=False),
    sa.Column('supervision_person_times', sa.Integer(), nullable=False),
    sa.Column('supervision_person_times_unconfirmed', sa.Integer(), nullable=False),
    sa.Column('people_trained', sa.Integer(), nullable=False),
    sa.Column('people_supervised', sa.Integer(), nullable=False),
    sa.Column('people_supervised_any', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['org_units.id'], name=op.f('fk_unit_years_unit_id_org_units'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('unit_id', 'year', name=op.f('pk_unit_years'))
    )
    op.create_table('unit_people',
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('people', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['org_units.id'], name=op.f('fk_unit_people_unit_id_org_units'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('unit_id', name=op.f('pk_unit_people'))
    )
    # month is yyyymm: integer division by 100 is the year on both databases.
    op.execute(
        """
        INSERT INTO unit_years (unit_id, year, training_person_times, supervision_person_times,
            supervision_person_times_unconfirmed, people_trained, people_supervised, people_supervised_any)
        SELECT p.unit_id, py.year, SUM(py.ts), SUM(py.sc), SUM(py.su),
            COUNT(CASE WHEN py.ts > 0 THEN 1 END),
            COUNT(CASE WHEN py.sc > 0 THEN 1 END),
            COUNT(CASE WHEN py.sc + py.su > 0 THEN 1 END)
        FROM (
            SELECT person_id, month / 100 AS year, SUM(training_sessions) AS ts,
                SUM(supervision_sessions_confirmed) AS sc, SUM(supervision_sessions_unconfirmed) AS su
            FROM person_months GROUP BY person_id, month / 100
        ) AS py JOIN people AS p ON p.id = py.person_id
        GROUP BY p.unit_id, py.year
        """
    )
    op.execute(
        "INSERT INTO unit_people (unit_id, people) SELECT unit_id, COUNT(*) FROM people WHERE active GROUP BY unit_id"
    )
    op.drop_index('ix_course_sessions_course_start', table_name='course_sessions')
    op.create_index('ix_course_sessions_course_start', 'course_sessions', ['course_id', 'starts_at', 'cancelled_at'])
    op.drop_index('ix_supervision_records_unit_date', table_name='supervision_records')
    op.create_index('ix_supervision_records_unit_date', 'supervision_records', ['unit_id', 'held_on', 'voided_at'])


def downgrade():
    op.drop_index('ix_supervision_records_unit_date', table_name='supervision_records')
    op.create_index('ix_supervision_records_unit_date', 'supervision_records', ['unit_id', 'held_on'])
    op.drop_index('ix_course_sessions_course_start', table_name='course_sessions')
    op.create_index('ix_course_sessions_course_start', 'course_sessions', ['course_id', 'starts_at'])
    op.drop_table('unit_people')
    op.drop_table('unit_years')
