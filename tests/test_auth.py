"""Sign-in, sessions, logout, password change, throttling, CSRF, cookies and headers."""

from __future__ import annotations

from http.cookies import SimpleCookie

import pytest
from sqlalchemy import select

from shegong_academy.auth.models import LoginSession, User
from shegong_academy.config import load_config
from shegong_academy.extensions import db
from tests.conftest import make_app
from tests.factories import PASSWORD, World, login


@pytest.fixture
def world(app):
    with app.app_context():
        World()


def session_cookie(client) -> str:
    return client.get_cookie("lms_session").value


def test_password_is_argon2id_with_owasp_cost(db_url):
    app = make_app(db_url, LMS_PASSWORD_TIME_COST=2, LMS_PASSWORD_MEMORY_KIB=19456)
    with app.app_context():
        from shegong_academy.auth.services import hash_password

        h = hash_password("a long passphrase")
        assert h.startswith("$argon2id$") and "m=19456,t=2,p=1" in h
        assert "a long passphrase" not in h
        app.extensions["sqlalchemy"].engine.dispose()


def test_wrong_password_and_unknown_user_look_the_same(client, world):
    r1 = login(client, "coord", "wrong-password-123")
    r2 = login(client, "nobody", "wrong-password-123")
    assert r1.status_code == r2.status_code == 200
    assert "Wrong username or password" in r1.text or "用户名或密码" in r1.text
    assert r1.text.count("error") == r2.text.count("error")


def test_login_then_logout_rejects_the_saved_cookie(app, client, world):
    assert login(client, "coord").status_code == 302
    saved = session_cookie(client)
    assert client.get("/people/").status_code == 200
    assert client.post("/logout").status_code == 302
    # Replay the cookie saved before logout in a fresh client.
    replay = app.test_client()
    replay.set_cookie("lms_session", saved)
    r = replay.get("/people/")
    assert r.status_code == 302 and "/login" in r.location
    with app.app_context():
        assert db.session.scalar(select(LoginSession)) is None


def test_password_change_ends_every_session(app, client, world):
    other_browser = app.test_client()
    login(other_browser, "coord")
    login(client, "coord")
    saved = session_cookie(client)
    r = client.post(
        "/account/password", data={"current": PASSWORD, "new": "a-new-passphrase", "confirm": "a-new-passphrase"}
    )
    assert r.status_code == 302
    assert other_browser.get("/people/").status_code == 302
    replay = app.test_client()
    replay.set_cookie("lms_session", saved)
    assert replay.get("/people/").status_code == 302
    assert login(app.test_client(), "coord", "a-new-passphrase").status_code == 302


def test_password_change_refuses_wrong_current_and_short_new(client, world):
    login(client, "coord")
    r = client.post(
        "/account/password",
        data={"current": "nope-nope-nope", "new": "a-new-passphrase", "confirm": "a-new-passphrase"},
    )
    assert r.status_code == 200
    r = client.post("/account/password", data={"current": PASSWORD, "new": "short", "confirm": "short"})
    assert r.status_code == 200
    assert login(client.application.test_client(), "coord").status_code == 302  # old password still works


def test_disabled_user_cannot_sign_in(app, client, world):
    with app.app_context():
        db.session.scalar(select(User).where(User.username == "coord")).is_enabled = False
        db.session.commit()
    assert login(client, "coord").status_code == 200


def _attempt(client, username, password, address):
    return client.post(
        "/login", data={"username": username, "password": password}, environ_base={"REMOTE_ADDR": address}
    ).status_code


def test_wrong_passwords_are_throttled_per_account_and_address(app, world):
    attacker = app.test_client()
    codes = [_attempt(attacker, "coord", f"wrong-{i}-password", "203.0.113.9") for i in range(25)]
    assert codes[:10] == [200] * 10
    assert all(c == 429 for c in codes[10:])
    # From the stranger's address even the right password is refused...
    assert _attempt(app.test_client(), "coord", PASSWORD, "203.0.113.9") == 429
    # ...but the coordinator at her own address is not locked out by them.
    assert _attempt(app.test_client(), "coord", PASSWORD, "10.20.30.40") == 302


def test_guessing_from_many_addresses_meets_a_ceiling_per_account_but_not_its_browser(db_url):
    app = make_app(db_url, LMS_LOGIN_LIMIT_ACCOUNT_TOTAL="12 per hour")
    with app.app_context():
        World()
    owner = app.test_client()
    assert _attempt(owner, "coord", PASSWORD, "10.20.30.40") == 302  # her browser, signed in before
    owner.post("/logout")
    for n in range(4):  # 4 addresses x 3 guesses: no address reaches the per-address limits
        for i in range(3):
            assert _attempt(app.test_client(), "coord", f"guess-{n}-{i}-pw", f"198.51.100.{n}") == 200
    # The account's ceiling is reached: a new browser anywhere waits, even with the right password...
    assert _attempt(app.test_client(), "coord", PASSWORD, "10.20.30.41") == 429
    # ...but the browser she signed in with before still gets in.
    assert _attempt(owner, "coord", PASSWORD, "10.20.30.40") == 302
    # A forged or foreign "known browser" cookie is not honoured.
    forged = app.test_client()
    forged.set_cookie("lms_known_browser", owner.get_cookie("lms_known_browser").value + "x")
    assert _attempt(forged, "coord", PASSWORD, "10.20.30.42") == 429
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()


def test_wrong_passwords_are_throttled_per_address(app, world):
    client = app.test_client()
    codes = [
        client.post(
            "/login", data={"username": f"user{i}", "password": "x" * 12}, environ_base={"REMOTE_ADDR": "10.0.0.5"}
        ).status_code
        for i in range(40)
    ]
    assert 429 in codes
    assert codes[-1] == 429
    # A different address still gets through.
    ok = app.test_client().post(
        "/login", data={"username": "coord", "password": PASSWORD}, environ_base={"REMOTE_ADDR": "10.0.0.6"}
    )
    assert ok.status_code == 302


def test_successful_logins_do_not_count(client, world):
    for _ in range(15):
        assert login(client, "coord").status_code == 302
        client.post("/logout")


def test_csrf_is_enforced_on_forms(db_url):
    app = make_app(db_url, WTF_CSRF_ENABLED=True)
    with app.app_context():
        World()
    client = app.test_client()
    r = client.post("/login", data={"username": "coord", "password": PASSWORD})
    assert r.status_code == 400
    page = client.get("/login").text
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    r = client.post("/login", data={"username": "coord", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302
    # Logout without a token is refused; the session survives.
    assert client.post("/logout").status_code == 400
    assert client.get("/people/").status_code == 200
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()


def test_cookie_flags_in_development(client, world):
    r = login(client, "coord")
    cookie = [h for h in r.headers.getlist("Set-Cookie") if h.startswith("lms_session=")][0]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_cookies_are_secure_when_production_says_so(db_url, tmp_path):
    # Production itself needs PostgreSQL and Redis (tests/test_production_config.py); what it sets for cookies:
    production = load_config(
        {},
        str(tmp_path),
        environ={
            "LMS_MODE": "production",
            "LMS_SECRET_KEY": "s" * 40,
            "DATABASE_URL": "postgresql+psycopg://u@h/db",
            "LMS_REDIS_URL": "redis://127.0.0.1:6379/0",
            "LMS_PUBLIC_URL": "https://academy.example.gov.cn",
            "LMS_STORAGE_URL": "s3://academy-files/prod",
        },
    )
    assert production["SESSION_COOKIE_SECURE"] is True and production["LMS_SESSION_COOKIE_SECURE"] is True
    app = make_app(db_url, LMS_SESSION_COOKIE_SECURE=production["LMS_SESSION_COOKIE_SECURE"])
    with app.app_context():
        World()
    r = app.test_client().post("/login", data={"username": "coord", "password": PASSWORD})
    for name in ("lms_session", "lms_known_browser"):
        cookie = SimpleCookie()
        header = [h for h in r.headers.getlist("Set-Cookie") if h.startswith(f"{name}=")][0]
        cookie.load(header)
        assert cookie[name]["secure"] and cookie[name]["httponly"], name
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()


def test_security_headers(client):
    r = client.get("/login")
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script>" not in r.text  # no inline script anywhere on the page


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/x",
        "/\\evil.example/x",
        "\\\\evil.example",
        "https://evil.example/",
        "/\t/evil.example",
    ],
)
def test_open_redirect_is_refused(client, world, target):
    r = client.post("/login", query_string={"next": target}, data={"username": "coord", "password": PASSWORD})
    assert r.status_code == 302 and "evil.example" not in r.location
    assert r.location == "/"


def test_next_path_on_this_site_is_followed(client, world):
    r = client.post("/login", query_string={"next": "/people/?q=李"}, data={"username": "coord", "password": PASSWORD})
    assert r.status_code == 302 and r.location.startswith("/people/")


def test_anonymous_is_sent_to_login(client):
    r = client.get("/people/")
    assert r.status_code == 302 and r.location.startswith("/login")


def test_session_fixation_gets_a_new_session(app, client, world):
    client.get("/login")
    before = client.get_cookie("lms_session")
    login(client, "coord")
    after = client.get_cookie("lms_session")
    assert after is not None and (before is None or before.value != after.value)


def _age_sessions(app, *, signed_in_hours_ago: float, seen_minutes_ago: float = 1) -> None:
    from datetime import timedelta

    from shegong_academy.core.db import utcnow

    with app.app_context():
        for row in db.session.scalars(select(LoginSession)):
            row.created_at = utcnow() - timedelta(hours=signed_in_hours_ago)
            row.last_seen_at = utcnow() - timedelta(minutes=seen_minutes_ago)
        db.session.commit()


def test_a_session_ends_at_its_absolute_lifetime_however_active(app, client, world):
    assert app.config["LMS_SESSION_MAX_HOURS"] == 24 and app.config["LMS_SESSION_HOURS"] == 12
    login(client, "coord")
    _age_sessions(app, signed_in_hours_ago=23.5)  # active a minute ago, signed in 23.5 h ago: still fine
    assert client.get("/people/").status_code == 200
    _age_sessions(app, signed_in_hours_ago=24.5)
    r = client.get("/people/")
    assert r.status_code == 302 and "/login" in r.location


def test_session_lifetime_comes_from_the_environment(db_url, monkeypatch):
    monkeypatch.setenv("LMS_SESSION_MAX_HOURS", "2")
    app = make_app(db_url)
    assert app.config["LMS_SESSION_MAX_HOURS"] == 2
    with app.app_context():
        World()
    client = app.test_client()
    login(client, "coord")
    _age_sessions(app, signed_in_hours_ago=1.5)
    assert client.get("/people/").status_code == 200
    _age_sessions(app, signed_in_hours_ago=2.5)
    assert client.get("/people/").status_code == 302
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()


def test_the_idle_limit_still_applies(app, client, world):
    login(client, "coord")
    _age_sessions(app, signed_in_hours_ago=13, seen_minutes_ago=12.5 * 60)
    assert client.get("/people/").status_code == 302


def test_attempts_refused_at_one_address_do_not_use_up_the_accounts_ceiling(db_url):
    app = make_app(db_url, LMS_LOGIN_LIMIT_ACCOUNT_TOTAL="15 per hour")
    with app.app_context():
        World()
    codes = [_attempt(app.test_client(), "coord", f"wrong-{i}-pw", "203.0.113.9") for i in range(40)]
    assert codes.count(200) == 10 and codes.count(429) == 30  # only the 10 checked passwords count
    assert _attempt(app.test_client(), "coord", PASSWORD, "10.20.30.40") == 302
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()


def test_every_role_of_an_account_comes_with_its_session(app, world):
    """The session's one statement joins the account's roles: two roles in two units are both there, once each."""
    from shegong_academy.auth.services import grant_role, resolve_login_session, start_login_session
    from shegong_academy.org.queries import unit_by_code

    with app.app_context():
        coord = db.session.scalar(select(User).where(User.username == "coord"))
        grant_role(user=coord, role="supervisor", unit=unit_by_code("330105001"))
        secret = start_login_session(user=coord, ip=None, user_agent=None)
        db.session.commit()
        db.session.expunge_all()
        found = resolve_login_session(secret=secret)
        assert sorted((r.role, r.unit.code) for r in found.roles) == [
            ("coordinator", "330105"),
            ("supervisor", "330105001"),
        ]
