"""the issuer's printed name and seal belong to the issuing unit

Revision ID: 0020_unit_issuer
Revises: 0019_renewal_rules
Create Date: 2026-11-30 23:00:00

Two nullable columns of ``org_units``: ``issuer_name`` (the name printed on the certificates the
unit issues) and ``seal_key`` (its seal in the file store). Each unit that issues a credential type
takes them from its newest type (the highest id) that has them, the name and seal it issued under
last (a newer type without a seal does not take the unit's seal away). Where a
unit's types disagreed, the other types now print the newest one's name and seal: a unit issues
under one name, so their copies are brought in line (``credential_types.issuer_name`` and
``seal_key`` stay, kept equal to the unit's by the application). Units that issue nothing keep
NULL. Downgrade drops the two columns (the types' copies still hold what they print).
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0020_unit_issuer"
down_revision = "0019_renewal_rules"
branch_labels = None
depends_on = None

NEWEST = (
    "(SELECT t.{column} FROM credential_types t WHERE t.issuer_unit_id = org_units.id AND t.{column} IS NOT NULL "
    "ORDER BY t.id DESC LIMIT 1)"
)


def upgrade():
    with op.batch_alter_table("org_units", schema=None) as batch_op:
        batch_op.add_column(sa.Column("issuer_name", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("seal_key", sa.String(length=255), nullable=True))
    op.execute(
        f"UPDATE org_units SET issuer_name = {NEWEST.format(column='issuer_name')}, "
        f"seal_key = {NEWEST.format(column='seal_key')} "
        "WHERE EXISTS (SELECT 1 FROM credential_types t WHERE t.issuer_unit_id = org_units.id)"
    )
    op.execute(
        "UPDATE credential_types SET "
        "issuer_name = (SELECT u.issuer_name FROM org_units u WHERE u.id = credential_types.issuer_unit_id), "
        "seal_key = (SELECT u.seal_key FROM org_units u WHERE u.id = credential_types.issuer_unit_id)"
    )


def downgrade():
    with op.batch_alter_table("org_units", schema=None) as batch_op:
        batch_op.drop_column("seal_key")
        batch_op.drop_column("issuer_name")
