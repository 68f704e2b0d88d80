"""cohorts: a unit's cohorts of a year have distinct names

Revision ID: 0006_cohort_names
Revises: 0005_credentials
Create Date: 2026-11-29 03:50:00

Creating the same cohort twice (an integration retrying a POST) made two cohorts that a report
counted twice. Existing duplicates keep the oldest name; the later ones get their id appended,
"名称 (#17)", so the constraint can be added without losing any cohort.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_cohort_names'
down_revision = '0005_credentials'
branch_labels = None
depends_on = None


def upgrade():
    bind = op.get_bind()
    cohorts = sa.table('cohorts', sa.column('id', sa.Integer), sa.column('unit_id', sa.Integer),
                       sa.column('year', sa.Integer), sa.column('name', sa.String))
    rows = bind.execute(sa.select(cohorts.c.id, cohorts.c.unit_id, cohorts.c.year, cohorts.c.name)
                        .order_by(cohorts.c.id)).all()
    taken = {(unit_id, year, name) for _id, unit_id, year, name in rows}  # every name, renamed or not
    kept = set()
    for cohort_id, unit_id, year, name in rows:
        if (unit_id, year, name) not in kept:
            kept.add((unit_id, year, name))
            continue
        n = 1
        while True:  # "名称 (#17)", or "名称 (#17-2)" if a cohort is already called that; within 120 characters
            suffix = f" (#{cohort_id})" if n == 1 else f" (#{cohort_id}-{n})"
            new_name = name[:120 - len(suffix)] + suffix
            if (unit_id, year, new_name) not in taken:
                break
            n += 1
        bind.execute(cohorts.update().where(cohorts.c.id == cohort_id).values(name=new_name))
        taken.add((unit_id, year, new_name))
        kept.add((unit_id, year, new_name))
    with op.batch_alter_table('cohorts', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_cohorts_unit_id_year_name'), ['unit_id', 'year', 'name'])


def downgrade():
    with op.batch_alter_table('cohorts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_cohorts_unit_id_year_name'), type_='unique')
