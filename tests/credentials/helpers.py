"""Builders for credential tests: a one-year completion certificate type, and the hours that earn it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from shegong_academy.credentials.models import CredentialType
from shegong_academy.extensions import db
from shegong_academy.training.services import enrol, record_attendance
from tests.training.helpers import course, program, session


def completion_type(w, **kw) -> CredentialType:
    """培训结业证书 of 拱墅区: three training hours, valid a year (``kw`` overrides)."""
    cred = CredentialType(
        name=kw.pop("name", "completion"),
        title="培训结业证书",
        design=kw.pop("design", "completion-zh"),
        issuer_unit=w.district,
        issuer_name="杭州市拱墅区民政局",
        issuer_code="GSPX",
        min_training_hours=Decimal("3"),
        validity_months=12,
        **kw,
    )
    db.session.add(cred)
    db.session.flush()
    return cred


def attend(w, people, hours=3, start=datetime(2022, 5, 10, 1, 0, tzinfo=UTC), code="C1"):
    """A course of one session of ``hours`` that ``people`` attended; returns the course."""
    crs = course(program(w.district, year=start.year), code=code, hours=hours)
    s = session(crs, hours=hours, start=start)
    for p in people:
        enrol(course=crs, person=p, actor=w.coord)
        record_attendance(session=s, person=p, status="present", actor=w.coord)
    return crs
