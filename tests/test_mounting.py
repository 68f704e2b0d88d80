"""The mounting contract (issue 13, item 2), in process.

A portal of its own (routes, 404 and 500 pages, an after_request header, its
own session cookie and secret, Flask-SQLAlchemy, Flask-Babel, Flask-Migrate,
Flask-Login and CLI commands) mounts the academy under /training and keeps all
of it: the academy's settings, pages, headers, sessions, CSRF checks, language
and migrations stay on its own side. tests/test_config_and_mount.py walks the
academy's own pages and API under the prefix; tests/test_wheel.py does this
over HTTP from an installed wheel.
"""

from __future__ import annotations

import re

import pytest
from alembic.script import ScriptDirectory
from flask import Flask, abort, request, session
from flask_babel import Babel, get_domain, get_locale
from flask_login import LoginManager, UserMixin, login_user
from flask_login import current_user as portal_user
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import String, create_engine, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Mapped, mapped_column

from shegong_academy import Academy
from shegong_academy.auth.queries import user_by_username
from shegong_academy.auth.services import create_user
from shegong_academy.core import i18n, paths
from shegong_academy.extensions import db
from shegong_academy.org.services import create_unit
from tests.conftest import _pg_database, is_postgres
from tests.factories import PASSWORD

PORTAL_SECRET = "portal-secret-" + "p" * 40
PORTAL_REVISION = "portal_0001"

portal_db = SQLAlchemy()


class Notice(portal_db.Model):
    __tablename__ = "portal_notices"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(200))


class PortalUser(UserMixin):
    def __init__(self, username: str):
        self.id = username


def make_portal(tmp_path, *, academy: Academy | None = None, babel_after_mounting: bool = False, **config) -> Flask:
    """A portal with its own routes, pages, session, database, language and sign-in; the academy under /training."""
    portal = Flask("portal", instance_path=str(tmp_path / "instance"))
    portal.config.update(
        {
            "SECRET_KEY": PORTAL_SECRET,
            "SESSION_COOKIE_NAME": "portal_session",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'portal.db'}",
            "LMS_PASSWORD_TIME_COST": 1,
            "LMS_PASSWORD_MEMORY_KIB": 1024,
            **config,
        }
    )
    portal_db.init_app(portal)
    if not babel_after_mounting:
        Babel(portal, locale_selector=lambda: "fr")
    Migrate(portal, portal_db, directory=str(tmp_path / "portal_migrations"))
    logins = LoginManager(portal)
    logins.user_loader(PortalUser)

    @portal.get("/")
    def home():
        session["visits"] = session.get("visits", 0) + 1
        return f"portal home; visit {session['visits']}"

    @portal.get("/locale")
    def locale():
        return f"{get_locale()} {get_domain() is i18n.domain}"

    @portal.post("/contact")
    def contact():
        return f"thanks for {len(request.get_data())} bytes"

    @portal.get("/broken")
    def broken():
        raise RuntimeError("the portal's own bug")

    @portal.get("/forbidden")
    def forbidden():
        abort(403)

    @portal.route("/sign-in", methods=["GET", "POST"])
    def sign_in():
        login_user(PortalUser(request.form["username"]))
        return "signed in to the portal"

    @portal.errorhandler(404)
    def not_found(exc):
        return "portal: no such page", 404

    @portal.errorhandler(500)
    def broke(exc):
        return "portal: broke", 500

    @portal.after_request
    def portal_header(response):
        response.headers["X-Portal"] = "kept"
        return response

    @portal.cli.command("portal-init")
    def portal_init():
        """The portal's own command."""

    portal.config_before_mounting = dict(portal.config)
    (academy or Academy(url_prefix="/training")).init_app(portal)
    if babel_after_mounting:
        Babel(portal, locale_selector=lambda: "fr")
    return portal


@pytest.fixture
def portal(tmp_path, db_url):
    """A portal mounting the academy (its database: the test's migrated one), with one coordinator."""
    portal = make_portal(tmp_path, LMS_DATABASE_URL=db_url)
    with portal.app_context():
        district = create_unit(name="拱墅区", kind="district", parent=None, code="330105")
        create_user(username="coord", password=PASSWORD, role="coordinator", unit=district)
        db.session.commit()
    yield portal
    with portal.app_context():
        db.session.remove()
        db.engine.dispose()
        portal_db.engine.dispose()


def csrf_token(page) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)


def sign_in_to_the_academy(client, username: str = "coord"):
    token = csrf_token(client.get("/training/login"))
    r = client.post("/training/login", data={"csrf_token": token, "username": username, "password": PASSWORD})
    assert r.status_code == 302 and r.location.startswith("/training/"), r.location
    return r


def test_settings_come_from_the_portal_config_and_the_environment_alone(tmp_path, db_url, monkeypatch):
    monkeypatch.setenv("LMS_DATABASE_URL", db_url)
    monkeypatch.setenv("LMS_PER_PAGE", "7")
    monkeypatch.setenv("LMS_TIMEZONE", "Asia/Urumqi")
    academy = Academy(url_prefix="/training")
    portal = make_portal(tmp_path, academy=academy, LMS_TIMEZONE="Asia/Hong_Kong", LMS_MAX_UPLOAD_BYTES=100)
    assert portal.extensions["academy"] is academy
    cfg = portal.config
    assert cfg["LMS_PER_PAGE"] == 7  # the environment
    assert cfg["LMS_TIMEZONE"] == "Asia/Hong_Kong"  # the portal's configuration wins over it
    assert cfg["LMS_SECRET_KEY"] == PORTAL_SECRET  # no secret of its own: the portal's
    assert cfg["LMS_MIGRATION_VERSION_TABLE"] == "lms_alembic_version"
    # The portal's own Flask settings are left as they were (its database, session, upload limit, language…).
    before = portal.config_before_mounting
    assert {k: cfg[k] for k in before} == before
    assert {k for k in set(cfg) - set(before) if not k.startswith(("LMS_", "WTF_CSRF_"))} == set()
    with portal.app_context():
        assert portal.extensions["sqlalchemy"] is portal_db
        assert portal_db.engine.url.database == str(tmp_path / "portal.db")
        assert db.engine.url.render_as_string(hide_password=False) == db_url  # the academy's, from LMS_DATABASE_URL
        db.engine.dispose()
        portal_db.engine.dispose()


def test_academy_shares_the_portal_database_unless_told_otherwise(tmp_path):
    portal = make_portal(tmp_path)
    assert portal.config["LMS_DATABASE_URL"] == portal.config["SQLALCHEMY_DATABASE_URI"]
    with portal.app_context():
        assert db.engine.url == portal_db.engine.url and db.engine is not portal_db.engine
        db.engine.dispose()
        portal_db.engine.dispose()


def test_portal_pages_keep_their_headers_and_error_pages(portal):
    client = portal.test_client()
    home = client.get("/")
    assert home.text == "portal home; visit 1" and home.headers["X-Portal"] == "kept"
    for header in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy"):
        assert header not in home.headers
    assert client.get("/nope").text == "portal: no such page"
    assert client.get("/forbidden").status_code == 403 and "社工学堂" not in client.get("/forbidden").text
    broken = client.get("/broken")
    assert (broken.status_code, broken.text) == (500, "portal: broke")
    assert "Content-Security-Policy" not in broken.headers

    ours = client.get("/training/nope")
    assert ours.status_code == 404 and "portal" not in ours.text and 'href="/training/static/css/app.css' in ours.text
    assert ours.headers["X-Frame-Options"] == "DENY" and "frame-ancestors" in ours.headers["Content-Security-Policy"]
    assert client.get("/training/login").headers["X-Frame-Options"] == "DENY"


def test_signing_in_and_out_of_the_academy_leaves_the_portal_session_alone(portal):
    client = portal.test_client()
    client.get("/")
    before = client.get_cookie("portal_session")
    assert before.path == "/"
    sign_in_to_the_academy(client)
    academy_cookie = client.get_cookie("lms_session", path="/training/")
    assert academy_cookie is not None and academy_cookie.http_only
    assert client.get_cookie("lms_session") is None  # on the academy's path only
    assert client.get_cookie("portal_session").value == before.value
    assert client.get("/training/people/").status_code == 200
    assert client.get("/").text == "portal home; visit 2"  # the portal's session went on counting

    client.post("/training/logout", data={"csrf_token": csrf_token(client.get("/training/account/password"))})
    assert client.get("/training/people/").status_code == 302
    assert client.get("/").text == "portal home; visit 3"


def test_csrf_and_the_upload_limit_guard_the_academy_routes_only(tmp_path, db_url):
    portal = make_portal(tmp_path, LMS_DATABASE_URL=db_url, LMS_MAX_UPLOAD_BYTES=1000)
    client = portal.test_client()
    assert client.post("/contact", data={"message": "hello"}).status_code == 200  # no token asked
    assert client.post("/contact", data={"message": "x" * 5000}).text == "thanks for 5008 bytes"
    assert client.post("/training/login", data={"username": "coord", "password": PASSWORD}).status_code == 400
    assert client.post("/training/login", data={"username": "x" * 5000}).status_code == 413
    with portal.app_context():
        db.engine.dispose()
        portal_db.engine.dispose()


def test_the_portal_language_is_the_portals_own(portal):
    client = portal.test_client()
    english = {"Accept-Language": "en"}
    assert client.get("/locale", headers=english).text == "fr False"
    page = client.get("/training/login", headers=english).text
    assert '<html lang="en">' in page and "Sign in" in page
    assert "登录" in client.get("/training/login", headers={"Accept-Language": "zh-CN"}).text
    # The academy's language switch is the academy's: the portal's selector still decides the portal's pages.
    token = csrf_token(client.get("/training/login"))
    client.post("/training/language", data={"csrf_token": token, "lang": "en", "next": "/training/login"})
    assert '<html lang="en">' in client.get("/training/login").text
    assert client.get("/locale").text == "fr False"


def test_a_portal_may_set_up_flask_babel_after_mounting_the_academy(tmp_path, db_url):
    portal = make_portal(tmp_path, LMS_DATABASE_URL=db_url, babel_after_mounting=True)
    client = portal.test_client()
    chinese = {"Accept-Language": "zh-CN"}
    assert '<html lang="zh-CN">' in client.get("/training/nope", headers=chinese).text  # the very first request
    assert "登录" in client.get("/training/login", headers=chinese).text
    assert client.get("/locale", headers=chinese).text == "fr False"
    with portal.app_context():
        db.engine.dispose()
        portal_db.engine.dispose()


def test_a_portal_that_signs_people_in_hands_them_over_with_a_user_loader(tmp_path, db_url):
    def academy_user():
        return user_by_username(portal_user.id) if portal_user.is_authenticated else None

    academy = Academy(url_prefix="/training", user_loader=academy_user, login_view="sign_in")
    portal = make_portal(tmp_path, academy=academy, LMS_DATABASE_URL=db_url)
    with portal.app_context():
        district = create_unit(name="拱墅区", kind="district", parent=None, code="330105")
        create_user(username="coord", password=PASSWORD, role="coordinator", unit=district)
        db.session.commit()
    client = portal.test_client()
    r = client.get("/training/people/")
    assert r.status_code == 302 and r.location == "/sign-in?next=/training/people/"  # the portal's sign-in page
    client.post("/sign-in", data={"username": "coord"})
    page = client.get("/training/people/")
    assert page.status_code == 200 and 'action="/training/logout"' in page.text
    with portal.app_context():
        db.session.remove()
        db.engine.dispose()
        portal_db.engine.dispose()


@pytest.fixture
def shared_url(tmp_path):
    """An empty database the portal and the academy share (on PostgreSQL, a fresh sibling database)."""
    if not is_postgres():
        yield f"sqlite:///{tmp_path / 'portal.db'}"
        return
    url = _pg_database("_mount")
    yield url
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def test_lms_db_upgrade_migrates_the_academy_tables_beside_the_portals(tmp_path, shared_url):
    portal = make_portal(tmp_path, SQLALCHEMY_DATABASE_URI=shared_url)
    with portal.app_context():
        portal_db.create_all()
        portal_db.session.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
        portal_db.session.execute(text(f"INSERT INTO alembic_version VALUES ('{PORTAL_REVISION}')"))
        portal_db.session.add(Notice(text="welcome"))
        portal_db.session.commit()
    runner = portal.test_cli_runner()
    result = runner.invoke(args=["lms", "db", "upgrade"])
    assert result.exit_code == 0, result.output
    with portal.app_context():
        assert portal.extensions["migrate"].db is portal_db  # `flask db` stays the portal's
        tables = set(inspect(portal_db.engine).get_table_names())
        assert {"portal_notices", "alembic_version", "lms_alembic_version", "people", "certificates"} <= tables
        assert set(db.metadata.tables) <= tables
        assert portal_db.session.scalars(text("SELECT version_num FROM alembic_version")).all() == [PORTAL_REVISION]
        assert portal_db.session.scalar(select(func.count(Notice.id))) == 1
        [academy_revision] = portal_db.session.scalars(text("SELECT version_num FROM lms_alembic_version")).all()
        portal_db.session.remove()
    assert academy_revision == ScriptDirectory(str(paths.migrations())).get_current_head()
    with portal.app_context():
        db.engine.dispose()
        portal_db.engine.dispose()


def test_cli_lists_the_portal_commands_beside_lms(portal):
    runner = portal.test_cli_runner()
    top = runner.invoke(args=["--help"])
    assert top.exit_code == 0 and "portal-init" in top.output and "lms" in top.output
    lms = runner.invoke(args=["lms", "--help"])
    assert lms.exit_code == 0 and "Shegong Academy administration" in lms.output
    assert {"db", "demo", "create-token", "certificates"} <= set(re.findall(r"^  (\S+)", lms.output, re.M))
