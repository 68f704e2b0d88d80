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


class UnitYear(db.Model):
    """A year's figures of the people placed directly on a unit, kept current on every write.

    A report sums these rows over a subtree (one grouped statement over the
    units shown), so it costs what the tree costs, not what the people cost.
    The distinct-people counts are kept by the per-person flags a person's
    monthly rollups imply: a person counts as trained in a year once, on the
    unit they are placed on now; moving the person moves their figures.
    """

    __tablename__ = "unit_years"

    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id", ondelete="CASCADE"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    training_person_times: Mapped[int] = mapped_column(default=0)
    supervision_person_times: Mapped[int] = mapped_column(default=0)  # confirmed credits
    supervision_person_times_unconfirmed: Mapped[int] = mapped_column(default=0)
    people_trained: Mapped[int] = mapped_column(default=0)
    people_supervised: Mapped[int] = mapped_column(default=0)  # by confirmed supervision
    people_supervised_any: Mapped[int] = mapped_column(default=0)  # by confirmed or unconfirmed supervision


class UnitPeople(db.Model):
    """The number of active people placed directly on a unit, kept current on every write."""

    __tablename__ = "unit_people"

    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id", ondelete="CASCADE"), primary_key=True)
    people: Mapped[int] = mapped_column(default=0)
