"""One notice to one person: a kind and its parameters, worded in the reader's language when shown."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..core.db import UTCDateTime, utcnow
from ..extensions import db

KINDS = ("session.cancelled", "session.restored", "session.rescheduled", "supervision.voided")


class Notice(db.Model):
    __tablename__ = "person_notices"
    __table_args__ = (Index("ix_person_notices_person", "person_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    # What the wording needs (titles, times as ISO strings, a reason): kept as data, so that the
    # notice is shown in the language of whoever reads it, not of whoever caused it.
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
