"""Supervision in the hours ledger: hours and sessions per person and period (Asia/Shanghai years),
which credit statuses count (disputed never, unconfirmed as configured)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from shegong_academy.extensions import db
from shegong_academy.ledger.models import PersonMonth
from shegong_academy.ledger.queries import (
    Period,
    counted_credit_statuses,
    person_hours,
    person_totals,
    supervision_by_person,
)
from shegong_academy.supervision.models import SupervisionCredit
from shegong_academy.supervision.services import respond_to_credit
from tests.conftest import make_app
from tests.supervision import api_caller, record, sup_world


@pytest.fixture
def w(ctx):
    return sup_world()


def by_person(period, ids):
    return {
        r.person_id: (r.supervision_hours, r.supervision_sessions)
        for r in db.session.execute(supervision_by_person(period, ids))
    }


def test_year_boundaries_are_local_dates(w):
    record(w, held_on=date(2022, 12, 31), hours=Decimal("2"))
    record(w, held_on=date(2023, 1, 1), hours=Decimal("1.5"), format="individual", supervisees=[w.person])
    record(w, held_on=date(2022, 1, 1), hours=Decimal("3"), supervisees=[w.person2, w.trainee_person])
    y22, y23 = Period.year(2022), Period.year(2023)
    assert person_hours(w.person.id, y22).supervision_hours == Decimal("2")
    assert person_hours(w.person.id, y22).supervision_sessions == 1
    assert person_hours(w.person.id, y23).supervision_hours == Decimal("1.5")
    assert person_hours(w.person.id, y23).supervision_sessions == 1
    assert person_hours(w.person.id, Period.year(2021)).supervision_hours == 0
    assert person_hours(w.person.id, None).supervision_hours == Decimal("3.5")
    assert person_hours(w.person.id, None).supervision_sessions == 2
    assert person_hours(w.trainee_person.id, y22).supervision_hours == Decimal("5")
    assert person_hours(w.trainee_person.id, y22).supervision_sessions == 2
    assert person_hours(w.trainee_person.id, y23).supervision_hours == 0
    ids = [w.person.id, w.person2.id, w.trainee_person.id, w.sup_person.id]
    assert by_person(y22, ids) == {
        w.person.id: (Decimal("2"), 1),
        w.person2.id: (Decimal("3"), 1),
        w.trainee_person.id: (Decimal("5"), 2),
    }
    assert by_person(y23, ids) == {w.person.id: (Decimal("1.5"), 1)}


def test_hours_endpoint_uses_the_same_years(app, w):
    record(w, held_on=date(2022, 12, 31), hours=Decimal("2"))
    record(w, held_on=date(2023, 1, 1), hours=Decimal("1.5"), format="individual", supervisees=[w.person])
    call = api_caller(app, w)
    pid = w.person.id
    assert call("GET", f"/api/v1/people/{pid}/hours?year=2022").json["supervision_hours"] == 2.0
    assert call("GET", f"/api/v1/people/{pid}/hours?year=2023").json["supervision_hours"] == 1.5
    assert call("GET", f"/api/v1/people/{pid}/hours").json["supervision_hours"] == 3.5
    mine = call("GET", f"/api/v1/people/{w.trainee_person.id}/hours?year=2022", who="trainee")
    assert mine.status_code == 200 and mine.json["supervision_hours"] == 2.0


def test_disputed_never_counts_unconfirmed_counts_by_default(w):
    assert counted_credit_statuses() == ("confirmed", "unconfirmed")
    rec = record(w, supervisees=[w.person, w.trainee_person]).record
    credit = db.session.scalar(
        select(SupervisionCredit).where(
            SupervisionCredit.record_id == rec.id, SupervisionCredit.person_id == w.trainee_person.id
        )
    )
    assert person_hours(w.trainee_person.id, None).supervision_hours == Decimal("2")  # unconfirmed counts
    respond_to_credit(credit=credit, actor=w.trainee, confirm=False, reason="没有参加")
    db.session.commit()
    assert person_hours(w.trainee_person.id, None).supervision_hours == 0
    assert person_hours(w.trainee_person.id, Period.year(2023)).supervision_sessions == 0
    assert person_hours(w.person.id, None).supervision_hours == Decimal("2")
    # The monthly rollups the reports read agree: nothing left for the disputed credit.
    months = db.session.scalars(select(PersonMonth).where(PersonMonth.person_id == w.trainee_person.id)).all()
    assert sum(m.supervision_hours_confirmed + m.supervision_hours_unconfirmed for m in months) == 0


@pytest.fixture
def strict(db_url):
    app = make_app(db_url, LMS_COUNT_UNCONFIRMED_SUPERVISION=False)
    with app.app_context():
        yield app
        db.session.rollback()
        db.session.remove()
        db.engine.dispose()


def test_unconfirmed_stops_counting_when_configured(strict):
    w = sup_world()
    assert counted_credit_statuses() == ("confirmed",)
    rec = record(w, supervisees=[w.person, w.trainee_person, w.person2]).record
    credits = {
        c.person_id: c
        for c in db.session.scalars(select(SupervisionCredit).where(SupervisionCredit.record_id == rec.id))
    }
    for p in (w.person, w.trainee_person, w.person2):
        assert person_hours(p.id, None).supervision_hours == 0
    respond_to_credit(credit=credits[w.trainee_person.id], actor=w.trainee, confirm=True)
    db.session.commit()
    assert person_hours(w.trainee_person.id, None).supervision_hours == Decimal("2")
    assert person_hours(w.trainee_person.id, Period.year(2023)).supervision_sessions == 1
    assert person_hours(w.person.id, None).supervision_hours == 0
    credits[w.person2.id].status = "disputed"
    db.session.commit()
    assert person_hours(w.person2.id, None).supervision_hours == 0
    hours = api_caller(strict, w)("GET", f"/api/v1/people/{w.person.id}/hours").json
    assert hours["supervision_hours"] == 0.0


def test_the_trainee_pages_totals_follow_the_setting_in_one_process(strict):
    """The totals' statement is built once per process for each setting, never once for both."""
    w = sup_world()
    record(w)  # unconfirmed credits of 2 hours in 2023
    db.session.commit()
    _year, strict_total = person_totals(w.person.id, 2023)
    strict.config["LMS_COUNT_UNCONFIRMED_SUPERVISION"] = True
    _year, counting_total = person_totals(w.person.id, 2023)
    strict.config["LMS_COUNT_UNCONFIRMED_SUPERVISION"] = False
    again = person_totals(w.person.id, 2023)[1]
    assert (strict_total.supervision_hours, counting_total.supervision_hours) == (0, Decimal("2"))
    assert again.supervision_hours == 0
