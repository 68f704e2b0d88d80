"""credential rules on assessments: assessments to pass and a minimum average score

Revision ID: 0014_credential_assessments
Revises: 0013_assessments
Create Date: 2026-11-30 19:30:00

A credential type may require passing named assessments (``required_assessment_ids``, a JSON list
like ``required_program_ids``) and a minimum average course score (``min_average_score``, 0 to
100). Two new nullable columns: every existing type requires neither (NULL reads as none), so
nobody's eligibility changes. Downgrade drops the two columns.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014_credential_assessments'
down_revision = '0013_assessments'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('credential_types', schema=None) as batch_op:
        batch_op.add_column(sa.Column('required_assessment_ids', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('min_average_score', sa.Numeric(precision=5, scale=1), nullable=True))


def downgrade():
    with op.batch_alter_table('credential_types', schema=None) as batch_op:
        batch_op.drop_column('min_average_score')
        batch_op.drop_column('required_assessment_ids')
