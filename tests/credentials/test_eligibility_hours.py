"""A credential's hours are the ledger's, read from the monthly rollups (a dozen rows a person, not every session).

The candidates' hours of a credential counting one calendar year (or all time) come from ``person_months``;
they must equal the ledger's base-table figures (``person_hours``) whatever happened: sessions either side of
the year's local boundaries, a cancelled session, a void record, a disputed credit, unconfirmed supervision
counted or not.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from shegong_academy.credentials.models import CredentialType
from shegong_academy.credentials.queries import eligibility_rows
from shegong_academy.extensions import db
from shegong_academy.ledger.queries import Period, person_hours
from shegong_academy.supervision.models import SupervisionCredit
from shegong_academy.supervision.services import respond_to_credit, void_record
from shegong_academy.training.changes import cancel_session
from tests.credentials.helpers import attend, completion_type
from tests.supervision import record, sup_world


def hours_type(w, year: int | None) -> CredentialType:
    """Three training hours and two of supervision, in ``year`` (None: all time)."""
    return completion_type(w, name=f"hours-{year}", min_supervision_hours=Decimal("2"), period_year=year)


@pytest.fixture
def w(ctx):
    w = sup_world()
    people = [w.person, w.person2, w.trainee_person, *w.members[:3]]
    # Local (Asia/Shanghai) midnight of 1 January 2022 is 16:00 UTC on 31 December 2021.
    attend(w, people[:3], hours=4, start=datetime(2021, 12, 31, 15, 30, tzinfo=UTC), code="B1")  # 2021, locally
    attend(w, people[1:4], hours=3, start=datetime(2021, 12, 31, 16, 30, tzinfo=UTC), code="B2")  # 2022, locally
    attend(w, people[:2], hours=5, start=datetime(2022, 12, 31, 15, 0, tzinfo=UTC), code="B3")  # 2022's last evening
    attend(w, people[2:], hours=2, start=datetime(2022, 12, 31, 16, 0, tzinfo=UTC), code="B4")  # 2023, locally
    cancelled = attend(w, people[3:], hours=6, start=datetime(2022, 6, 1, 1, 0, tzinfo=UTC), code="B5")
    cancel_session(session=cancelled.sessions[0], reason="台风", actor=w.coord)
    record(w, supervisees=people[:3], held_on=date(2022, 1, 1), hours=Decimal("1.5"))
    record(w, supervisees=people[1:5], held_on=date(2022, 12, 31), hours=Decimal("2"))
    record(w, supervisees=people[2:], held_on=date(2021, 12, 31), hours=Decimal("3"))
    record(w, supervisees=people[2:], held_on=date(2023, 1, 1), hours=Decimal("2.5"))
    void = record(w, supervisees=people[:2], held_on=date(2022, 7, 1), hours=Decimal("4")).record
    void_record(record=void, reason="重复录入", actor=w.coord)
    # 钱七 (the one with an account) disputes one credit and confirms the others; the rest stay unconfirmed.
    mine = select(SupervisionCredit).where(SupervisionCredit.person_id == w.trainee_person.id)
    mine = db.session.scalars(mine.order_by(SupervisionCredit.id)).all()
    assert len(mine) == 4
    respond_to_credit(credit=mine[0], actor=w.trainee, confirm=False, reason="时长有误")
    for credit in mine[1:]:
        respond_to_credit(credit=credit, actor=w.trainee, confirm=True)
    db.session.commit()
    w.people = people
    return w


@pytest.mark.parametrize("year", [2021, 2022, 2023, None])
@pytest.mark.parametrize("unconfirmed", [True, False])
def test_the_hours_of_every_candidate_are_the_ledgers(ctx, w, year, unconfirmed):
    ctx.config["LMS_COUNT_UNCONFIRMED_SUPERVISION"] = unconfirmed
    cred = hours_type(w, year)
    rows = db.session.execute(eligibility_rows(cred, w.admin)).all()
    got = {row[0].id: (row.training_hours, row.supervision_hours, row.eligible) for row in rows}
    period = Period.year(year) if year else None
    expected = {}
    for person in {row[0] for row in rows}:
        ledger = person_hours(person.id, period)
        training, supervision = ledger.training_hours, ledger.supervision_hours
        expected[person.id] = (training, supervision, int(training >= 3 and supervision >= 2))
    assert got == expected
    assert any(t for t, _, _ in got.values()) and any(s for _, s, _ in got.values())  # the data reach the year
    if year == 2022:
        assert {e for _, _, e in got.values()} == {0, 1}  # the rule both admits and refuses someone


def test_the_rule_reads_the_monthly_rollups_not_the_attendance(ctx, w):
    sql = str(eligibility_rows(hours_type(w, 2022), w.admin).compile(db.engine))
    tables = set(re.findall(r"\b(?:FROM|JOIN)\s+(\w+)", sql))
    assert "person_months" in tables
    assert not tables & {"attendance", "supervision_credits", "supervision_records", "course_sessions"}
