"""A job: one piece of heavy work (issuing in bulk, printing, a large import…), its state and progress."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ..core.db import UTCDateTime, utcnow
from ..extensions import db

JOB_STATES = ("queued", "running", "done", "failed")
ACTIVE_STATES = ("queued", "running")


class Job(db.Model):
    """Submitted by a page, the API or a command; run by a worker; read by every web process."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint("state IN ('queued','running','done','failed')", name="state"),
        # The same work asked for again while it runs is that job, not a second one.
        Index(
            "uq_jobs_active_key",
            "key",
            unique=True,
            sqlite_where=text("state IN ('queued','running')"),
            postgresql_where=text("state IN ('queued','running')"),
        ),
        Index("ix_jobs_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(64))  # kind, parameters and unit, hashed
    state: Mapped[str] = mapped_column(String(8), default="queued")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    progress: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    result: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    request_id: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str | None] = mapped_column(String(16))  # the submitter's language: results and errors speak it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")
