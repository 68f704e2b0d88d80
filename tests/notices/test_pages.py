"""The notification centre's forms are CSRF-protected; the unsubscribe link is not (its signed token is the
proof), and works as RFC 8058's one-click POST; the scheduler's command prints what it did."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event, select

from shegong_academy.auth.models import User
from shegong_academy.auth.services import resolve_login_session, start_login_session
from shegong_academy.core.uow import commit
from shegong_academy.extensions import db
from shegong_academy.notices.models import Notification
from shegong_academy.notices.preferences import prefs_of, unsubscribe_token
from shegong_academy.notices.services import mark_read, notify, notify_users, unread_on_page
from tests.conftest import make_app
from tests.factories import World, login, person, user


def test_forms_need_the_csrf_token_and_the_unsubscribe_link_does_not(db_url):
    app = make_app(db_url, WTF_CSRF_ENABLED=True)
    with app.app_context():
        w = World()
        notify([w.trainee_person.id], "session.cancelled", link="/my/", course="社区治理", reason="暴雨")
        commit()
        token, user_id = unsubscribe_token(w.trainee.id), w.trainee.id
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    client.post("/login", data={"username": "trainee", "password": "correct-horse-battery", "csrf_token": csrf})
    assert client.post("/notifications/read", data={}).status_code == 400
    with app.app_context():
        assert db.session.scalar(select(Notification.read_at)) is None
    # A mail program's one-click unsubscribe: no session, no CSRF token, the body RFC 8058 names.
    anonymous = app.test_client()
    answer = anonymous.post(
        f"/notifications/unsubscribe/{token}",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert answer.status_code == 200
    with app.app_context():
        assert prefs_of(db.session.get(User, user_id)).mail is False
    # A token changed by one character names nobody.
    assert anonymous.post(f"/notifications/unsubscribe/{token[:-1]}x").status_code == 404
    with app.app_context():  # this test's own app: its connections closed (PostgreSQL warns of open ones)
        db.session.remove()
        db.engine.dispose()


def test_opening_a_notification_marks_it_read_and_goes_to_its_page(app, client):
    with app.app_context():
        w = World()
        notify([w.trainee_person.id], "session.cancelled", link="/my/", course="社区治理", reason="暴雨")
        notify([w.person.id], "session.cancelled", link="/my/", course="社区治理", reason="暴雨")
        commit()
        mine, theirs = db.session.scalars(select(Notification.id).order_by(Notification.person_id.desc())).all()
    login(client, "trainee")
    assert "1" in client.get("/notifications/").get_data(as_text=True).split('class="count"', 1)[1][:40]
    answer = client.post(f"/notifications/{mine}/open")
    assert answer.status_code == 302 and answer.headers["Location"] == "/my/"
    assert client.post(f"/notifications/{theirs}/open").status_code == 404  # 李四's: not the trainee's
    with app.app_context():
        read = dict(db.session.execute(select(Notification.id, Notification.read_at)).all())
        assert read[mine] is not None and read[theirs] is None
    assert 'class="count"' not in client.get("/notifications/").get_data(as_text=True)


def _current_tab(html: str) -> str:
    tabs = re.findall(r'<a href="([^"]*)"[^>]*aria-current="page"[^>]*>([^<]*)</a>', html)
    return [text for href, text in tabs if href.startswith("/notifications/")][0]


def test_the_notification_tabs_mark_the_list_shown_whatever_the_bell_counts(app, client):
    """All is the current tab on the whole list and Unread on the unread one, with one notification unread or
    none; the unread list with nothing unread says so. The trainee's home page links a notice to its page.
    (The bell's count, set by the page's frame, once overwrote the page's own "unread" flag: with one
    unread, All showed as Unread, and with none the reverse.)"""
    with app.app_context():
        w = World()
        notify([w.trainee_person.id], "session.cancelled", link="/my/", course="社区治理", reason="暴雨")
        commit()
        mine = db.session.scalar(select(Notification.id))
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login(client, "trainee")
    assert _current_tab(client.get("/notifications/").get_data(as_text=True)).startswith("All (1)")
    assert _current_tab(client.get("/notifications/?show=unread").get_data(as_text=True)).startswith("Unread (1)")
    home = client.get("/my/").get_data(as_text=True)
    notices = re.search(r'<ul class="notices">(.*?)</ul>', home, re.S).group(1)
    assert re.search(r'<a href="/my/">[^<]*社区治理[^<]*</a>', notices), notices
    client.post(f"/notifications/{mine}/open")
    everything = client.get("/notifications/").get_data(as_text=True)
    assert _current_tab(everything).startswith("All (1)")
    nothing_new = client.get("/notifications/?show=unread").get_data(as_text=True)
    assert _current_tab(nothing_new).startswith("Unread (0)")
    assert "Nothing new." in nothing_new and "No notifications yet." not in nothing_new


def test_preferences_refuse_half_quiet_hours_and_change_nothing(app, client):
    with app.app_context():
        World()
    login(client, "trainee")
    answer = client.post("/notifications/preferences", data={"email": "qian@example.cn", "quiet_from": "22:00"})
    assert answer.status_code == 200
    assert "请同时填写免打扰时段的开始和结束时间，或都不填。" in answer.get_data(as_text=True)
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "trainee"))
        assert user.email is None and user.notify_prefs == {}


def _offered(client) -> set[str]:
    return set(re.findall(r'name="mailed"[^>]*value="([^"]+)"', client.get("/notifications/preferences").text))


def test_preferences_offer_only_the_events_the_account_can_receive_and_keep_the_others(app):
    with app.app_context():
        w = World()
        user("sup1", "supervisor", w.district, person=person(w.street, "督导甲"))
        commit()
    trainee, coordinator, supervisor = app.test_client(), app.test_client(), app.test_client()
    login(trainee, "trainee")
    login(coordinator, "coord")
    login(supervisor, "sup1")
    coordinators_only = {"supervision.escalation", "digest.weekly"}
    own = {"session.cancelled", "supervision.confirm", "certificate.issued"}
    offered = _offered(trainee)
    assert own <= offered and not offered & (coordinators_only | {"supervision.disputed"})
    offered = _offered(coordinator)  # an account with no person: only what a coordinator is told
    assert offered == coordinators_only | {"supervision.disputed"}
    offered = _offered(supervisor)
    assert own | {"supervision.disputed"} <= offered and not offered & coordinators_only
    # turning off what the page offers leaves what it does not offer as it was
    with app.app_context():
        account = db.session.scalar(select(User).where(User.username == "trainee"))
        account.notify_prefs = {"mail": True, "off": ["digest.weekly"]}
        commit()
    shown = sorted(_offered(trainee) - {"session.cancelled"})
    answer = trainee.post("/notifications/preferences", data={"mail": "y", "mailed": shown})
    assert answer.status_code == 302
    with app.app_context():
        account = db.session.scalar(select(User).where(User.username == "trainee"))
        assert set(account.notify_prefs["off"]) == {"digest.weekly", "session.cancelled"}
    # a kind the page does not offer cannot be chosen either
    refused = trainee.post("/notifications/preferences", data={"mail": "y", "mailed": ["digest.weekly"]})
    assert refused.status_code == 200 and 'class="field has-error"' in refused.text


@pytest.mark.parametrize(
    "zone,lang,said",
    [
        ("Asia/Shanghai", "en", "(Beijing time)"),
        ("Asia/Shanghai", "zh-CN", "（北京时间）"),
        ("Asia/Urumqi", "en", "(Asia/Urumqi)"),
    ],
)
def test_the_quiet_hours_name_the_deployments_time_zone_in_either_language(db_url, zone, lang, said):
    """English said "(local time)" where Chinese said 北京时间: both now name the zone the hours are read in."""
    app = make_app(db_url, LMS_TIMEZONE=zone)
    with app.app_context():
        World()
        commit()
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = lang
    login(client, "trainee")
    assert said in client.get("/notifications/preferences").text
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_broken_unsubscribe_link_says_so_and_nothing_about_units(app):
    with app.app_context():
        w = World()
        token = unsubscribe_token(w.trainee.id)
        commit()
    anonymous, signed_in = app.test_client(), app.test_client()
    login(signed_in, "trainee")
    for client in (anonymous, signed_in):  # signed in or not, the same page
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
        for broken in (token[:-1], "x"):
            answer = client.get(f"/notifications/unsubscribe/{broken}")
            assert answer.status_code == 404
            assert "此退订链接无效" in answer.text and "管辖" not in answer.text
            assert client.post(f"/notifications/unsubscribe/{broken}").status_code == 404
    assert 'class="whoami">trainee<' in answer.text
    with app.app_context():
        assert prefs_of(db.session.scalar(select(User).where(User.username == "trainee"))).mail is True


def test_an_ask_once_read_offers_a_plain_link(app, client):
    with app.app_context():
        w = World()
        for occasion in ("r1:old", "r1:new"):
            notify(
                [w.trainee_person.id],
                "supervision.confirm",
                occasion=occasion,
                link="/supervision/mine",
                held_on="2023-03-01",
                supervisor="督导甲",
                hours="2.0",
                topic="小组督导",
            )
        commit()
        old = db.session.scalar(select(Notification.id).order_by(Notification.id))
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    login(client, "trainee")
    client.post(f"/notifications/{old}/read")
    page = client.get("/notifications/").text
    buttons = re.findall(r'<button class="btn small">([^<]*)</button>', page)
    assert buttons == ["确认或提出异议", "查看我的督导"]  # newest first: the new ask, then the one read


def test_lms_notify_run_prints_what_it_wrote_and_sent(app, runner):
    with app.app_context():
        World()
    result = runner.invoke(args=["lms", "notify", "run"])
    assert result.exit_code == 0, result.output
    assert "session.tomorrow: 0 written" in result.output
    assert "digest.weekly: " in result.output


def test_celery_beat_sends_the_scheduler_task_which_runs_the_scheduler(app):
    from shegong_academy.core.queue import celery_for
    from shegong_academy.notices.tasks import notify_scan

    with app.app_context():
        World()
        celery = celery_for(app)
        entry = celery.conf.beat_schedule["notifications"]
        assert entry == {"task": "lms.notify_scan", "schedule": 300.0}
        assert entry["task"] in celery.tasks  # registered under the name beat sends
        notify_scan.delay()  # (eager in tests: the same task a worker runs)
        # The coordinators' weekly digests are what a first run writes in this world, once each.
        assert db.session.scalars(select(Notification.kind).distinct()).all() == ["digest.weekly"]


def test_the_embedded_worker_runs_the_scheduler_on_its_timer(app, monkeypatch):
    from shegong_academy import cli

    class Stop(BaseException):
        pass

    naps = []

    def sleep(seconds):
        naps.append(seconds)
        if len(naps) > 1:
            raise Stop

    monkeypatch.setattr(cli.time, "sleep", sleep)
    with app.app_context():
        World()
    with pytest.raises(Stop):
        cli._notify_forever(app)
    assert naps == [300, 300]  # LMS_NOTIFY_INTERVAL_SECONDS, then a run, then the next wait
    with app.app_context():
        assert db.session.scalar(select(Notification.kind).limit(1)) == "digest.weekly"


def _bell(page: str) -> str | None:
    """The bell's figure on a page (None: no unread notification)."""
    if 'class="count"' not in page:
        return None
    return page.split('class="count"', 1)[1].split(">", 1)[1].split("<", 1)[0].strip()


def test_the_bell_read_with_the_session_counts_the_accounts_and_the_persons_unread(app, client):
    """Read in the sign-in's own statement: a trainee's count holds what was sent to their account and to their
    person, a coordinator's (no person) what was sent to their account, and nobody else's."""
    with app.app_context():
        w = World()
        trainee = db.session.scalars(select(User).where(User.username == "trainee")).one()
        coordinator = db.session.scalars(select(User).where(User.username == "coord")).one()
        notify([w.trainee_person.id], "session.cancelled", link="/my/", course="社区治理", reason="暴雨")
        notify([w.trainee_person.id, w.person.id], "session.cancelled", link="/my/", course="社工实务", reason="停电")
        notify_users([trainee.id, coordinator.id], "session.cancelled", link="/my/", course="督导", reason="台风")
        commit()
    login(client, "trainee")
    assert _bell(client.get("/my/").get_data(as_text=True)) == "3"
    client.post("/logout")
    login(client, "coord")
    assert _bell(client.get("/notifications/").get_data(as_text=True)) == "1"


def test_a_request_that_writes_or_reads_notifications_counts_its_bell_again(app):
    with app.app_context():
        w = World()
        person_id = w.trainee_person.id
        trainee = db.session.scalars(select(User).where(User.username == "trainee")).one()
        notify([person_id], "session.cancelled", link="/my/", course="社区治理", reason="暴雨")
        secret = start_login_session(user=trainee, ip=None, user_agent=None)
        commit()
    with app.test_request_context("/my/"):
        user = resolve_login_session(secret=secret)
        seen = []

        def record(conn, cursor, statement, *args):
            seen.append(statement)

        event.listen(db.engine, "before_cursor_execute", record)
        try:
            assert unread_on_page(user) == 1
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        assert seen == []  # read with the session, not counted again
        notify([person_id], "session.cancelled", link="/my/", course="社工实务", reason="停电")
        assert unread_on_page(user) == 2  # written in this request: counted again
        mark_read(user)
        assert unread_on_page(user) == 0
        db.session.rollback()
