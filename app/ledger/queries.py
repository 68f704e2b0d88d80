"""The hours ledger: the one place that says how many hours and courses a person has.

The trainee's page, the coordinator's reports and the credential rules all
read these queries, so they never disagree. Everything is a SQL aggregate.

Course completion: a person completes a course when their attended sessions
(present or late — never excused or absent) reach the course's minimum share
of *all* its scheduled sessions (not only the past ones), and, if the course
has assessments, they passed them (``Enrolment.passed``, kept by
app.training.grading: every assessment passed and the course's overall pass
mark reached). A course counts in the period in which its last session starts.

A cancelled session is not scheduled: its attendance is kept but never
counted, and it is left out of a course's sessions. A voided supervision
record credits nobody.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Select, and_, bindparam, case, func, select

from ..core.statements import prepared
from ..extensions import db
from ..supervision.models import SupervisionCredit, SupervisionRecord
from ..training.models import ATTENDED, Attendance, Course, CourseSession, Enrolment
from .models import PersonMonth


@dataclass(frozen=True)
class Period:
    """A half-open interval of time [start, end), in UTC."""

    start: datetime
    end: datetime

    @property
    def dates(self) -> tuple[date, date]:
        """The period as local dates [first, last), for date columns."""
        tz = ZoneInfo(current_app.config["LMS_TIMEZONE"])
        return self.start.astimezone(tz).date(), self.end.astimezone(tz).date()

    @classmethod
    def year(cls, year: int) -> Period:
        """Return the calendar year in the deployment's time zone."""
        tz = ZoneInfo(current_app.config["LMS_TIMEZONE"])
        return cls(datetime(year, 1, 1, tzinfo=tz).astimezone(UTC), datetime(year + 1, 1, 1, tzinfo=tz).astimezone(UTC))


def attended_sessions(period: Period | None = None) -> Select:
    """Select (person_id, session_id, hours) of every attended session in the period."""
    stmt = (
        select(Attendance.person_id, CourseSession.id.label("session_id"), CourseSession.hours, CourseSession.course_id)
        .join(CourseSession, CourseSession.id == Attendance.session_id)
        .where(Attendance.status.in_(ATTENDED), CourseSession.cancelled_at.is_(None))
    )
    if period is not None:
        stmt = stmt.where(CourseSession.starts_at >= period.start, CourseSession.starts_at < period.end)
    return stmt


def training_hours_by_person(period: Period | None, person_ids: Select | list[int] | None = None) -> Select:
    """Select (person_id, training_hours, sessions_attended) per person."""
    att = attended_sessions(period).subquery()
    stmt = select(
        att.c.person_id, func.sum(att.c.hours).label("training_hours"), func.count().label("sessions")
    ).group_by(att.c.person_id)
    if person_ids is not None:
        stmt = stmt.where(att.c.person_id.in_(person_ids))
    return stmt


def completions(period: Period | None = None, person_ids: Select | list[int] | None = None) -> Select:
    """Select (person_id, course_id) of every course completed, by the rule in the module docstring."""
    attended_stmt = attended_sessions(None)
    if person_ids is not None:  # keep the aggregate to the people asked about
        attended_stmt = attended_stmt.where(Attendance.person_id.in_(person_ids))
    attended = attended_stmt.subquery()
    totals_stmt = select(
        CourseSession.course_id,
        func.count().label("scheduled"),
        func.max(CourseSession.starts_at).label("last_start"),
    )
    totals_stmt = totals_stmt.where(CourseSession.cancelled_at.is_(None)).group_by(CourseSession.course_id)
    if person_ids is not None:  # only the courses these people attended: one person's check-in scans no more
        totals_stmt = totals_stmt.where(CourseSession.course_id.in_(select(attended.c.course_id)))
    totals = totals_stmt.subquery()
    counts = (
        select(attended.c.course_id, attended.c.person_id, func.count().label("attended"))
        .group_by(attended.c.course_id, attended.c.person_id)
        .subquery()
    )
    stmt = (
        select(Enrolment.person_id, Enrolment.course_id)
        .join(Course, Course.id == Enrolment.course_id)
        .join(totals, totals.c.course_id == Enrolment.course_id)
        .join(counts, and_(counts.c.course_id == Enrolment.course_id, counts.c.person_id == Enrolment.person_id))
        .where(
            Enrolment.status.in_(COMPLETING),
            counts.c.attended >= Course.min_attendance * totals.c.scheduled,
            Enrolment.passed | ~Course.assessed,
        )
    )
    if period is not None:
        stmt = stmt.where(totals.c.last_start >= period.start, totals.c.last_start < period.end)
    if person_ids is not None:
        stmt = stmt.where(Enrolment.person_id.in_(person_ids))
    return stmt


COMPLETING = ("enrolled", "completed", "not_completed")  # enrolment statuses that may complete a course


def completes(status: str, passed: bool, course: Course, attended: int, scheduled: int) -> bool:
    """The rule of :func:`completions` for one enrolment whose counts are known (a page that has them already)."""
    return (
        status in COMPLETING
        and attended > 0
        and attended >= course.min_attendance * scheduled
        and (passed or not course.assessed)
    )


def counted_supervision(unconfirmed: bool | None = None):
    """The monthly rollups' (hours, sessions) of counted supervision: confirmed, and unconfirmed as configured.

    ``unconfirmed`` overrides the configuration (the cohort standings keep both).
    """
    if unconfirmed is None:
        unconfirmed = current_app.config["LMS_COUNT_UNCONFIRMED_SUPERVISION"]
    if unconfirmed:
        return (
            PersonMonth.supervision_hours_confirmed + PersonMonth.supervision_hours_unconfirmed,
            PersonMonth.supervision_sessions_confirmed + PersonMonth.supervision_sessions_unconfirmed,
        )
    return PersonMonth.supervision_hours_confirmed, PersonMonth.supervision_sessions_confirmed


def counted_credit_statuses() -> tuple[str, ...]:
    """Credit statuses that count: disputed never; unconfirmed as configured."""
    if current_app.config["LMS_COUNT_UNCONFIRMED_SUPERVISION"]:
        return ("confirmed", "unconfirmed")
    return ("confirmed",)


def _credits(statuses: tuple[str, ...]) -> Select:
    return (
        select(SupervisionCredit.person_id, SupervisionCredit.record_id, SupervisionCredit.hours)
        .join(SupervisionRecord, SupervisionRecord.id == SupervisionCredit.record_id)
        .where(SupervisionCredit.status.in_(statuses), SupervisionRecord.voided_at.is_(None))
    )


def supervision_credits(period: Period | None = None) -> Select:
    """Select (person_id, record_id, hours) of every counted supervision credit in the period."""
    stmt = _credits(counted_credit_statuses())
    if period is not None:
        first, end = period.dates
        stmt = stmt.where(SupervisionRecord.held_on >= first, SupervisionRecord.held_on < end)
    return stmt


def supervision_by_person(period: Period | None, person_ids: Select | list[int] | None = None) -> Select:
    """Select (person_id, supervision_hours, supervision_sessions) per person."""
    credits = supervision_credits(period).subquery()
    stmt = select(
        credits.c.person_id,
        func.sum(credits.c.hours).label("supervision_hours"),
        func.count().label("supervision_sessions"),
    ).group_by(credits.c.person_id)
    if person_ids is not None:
        stmt = stmt.where(credits.c.person_id.in_(person_ids))
    return stmt


def year_hours_by_person(year: int | None, person_ids: Select) -> Select:
    """Select (person_id, training_hours, supervision_hours) per person for a calendar year (None: all time).

    The figures of :func:`training_hours_by_person` and :func:`supervision_by_person` over ``Period.year(year)``
    (counted supervision as configured), read from the monthly rollups: a dozen rows a person instead of
    every session they attended (the rollups are kept equal to those on every write; months are local).
    """
    supervision_hours, _sessions = counted_supervision()
    stmt = (
        select(
            PersonMonth.person_id,
            func.sum(PersonMonth.training_hours).label("training_hours"),
            func.sum(supervision_hours).label("supervision_hours"),
        )
        .where(PersonMonth.person_id.in_(person_ids))
        .group_by(PersonMonth.person_id)
    )
    if year is not None:
        stmt = stmt.where(PersonMonth.month.between(year * 100 + 1, year * 100 + 12))
    return stmt


@dataclass
class PersonHours:
    training_hours: Decimal
    sessions_attended: int
    courses_completed: int
    supervision_hours: Decimal
    supervision_sessions: int

    def as_dict(self) -> dict:
        return {
            "training_hours": float(self.training_hours),
            "supervision_hours": float(self.supervision_hours),
            "courses_completed": self.courses_completed,
            "sessions_attended": self.sessions_attended,
            "supervision_sessions": self.supervision_sessions,
        }


def person_hours(person_id: int, period: Period | None) -> PersonHours:
    """Return one person's ledger for a period (None: all time), in three queries."""
    row = db.session.execute(training_hours_by_person(period, [person_id])).first()
    done = db.session.scalar(select(func.count()).select_from(completions(period, [person_id]).subquery()))
    sup = db.session.execute(supervision_by_person(period, [person_id])).first()
    return PersonHours(
        training_hours=Decimal(row.training_hours if row else 0),
        sessions_attended=row.sessions if row else 0,
        courses_completed=done or 0,
        supervision_hours=Decimal(sup.supervision_hours if sup else 0),
        supervision_sessions=sup.supervision_sessions if sup else 0,
    )


@prepared
def _period_hours_statement(statuses: tuple[str, ...]):
    # attended_sessions and _credits, as every other figure counts them, with the person and period bound
    attended = attended_sessions(Period(bindparam("start"), bindparam("end")))
    attended = attended.where(Attendance.person_id == bindparam("person_id")).subquery()
    credits = _credits(statuses).where(
        SupervisionCredit.person_id == bindparam("person_id"),
        SupervisionRecord.held_on >= bindparam("first_day"),
        SupervisionRecord.held_on < bindparam("end_day"),
    )
    credits = credits.subquery()
    return select(
        select(func.coalesce(func.sum(attended.c.hours), 0)).scalar_subquery(),
        select(func.coalesce(func.sum(credits.c.hours), 0)).scalar_subquery(),
    )


def period_hours(person_id: int, period: Period) -> tuple[object, object]:
    """Return one person's (training hours, counted supervision hours) in a period, in one statement.

    The same figures as :func:`training_hours_by_person` and :func:`supervision_by_person` for that
    person, from a statement built once per process (a trainee's page asks on every visit).
    """
    first, end = period.dates
    params = {"person_id": person_id, "start": period.start, "end": period.end, "first_day": first, "end_day": end}
    return tuple(db.session.execute(_period_hours_statement(counted_credit_statuses()), params).one())


@prepared
def _person_totals_statement(unconfirmed: bool):
    columns = (
        PersonMonth.training_hours,
        PersonMonth.training_sessions,
        PersonMonth.courses_completed,
        *counted_supervision(unconfirmed),
    )
    in_year = PersonMonth.month.between(bindparam("first"), bindparam("last"))
    return select(
        *(func.coalesce(func.sum(case((in_year, c), else_=0)), 0) for c in columns),
        *(func.coalesce(func.sum(c), 0) for c in columns),
    ).where(PersonMonth.person_id == bindparam("person_id"))


def person_totals(person_id: int, year: int) -> tuple[PersonHours, PersonHours]:
    """Return one person's ledger for a calendar year and for all time, from their monthly rollups (one statement).

    The rollups are kept equal to :func:`person_hours` on every write (months are local months), so
    this reads a few rows instead of the person's attendance, completions and credits.
    """
    unconfirmed = current_app.config["LMS_COUNT_UNCONFIRMED_SUPERVISION"]
    params = {"person_id": person_id, "first": year * 100 + 1, "last": year * 100 + 12}
    row = db.session.execute(_person_totals_statement(bool(unconfirmed)), params).one()

    def hours(th, ts, cc, sh, ss) -> PersonHours:
        return PersonHours(Decimal(th), int(ts), int(cc), Decimal(sh), int(ss))

    return hours(*row[:5]), hours(*row[5:])


def course_progress(course: Course) -> dict[int, dict]:
    """Per enrolled person: sessions attended, sessions scheduled, and whether the course is complete."""
    scheduled = (
        db.session.scalar(
            select(func.count()).where(CourseSession.course_id == course.id, CourseSession.cancelled_at.is_(None))
        )
        or 0
    )
    attended = dict(
        db.session.execute(
            select(Attendance.person_id, func.count())
            .join(CourseSession, CourseSession.id == Attendance.session_id)
            .where(
                CourseSession.course_id == course.id,
                CourseSession.cancelled_at.is_(None),
                Attendance.status.in_(ATTENDED),
            )
            .group_by(Attendance.person_id)
        ).all()
    )
    done = {pid for pid, _ in db.session.execute(completions(None).where(Enrolment.course_id == course.id)).all()}
    people = db.session.scalars(select(Enrolment.person_id).where(Enrolment.course_id == course.id)).all()
    return {pid: {"attended": attended.get(pid, 0), "scheduled": scheduled, "completed": pid in done} for pid in people}
