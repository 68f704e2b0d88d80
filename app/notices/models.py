"""One notification to one reader: a kind and its parameters, worded in the reader's language when shown or sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from ..core.db import UTCDateTime, utcnow
from ..extensions import db

# What is told, in the order the preferences page lists it. Trainees' events, then supervision's, then
# certificates', then the coordinators' digest; ``digest.daily`` is the mail that gathers held ones.
KINDS = (
    "enrolment.enrolled",
    "enrolment.waitlisted",
    "enrolment.promoted",
    "enrolment.withdrawn",
    "session.tomorrow",
    "session.rescheduled",
    "session.cancelled",
    "session.restored",
    "supervision.confirm",
    "supervision.reminder",
    "supervision.escalation",
    "supervision.disputed",
    "supervision.voided",
    "certificate.issued",
    "certificate.revoked",
    "certificate.expiring",
    "certificate.renewable",
    "ce.at_risk",
    "digest.weekly",
)
DAILY_DIGEST = "digest.daily"
ALL_KINDS = (*KINDS, DAILY_DIGEST)

# Where a notification's mail stands: ``none`` not mailed (no mail server, or the event is in-app only);
# ``pending`` waiting for its time (``mail_due_at``); ``sending`` claimed by a worker; ``sent``; ``held`` for
# the reader's daily digest, ``digested`` once it went in one; ``skipped`` (no address, or the reader turned
# this mail off); ``failed`` (given up).
MAIL_STATES = ("none", "pending", "sending", "sent", "held", "digested", "skipped", "failed")


class Notification(db.Model):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user", "user_id", "read_at"),
        Index("ix_notifications_person", "person_id", "read_at"),
        Index("ix_notifications_mail", "mail_state", "mail_due_at"),
        # The unread of a kind, whoever reads them: what an answer settles (mark_answered's key_prefixes).
        Index(
            "ix_notifications_unread_kind",
            "kind",
            sqlite_where=text("read_at IS NULL"),
            postgresql_where=text("read_at IS NULL"),
        ),
        CheckConstraint("user_id IS NOT NULL OR person_id IS NOT NULL", name="reader"),
        CheckConstraint(
            "mail_state IN ('none','pending','sending','sent','held','digested','skipped','failed')", name="mail_state"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Once per reader and occasion: a scheduler run twice, or a retried job, finds the key taken.
    key: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    # The reader: a person (a trainee, a supervisee: read through their account, if they have one), or an
    # account without a person (a coordinator).
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # What the wording needs (titles, times as ISO strings, counts), kept as data so that it is worded in the
    # reader's language: never an ID number, never a supervision note.
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    link: Mapped[str | None] = mapped_column(String(255))  # the page it is about, a path of this site
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    mail_state: Mapped[str] = mapped_column(String(8), default="none")
    mail_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    mail_attempts: Mapped[int] = mapped_column(default=0)
    mail_error: Mapped[str | None] = mapped_column(String(255))
    mail_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
