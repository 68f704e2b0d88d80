"""Keep :class:`~app.ledger.models.PersonMonth` current: recompute a person's months from the base tables.

Every service that writes attendance, enrolment outcomes or supervision calls
:func:`refresh_people` for the people it touched, in the same transaction.
Months are local months of the deployment (LMS_TIMEZONE). Rows are written
with an upsert so that concurrent writers for one person cannot collide.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    Numeric,
    Table,
    case,
    cast,
    delete,
    extract,
    func,
    insert,
    literal,
    select,
    union_all,
)

from ..core.bulk import load
from ..core.db import upsert
from ..coverage import standing
from ..extensions import db
from ..people.models import Person
from ..supervision.models import SupervisionCredit, SupervisionRecord
from ..training.models import ATTENDED, Attendance, CourseSession
from . import unit_figures
from .models import PersonMonth
from .queries import completions

FIELDS = (
    "training_hours",
    "training_sessions",
    "courses_completed",
    "supervision_hours_confirmed",
    "supervision_sessions_confirmed",
    "supervision_hours_unconfirmed",
    "supervision_sessions_unconfirmed",
)
CHUNK = 2000


def _month(value) -> int:
    return value.year * 100 + value.month


def _compute(person_ids: list[int]) -> dict[tuple[int, int], dict]:
    tz = ZoneInfo(current_app.config["LMS_TIMEZONE"])
    rows: dict[tuple[int, int], dict] = defaultdict(lambda: {f: 0 for f in FIELDS})
    attended = db.session.execute(
        select(Attendance.person_id, CourseSession.starts_at, CourseSession.hours)
        .join(CourseSession, CourseSession.id == Attendance.session_id)
        .where(
            Attendance.person_id.in_(person_ids),
            Attendance.status.in_(ATTENDED),
            CourseSession.cancelled_at.is_(None),
        )
    )
    for pid, starts_at, hours in attended:
        row = rows[(pid, _month(starts_at.astimezone(tz)))]
        row["training_hours"] += Decimal(hours)
        row["training_sessions"] += 1
    done = completions(None, person_ids).subquery()
    last_start = (
        select(CourseSession.course_id, db.func.max(CourseSession.starts_at).label("last"))
        .where(CourseSession.course_id.in_(select(done.c.course_id)), CourseSession.cancelled_at.is_(None))
        .group_by(CourseSession.course_id)
        .subquery()
    )
    for pid, last in db.session.execute(
        select(done.c.person_id, last_start.c.last).join(last_start, last_start.c.course_id == done.c.course_id)
    ):
        rows[(pid, _month(last.astimezone(tz)))]["courses_completed"] += 1
    credits = db.session.execute(
        select(
            SupervisionCredit.person_id, SupervisionRecord.held_on, SupervisionCredit.hours, SupervisionCredit.status
        )
        .join(SupervisionRecord, SupervisionRecord.id == SupervisionCredit.record_id)
        .where(
            SupervisionCredit.person_id.in_(person_ids),
            SupervisionCredit.status != "disputed",
            SupervisionRecord.voided_at.is_(None),
        )
    )
    for pid, held_on, hours, status in credits:
        row = rows[(pid, _month(held_on))]
        row[f"supervision_hours_{status}"] += Decimal(hours)
        row[f"supervision_sessions_{status}"] += 1
    return rows


def refresh_people(person_ids: Iterable[int]) -> None:
    """Recompute the monthly rollups of these people from the base tables."""
    ids = sorted(set(person_ids))
    for i in range(0, len(ids), CHUNK):
        _refresh_chunk(ids[i : i + CHUNK])


def _refresh_chunk(ids: list[int]) -> None:
    # The people's rows are locked first, in id order: a concurrent refresh of the same person waits,
    # then computes from what this one committed (its months and its unit's figures stay exact). The lock
    # is PostgreSQL's FOR NO KEY UPDATE, which rows referring to the person (a cohort's standings rewritten
    # meanwhile) need not wait for: with FOR UPDATE they did, and a cohort corrected during check-ins deadlocked.
    units = dict(
        db.session.execute(
            select(Person.id, Person.unit_id)
            .where(Person.id.in_(ids))
            .order_by(Person.id)
            .with_for_update(key_share=True)
        ).all()
    )
    before = unit_figures.person_years(ids)
    rows = _compute(ids)
    # Delete, then upsert: a concurrent refresh of the same person that inserted
    # meanwhile turns our insert into an update instead of a key violation.
    db.session.execute(delete(PersonMonth).where(PersonMonth.person_id.in_(ids)))
    after = unit_figures.by_year(
        (pid, month, d["training_sessions"], d["supervision_sessions_confirmed"], d["supervision_sessions_unconfirmed"])
        for (pid, month), d in rows.items()
    )
    unit_figures.apply_person_years(units, before, after)
    if rows:
        values = [{"person_id": pid, "month": month, **data} for (pid, month), data in rows.items()]
        insert = upsert(db.session, PersonMonth)
        stmt = insert.on_conflict_do_update(
            index_elements=["person_id", "month"], set_={f: insert.excluded[f] for f in FIELDS}
        )
        for j in range(0, len(values), 5000):
            db.session.execute(stmt, values[j : j + 5000])
    standing.refresh_people(ids)  # then the people's standings in their cohorts, from the months just written


def refresh_all() -> None:
    """Recompute every person's rollups and every unit's figures from the base tables (after bulk loads).

    The same figures as :func:`refresh_people` of everyone, in a few set-based statements:
    the local month of each session is worked out once (in Python, so any time zone's
    rules apply), then attendance, completions and credits are summed per person and
    month by the database.
    """
    connection = db.session.connection()
    months, completed = _session_months_table(), _completed_table()
    months.create(connection)
    completed.create(connection)
    try:
        _fill_completed(completed, _fill_session_months(months))
        db.session.execute(delete(PersonMonth))
        db.session.execute(
            insert(PersonMonth).from_select(["person_id", "month", *FIELDS], _all_months(months, completed))
        )
    finally:
        months.drop(connection)
        completed.drop(connection)
    unit_figures.rebuild()
    standing.rebuild()


def _session_months_table() -> Table:
    return Table(
        "lms_session_months",
        MetaData(),
        Column("session_id", Integer, primary_key=True),
        Column("month", Integer, nullable=False),
        Column("hours", Numeric(8, 1), nullable=False),
        prefixes=["TEMPORARY"],
    )


def _completed_table() -> Table:
    return Table(
        "lms_completed_months",
        MetaData(),
        Column("person_id", Integer, nullable=False),
        Column("month", Integer, nullable=False),
        Column("n", Integer, nullable=False),
        prefixes=["TEMPORARY"],
    )


def _fill_completed(completed: Table, course_months: dict[int, int]) -> None:
    """Count each person's completions by the month of the course's last session.

    Read apart and counted here: joined inside the big statement, SQLite plans the completion
    rule as a nested scan (8 s instead of 0.7 s at 20,000 people).
    """
    counts: dict[tuple[int, int], int] = defaultdict(int)
    for pid, course_id in db.session.execute(completions(None, None)):
        if course_id in course_months:
            counts[(pid, course_months[course_id])] += 1
    if counts:
        load(
            completed,
            ({"person_id": pid, "month": month, "n": n} for (pid, month), n in counts.items()),
            ["person_id", "month", "n"],
        )


def _fill_session_months(months: Table) -> dict[int, int]:
    """Fill the sessions' local months; return the month of each course's last session (its completion month)."""
    tz = ZoneInfo(current_app.config["LMS_TIMEZONE"])
    rows, last = [], {}
    for sid, course_id, starts_at, hours in db.session.execute(
        select(CourseSession.id, CourseSession.course_id, CourseSession.starts_at, CourseSession.hours).where(
            CourseSession.cancelled_at.is_(None)
        )
    ):
        rows.append({"session_id": sid, "month": _month(starts_at.astimezone(tz)), "hours": hours})
        if course_id not in last or (starts_at, sid) > last[course_id]:
            last[course_id] = (starts_at, sid)
    if rows:
        load(months, rows, ["session_id", "month", "hours"])
    return {course_id: _month(starts_at.astimezone(tz)) for course_id, (starts_at, _sid) in last.items()}


def _all_months(months: Table, completed: Table):
    """Select (person, month, FIELDS…) for everyone: attendance, completions and credits summed per month."""

    def row(person, month, **values):
        """One select's columns, labelled in FIELDS order (0 for the fields not given)."""
        hours = {"training_hours", "supervision_hours_confirmed", "supervision_hours_unconfirmed"}
        return [
            person.label("person_id"),
            month.label("month"),
            *(values.get(f, cast(literal(0), Numeric(8, 1)) if f in hours else literal(0)).label(f) for f in FIELDS),
        ]

    sm = months.c
    attended = (
        select(*row(Attendance.person_id, sm.month, training_hours=sm.hours, training_sessions=literal(1)))
        .join(months, sm.session_id == Attendance.session_id)
        .where(Attendance.status.in_(ATTENDED))
    )
    done = select(*row(completed.c.person_id, completed.c.month, courses_completed=completed.c.n))
    confirmed = SupervisionCredit.status == "confirmed"
    no_hours = cast(literal(0), Numeric(8, 1))
    held = cast(extract("year", SupervisionRecord.held_on) * 100 + extract("month", SupervisionRecord.held_on), Integer)
    credited = (
        select(
            *row(
                SupervisionCredit.person_id,
                held,
                supervision_hours_confirmed=case((confirmed, SupervisionCredit.hours), else_=no_hours),
                supervision_sessions_confirmed=case((confirmed, 1), else_=0),
                supervision_hours_unconfirmed=case((confirmed, no_hours), else_=SupervisionCredit.hours),
                supervision_sessions_unconfirmed=case((confirmed, 0), else_=1),
            )
        )
        .join(SupervisionRecord, SupervisionRecord.id == SupervisionCredit.record_id)
        .where(SupervisionCredit.status != "disputed", SupervisionRecord.voided_at.is_(None))
    )
    rows = union_all(attended, done, credited).subquery()
    return select(rows.c.person_id, rows.c.month, *(func.sum(rows.c[f]) for f in FIELDS)).group_by(
        rows.c.person_id, rows.c.month
    )
