"""The demo world's supervision (PRODUCT.md §4): 拱墅区 2022 has 15 sessions reaching all 69 selected
people, both formats and modes, led by people holding the supervisor assignment; 东胜区 has both
formats and both modes. The demo database is only read."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from shegong_academy.extensions import db
from shegong_academy.ledger.queries import Period, supervision_by_person
from shegong_academy.org.queries import subtree_ids, unit_by_code
from shegong_academy.people.models import Person
from shegong_academy.supervision.models import SupervisionRecord
from shegong_academy.supervision.services import holds_supervisor_assignment
from tests.factories import login

LEADING = {"provincial_leader", "city_leader", "supervisor_assistant"}
DEMO_NOTES = "督导者个人记录（保密）。"


def records_in(code: str, year: int | None = None) -> list[SupervisionRecord]:
    stmt = select(SupervisionRecord).where(SupervisionRecord.unit_id.in_(subtree_ids(unit_by_code(code))))
    if year:
        stmt = stmt.where(
            SupervisionRecord.held_on >= date(year, 1, 1), SupervisionRecord.held_on <= date(year, 12, 31)
        )
    return list(db.session.scalars(stmt))


def selected_69() -> set[int]:
    people = db.session.scalars(select(Person).where(Person.unit_id.in_(subtree_ids(unit_by_code("330105")))))
    return {p.id for p in people if p.service_areas}


def test_gongshu_2022_has_15_sessions_reaching_all_69(demo_app):
    with demo_app.app_context():
        selected = selected_69()
        assert len(selected) == 69
        records = records_in("330105", 2022)
        assert len(records) == 15
        reached = {c.person_id for r in records for c in r.credits}
        assert reached == selected
        assert {r.format for r in records} == {"individual", "group"}
        assert {r.mode for r in records} == {"onsite", "online"}
        for r in records:
            assert holds_supervisor_assignment(r.supervisor), r.supervisor.name
            assert r.supervisor_id in selected and set(r.supervisor.titles) & LEADING
            ids = [c.person_id for c in r.credits]
            assert r.supervisor_id not in ids and len(ids) == len(set(ids))
            assert len(ids) == 1 if r.format == "individual" else len(ids) >= 2
            assert 0 < r.hours <= 8 and all(c.hours == r.hours for c in r.credits)
        # Every one of the 69 has counted supervision hours in 2022 (disputed credits would not count).
        counted = dict(
            (row.person_id, row.supervision_hours)
            for row in db.session.execute(supervision_by_person(Period.year(2022), list(selected)))
        )
        assert set(counted) == selected and all(h > 0 for h in counted.values())
        db.session.rollback()


def test_dongsheng_has_both_formats_and_modes(demo_app):
    with demo_app.app_context():
        records = records_in("150602")
        assert {r.format for r in records} == {"individual", "group"}
        assert {r.mode for r in records} == {"onsite", "online"}
        assert {(r.format, r.mode) for r in records} == {
            ("individual", "onsite"),
            ("individual", "online"),
            ("group", "onsite"),
            ("group", "online"),
        }
        assert all(holds_supervisor_assignment(r.supervisor) for r in records)
        db.session.rollback()


def test_the_demos_asks_to_confirm_are_unread_only_where_the_credit_is_unconfirmed(demo_app):
    """The demo's supervisees confirmed most of their credits: what asked them to is read, and the bell asks
    only those who have not (a few in 拱墅区) to confirm."""
    from shegong_academy.notices.models import Notification
    from shegong_academy.supervision.models import SupervisionCredit

    with demo_app.app_context():
        unread = set(
            db.session.execute(
                select(Notification.person_id, Notification.key).where(
                    Notification.kind == "supervision.confirm", Notification.read_at.is_(None)
                )
            ).all()
        )
        unread = {(person, int(key.split(":")[1][1:])) for person, key in unread}
        waiting = set(
            db.session.execute(
                select(SupervisionCredit.person_id, SupervisionCredit.record_id).where(
                    SupervisionCredit.status == "unconfirmed"
                )
            ).all()
        )
        assert waiting and unread == waiting
        db.session.rollback()


def test_gongshu_coordinator_sees_the_15_without_the_notes(demo_app):
    from shegong_academy.demo.world import DEMO_PASSWORD

    c = demo_app.test_client()
    c.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert login(c, "gongshu", DEMO_PASSWORD).status_code == 302
    page = c.get("/supervision/?year=2022")
    assert page.status_code == 200 and "15 records" in page.text
    assert DEMO_NOTES not in page.text
    with demo_app.app_context():
        rid = records_in("330105", 2022)[0].id
    detail = c.get(f"/supervision/{rid}")
    assert detail.status_code == 200 and DEMO_NOTES not in detail.text
    assert DEMO_NOTES not in c.get("/supervision/export.csv?year=2022").data.decode("utf-8-sig")
    other = demo_app.test_client()
    assert login(other, "dongsheng", DEMO_PASSWORD).status_code == 302
    assert other.get(f"/supervision/{rid}").status_code == 404
