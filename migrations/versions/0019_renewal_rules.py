"""renewal rules and per-period continuing-education statements on credential types

Revision ID: 0019_renewal_rules
Revises: 0018_issuer_keys
Create Date: 2026-11-30 22:30:00

Three new columns of ``credential_types``:

- ``renewal_min_hours`` (nullable): continuing-education hours a holder must have earned since
  the certificate was issued to renew it;
- ``renewal_assessment_ids`` (nullable JSON list): assessments the holder must have passed again,
  with a sitting entered after the certificate was issued;
- ``ce_period`` (NOT NULL, false): the statement covers the holder's current registration period,
  with the minimum for their level and whether it is met.

Every existing type gets none of them (NULL, NULL, false): renewing still asks the type's own
rule, and every statement reads as before. Downgrade drops the three columns.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0019_renewal_rules"
down_revision = "0018_issuer_keys"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("credential_types", schema=None) as batch_op:
        batch_op.add_column(sa.Column("renewal_min_hours", sa.Numeric(precision=6, scale=1), nullable=True))
        batch_op.add_column(sa.Column("renewal_assessment_ids", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("ce_period", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table("credential_types", schema=None) as batch_op:
        batch_op.drop_column("ce_period")
        batch_op.drop_column("renewal_assessment_ids")
        batch_op.drop_column("renewal_min_hours")
