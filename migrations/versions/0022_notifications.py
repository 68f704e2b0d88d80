"""notifications: an outbox per reader that is shown in the app and mailed; users' addresses and preferences

Revision ID: 0022_notifications
Revises: 0021_certificate_lookup
Create Date: 2026-12-01 00:30:00

``notifications`` replaces ``person_notices``: every notice is copied over (its reader the same person,
its key ``notice:<old id>``, not to be mailed, read or unread as it was) before the old table is
dropped. A notification's key is unique: the scheduler and retried jobs write each one once.

``users`` gain ``email`` (none: notifications stay in the app) and ``notify_prefs`` (JSON, empty: every
event by mail, no digest, no quiet hours). Downgrade copies the notices of people back, and drops the
rest (notifications of accounts without a person had no place before).
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0022_notifications"
down_revision = "0021_certificate_lookup"
branch_labels = None
depends_on = None

MAIL_STATES = "'none','pending','sending','sent','held','digested','skipped','failed'"


def upgrade():
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("link", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("read_at", sa.DateTime(), nullable=True),
        sa.Column("mail_state", sa.String(length=8), nullable=False),
        sa.Column("mail_due_at", sa.DateTime(), nullable=True),
        sa.Column("mail_attempts", sa.Integer(), nullable=False),
        sa.Column("mail_error", sa.String(length=255), nullable=True),
        sa.Column("mail_sent_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("user_id IS NOT NULL OR person_id IS NOT NULL", name=op.f("ck_notifications_reader")),
        sa.CheckConstraint(f"mail_state IN ({MAIL_STATES})", name=op.f("ck_notifications_mail_state")),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_notifications_person_id_people"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_notifications_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("key", name=op.f("uq_notifications_key")),
    )
    op.create_index("ix_notifications_user", "notifications", ["user_id", "read_at"])
    op.create_index("ix_notifications_person", "notifications", ["person_id", "read_at"])
    op.create_index("ix_notifications_mail", "notifications", ["mail_state", "mail_due_at"])
    # Every notice, as it was: one INSERT … SELECT (the key from the old id, so it stays unique).
    op.execute(
        "INSERT INTO notifications (key, kind, person_id, params, created_at, read_at, mail_state, mail_attempts) "
        "SELECT 'notice:' || CAST(id AS VARCHAR(20)), kind, person_id, params, created_at, read_at, 'none', 0 "
        "FROM person_notices"
    )
    op.drop_index("ix_person_notices_person", table_name="person_notices")
    op.drop_table("person_notices")
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch.add_column(sa.Column("notify_prefs", sa.JSON(), nullable=True))
    op.execute("UPDATE users SET notify_prefs = '{}'")
    with op.batch_alter_table("users") as batch:
        batch.alter_column("notify_prefs", existing_type=sa.JSON(), nullable=False)


def downgrade():
    with op.batch_alter_table("users") as batch:
        batch.drop_column("notify_prefs")
        batch.drop_column("email")
    op.create_table(
        "person_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("read_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_person_notices_person_id_people"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_notices")),
    )
    op.create_index("ix_person_notices_person", "person_notices", ["person_id", "read_at"])
    op.execute(
        "INSERT INTO person_notices (person_id, kind, params, created_at, read_at) "
        "SELECT person_id, kind, params, created_at, read_at FROM notifications "
        "WHERE person_id IS NOT NULL AND kind IN "
        "('session.cancelled','session.restored','session.rescheduled','supervision.voided') ORDER BY id"
    )
    op.drop_index("ix_notifications_mail", table_name="notifications")
    op.drop_index("ix_notifications_person", table_name="notifications")
    op.drop_index("ix_notifications_user", table_name="notifications")
    op.drop_table("notifications")
