"""Continuing-education tests; the builders they share (certified people, attended hours at a local time)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

from shegong_academy.training.services import create_course, create_program, create_session, enrol, record_attendance
from tests.factories import person

_codes = itertools.count(1)


def certified(at, name: str, certified_on: date | None, level: str = "assistant", **fields):
    """A person with a qualification level and the date it was registered."""
    someone = person(at, name, level=level, **fields)
    someone.certified_on = certified_on
    return someone


def attend(actor, people, starts_at: datetime, hours) -> None:
    """Give each of ``people`` one attended session of ``hours`` starting at ``starts_at`` (UTC)."""
    prog = create_program(
        data={"title": "继续教育专题班", "kind": "class", "year": starts_at.year, "tier": "骨干"},
        unit=people[0].unit,
        actor=actor,
    )
    crs = create_course(
        program=prog,
        data={"code": f"CE{next(_codes)}", "title": "社会工作伦理", "hours": hours, "capacity": None, "policy": "open"},
        actor=actor,
    )
    sess = create_session(
        course=crs,
        data={"starts_at": starts_at, "ends_at": starts_at + timedelta(hours=3), "hours": hours, "mode": "onsite"},
        actor=actor,
    )
    for someone in people:
        enrol(course=crs, person=someone, actor=actor)
        record_attendance(session=sess, person=someone, status="present", actor=actor)


def local(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    """A time in Hangzhou (UTC+8, no daylight saving), as UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)
