"""notifications: the unread ones found by their kind

Revision ID: 0023_unread_by_kind
Revises: 0022_notifications
Create Date: 2026-12-03 10:00:00

A partial index on ``notifications.kind`` over the unread rows only. Answering what a notification asked
for (a supervisee confirms their credit) marks read every unread notification of its kind about it,
whoever received it: a coordinator's escalation stays settled when the unit's coordinators change
between the escalation and the answer. The index holds unread rows only, so it stays as small as the
unread lists. No row changes.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0023_unread_by_kind"
down_revision = "0022_notifications"
branch_labels = None
depends_on = None

UNREAD = "read_at IS NULL"


def upgrade():
    op.create_index(
        "ix_notifications_unread_kind", "notifications", ["kind"],
        sqlite_where=sa.text(UNREAD), postgresql_where=sa.text(UNREAD),
    )


def downgrade():
    op.drop_index("ix_notifications_unread_kind", table_name="notifications")
