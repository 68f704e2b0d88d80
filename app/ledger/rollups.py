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
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

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
    # then computes from what this one committed (its months and its unit's figures stay exact).
    units = dict(
        db.session.execute(
            select(Person.id, Person.unit_id).where(Person.id.in_(ids)).order_by(Person.id).with_for_update()
        ).all()
    )
    before = unit_figures.person_years(ids)
    rows = _compute(ids)
    # Delete, then upsert: a concurrent refresh of the same person that inserted
    # meanwhile turns our insert into an update instead of a key violation.
    db.session.execute(delete(PersonMonth).where(PersonMonth.person_id.in_(ids)))
    after: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    for (pid, month), data in rows.items():
        year = after[(pid, month // 100)]
        year[0] += data["training_sessions"]
        year[1] += data["supervision_sessions_confirmed"]
        year[2] += data["supervision_sessions_unconfirmed"]
    unit_figures.apply_person_years(units, before, {k: tuple(v) for k, v in after.items()})
    if not rows:
        return
    values = [{"person_id": pid, "month": month, **data} for (pid, month), data in rows.items()]
    dialect = db.session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(PersonMonth)
    stmt = insert.on_conflict_do_update(
        index_elements=["person_id", "month"], set_={f: insert.excluded[f] for f in FIELDS}
    )
    for j in range(0, len(values), 5000):
        db.session.execute(stmt, values[j : j + 5000])


def refresh_all() -> None:
    """Recompute every person's rollups and every unit's figures (after bulk loads)."""
    refresh_people(db.session.scalars(select(Person.id)).all())
    unit_figures.rebuild()
