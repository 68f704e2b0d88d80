"""The supervision services: crediting, every refusal rule (writing nothing), the ratio warning,
who may record, confirmation and dispute, and an audit trail without the confidential notes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

import shegong_academy.supervision.services as sup_services
from shegong_academy.audit.models import AuditEntry
from shegong_academy.core.domain import Forbidden, Invalid, NotFound
from shegong_academy.extensions import db
from shegong_academy.ledger.queries import person_hours
from shegong_academy.supervision.models import SupervisionCredit, SupervisionRecord
from shegong_academy.supervision.services import record_supervision, respond_to_credit
from tests.conftest import make_app
from tests.supervision import NOTES, counts, payload, record, shanghai_tomorrow, stored_notes, sup_world


@pytest.fixture
def w(ctx):
    return sup_world()


def credits_of(record_id: int) -> dict[int, SupervisionCredit]:
    return {
        c.person_id: c
        for c in db.session.scalars(select(SupervisionCredit).where(SupervisionCredit.record_id == record_id))
    }


def test_group_record_credits_each_supervisee_the_duration(w):
    three = [w.person, w.person2, w.trainee_person]
    result = record(w, supervisees=three, hours=Decimal("2"))
    assert result.warnings == []
    credits = credits_of(result.record.id)
    assert set(credits) == {p.id for p in three}
    assert all(c.hours == Decimal("2") and c.status == "unconfirmed" for c in credits.values())
    for p in three:
        ledger = person_hours(p.id, None)
        assert ledger.supervision_hours == Decimal("2")
        assert ledger.supervision_sessions == 1
    assert person_hours(w.sup_person.id, None).supervision_hours == 0  # the supervisor is not credited


def test_individual_record_credits_one_and_a_half_hours(w):
    result = record(w, format="individual", kind="special", supervisees=[w.person2], hours=Decimal("1.5"))
    credits = credits_of(result.record.id)
    assert list(credits) == [w.person2.id]
    assert credits[w.person2.id].hours == Decimal("1.5")
    assert person_hours(w.person2.id, None).supervision_hours == Decimal("1.5")
    assert person_hours(w.person.id, None).supervision_hours == 0


def test_hours_are_rounded_to_a_tenth_and_both_credits_add_up(w):
    record(w, supervisees=[w.person, w.person2], hours="2.04")
    record(w, format="individual", supervisees=[w.person], hours=Decimal("1.5"))
    assert person_hours(w.person.id, None).supervision_hours == Decimal("3.5")
    assert person_hours(w.person.id, None).supervision_sessions == 2
    assert person_hours(w.person2.id, None).supervision_hours == Decimal("2")


def test_record_belongs_to_the_supervisors_unit_and_recorder(w):
    result = record(w, actor=w.coord)
    rec = db.session.get(SupervisionRecord, result.record.id)
    assert rec.unit_id == w.street.id and rec.recorded_by_id == w.coord.id
    assert stored_notes(rec) == NOTES and rec.functions == ["educational", "supportive"]


RULES = [
    # (id, how the call differs from a valid group record by sup1, expected field)
    ("individual-two", lambda w: {"format": "individual", "supervisees": [w.person, w.person2]}, "supervisee_ids"),
    ("individual-none", lambda w: {"format": "individual", "supervisees": []}, "supervisee_ids"),
    ("group-one", lambda w: {"supervisees": [w.person]}, "supervisee_ids"),
    ("group-none", lambda w: {"supervisees": []}, "supervisee_ids"),
    ("self", lambda w: {"supervisees": [w.sup_person, w.person]}, "supervisee_ids"),
    ("self-individual", lambda w: {"format": "individual", "supervisees": [w.sup_person]}, "supervisee_ids"),
    ("hours-zero", lambda w: {"hours": Decimal("0")}, "hours"),
    ("hours-negative", lambda w: {"hours": Decimal("-1")}, "hours"),
    ("hours-over-8", lambda w: {"hours": Decimal("8.5")}, "hours"),
    ("hours-text", lambda w: {"hours": "abc"}, "hours"),
    ("hours-nan", lambda w: {"hours": "NaN"}, "hours"),
    ("hours-missing", lambda w: {"hours": None}, "hours"),
    ("future", lambda w: {"held_on": shanghai_tomorrow()}, "held_on"),
    ("no-date", lambda w: {"held_on": None}, "held_on"),
    ("out-of-scope", lambda w: {"actor": w.coord, "supervisees": [w.person, w.outsider]}, "supervisee_ids"),
    ("street-scope", lambda w: {"actor": w.street_coord, "supervisees": [w.person, w.person2]}, "supervisee_ids"),
    ("supervisor-out-of-scope", lambda w: {"supervisees": [w.person, w.outsider]}, "supervisee_ids"),
    ("not-a-supervisor", lambda w: {"actor": w.coord, "supervisor": w.plain}, "supervisor_id"),
    ("trainee-not-supervisor", lambda w: {"actor": w.coord, "supervisor": w.trainee_person}, "supervisor_id"),
    ("no-supervisor", lambda w: {"actor": w.coord, "supervisor": None}, "supervisor_id"),
    ("duplicate", lambda w: {"supervisees": [w.person, w.person]}, "supervisee_ids"),
    ("duplicate-three", lambda w: {"supervisees": [w.person, w.person2, w.person]}, "supervisee_ids"),
    ("format", lambda w: {"format": "pair"}, "format"),
    ("mode", lambda w: {"mode": "offline"}, "mode"),
    ("kind", lambda w: {"kind": "formal"}, "kind"),
    ("function", lambda w: {"functions": ["educational", "therapy"]}, "functions"),
    ("topic", lambda w: {"topic": "   "}, "topic"),
    ("topic-long", lambda w: {"topic": "长" * 201}, "topic"),
]


@pytest.mark.parametrize("change,field", [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_each_rule_refuses_the_record_and_writes_nothing(w, change, field):
    change = change(w)
    supervisor = change.pop("supervisor") if "supervisor" in change else w.sup_person
    supervisees = change.pop("supervisees", [w.person, w.trainee_person])
    actor = change.pop("actor", w.sup)
    before = counts()
    with pytest.raises(Invalid) as err:
        record_supervision(data=payload(**change), supervisor=supervisor, supervisees=supervisees, actor=actor)
    assert field in err.value.errors, err.value.errors
    assert str(err.value.errors[field]) and str(err.value.message)
    assert counts() == before
    db.session.rollback()
    assert counts() == before


def test_disabled_supervisor_account_does_not_hold_the_assignment(w):
    w.sup2.is_enabled = False
    db.session.commit()
    with pytest.raises(Invalid) as err:
        record(w, actor=w.coord, supervisor=w.sup2_person)
    assert "supervisor_id" in err.value.errors


def test_a_supervisor_assigned_in_another_district_does_not_cover_this_one(w):
    from tests.factories import person, user

    west = person(w.other_street, "西湖督导")
    user("westsup", "supervisor", w.other, person=west)
    street = person(w.street, "街道督导")
    user("streetsup", "supervisor", w.street, person=street)  # 米市巷街道 only
    db.session.commit()
    before = counts()
    with pytest.raises(Invalid) as err:
        record(w, actor=w.admin, supervisor=west, supervisees=[w.person, w.person2])
    assert "supervisee_ids" in err.value.errors and "西湖督导" in str(err.value.errors["supervisee_ids"])
    with pytest.raises(Invalid) as err:  # person2 works in 湖墅街道, outside the street supervisor's subtree
        record(w, actor=w.coord, supervisor=street, supervisees=[w.person, w.person2])
    assert "王五" in str(err.value.errors["supervisee_ids"]) and "李四" not in str(err.value.errors["supervisee_ids"])
    assert counts() == before
    record(w, actor=w.coord, supervisor=street, supervisees=[w.person, w.trainee_person])  # both in the street


def test_today_in_shanghai_is_not_the_future(w, monkeypatch):
    # 17:00 UTC on 30 June is 01:00 on 1 July in Shanghai.
    monkeypatch.setattr(sup_services, "utcnow", lambda: datetime(2024, 6, 30, 17, 0, tzinfo=UTC))
    assert record(w, held_on=date(2024, 7, 1)).record.id
    before = counts()
    with pytest.raises(Invalid) as err:
        record(w, held_on=date(2024, 7, 2))
    assert "held_on" in err.value.errors and counts() == before


def test_eight_hours_is_allowed(w):
    assert record(w, hours=Decimal("8")).record.hours == Decimal("8")


def test_a_supervisor_records_only_their_own_supervision(w):
    before = counts()
    with pytest.raises(Forbidden):
        record_supervision(data=payload(), supervisor=w.sup2_person, supervisees=[w.person, w.person2], actor=w.sup)
    with pytest.raises(Forbidden):
        record_supervision(data=payload(), supervisor=None, supervisees=[w.person, w.person2], actor=w.sup)
    assert counts() == before
    assert record(w, actor=w.sup).record.supervisor_id == w.sup_person.id


@pytest.mark.parametrize("who", ["trainee", None])
def test_a_trainee_or_nobody_cannot_record(w, who):
    before = counts()
    with pytest.raises(Forbidden):
        record_supervision(
            data=payload(),
            supervisor=w.sup_person,
            supervisees=[w.person, w.person2],
            actor=getattr(w, who) if who else None,
        )
    assert counts() == before


def test_a_coordinator_or_admin_may_record_for_a_supervisor(w):
    assert record(w, actor=w.coord).record.supervisor_id == w.sup_person.id
    assert record(w, actor=w.admin, supervisor=w.sup2_person).record.supervisor_id == w.sup2_person.id


def test_ratio_warns_above_eight_distinct_supervisees_a_year_but_saves(w):
    m = w.members
    assert record(w, supervisees=m[0:5]).warnings == []
    assert record(w, supervisees=m[5:8] + [m[0]]).warnings == []  # 8 distinct in 2023: at the ratio
    assert record(w, supervisees=m[8:10], held_on=date(2022, 6, 1)).warnings == []  # another year
    assert record(w, supervisor=w.sup2_person, actor=w.sup2, supervisees=m[8:10]).warnings == []  # another supervisor
    before = counts()
    result = record(w, format="individual", supervisees=[m[8]], held_on=date(2023, 5, 1))
    assert len(result.warnings) == 1
    message = str(result.warnings[0])
    assert "督导甲" in message and "9" in message and "8" in message and "2023" in message
    after = counts()
    assert after["SupervisionRecord"] == before["SupervisionRecord"] + 1
    assert after["SupervisionCredit"] == before["SupervisionCredit"] + 1
    assert db.session.get(SupervisionRecord, result.record.id) is not None


def test_ratio_comes_from_the_configuration(db_url):
    app = make_app(db_url, LMS_SUPERVISION_RATIO=2)
    try:
        with app.app_context():
            w = sup_world()
            result = record(w, supervisees=[w.person, w.person2, w.trainee_person])
            assert len(result.warnings) == 1
            assert db.session.get(SupervisionRecord, result.record.id) is not None
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_the_audit_trail_records_who_and_what_never_the_notes(w):
    result = record(w)
    credit = credits_of(result.record.id)[w.trainee_person.id]
    respond_to_credit(credit=credit, actor=w.trainee, confirm=False, reason="那天我请假了")
    db.session.commit()
    entries = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    actions = [e.action for e in entries]
    assert "supervision.record" in actions and "supervision.disputed" in actions
    rec_entry = next(e for e in entries if e.action == "supervision.record")
    assert rec_entry.entity_id == result.record.id and rec_entry.actor_id == w.sup.id
    assert rec_entry.after["supervisees"] == [w.person.id, w.trainee_person.id]
    for e in entries:
        dumped = json.dumps([e.before, e.after, e.action, e.entity_type, e.actor_name], ensure_ascii=False)
        assert NOTES not in dumped and "保密笔记" not in dumped


class TestConfirmation:
    def _credit(self, w, person=None):
        result = record(w)
        return credits_of(result.record.id)[(person or w.trainee_person).id]

    def test_supervisee_confirms_their_credit(self, w):
        credit = self._credit(w)
        respond_to_credit(credit=credit, actor=w.trainee, confirm=True)
        db.session.commit()
        assert credit.status == "confirmed" and credit.reason is None and credit.responded_at is not None

    def test_supervisee_disputes_with_a_reason_and_it_stops_counting(self, w):
        credit = self._credit(w)
        assert person_hours(w.trainee_person.id, None).supervision_hours == Decimal("2")
        respond_to_credit(credit=credit, actor=w.trainee, confirm=False, reason="  没有参加这次督导  ")
        db.session.commit()
        assert credit.status == "disputed" and credit.reason == "没有参加这次督导"
        assert person_hours(w.trainee_person.id, None).supervision_hours == 0
        assert person_hours(w.trainee_person.id, None).supervision_sessions == 0
        assert person_hours(w.person.id, None).supervision_hours == Decimal("2")  # others still count

    @pytest.mark.parametrize("reason", [None, "", "   "])
    def test_a_dispute_needs_a_reason_and_changes_nothing(self, w, reason):
        credit = self._credit(w)
        before = counts()
        with pytest.raises(Invalid) as err:
            respond_to_credit(credit=credit, actor=w.trainee, confirm=False, reason=reason)
        assert "reason" in err.value.errors
        db.session.rollback()
        assert db.session.get(SupervisionCredit, credit.id).status == "unconfirmed"
        assert counts() == before

    @pytest.mark.parametrize("who", ["coord", "admin", "sup", "trainee"])
    def test_nobody_answers_someone_elses_credit(self, w, who):
        credit = self._credit(w, person=w.person)  # 李四's credit: no account answers it
        before = counts()
        for confirm in (True, False):
            with pytest.raises(NotFound):
                respond_to_credit(credit=credit, actor=getattr(w, who), confirm=confirm, reason="不是我")
        db.session.rollback()
        assert db.session.get(SupervisionCredit, credit.id).status == "unconfirmed"
        assert counts() == before

    def test_a_disputed_credit_can_later_be_confirmed(self, w):
        credit = self._credit(w)
        respond_to_credit(credit=credit, actor=w.trainee, confirm=False, reason="时长不对")
        respond_to_credit(credit=credit, actor=w.trainee, confirm=True)
        db.session.commit()
        assert credit.status == "confirmed" and credit.reason is None
        assert person_hours(w.trainee_person.id, None).supervision_hours == Decimal("2")
