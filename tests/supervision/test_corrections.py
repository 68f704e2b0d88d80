"""Correcting and voiding supervision records: who may, what it does to the hours and the confirmations,
what the supervisees are told, and the pages and API that do it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from flask import current_app
from sqlalchemy import select

from shegong_academy.audit.models import AuditEntry
from shegong_academy.auth.services import create_api_token
from shegong_academy.core.crypto import decrypt_text
from shegong_academy.core.domain import Conflict, Forbidden, Invalid
from shegong_academy.extensions import db
from shegong_academy.ledger.queries import Period, person_hours
from shegong_academy.notices.models import Notification
from shegong_academy.notices.wording import subject as wording
from shegong_academy.supervision.models import SupervisionRecord
from shegong_academy.supervision.services import asks_answered, correct_record, respond_to_credit, void_record
from tests.conftest import statements
from tests.coverage import assert_rollups_current
from tests.factories import login
from tests.supervision import NOTES, record, sup_world


@pytest.fixture
def w(ctx):
    return sup_world()


def audit(action: str) -> AuditEntry:
    return db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)).one()


def test_the_author_corrects_the_facts_and_the_supervisees_confirm_again(w):
    rec = record(w, actor=w.sup).record
    trainee_credit = next(c for c in rec.credits if c.person_id == w.trainee_person.id)
    respond_to_credit(credit=trainee_credit, actor=w.trainee, confirm=True)
    assert trainee_credit.status == "confirmed"

    correct_record(record=rec, data={"topic": "小组督导：服务记录与档案规范"}, actor=w.sup)
    assert trainee_credit.status == "confirmed"  # the topic alone: nothing to confirm again
    correct_record(record=rec, data={"hours": Decimal("1.5"), "held_on": date(2023, 4, 2)}, actor=w.sup)
    assert rec.hours == Decimal("1.5") and all(c.hours == Decimal("1.5") for c in rec.credits)
    assert trainee_credit.status == "unconfirmed"  # asked again
    assert person_hours(w.person.id, Period.year(2023)).supervision_hours == Decimal("1.5")
    assert_rollups_current([w.person.id, w.trainee_person.id])
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "supervision.correct")).all()
    assert entries[-1].before == {"held_on": "2023-03-01", "hours": "2.0"}
    assert entries[-1].after == {"held_on": "2023-04-02", "hours": "1.5"}
    assert NOTES not in str([e.before for e in entries] + [e.after for e in entries])


def notices(kind: str, **reader) -> list[Notification]:
    db.session.expire_all()  # the notifications are marked read in bulk, behind the session's back
    column, value = next(iter(reader.items()))
    return list(
        db.session.scalars(
            select(Notification)
            .where(Notification.kind == kind, getattr(Notification, column) == value)
            .order_by(Notification.id)
        )
    )


def test_a_dispute_tells_the_authors_and_any_correction_asks_the_disputer_again(w):
    # recorded by the district coordinator for 督导甲: both may correct it, so both are told
    rec = record(w, actor=w.coord).record
    person_credit = next(c for c in rec.credits if c.person_id == w.person.id)
    trainee_credit = next(c for c in rec.credits if c.person_id == w.trainee_person.id)
    respond_to_credit(credit=trainee_credit, actor=w.trainee, confirm=False, reason="主题记错了，是档案规范")
    [to_supervisor] = notices("supervision.disputed", person_id=w.sup_person.id)
    [to_recorder] = notices("supervision.disputed", user_id=w.coord.id)
    for notice in (to_supervisor, to_recorder):
        assert notice.read_at is None and notice.link == f"/supervision/{rec.id}"
        assert wording(notice) == "钱七 对 2023-03-01 的督导记录提出异议：主题记错了，是档案规范"
    assert notices("supervision.disputed", person_id=w.person.id) == []  # the other supervisee is not told
    [first_ask] = notices("supervision.confirm", person_id=w.trainee_person.id)
    assert first_ask.read_at is not None  # answered

    # the topic alone: the one who disputed is asked again, the one who did not is left as they were
    correct_record(record=rec, data={"topic": "小组督导：档案规范"}, actor=w.sup)
    assert trainee_credit.status == "unconfirmed" and trainee_credit.reason is None
    assert person_credit.status == "unconfirmed"  # never answered; not asked twice
    assert [n.read_at is None for n in notices("supervision.confirm", person_id=w.trainee_person.id)] == [False, True]
    assert len(notices("supervision.confirm", person_id=w.person.id)) == 1
    db.session.expire_all()
    assert all(n.read_at is not None for n in (to_supervisor, to_recorder))  # the dispute is answered

    # disputed again: told again; then voided: the dispute is settled, whoever reads it
    respond_to_credit(credit=trainee_credit, actor=w.trainee, confirm=False, reason="时长也不对")
    again = notices("supervision.disputed", person_id=w.sup_person.id)
    assert len(again) == 2 and again[-1].read_at is None and "时长也不对" in wording(again[-1])
    credits = [c for c in rec.credits if c.id]  # loaded (notices() expired them)
    with statements(current_app) as seen:  # asks, reminders, escalations and disputes: settled in one statement
        asks_answered(rec, credits)
    assert len(seen) == 1 and seen[0].startswith("UPDATE notifications")
    void_record(record=rec, reason="重新录入", actor=w.coord)
    assert all(n.read_at is not None for n in notices("supervision.disputed", user_id=w.coord.id))
    assert all(n.read_at is not None for n in notices("supervision.disputed", person_id=w.sup_person.id))


def test_a_supervisor_recording_their_own_session_is_told_once(w):
    rec = record(w, actor=w.sup).record
    credit = next(c for c in rec.credits if c.person_id == w.trainee_person.id)
    respond_to_credit(credit=credit, actor=w.trainee, confirm=False, reason="我没参加")
    assert len(notices("supervision.disputed", person_id=w.sup_person.id)) == 1
    assert notices("supervision.disputed", user_id=w.sup.id) == []
    respond_to_credit(credit=credit, actor=w.trainee, confirm=True)  # changed their mind: nothing left to answer
    assert all(n.read_at is not None for n in notices("supervision.disputed", person_id=w.sup_person.id))


def test_a_recorder_who_no_longer_manages_the_unit_is_not_told_of_a_dispute(w):
    rec = record(w, actor=w.coord).record
    for grant in list(w.coord.roles):  # the coordinator has left 拱墅区
        db.session.delete(grant)
    db.session.flush()
    db.session.expire(w.coord, ["roles"])
    credit = next(c for c in rec.credits if c.person_id == w.trainee_person.id)
    respond_to_credit(credit=credit, actor=w.trainee, confirm=False, reason="时长不对")
    assert notices("supervision.disputed", user_id=w.coord.id) == []
    assert len(notices("supervision.disputed", person_id=w.sup_person.id)) == 1  # the supervisor still is


def test_the_supervisor_alone_corrects_the_notes_and_the_trail_says_only_that_they_changed(app):
    with app.app_context():
        w = sup_world()
        rec = record(w, actor=w.coord).record  # recorded by the coordinator for 督导甲: both are its authors
        credit = next(c for c in rec.credits if c.person_id == w.trainee_person.id)
        respond_to_credit(credit=credit, actor=w.trainee, confirm=False, reason="时长不对")
        db.session.commit()
        with pytest.raises(Forbidden):  # the coordinator may correct the facts, never the notes
            correct_record(record=rec, data={"topic": "改过的主题", "notes": "改"}, actor=w.coord)
        assert rec.topic == "小组督导：服务记录规范"  # refused before anything changed
        record_id = rec.id
    fixed = "督导笔记（更正）：下次跟进档案"
    facts = {
        "held_on": "2023-03-01",
        "mode": "onsite",
        "kind": "overall",
        "hours": "2",
        "topic": "小组督导：服务记录规范",
    }
    facts["functions"] = ["educational", "supportive"]
    coordinator = app.test_client()
    login(coordinator, "coord")
    assert NOTES not in coordinator.get(f"/supervision/{record_id}/edit").text
    assert 'name="notes"' not in coordinator.get(f"/supervision/{record_id}/edit").text
    supervisor = app.test_client()
    login(supervisor, "sup1")
    form = supervisor.get(f"/supervision/{record_id}/edit").text
    assert 'name="notes"' in form and NOTES in form  # the supervisor sees what they correct
    too_long = supervisor.post(f"/supervision/{record_id}/edit", data={**facts, "notes": "长" * 10001})
    assert too_long.status_code == 200 and 'class="field wide confidential has-error"' in too_long.text
    # a form sent without the field (opened before the notes were offered) leaves them as they are
    assert supervisor.post(f"/supervision/{record_id}/edit", data=facts).status_code == 302
    assert NOTES in supervisor.get(f"/supervision/{record_id}").text
    assert supervisor.post(f"/supervision/{record_id}/edit", data={**facts, "notes": fixed}).status_code == 302
    assert fixed in supervisor.get(f"/supervision/{record_id}").text
    # the coordinator posting the notes field anyway changes nothing of them
    coordinator.post(f"/supervision/{record_id}/edit", data={**facts, "notes": "覆盖"})
    with app.app_context():
        entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "supervision.correct")).all()
        assert [e.after for e in entries] == [{"notes": "changed"}]
        assert fixed not in str(entries[0].before) + str(entries[0].after)
        record_now = db.session.get(SupervisionRecord, record_id)
        assert decrypt_text(record_now.notes_enc) == fixed
        # the notes are the supervisor's own: the supervisee who disputed is not asked again for them
        assert {c.status for c in record_now.credits if c.person_id != record_now.supervisor_id} == {
            "unconfirmed",
            "disputed",
        }
    trail = coordinator.get(f"/audit/?entity=supervision_record:{record_id}")
    assert fixed not in trail.text


def test_only_the_author_corrects(w):
    rec = record(w, actor=w.sup).record
    for someone in (w.coord, w.sup2, w.trainee, w.admin):
        with pytest.raises(Forbidden):
            correct_record(record=rec, data={"topic": "改"}, actor=someone)
    with pytest.raises(Invalid) as bad:
        correct_record(record=rec, data={"hours": "9", "topic": " "}, actor=w.sup)
    assert set(bad.value.errors) == {"hours", "topic"}
    db.session.refresh(rec)
    assert rec.topic == "小组督导：服务记录规范" and rec.hours == 2


def test_voiding_stops_the_credits_and_tells_the_supervisees_why(w):
    rec = record(w, actor=w.sup).record
    assert person_hours(w.person.id, None).supervision_hours == 2
    told = void_record(record=rec, reason="重复录入，已在3月2日记录中登记", actor=w.coord)
    assert told == 2
    assert person_hours(w.person.id, None).supervision_hours == 0
    assert_rollups_current([w.person.id, w.trainee_person.id])
    [notice] = db.session.scalars(
        select(Notification).where(
            Notification.person_id == w.trainee_person.id, Notification.kind == "supervision.voided"
        )
    ).all()
    assert "重复录入" in wording(notice) and "小组督导" in wording(notice)
    assert audit("supervision.void").after["reason"].startswith("重复录入")
    credit = next(c for c in rec.credits if c.person_id == w.trainee_person.id)
    with pytest.raises(Conflict):
        respond_to_credit(credit=credit, actor=w.trainee, confirm=True)
    with pytest.raises(Conflict):
        correct_record(record=rec, data={"topic": "改"}, actor=w.sup)
    with pytest.raises(Conflict):
        void_record(record=rec, reason="again", actor=w.coord)


def test_who_may_void(w):
    rec = record(w, actor=w.sup).record
    for someone in (w.coord_out, w.sup2, w.trainee):  # the street coordinator of its unit may
        with pytest.raises(Forbidden):
            void_record(record=rec, reason="x", actor=someone)
    with pytest.raises(Invalid):
        void_record(record=rec, reason="  ", actor=w.sup)
    assert rec.voided_at is None
    void_record(record=rec, reason="记错了督导对象", actor=w.sup)  # the author may
    assert rec.voided_at is not None


def test_the_pages_correct_and_void(app):
    # Built in an app context of its own: requests must not share the test's context (and its g) with each other.
    with app.app_context():
        w = sup_world()
        record_id = record(w, actor=w.sup).record.id
    c = app.test_client()
    c.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login(c, "sup1")
    r = c.get(f"/supervision/{record_id}/edit")
    assert r.status_code == 200 and "小组督导：服务记录规范" in r.get_data(as_text=True)
    data = {"held_on": "2023-03-01", "mode": "onsite", "kind": "overall", "hours": "2", "topic": "小组督导：记录规范"}
    r = c.post(f"/supervision/{record_id}/edit", data={**data, "functions": ["educational"]})
    assert r.status_code == 302
    r = c.post(f"/supervision/{record_id}/edit", data={**data, "hours": "0"})
    assert r.status_code == 200
    coordinator = app.test_client()
    coordinator.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login(coordinator, "coord")
    assert coordinator.get(f"/supervision/{record_id}/edit").status_code == 403
    r = coordinator.get(f"/supervision/{record_id}/void")
    assert "2 supervisees lose 2.0 hours each" in r.get_data(as_text=True)
    assert coordinator.post(f"/supervision/{record_id}/void", data={"reason": ""}).status_code == 200
    assert coordinator.post(f"/supervision/{record_id}/void", data={"reason": "重复录入"}).status_code == 302
    detail = coordinator.get(f"/supervision/{record_id}").text
    assert "This record is void and counts for nobody: 重复录入" in detail
    assert "Unconfirmed" not in detail.split("<h2>Supervisees</h2>", 1)[1]  # its credits wait for nobody
    # the list marks it void and no confirmation filter finds it; the export says so in its status column
    listed = coordinator.get("/supervision/").text
    row = listed.split(f'href="/supervision/{record_id}"', 1)[1].split("</tr>", 1)[0]
    assert '<span class="tag bad">Void</span>' in row and "Counts for nobody" in row and "Unconfirmed" not in row
    assert f'href="/supervision/{record_id}"' not in coordinator.get("/supervision/?status=unconfirmed").text
    exported = coordinator.get("/supervision/export.csv").data.decode("utf-8-sig")
    [line] = [line for line in exported.splitlines() if "小组督导：记录规范" in line]
    assert line.endswith("Void: 重复录入")
    assert coordinator.post(f"/supervision/{record_id}/void", data={"reason": "again"}).status_code == 409
    trainee = app.test_client()
    trainee.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login(trainee, "trainee")
    assert "Does not count: 重复录入" in trainee.get("/supervision/mine").get_data(as_text=True)
    outsider = app.test_client()
    login(outsider, "coordout")
    assert outsider.get(f"/supervision/{record_id}/void").status_code == 404


def test_the_api_corrects_and_voids(app):
    with app.app_context():
        w = sup_world()
        record_id = record(w, actor=w.sup).record.id
        author, coord = create_api_token(user=w.sup), create_api_token(user=w.coord)
        db.session.commit()
    c = app.test_client()
    url = f"/api/v1/supervision/{record_id}"
    r = c.patch(url, json={"date": "2023-03-05", "hours": 1}, headers={"Authorization": f"Bearer {author}"})
    assert r.status_code == 200 and r.json["date"] == "2023-03-05" and r.json["hours"] == 1
    assert {cr["status"] for cr in r.json["credits"]} == {"unconfirmed"}
    r = c.patch(url, json={"date": "2099-01-01"}, headers={"Authorization": f"Bearer {author}"})
    assert r.status_code == 422 and "date" in r.json["errors"]
    r = c.patch(url, json={"topic": "改"}, headers={"Authorization": f"Bearer {coord}"})
    assert r.status_code == 403
    r = c.post(f"{url}/void", json={}, headers={"Authorization": f"Bearer {coord}"})
    assert r.status_code == 422
    r = c.post(f"{url}/void", json={"reason": "重复录入"}, headers={"Authorization": f"Bearer {coord}"})
    assert r.status_code == 200 and r.json["void"] is True and r.json["void_reason"] == "重复录入"
    r = c.post(f"{url}/void", json={"reason": "重复录入"}, headers={"Authorization": f"Bearer {coord}"})
    assert r.status_code == 409
    with app.app_context():
        assert db.session.get(SupervisionRecord, record_id).voided_at is not None


def _unread(kind: str) -> dict:
    """Unread notifications of a kind: {reader: count}, a reader being ("p", person) or ("u", account)."""
    rows = db.session.execute(
        select(Notification.person_id, Notification.user_id).where(
            Notification.kind == kind, Notification.read_at.is_(None)
        )
    ).all()
    found: dict = {}
    for person_id, user_id in rows:
        reader = ("p", person_id) if person_id is not None else ("u", user_id)
        found[reader] = found.get(reader, 0) + 1
    return found


def test_what_asked_a_supervisee_to_confirm_is_read_once_they_answer_or_the_record_is_void(w):
    """The ask to confirm, its reminder and the coordinator's escalation of a supervisee's credit go out of
    the unread lists when that supervisee confirms or disputes; the other supervisee's stay. A correction
    that asks again leaves one ask unread, the new one; voiding the record settles every ask about it, and
    another record's asks stay."""
    from datetime import timedelta

    from shegong_academy.core.db import utcnow
    from shegong_academy.notices.schedule import run

    rec = record(w, actor=w.sup).record
    other = record(w, actor=w.sup, held_on=date(2023, 3, 2)).record
    rec.created_at = other.created_at = utcnow() - timedelta(days=8)
    db.session.commit()
    run(utcnow())  # a reminder to each supervisee, and an escalation of each to the street's coordinator
    li, qian = w.person.id, w.trainee_person.id
    street = ("u", w.street_coord.id)
    assert _unread("supervision.confirm") == {("p", li): 2, ("p", qian): 2}
    assert _unread("supervision.reminder") == {("p", li): 2, ("p", qian): 2}
    assert _unread("supervision.escalation") == {street: 4}

    mine = next(c for c in rec.credits if c.person_id == qian)
    respond_to_credit(credit=mine, actor=w.trainee, confirm=True)
    db.session.commit()
    assert _unread("supervision.confirm") == {("p", li): 2, ("p", qian): 1}  # the other record's ask stays
    assert _unread("supervision.reminder") == {("p", li): 2, ("p", qian): 1}
    assert _unread("supervision.escalation") == {street: 3}

    correct_record(record=rec, data={"hours": Decimal("1.5")}, actor=w.sup)  # both are asked again
    db.session.commit()
    assert _unread("supervision.confirm") == {("p", li): 2, ("p", qian): 2}
    assert _unread("supervision.reminder") == {("p", li): 1, ("p", qian): 1}
    assert _unread("supervision.escalation") == {street: 2}

    void_record(record=rec, reason="记录重复", actor=w.sup)
    db.session.commit()
    assert _unread("supervision.confirm") == {("p", li): 1, ("p", qian): 1}  # the other record's
    assert _unread("supervision.reminder") == {("p", li): 1, ("p", qian): 1}
    assert _unread("supervision.escalation") == {street: 2}
    assert _unread("supervision.voided") == {("p", li): 1, ("p", qian): 1}


def test_an_escalation_is_settled_when_the_coordinators_have_changed_since(w):
    """The street's coordinator was told a supervisee had not confirmed; then the street got another
    coordinator and the first one moved to another street. The supervisee's answer settles the escalation
    the first coordinator holds (read through the index of the unread by kind), and no one else's."""
    from datetime import timedelta

    from shegong_academy.auth.accounts import grant, revoke
    from shegong_academy.core.db import utcnow
    from shegong_academy.notices.schedule import run
    from tests.factories import user

    rec = record(w, actor=w.sup).record
    other = record(w, actor=w.sup, held_on=date(2023, 3, 2)).record
    rec.created_at = other.created_at = utcnow() - timedelta(days=8)
    db.session.commit()
    run(utcnow())
    first = ("u", w.street_coord.id)
    assert _unread("supervision.escalation") == {first: 4}

    newcomer = user("streetcoord2", "coordinator", w.street)
    old_role = next(a for a in w.street_coord.roles if a.role == "coordinator")
    grant(user=w.street_coord, role="coordinator", unit=w.street2, actor=w.admin)
    revoke(user=w.street_coord, assignment_id=old_role.id, actor=w.admin)
    db.session.commit()

    mine = next(c for c in rec.credits if c.person_id == w.trainee_person.id)
    respond_to_credit(credit=mine, actor=w.trainee, confirm=True)
    db.session.commit()
    assert _unread("supervision.escalation") == {first: 3}  # the other credits' escalations stay
    void_record(record=rec, reason="记录重复", actor=w.sup)
    db.session.commit()
    assert _unread("supervision.escalation") == {first: 2}  # the other record's two
    assert ("u", newcomer.id) not in _unread("supervision.escalation")


def test_the_unread_of_a_kind_are_found_through_their_index(w):
    """What an answer settles is looked up through the partial index of the unread by kind, not a scan of
    every notification (the plan names the index, on either database)."""
    from sqlalchemy import text

    from shegong_academy.notices.services import occasion_key

    prefix = occasion_key("supervision.escalation", "credit7")
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = db.session.execute(
            text("EXPLAIN SELECT id FROM notifications WHERE kind = :k AND read_at IS NULL AND key LIKE :p"),
            {"k": "supervision.escalation", "p": prefix + "%"},
        ).scalars()
    else:
        plan = [
            row[-1]
            for row in db.session.execute(
                text(
                    "EXPLAIN QUERY PLAN SELECT id FROM notifications"
                    " WHERE kind = :k AND read_at IS NULL AND key LIKE :p"
                ),
                {"k": "supervision.escalation", "p": prefix + "%"},
            )
        ]
    assert "ix_notifications_unread_kind" in " ".join(plan)
