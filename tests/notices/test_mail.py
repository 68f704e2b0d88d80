"""Notifications by mail, sent to a real SMTP server on loopback: each arrives once, in its reader's language."""

from __future__ import annotations

import re
import threading
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from shegong_academy.core.db import utcnow
from shegong_academy.core.uow import commit
from shegong_academy.coverage.services import create_cohort
from shegong_academy.credentials.models import Certificate
from shegong_academy.credentials.services import issue_certificate
from shegong_academy.extensions import db
from shegong_academy.notices.models import Notification
from shegong_academy.notices.schedule import run
from shegong_academy.people.models import Person
from shegong_academy.training.services import enrol, withdraw
from tests.credentials.helpers import attend, completion_type
from tests.factories import World, person, user
from tests.notices.conftest import mail_settings
from tests.supervision import record, sup_world
from tests.training.helpers import course, program, session

TZ = ZoneInfo("Asia/Shanghai")


def local(y, m, d, hour=10) -> datetime:
    return datetime(y, m, d, hour, tzinfo=TZ)


def subjects(smtp, address: str) -> list[str]:
    return [m["Subject"] for m in smtp.to(address)]


def body(message) -> str:
    return message.get_body(("plain",)).get_content()


def reader(w, name: str, username: str, email: str, locale: str | None = None, at=None) -> Person:
    p = person(at or w.community, name)
    u = user(username, "trainee", at or w.community, person=p)
    u.email, u.locale = email, locale
    db.session.commit()
    return p


def test_a_waitlist_promotion_arrives_once_in_each_readers_language(mctx, smtp):
    w = World()
    w.trainee.email = "qian@example.cn"
    english = reader(w, "孙九", "sun", "sun@example.cn", locale="en")
    crs = course(program(w.district), capacity=1)
    enrol(course=crs, person=w.trainee_person, actor=w.coord)
    enrol(course=crs, person=english, actor=w.coord)
    commit()
    assert subjects(smtp, "qian@example.cn") == [f"您已报名{crs.title}。"]
    assert subjects(smtp, "sun@example.cn") == [f"You are number 1 on the waitlist of {crs.title}."]

    withdraw(course=crs, person=w.trainee_person, actor=w.coord)
    commit()
    [promoted] = smtp.to("sun@example.cn")[1:]
    assert promoted["Subject"] == f"A seat in {crs.title} is yours: you are enrolled from the waitlist."
    assert subjects(smtp, "qian@example.cn")[1] == f"协调员已将您从{crs.title}退课。"
    # The headers are RFC 2047 encoded words of UTF-8; the body is UTF-8 text with an HTML alternative.
    headers = smtp.raw[-1].decode("ascii").split("\r\n\r\n", 1)[0]
    assert "Subject: A seat in =?utf-8?b?" in headers and crs.title not in headers
    assert promoted.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in promoted.iter_parts()] == ["text/plain", "text/html"]
    assert promoted["From"].addresses[0].display_name == "社工学堂"
    assert promoted["List-Unsubscribe"].startswith("<https://academy.example.cn/notifications/unsubscribe/")
    assert f"https://academy.example.cn/my/courses/{crs.id}" in body(promoted)
    # This event's mail, and all mail: both links open their page without signing in.
    links = re.findall(r"https://academy\.example\.cn(/notifications/unsubscribe/\S+)", body(promoted))
    assert len(links) == 2 and all(mctx.test_client().get(link).status_code == 200 for link in links)
    # The footer too is in each reader's language.
    assert "Stop all mail" in body(promoted) and "不再接收任何邮件" in body(smtp.to("qian@example.cn")[0])
    # Running the scheduler (twice) sends nothing again.
    run()
    run()
    assert len(smtp.to("sun@example.cn")) == 2 and len(smtp.to("qian@example.cn")) == 2


def test_tomorrows_session_is_reminded_once_with_time_place_and_link(mctx, smtp):
    w = World()
    w.trainee.email = "qian@example.cn"
    crs = course(program(w.district, year=2026), capacity=None)
    session(crs, start=local(2026, 12, 2, 9))
    session(crs, start=local(2026, 12, 3, 9))  # the day after: not yet
    enrol(course=crs, person=w.trainee_person, actor=w.coord)
    commit()
    before = len(smtp.raw)
    assert run(local(2026, 12, 1, 7))["written"]["session.tomorrow"] == 0  # before eight: not yet
    assert run(local(2026, 12, 1, 10))["written"]["session.tomorrow"] == 1
    assert run(local(2026, 12, 1, 18))["written"]["session.tomorrow"] == 0
    assert len(smtp.raw) == before + 1
    [message] = smtp.to("qian@example.cn")[1:]
    assert message["Subject"] == f"明天：{crs.title}，09:00"
    text = body(message)
    assert "2026-12-02 09:00 至 12:00，线下，拱墅区社工站。" in text
    assert f"https://academy.example.cn/my/courses/{crs.id}" in text


def test_supervision_is_reminded_after_three_days_and_escalated_after_seven(mctx, smtp):
    w = sup_world()
    w.trainee.email = "qian@example.cn"
    w.coord.email = "coord@example.cn"
    w.street_coord.email = "street@example.cn"
    rec = record(w).record
    run()  # (the helper commits without the after-commit delivery: the scheduler sends what waits)
    asked = subjects(smtp, "qian@example.cn")
    assert asked == ["请确认 2023-03-01 与督导甲的督导记录"]
    now = utcnow()
    rec.created_at = now - timedelta(days=4)
    commit()
    run(now)
    run(now)
    assert subjects(smtp, "qian@example.cn")[1:] == ["提醒：2023-03-01 的督导记录仍待确认"]

    def escalations(address):
        return [m for m in smtp.to(address) if "未确认" in m["Subject"]]

    assert escalations("coord@example.cn") == [] and escalations("street@example.cn") == []
    rec.created_at = now - timedelta(days=8)
    commit()
    run(now)
    run(now)
    # The nearest coordinators up from the record's unit: it belongs to the supervisor's unit, 米市巷街道, whose
    # own coordinator is told; the district's is not.
    escalated = escalations("street@example.cn")
    # Both supervisees left it unconfirmed (李四 has no account: the coordinator is told of him all the same).
    assert sorted(m["Subject"] for m in escalated) == [
        "李四 已有 8 天未确认 2023-03-01 的督导记录。",
        "钱七 已有 8 天未确认 2023-03-01 的督导记录。",
    ]
    assert len(smtp.to("qian@example.cn")) == 2  # the supervisee's reminder was not repeated


def _certificate(w, person, *, expires_in: timedelta, **rule) -> Certificate:
    cred = completion_type(w, **rule)
    attend(w, [person], code="C9")
    cert = issue_certificate(credential=cred, person=person, actor=w.coord, render=False)
    cert.expires_at = utcnow() + expires_in
    commit()
    return cert


def test_a_certificate_issued_and_expiring_in_thirty_days_is_told_once(mctx, smtp, tmp_path):
    from tests.conftest import use_storage

    use_storage(mctx, tmp_path)
    w = World()
    w.trainee.email = "qian@example.cn"
    # A renewal rule the holder meets (no hours asked since issue): renewable as well, once.
    cert = _certificate(w, w.trainee_person, expires_in=timedelta(days=20, hours=12), renewal_min_hours=Decimal(0))
    issued = [m for m in smtp.to("qian@example.cn") if "已颁发" in m["Subject"]]
    assert [m["Subject"] for m in issued] == ["您的证书培训结业证书已颁发。"]
    assert f"https://academy.example.cn/verify/{cert.verification_code}" in body(issued[0])
    run()
    run()
    expiring = [m["Subject"] for m in smtp.to("qian@example.cn") if "到期" in m["Subject"]]
    expires_on = cert.expires_at.astimezone(TZ).date()
    days = (expires_on - utcnow().astimezone(TZ).date()).days
    assert expiring == [f"您的证书培训结业证书将在 {days} 天后（{expires_on.isoformat()}）到期。"]
    renewable = [m["Subject"] for m in smtp.to("qian@example.cn") if "续期" in m["Subject"]]
    assert renewable == ["您的证书培训结业证书现在可以续期。"]
    keys = db.session.scalars(select(Notification.key).where(Notification.kind == "certificate.expiring")).all()
    assert keys == [f"certificate.expiring:c{cert.id}:30:p{w.trainee_person.id}"]
    # Seven days before, the next reminder; not the thirty-day one again.
    cert.expires_at = utcnow() + timedelta(days=5)
    commit()
    run()
    assert len([m for m in smtp.to("qian@example.cn") if "到期" in m["Subject"]]) == 2


def test_a_coordinator_gets_a_weekly_digest_of_their_cohorts_once(mctx, smtp):
    w = World()
    w.coord.email = "coord@example.cn"
    w.coord.locale = "en"
    year = utcnow().astimezone(TZ).year
    create_cohort(
        data={"name": "社区工作者全员轮训", "year": year, "category": "community_worker", "min_training_hours": 6},
        unit=w.district,
        actor=w.coord,
    )
    commit()
    run()
    run()
    [digest] = smtp.to("coord@example.cn")
    assert digest["Subject"].startswith("Weekly digest: 拱墅区, week ")
    text = body(digest)
    assert "社区工作者全员轮训: trained 0% (target 100%), supervised 0% (target 100%); 2 people still missing." in text
    assert "https://academy.example.cn/coverage/?unit=" in text
    # Only the coordinator's own subtree: 西湖区's coordinator has no address, and 拱墅区's names are in no mail.
    assert "李四" not in text and "钱七" not in text
    # Who is missing is in the app, behind the coordinator's sign-in: the first names, in their language.
    from tests.factories import login

    client = mctx.test_client()
    login(client, "coord")
    page = client.get("/notifications/").get_data(as_text=True)
    assert "Missing in 社区工作者全员轮训: 李四, 钱七" in page
    weekly = db.session.scalar(
        select(func.count()).select_from(Notification).where(Notification.kind == "digest.weekly")
    )
    assert weekly == 3  # the three coordinators, each once


def test_a_refusing_mail_server_delays_delivery_and_never_fails_the_action(mctx, smtp):
    from tests.factories import login

    client = mctx.test_client()
    w = World()
    w.trainee.email = "qian@example.cn"
    crs = course(program(w.district), capacity=None, policy="open")
    course_id, person_id, title = crs.id, w.trainee_person.id, crs.title
    commit()
    smtp.refuse = True
    login(client, "coord")
    answer = client.post(f"/courses/{course_id}/enrol", data={"one-person_id": person_id})
    assert answer.status_code in (302, 303)
    assert smtp.refused == 1 and smtp.raw == []
    db.session.expire_all()
    told = db.session.scalar(select(Notification).where(Notification.kind == "enrolment.enrolled"))
    assert told.mail_state == "pending" and told.mail_attempts == 1 and "451" in told.mail_error
    assert told.mail_due_at > utcnow() + timedelta(seconds=50)  # a minute later, not at once
    run()  # not due yet: nothing is tried
    assert smtp.refused == 1
    # A minute on the server accepts again; the scheduler delivers it once.
    smtp.refuse = False
    told.mail_due_at = utcnow() - timedelta(seconds=1)
    commit()
    assert run()["mail"] == {"sent": 1}
    assert subjects(smtp, "qian@example.cn") == [f"您已报名{title}。"]
    assert run()["mail"] == {}


def test_mail_gives_up_after_the_attempts_allowed(mctx, smtp):
    mctx.config["LMS_MAIL_MAX_ATTEMPTS"] = 2
    w = World()
    w.trainee.email = "qian@example.cn"
    smtp.refuse = True
    enrol(course=course(program(w.district)), person=w.trainee_person, actor=w.coord)
    commit()
    told = db.session.scalar(select(Notification))
    told.mail_due_at = utcnow() - timedelta(seconds=1)
    commit()
    assert run()["mail"] == {"failed": 1}
    db.session.refresh(told)
    assert told.mail_state == "failed" and told.mail_attempts == 2 and told.read_at is None  # still in the app


def test_the_readers_choices_skip_hold_and_postpone_mail(mctx, smtp):
    from shegong_academy.notices.preferences import Prefs, save_prefs

    w = World()
    u = w.trainee
    u.email = "qian@example.cn"
    save_prefs(u, email=u.email, prefs=Prefs(off=frozenset({"enrolment.enrolled"})), actor=u)
    commit()
    enrol(course=course(program(w.district), code="A"), person=w.trainee_person, actor=w.coord)
    commit()
    assert smtp.raw == [] and db.session.scalar(select(Notification.mail_state)) == "skipped"
    # A daily digest instead: held, then one mail in the morning gathering them.
    save_prefs(u, email=u.email, prefs=Prefs(digest=True), actor=u)
    commit()
    enrol(course=course(program(w.district), code="B"), person=w.trainee_person, actor=w.coord)
    enrol(course=course(program(w.district), code="C"), person=w.trainee_person, actor=w.coord)
    commit()
    assert smtp.raw == []
    today = utcnow().astimezone(TZ).date()
    run(datetime.combine(today, datetime.min.time(), TZ).replace(hour=9))
    run(datetime.combine(today, datetime.min.time(), TZ).replace(hour=11))
    [digest] = smtp.to("qian@example.cn")
    assert digest["Subject"] == "您的每日摘要：2 条通知"
    assert body(digest).count("您已报名") == 2
    # The digest gathers every event: it offers to stop all mail (its link works), not "these" mails.
    links = re.findall(r"https://academy\.example\.cn(/notifications/unsubscribe/\S+)", body(digest))
    assert len(links) == 1 and "不再接收此类邮件" not in body(digest)
    assert digest["List-Unsubscribe"] == f"<https://academy.example.cn{links[0]}>"
    assert mctx.test_client().get(links[0]).status_code == 200
    states = db.session.scalars(
        select(Notification.mail_state).where(Notification.kind != "digest.weekly").order_by(Notification.id)
    ).all()
    assert states == ["skipped", "digested", "digested", "sent"]


def test_quiet_hours_postpone_mail_to_their_end(ctx):
    from shegong_academy.notices.preferences import Prefs, quiet_until

    quiet = Prefs(quiet=(datetime.strptime("22:00", "%H:%M").time(), datetime.strptime("07:30", "%H:%M").time()))
    assert quiet_until(quiet, local(2026, 12, 1, 23).astimezone(UTC)) == local(2026, 12, 2, 7).replace(
        minute=30
    ).astimezone(UTC)
    assert quiet_until(quiet, local(2026, 12, 1, 6).astimezone(UTC)) == local(2026, 12, 1, 7).replace(
        minute=30
    ).astimezone(UTC)
    assert quiet_until(quiet, local(2026, 12, 1, 12).astimezone(UTC)) is None
    assert quiet_until(Prefs(), local(2026, 12, 1, 23).astimezone(UTC)) is None


def test_no_notification_carries_an_id_number_or_a_supervision_note(mctx, smtp):
    from shegong_academy.core.crypto import decrypt_text
    from tests.supervision import NOTES

    w = sup_world()
    for u in (w.trainee, w.coord, w.street_coord):
        u.email = f"{u.username}@example.cn"
    rec = record(w).record
    rec.created_at = utcnow() - timedelta(days=9)
    commit()
    run()
    numbers = [decrypt_text(p.id_number_enc) for p in db.session.scalars(select(Person))]
    told = [raw.decode("utf-8", "replace") for raw in smtp.raw]
    told += [str(n.params) for n in db.session.scalars(select(Notification))]
    # 钱七 asked and reminded; the street's coordinator told of both people, and each coordinator's digest
    assert len(smtp.raw) == 6
    for text in told:
        assert NOTES not in text
        assert not any(number in text for number in numbers)


def test_a_notification_is_written_with_its_action_and_goes_with_its_rollback(mctx, smtp):
    w = World()
    w.trainee.email = "qian@example.cn"
    enrol(course=course(program(w.district)), person=w.trainee_person, actor=w.coord)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 0
    assert smtp.raw == []


@pytest.mark.parametrize("kind", ["session.tomorrow", "certificate.expiring"])
def test_the_key_makes_a_reminder_once_even_written_twice(mctx, kind):
    from shegong_academy.notices.services import notify

    w = World()
    assert notify([w.person.id], kind, occasion="x") == 1
    assert notify([w.person.id, w.person2.id], kind, occasion="x") == 1
    commit()
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 2


def test_mail_goes_only_to_events_the_deployment_chose(db_url, smtp):
    from tests.conftest import make_app

    app = make_app(db_url, **mail_settings(smtp, LMS_MAIL_EVENTS="session.tomorrow"))
    with app.app_context():
        w = World()
        w.trainee.email = "qian@example.cn"
        enrol(course=course(program(w.district)), person=w.trainee_person, actor=w.coord)
        commit()
        assert smtp.raw == [] and db.session.scalar(select(Notification.mail_state)) == "none"
        db.session.remove()
        db.engine.dispose()


def test_unknown_mail_settings_stop_the_app_with_one_line(db_url):
    from shegong_academy.config import ConfigError
    from tests.conftest import make_app

    with pytest.raises(ConfigError, match="LMS_MAIL_EVENTS names unknown events: session.someday"):
        make_app(db_url, LMS_MAIL_EVENTS="session.tomorrow,session.someday")
    with pytest.raises(ConfigError, match="LMS_SMTP_TLS must be starttls, ssl or none"):
        make_app(db_url, LMS_SMTP_TLS="maybe")


def test_continuing_education_at_risk_is_told_once_per_period(mctx, smtp):
    w = World()
    w.trainee.email = "qian@example.cn"
    today = utcnow().astimezone(TZ).date()
    # Certified two years and ten months ago: the three-year period ends in about two months, 0 of 72 hours.
    certified = date(today.year - 3, today.month, min(today.day, 28)) + timedelta(days=60)
    w.trainee_person.level, w.trainee_person.certified_on = "assistant", certified
    commit()
    morning = datetime.combine(today, time(10), TZ)
    run(morning)
    run(morning + timedelta(hours=1))
    [told] = [m for m in smtp.to("qian@example.cn") if m["Subject"].startswith("继续教育")]
    period_end = date(certified.year + 3, certified.month, certified.day)
    assert told["Subject"].endswith(f"需 72 学时，本周期于 {period_end.isoformat()} 结束。")
    assert "https://academy.example.cn/my/hours" in body(told)


def test_quiet_hours_hold_mail_until_they_end(mctx, smtp):
    from shegong_academy.notices.preferences import Prefs, save_prefs

    w = World()
    u = w.trainee
    now = utcnow().astimezone(TZ).replace(second=0, microsecond=0)
    start, end = (now - timedelta(hours=1)).time(), (now + timedelta(hours=2)).time()
    save_prefs(u, email="qian@example.cn", prefs=Prefs(quiet=(start, end)), actor=u)
    commit()
    enrol(course=course(program(w.district)), person=w.trainee_person, actor=w.coord)
    commit()
    told = db.session.scalar(select(Notification))
    db.session.refresh(told)
    assert smtp.raw == [] and told.mail_state == "pending"
    assert told.mail_due_at == (now + timedelta(hours=2)).astimezone(UTC)
    run()  # still quiet: nothing is sent
    assert smtp.raw == []


def test_two_workers_delivering_one_notification_send_it_once(mctx, smtp):
    from shegong_academy.notices.delivery import deliver

    w = World()
    w.trainee.email = "qian@example.cn"
    enrol(course=course(program(w.district)), person=w.trainee_person, actor=w.coord)
    commit()
    told = db.session.scalar(select(Notification))
    told.mail_state, told.mail_due_at = "pending", utcnow() - timedelta(seconds=1)  # as if not yet delivered
    nid = told.id
    commit()
    smtp.raw.clear()
    start, outcomes = threading.Barrier(2), []

    def worker():
        with mctx.app_context():
            start.wait()
            outcomes.append(deliver([nid]))
            db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes, key=len) == [{}, {"sent": 1}]
    assert len(smtp.raw) == 1


def test_a_transactions_mail_is_queued_once_in_batches_and_never_after_a_rollback(mctx, monkeypatch):
    from shegong_academy.core.uow import rollback
    from shegong_academy.notices import services, tasks

    mctx.config["LMS_SMTP_HOST"] = "127.0.0.1"  # mail on, delivery recorded instead of sent
    queued = []
    monkeypatch.setattr(tasks, "deliver_mail", SimpleNamespace(delay=lambda ids: queued.append(list(ids))))
    monkeypatch.setattr(services, "MAIL_TASK_SIZE", 2)
    w = World()
    services.notify([w.person.id], "certificate.revoked", course="x")
    rollback()
    assert queued == []
    for reader in (w.person, w.person2, w.trainee_person):  # three writes, one transaction: one batch, in twos
        services.notify([reader.id], "session.cancelled", course="x")
    commit()
    ids = db.session.scalars(select(Notification.id).order_by(Notification.id)).all()
    assert len(ids) == 3 and queued == [ids[:2], ids[2:]]
