"""Cohorts and their coverage targets."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Numeric, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.db import UTCDateTime, utcnow
from ..extensions import db
from ..org.models import OrgUnit


class Cohort(db.Model):
    """A named set of people for a year, with what counts as trained and supervised, and the target rates.

    Members come from the rule (unit subtree and optional category) plus
    explicit additions minus exclusions; once frozen the member list no longer
    follows the rule, so people moving units mid-year stay countable.
    """

    __tablename__ = "cohorts"
    __table_args__ = (
        CheckConstraint("training_target > 0 AND training_target <= 1", name="training_target"),
        CheckConstraint("supervision_target > 0 AND supervision_target <= 1", name="supervision_target"),
        Index("ix_cohorts_unit_year", "unit_id", "year"),
        # A unit's cohorts of a year are told apart by name: creating one twice (a retried request) is a 409.
        UniqueConstraint("unit_id", "year", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    year: Mapped[int]
    category: Mapped[str | None] = mapped_column(String(32))  # None: explicit members only
    include_rule: Mapped[bool] = mapped_column(default=False)
    added_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    excluded_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    # What counts as trained: minimum training hours, or completed courses of listed programs.
    min_training_hours: Mapped[Decimal | None] = mapped_column(Numeric(6, 1))
    min_courses: Mapped[int | None]
    program_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    # And, if set, passing the assessments of the year's courses they hold a seat in (of those programs, if listed).
    require_passing: Mapped[bool] = mapped_column(default=False, server_default=false())
    # What counts as supervised: minimum supervision hours or sessions.
    min_supervision_hours: Mapped[Decimal | None] = mapped_column(Numeric(6, 1))
    min_supervision_sessions: Mapped[int | None]
    training_target: Mapped[Decimal] = mapped_column(Numeric(4, 3), default=Decimal("1"))
    supervision_target: Mapped[Decimal] = mapped_column(Numeric(4, 3), default=Decimal("1"))
    frozen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    unit: Mapped[OrgUnit] = relationship()


class CohortMember(db.Model):
    __tablename__ = "cohort_members"
    __table_args__ = (UniqueConstraint("cohort_id", "person_id"), Index("ix_cohort_members_person", "person_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))


class CohortPerson(db.Model):
    """A cohort member's standing, kept current on write (:mod:`app.coverage.standing`): the rows a dashboard counts.

    One row per member (the cohort's rule or list as it stands): whether the member meets the
    training rule and the supervision rule — counting confirmed supervision only, and counting
    unconfirmed supervision too (``_any``), as LMS_COUNT_UNCONFIRMED_SUPERVISION chooses when read —
    and the first month (yyyymm) the year's running totals reached the hours rules (NULL: not yet),
    which the monthly progress counts.
    """

    __tablename__ = "cohort_people"
    __table_args__ = (Index("ix_cohort_people_person", "person_id"),)

    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    trained: Mapped[bool]
    supervised: Mapped[bool]
    supervised_any: Mapped[bool]
    trained_month: Mapped[int | None]
    supervised_month: Mapped[int | None]
    supervised_any_month: Mapped[int | None]
    # The unit the member works in now (kept on moves): the dashboard groups by it without reading people.
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id", ondelete="CASCADE"))
