"""Builders for training tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shegong_academy.training.services import create_course, create_program, create_session

T0 = datetime(2022, 5, 10, 1, 0, tzinfo=UTC)  # 09:00 in Hangzhou


def program(unit, actor=None, **kw):
    data = {"title": "项目社工特训营", "kind": "camp", "year": 2022, "tier": "骨干", **kw}
    return create_program(data=data, unit=unit, actor=actor)


def course(prog, actor=None, **kw):
    data = {"code": "C1", "title": "社会工作专业理念与方法", "hours": 6, "capacity": None, "policy": "open", **kw}
    return create_course(program=prog, data=data, actor=actor)


def session(crs, n=0, actor=None, hours=3, start=T0):
    starts = start + timedelta(days=n)
    return create_session(
        course=crs,
        data={
            "starts_at": starts,
            "ends_at": starts + timedelta(hours=3),
            "hours": hours,
            "mode": "onsite",
            "place": "拱墅区社工站",
        },
        actor=actor,
    )
