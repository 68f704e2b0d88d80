"""Supervision (督导): records of one-to-one and group supervision, and each supervisee's credit."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.db import UTCDateTime, utcnow
from ..extensions import db
from ..org.models import OrgUnit
from ..people.models import Person

FORMATS = ("individual", "group")
MODES = ("onsite", "online")
KINDS = ("special", "overall", "peer")
FUNCTIONS = ("administrative", "educational", "supportive")
CREDIT_STATUSES = ("unconfirmed", "confirmed", "disputed")
# A session's duration, in hours: stored as Numeric(3, 1), so one decimal place.
MIN_HOURS = Decimal("0.1")
MAX_HOURS = Decimal("8")


class SupervisionRecord(db.Model):
    __tablename__ = "supervision_records"
    __table_args__ = (
        CheckConstraint("format IN ('individual','group')", name="format"),
        CheckConstraint("mode IN ('onsite','online')", name="mode"),
        CheckConstraint("kind IN ('special','overall','peer')", name="kind"),
        CheckConstraint(f"hours > 0 AND hours <= {MAX_HOURS}", name="hours"),
        # voided_at too: a report counts a subtree's records from the index alone
        Index("ix_supervision_records_unit_date", "unit_id", "held_on", "voided_at"),
        Index("ix_supervision_records_supervisor", "supervisor_id", "held_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    supervisor_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    # The supervisor's unit when recorded: where the record belongs for scoping.
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    format: Mapped[str] = mapped_column(String(12))
    mode: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(8), default="special")
    held_on: Mapped[date] = mapped_column(Date)
    hours: Mapped[Decimal] = mapped_column(Numeric(3, 1))
    topic: Mapped[str] = mapped_column(String(200))
    functions: Mapped[list[str]] = mapped_column(JSON, default=list)
    advice: Mapped[str | None] = mapped_column(Text)
    follow_up: Mapped[str | None] = mapped_column(Text)
    # Confidential, read only by the supervisor who wrote them (queries.notes_for): encrypted like ID
    # numbers (app.core.crypto). The column keeps its name; revision 0008 encrypted what it held.
    notes_enc: Mapped[str | None] = mapped_column("notes", Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Voided: kept, with the reason its supervisees see, but its credits stop counting.
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    void_reason: Mapped[str | None] = mapped_column(String(255))

    @property
    def voided(self) -> bool:
        return self.voided_at is not None

    supervisor: Mapped[Person] = relationship()
    unit: Mapped[OrgUnit] = relationship()
    credits: Mapped[list[SupervisionCredit]] = relationship(
        back_populates="record", cascade="all, delete-orphan", order_by="SupervisionCredit.id"
    )


class SupervisionCredit(db.Model):
    """The hours one supervisee is credited by a record, and their confirmation."""

    __tablename__ = "supervision_credits"
    __table_args__ = (
        UniqueConstraint("record_id", "person_id"),
        CheckConstraint("status IN ('unconfirmed','confirmed','disputed')", name="status"),
        Index("ix_supervision_credits_person", "person_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("supervision_records.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    hours: Mapped[Decimal] = mapped_column(Numeric(3, 1))
    status: Mapped[str] = mapped_column(String(12), default="unconfirmed")
    reason: Mapped[str | None] = mapped_column(String(255))
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    record: Mapped[SupervisionRecord] = relationship(back_populates="credits")
    person: Mapped[Person] = relationship()
