"""A person's whole record, by year: enrolments and outcomes, attendance, supervision received (never the
notes), hours against each cohort's minimum, and certificates — what the person page and the trainee's own
record page show. Five statements for the person, then the ledger's three per year shown and one per cohort
of the person's units in those years (a handful).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select

from ..core.i18n import _
from ..coverage.models import Cohort
from ..coverage.queries import members_of
from ..credentials.models import Certificate
from ..extensions import db
from ..ledger.queries import Period, attended_sessions, completions, person_hours, supervision_credits
from ..supervision.models import SupervisionCredit, SupervisionRecord
from ..training.grading import results_of_person
from ..training.models import ATTENDED, Attendance, Course, CourseSession, Enrolment, Program
from .models import Person


@dataclass
class CohortStanding:
    cohort: Cohort
    training_hours: Decimal
    supervision_hours: Decimal

    @property
    def training_met(self) -> bool | None:
        minimum = self.cohort.min_training_hours
        return None if minimum is None else self.training_hours >= minimum

    @property
    def supervision_met(self) -> bool | None:
        minimum = self.cohort.min_supervision_hours
        return None if minimum is None else self.supervision_hours >= minimum


@dataclass
class YearRecord:
    year: int
    hours: object = None
    enrolments: list = field(default_factory=list)  # (enrolment, course, program, attended, scheduled, completed)
    credits: list = field(default_factory=list)  # (credit, record, supervisor name)
    certificates: list = field(default_factory=list)
    cohorts: list = field(default_factory=list)
    results: dict = field(default_factory=dict)  # course id → [(assessment, counted result)]


def person_record(person: Person, this_year: int) -> list[YearRecord]:
    """The person's record, newest year first (this year always shown)."""
    tz = ZoneInfo(current_app.config["LMS_TIMEZONE"])
    years: dict[int, YearRecord] = {}

    def year(y: int) -> YearRecord:
        return years.setdefault(y, YearRecord(y))

    year(this_year)
    rows = db.session.execute(
        select(Enrolment, Course, Program)
        .join(Course, Course.id == Enrolment.course_id)
        .join(Program, Program.id == Course.program_id)
        .where(Enrolment.person_id == person.id)
        .order_by(Program.year.desc(), Course.code)
    ).all()
    course_ids = [c.id for _e, c, _p in rows]
    scheduled = dict(
        db.session.execute(
            select(CourseSession.course_id, func.count())
            .where(CourseSession.course_id.in_(course_ids), CourseSession.cancelled_at.is_(None))
            .group_by(CourseSession.course_id)
        ).all()
    )
    attended = dict(
        db.session.execute(
            select(CourseSession.course_id, func.count())
            .join(Attendance, Attendance.session_id == CourseSession.id)
            .where(
                Attendance.person_id == person.id,
                Attendance.status.in_(ATTENDED),
                CourseSession.course_id.in_(course_ids),
                CourseSession.cancelled_at.is_(None),
            )
            .group_by(CourseSession.course_id)
        ).all()
    )
    done = {cid for _pid, cid in db.session.execute(completions(None, [person.id]))}
    results = results_of_person(person.id, course_ids)
    for enrolment, course, program in rows:
        year(program.year).enrolments.append(
            (enrolment, course, program, attended.get(course.id, 0), scheduled.get(course.id, 0), course.id in done)
        )
        if course.id in results:
            year(program.year).results[course.id] = results[course.id]
    for credit, record, supervisor in db.session.execute(
        select(SupervisionCredit, SupervisionRecord, Person.name)
        .join(SupervisionRecord, SupervisionRecord.id == SupervisionCredit.record_id)
        .join(Person, Person.id == SupervisionRecord.supervisor_id)
        .where(SupervisionCredit.person_id == person.id)
        .order_by(SupervisionRecord.held_on.desc())
    ):
        year(record.held_on.year).credits.append((credit, record, supervisor))
    for certificate in db.session.scalars(
        select(Certificate).where(Certificate.person_id == person.id).order_by(Certificate.issued_at.desc())
    ):
        year(certificate.issued_at.astimezone(tz).year).certificates.append(certificate)
    for record in years.values():
        record.hours = person_hours(person.id, Period.year(record.year))
    _cohorts(person, years)
    return [years[y] for y in sorted(years, reverse=True)]


def _cohorts(person: Person, years: dict[int, YearRecord]) -> None:
    """The cohorts of the person's units (and above) in the years shown that count the person as a member."""
    cohorts = db.session.scalars(
        select(Cohort)
        .where(Cohort.unit_id.in_(person.unit.path_ids), Cohort.year.in_(list(years)))
        .order_by(Cohort.year, Cohort.id)
    )
    for cohort in cohorts:
        if _is_member(cohort, person):
            hours = years[cohort.year].hours
            years[cohort.year].cohorts.append(CohortStanding(cohort, hours.training_hours, hours.supervision_hours))


def _is_member(cohort: Cohort, person: Person) -> bool:
    members = members_of(cohort).subquery()
    return bool(db.session.scalar(select(func.count()).select_from(members).where(members.c.person_id == person.id)))


def hours_statement(person: Person, first: date, last: date) -> tuple[list[dict], dict]:
    """Every counted hour of the person between two local days (inclusive): rows by date, and the totals."""
    tz = ZoneInfo(current_app.config["LMS_TIMEZONE"])
    period = Period(
        datetime.combine(first, time.min, tz).astimezone(UTC),
        datetime.combine(last + timedelta(days=1), time.min, tz).astimezone(UTC),
    )
    attended = attended_sessions(period).where(Attendance.person_id == person.id).subquery()
    rows = [
        {"date": starts.astimezone(tz).date(), "kind": _("Training"), "title": title, "hours": Decimal(hours)}
        for starts, title, hours in db.session.execute(
            select(CourseSession.starts_at, Course.title, CourseSession.hours)
            .join(attended, attended.c.session_id == CourseSession.id)
            .join(Course, Course.id == CourseSession.course_id)
        )
    ]
    training = sum((r["hours"] for r in rows), Decimal("0.0"))  # 0.0 as the rows' 3.0: one scale
    credits = supervision_credits(period).where(SupervisionCredit.person_id == person.id).subquery()
    supervision_rows = [
        {"date": held, "kind": _("Supervision"), "title": topic, "hours": Decimal(hours)}
        for held, topic, hours in db.session.execute(
            select(SupervisionRecord.held_on, SupervisionRecord.topic, credits.c.hours).join(
                credits, credits.c.record_id == SupervisionRecord.id
            )
        )
    ]
    supervision = sum((r["hours"] for r in supervision_rows), Decimal("0.0"))
    rows = sorted(rows + supervision_rows, key=lambda r: r["date"])
    return rows, {"training": training, "supervision": supervision}
