"""Per-person monthly rollups of the hours ledger, kept current on every write.

Reports over a district read these few rows per person instead of scanning
a million attendance records; the rows are recomputed from the base tables
by :mod:`app.ledger.rollups` whenever attendance, enrolment or supervision of
a person changes, so they never drift from what the ledger queries say.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class PersonMonth(db.Model):
    __tablename__ = "person_months"
    __table_args__ = (Index("ix_person_months_month", "month", "person_id"),)

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[int] = mapped_column(primary_key=True)  # yyyymm, local time
    training_hours: Mapped[Decimal] = mapped_column(Numeric(8, 1), default=0)
    training_sessions: Mapped[int] = mapped_column(default=0)  # attended: person-times
    courses_completed: Mapped[int] = mapped_column(default=0)
    supervision_hours_confirmed: Mapped[Decimal] = mapped_column(Numeric(8, 1), default=0)
    supervision_sessions_confirmed: Mapped[int] = mapped_column(default=0)
    supervision_hours_unconfirmed: Mapped[Decimal] = mapped_column(Numeric(8, 1), default=0)
    supervision_sessions_unconfirmed: Mapped[int] = mapped_column(default=0)
