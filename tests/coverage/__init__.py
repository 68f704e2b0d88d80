"""Coverage and reports tests; the builders they share (programs, sessions, supervision, cohorts, ledger checks)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from shegong_academy.coverage.queries import person_year
from shegong_academy.coverage.services import create_cohort
from shegong_academy.extensions import db
from shegong_academy.ledger.models import PersonMonth
from shegong_academy.ledger.queries import Period, person_hours
from shegong_academy.ledger.rollups import FIELDS, _compute
from shegong_academy.supervision.services import record_supervision
from shegong_academy.training.services import create_course, create_program, create_session
from tests.factories import person, user

T0 = datetime(2022, 5, 10, 1, 0, tzinfo=UTC)  # 09:00 in Hangzhou
HELD_ON = date(2022, 6, 1)


def program(unit, actor=None, **kw):
    data = {"title": "项目社工特训营", "kind": "camp", "year": 2022, "tier": "骨干", **kw}
    return create_program(data=data, unit=unit, actor=actor)


def course(prog, actor=None, **kw):
    data = {"code": "C1", "title": "社会工作专业理念与方法", "hours": 6, "capacity": None, "policy": "open", **kw}
    return create_course(program=prog, data=data, actor=actor)


def session(crs, n=0, hours=3, start=T0, actor=None):
    starts = start + timedelta(days=n)
    return create_session(
        course=crs,
        data={"starts_at": starts, "ends_at": starts + timedelta(hours=3), "hours": hours, "mode": "onsite"},
        actor=actor,
    )


def supervisor_at(unit, name="孙督导", username="supervisor", assigned=None):
    """A person working in ``unit`` holding the supervisor assignment over ``assigned`` (default: the same unit)."""
    someone = person(unit, name, level="intermediate")
    user(username, "supervisor", assigned or unit, person=someone)
    return someone


def supervise(actor, supervisor, people, hours, held_on=HELD_ON, topic="个案督导"):
    """Record one supervision session (individual for one supervisee, group otherwise)."""
    return record_supervision(
        data={
            "format": "individual" if len(people) == 1 else "group",
            "mode": "onsite",
            "held_on": held_on,
            "hours": hours,
            "topic": topic,
        },
        supervisor=supervisor,
        supervisees=list(people),
        actor=actor,
    ).record


def cohort(unit, actor=None, **data):
    return create_cohort(data={"name": "2022年项目社工转岗人员", "year": 2022, **data}, unit=unit, actor=actor)


def _norm(values: dict) -> dict:
    return {f: Decimal(str(values[f])) for f in FIELDS}


def stored_months(person_ids) -> dict:
    """The PersonMonth rows of these people, as {(person, month): {field: Decimal}}."""
    rows = db.session.scalars(select(PersonMonth).where(PersonMonth.person_id.in_(list(person_ids))))
    return {(r.person_id, r.month): _norm({f: getattr(r, f) for f in FIELDS}) for r in rows}


def assert_rollups_current(person_ids) -> None:
    """The stored monthly rollups equal a recomputation from the base tables."""
    ids = sorted(set(person_ids))
    db.session.flush()
    db.session.expire_all()
    fresh = {key: _norm(values) for key, values in _compute(ids).items()}
    stored = stored_months(ids)
    assert stored == fresh, f"stored {stored} != recomputed {fresh}"


def report_row(person_id: int, year: int = 2022) -> dict:
    """What the report's cohort rules read for one person: the year's sums of their monthly rollups."""
    py = person_year(year, [person_id])
    row = db.session.execute(select(py)).first()
    zero = Decimal(0)
    if row is None:
        return {"th": zero, "ts": 0, "cc": 0, "sh": zero, "ss": 0}
    return {
        "th": Decimal(str(row.th)),
        "ts": int(row.ts),
        "cc": int(row.cc),
        "sh": Decimal(str(row.sh)),
        "ss": int(row.ss),
    }


def assert_ledger_agrees(person_id: int, year: int = 2022) -> None:
    """person_hours (the ledger queried live) and the report's rollups say the same for this person."""
    live = person_hours(person_id, Period.year(year))
    read = report_row(person_id, year)
    expected = {
        "th": live.training_hours,
        "ts": live.sessions_attended,
        "cc": live.courses_completed,
        "sh": live.supervision_hours,
        "ss": live.supervision_sessions,
    }
    assert read == expected, f"person {person_id}: the report reads {read}, the ledger says {expected}"
