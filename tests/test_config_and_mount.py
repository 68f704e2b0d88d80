"""Configuration from the environment, secrets, and mounting into a host app."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from html import unescape
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
import segno
from flask import Flask
from sqlalchemy import func, select

from shegong_academy import create_app
from shegong_academy.auth.models import User
from shegong_academy.auth.services import create_api_token
from shegong_academy.config import ConfigError, load_config
from shegong_academy.core.db import utcnow
from shegong_academy.extensions import db
from shegong_academy.org.models import OrgUnit
from shegong_academy.people.models import Person
from shegong_academy.training.models import Attendance
from shegong_academy.training.services import enrol, record_attendance
from tests.factories import PASSWORD
from tests.training.helpers import course, program, session


def test_embedded_mode_generates_a_secret_once(tmp_path):
    cfg1 = load_config({}, str(tmp_path), environ={})
    cfg2 = load_config({}, str(tmp_path), environ={})
    assert len(cfg1["SECRET_KEY"]) >= 32 and cfg1["SECRET_KEY"] == cfg2["SECRET_KEY"]
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert cfg1["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'academy.db'}"
    assert cfg1["SESSION_COOKIE_SECURE"] is False


def test_production_refuses_to_start_without_a_secret(tmp_path):
    env = {
        "LMS_MODE": "production",
        "DATABASE_URL": "postgresql+psycopg://x@y/z",
        "LMS_REDIS_URL": "redis://127.0.0.1:6379/0",
        "LMS_PUBLIC_URL": "https://academy.example.gov.cn",
        "LMS_STORAGE_URL": "s3://academy-files/prod",
    }
    with pytest.raises(ConfigError, match="LMS_SECRET_KEY"):
        load_config({}, str(tmp_path), environ=env)
    with pytest.raises(ConfigError):
        load_config({}, str(tmp_path), environ={**env, "LMS_SECRET_KEY": "short"})
    assert not (tmp_path / "secret_key").exists()
    cfg = load_config({}, str(tmp_path), environ={**env, "LMS_SECRET_KEY": "s" * 40})
    assert cfg["SESSION_COOKIE_SECURE"] is True


def test_production_needs_a_database_url(tmp_path):
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load_config({}, str(tmp_path), environ={"LMS_MODE": "production", "LMS_SECRET_KEY": "s" * 40})
    # (the other refusals of production: tests/test_production_config.py)


def test_environment_variables_are_read(tmp_path):
    env = {
        "DATABASE_URL": "sqlite:////tmp/other.db",
        "LMS_SECRET_KEY": "k" * 40,
        "LMS_MAX_UPLOAD_BYTES": "1234",
        "LMS_IMPORT_MAX_ROWS": "10",
        "LMS_LANGUAGES": "en, zh_CN",
        "LMS_TIMEZONE": "Asia/Urumqi",
        "LMS_SESSION_COOKIE_SECURE": "true",
    }
    cfg = load_config({}, str(tmp_path), environ=env)
    assert cfg["SQLALCHEMY_DATABASE_URI"] == "sqlite:////tmp/other.db"
    assert cfg["MAX_CONTENT_LENGTH"] == 1234 and cfg["LMS_IMPORT_MAX_ROWS"] == 10
    assert cfg["LMS_LANGUAGES"] == ["en", "zh_CN"] and cfg["LMS_TIMEZONE"] == "Asia/Urumqi"
    assert cfg["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize("env", [{"LMS_MODE": "cloud"}, {"LMS_MAX_UPLOAD_BYTES": "lots"}])
def test_bad_configuration_is_a_clear_error(tmp_path, env):
    with pytest.raises(ConfigError):
        load_config({}, str(tmp_path), environ=env)


def signed_in(host: Flask, username: str):
    client = host.test_client()
    r = client.post("/training/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 302 and r.location.startswith("/training/"), r.location
    return client


def test_mounted_under_a_prefix_in_a_host_app(host):
    client = host.test_client()
    assert client.get("/").text == "host home"
    r = client.get("/training/people/")
    assert r.status_code == 302 and r.location.startswith("/training/login")
    assert client.get("/training/login").status_code == 200
    assert client.post("/training/login", data={"username": "coord", "password": PASSWORD}).status_code == 302
    page = client.get("/training/people/").text
    assert "李四" in page
    assert 'href="/training/static/css/app.css' in page
    assert 'action="/training/logout"' in page
    assert client.get("/people/").status_code == 404  # nothing leaks outside the prefix
    r = client.get("/training/api/v1/people")
    assert r.status_code == 401 and r.is_json


LOCAL_URL = re.compile(r'(href|src|action|data-src|data-status-url|formaction)="([^"]*)"')


def local_urls(html: str) -> list[tuple[str, str]]:
    """(attribute, URL) of what a page links, submits or loads within this site (not elsewhere)."""
    found = [(attr, unescape(url)) for attr, url in LOCAL_URL.findall(html)]
    return [(a, u) for a, u in found if u.startswith(("/", "http://localhost")) and not u.startswith("//")]


def walk(client, start: str = "/training/", limit: int = 120) -> tuple[set[str], list, list]:
    """Follow every link from ``start`` (each path once, whatever its query).

    Returns the paths visited, the links that leave the prefix and the pages that failed.
    """
    seen, queue, outside, failed = set(), [start], [], []
    while queue and len(seen) < limit:
        url = queue.pop(0)
        if urlsplit(url).path in seen:
            continue
        seen.add(urlsplit(url).path)
        with client.get(url) as r:  # static files are streamed: close them
            status, html = r.status_code, r.text if r.mimetype == "text/html" else ""
            location = r.location if r.status_code in (301, 302, 303, 307, 308) else None
        if status >= 400:
            failed.append((url, status))
        if location is not None:
            html = f'<a href="{location}">'  # a redirect is followed like a link
        for attr, link in local_urls(html):
            path = urlsplit(link).path
            if not path.startswith("/training/"):
                outside.append((url, attr, link))
            elif attr == "href" and not re.search(r"\.(pdf|csv|xlsx|svg|json)$", path):
                queue.append(link.split("#")[0])
            elif attr in ("src", "data-src") or path.startswith("/training/static/"):
                with client.get(link) as r:
                    if r.status_code != 200:
                        failed.append((link, r.status_code))
    return seen, outside, failed


@pytest.mark.parametrize(
    "username, reached",
    [
        ("coord", {"/training/people/", "/training/courses/1", "/training/sessions/1/qr", "/training/account/tokens"}),
        ("trainee", {"/training/my/", "/training/my/courses/1", "/training/my/certificates"}),
        ("admin", {"/training/units/", "/training/credentials/", "/training/supervision/"}),
    ],
)
def test_mounted_pages_link_only_under_the_prefix(host, username, reached):
    with host.app_context():
        district = db.session.scalar(select(OrgUnit).where(OrgUnit.code == "330105"))
        trainee = db.session.scalar(select(User).where(User.username == "trainee"))
        crs = course(program(district))
        session(crs, start=utcnow() + timedelta(days=1))  # to come: its page offers the QR check-in screen
        enrol(course=crs, person=trainee.person, actor=None)
        db.session.commit()
    client = signed_in(host, username)
    seen, outside, failed = walk(client)
    assert reached <= seen and "/training/account/password" in seen
    assert outside == [] and failed == []
    page = client.get("/training/account/password").text
    assert 'action="/training/logout"' in page
    assert 'href="/training/static/css/app.css' in page and 'src="/training/static/js/app.js' in page


def test_mounted_api_answers_and_its_document_leads_under_the_prefix(host):
    with host.app_context():
        coord = db.session.scalar(select(User).where(User.username == "coord"))
        secret = create_api_token(user=coord, name="host")
        db.session.commit()
    client = host.test_client()
    auth = {"Authorization": f"Bearer {secret}"}
    r = client.get("/training/api/v1/units", headers=auth)
    assert r.status_code == 200 and r.is_json
    assert {u["code"] for u in r.json["items"]} >= {"330105", "330105001"}
    assert client.get("/api/v1/units", headers=auth).status_code == 404  # not outside the prefix
    doc = client.get("/training/api/v1/openapi.json")
    assert doc.status_code == 200 and doc.is_json
    # Paths resolve against the servers (none: the host's root), so they must carry the prefix.
    servers = [s["url"].rstrip("/") for s in doc.json.get("servers", [])] or [""]
    units = [server + path for server in servers for path in doc.json["paths"] if path.endswith("/units")]
    assert units == ["/training/api/v1/units"]
    assert all((server + path).startswith("/training/api/v1/") for server in servers for path in doc.json["paths"])
    r = client.get(units[0] + "?code=330105", headers=auth)
    assert r.status_code == 200 and [u["code"] for u in r.json["items"]] == ["330105"]
    person = next(p for p in doc.json["paths"] if p.endswith("/people/{person_id}"))
    with host.app_context():
        person_id = db.session.scalar(select(Person.id).where(Person.name == "李四"))
    r = client.get((servers[0] + person).replace("{person_id}", str(person_id)), headers=auth)
    assert r.status_code == 200 and r.json["name"] == "李四"


def test_mounted_qr_check_in_link_carries_the_prefix(host, monkeypatch):
    with host.app_context():
        w = SimpleNamespace(**{u: db.session.scalar(select(User).where(User.username == u)) for u in ("coord",)})
        trainee = db.session.scalar(select(Person).where(Person.name == "钱七"))
        now = utcnow()
        crs = course(program(trainee.unit.parent.parent, year=now.year), code="NOW")
        sess = session(crs, hours=3, start=now - timedelta(minutes=10))
        enrol(course=crs, person=trainee, actor=w.coord)
        db.session.commit()
        session_id = sess.id
    encoded = []
    real_make = segno.make
    monkeypatch.setattr(segno, "make", lambda content, **kw: encoded.append(content) or real_make(content, **kw))
    coord = signed_in(host, "coord")
    projector = coord.get(f"/training/sessions/{session_id}/qr")
    assert projector.status_code == 200
    assert f'src="/training/sessions/{session_id}/qr.svg"' in projector.text
    assert f'data-src="/training/sessions/{session_id}/qr.svg"' in projector.text
    assert coord.get(f"/training/sessions/{session_id}/qr.svg").status_code == 200
    [url] = encoded
    assert url.startswith(f"http://localhost/training/checkin/{session_id}?t=")
    # A trainee who scans it signed out is sent to the academy's login and back to the link.
    parts = urlsplit(url)
    phone = host.test_client()
    r = phone.get(f"{parts.path}?{parts.query}")
    assert r.status_code == 302 and r.location.startswith("/training/login?next=")
    r = phone.post(r.location, data={"username": "trainee", "password": PASSWORD})
    assert r.status_code == 302 and r.location.startswith(f"{parts.path}?t=")
    page = phone.get(r.location)
    assert page.status_code == 200 and f'action="/training/checkin/{session_id}"' in page.text
    # The scan's proof, bound to this phone by a cookie of the mounted check-in path.
    proof = parse_qs(urlsplit(r.location).query)["t"][0]
    assert proof.startswith("p") and phone.get_cookie("lms_checkin_browser", path=parts.path) is not None
    r = phone.post(parts.path, data={"t": proof})
    assert r.status_code == 302 and r.location == "/training/my/"
    with host.app_context():
        assert db.session.scalar(select(func.count(Attendance.id))) == 1


def test_qr_and_verification_links_use_the_public_url_behind_a_proxy(host, monkeypatch):
    """Behind a proxy the request's host is internal: LMS_PUBLIC_URL is what phones must reach."""
    from shegong_academy.credentials.services import verify_url

    host.config["LMS_PUBLIC_URL"] = "https://academy.example.gov.cn/"
    with host.app_context():
        coord = db.session.scalar(select(User).where(User.username == "coord"))
        trainee = db.session.scalar(select(Person).where(Person.name == "钱七"))
        sess = session(course(program(trainee.unit.parent.parent), code="PUB"))
        enrol(course=sess.course, person=trainee, actor=coord)
        db.session.commit()
        session_id = sess.id
    encoded = []
    real_make = segno.make
    monkeypatch.setattr(segno, "make", lambda content, **kw: encoded.append(content) or real_make(content, **kw))
    client = signed_in(host, "coord")
    assert client.get(f"/training/sessions/{session_id}/qr.svg").status_code == 200  # requested as localhost
    [url] = encoded
    assert url.startswith(f"https://academy.example.gov.cn/training/checkin/{session_id}?t=")
    with host.test_request_context("/", base_url="http://10.0.0.7:8000"):
        assert verify_url("ABCD-EFGH") == "https://academy.example.gov.cn/training/verify/ABCD-EFGH"


def test_mounted_certificate_verification_links_carry_the_prefix(host, monkeypatch):
    from shegong_academy.credentials import render
    from shegong_academy.credentials.models import CredentialType
    from shegong_academy.credentials.services import certificate_context, issue_certificate, verify_url

    with host.app_context():
        coord = db.session.scalar(select(User).where(User.username == "coord"))
        holder = db.session.scalar(select(Person).where(Person.name == "李四"))
        district = holder.unit.parent.parent
        cred = CredentialType(
            name="psw",
            title="项目社工转岗证书",
            design="transition-zh",
            issuer_unit=district,
            issuer_name="杭州市拱墅区民政局",
            issuer_code="GSMZ",
            min_training_hours=Decimal("3"),
            transition_from="community_worker",
            transition_to="project_social_worker",
        )
        db.session.add(cred)
        s1 = session(course(program(district), hours=3), hours=3)
        enrol(course=s1.course, person=holder, actor=coord)
        record_attendance(session=s1, person=holder, status="present", actor=coord)
        # Issued from the command line or a job: no request, so no host to take the address from.
        cert = issue_certificate(credential=cred, person=holder, actor=coord, render=False)
        db.session.commit()
        cert_id, code = cert.id, cert.verification_code
        assert verify_url(code) == f"http://127.0.0.1:5000/training/verify/{code}"
        host.config["LMS_PUBLIC_URL"] = "https://academy.example.gov.cn/"
        assert verify_url(code) == f"https://academy.example.gov.cn/training/verify/{code}"
        del host.config["LMS_PUBLIC_URL"]
    with host.test_request_context("/training/certificates/1"):
        cert = db.session.get(type(cert), cert_id)
        expected = f"http://localhost/training/verify/{code}"
        assert verify_url(code) == expected
        # What the design prints: the address as text and as the QR code.
        encoded = []
        real_make = segno.make
        monkeypatch.setattr(segno, "make", lambda content, **kw: encoded.append(content) or real_make(content, **kw))
        context = certificate_context(cert)
        assert context["verify_url"] == expected and encoded == [expected]
        html = render.render_html(render.load_design(cert.design), context)
        assert expected in html
        db.session.remove()
    client = signed_in(host, "coord")
    page = client.get(f"/training/certificates/{cert_id}")
    assert page.status_code == 200 and f'href="/training/verify/{code}"' in page.text
    badge = client.get(f"/training/certificates/{cert_id}/badge.json").json
    assert badge["id"] == expected
    assert badge["credentialStatus"]["statusListCredential"] == "http://localhost/training/api/v1/status-lists/330105"
    # Mounted under a path, the issuer's did:web names the path, and resolves where did:web says.
    unit_did = "did:web:localhost:training:api:v1:issuers:330105"
    assert badge["issuer"]["id"] == unit_did
    assert badge["issuer"]["url"] == "http://localhost/training/api/v1/issuers/330105"
    (proof,) = badge["proof"]
    assert proof["verificationMethod"].startswith(unit_did + "#")
    unit_document = client.get("/training/api/v1/issuers/330105/did.json").json
    assert unit_document["id"] == unit_did and proof["verificationMethod"] in unit_document["assertionMethod"]
    document = client.get("/training/did.json").json  # the deployment's: every issuer's keys
    assert document["id"] == "did:web:localhost:training"
    assert proof["verificationMethod"] in document["assertionMethod"]
    public = host.test_client()
    assert public.get(f"/training/verify/{code}").status_code == 200
    assert public.get(f"/verify/{code}").status_code == 404
    api = public.get(f"/training/api/v1/verify/{code}")
    assert api.status_code == 200 and api.json["status"] == "valid"


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json == {"status": "ok"}  # the mode is nobody's business
    assert r.mimetype == "application/json"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////nonexistent-folder-for-lms-tests/academy.db",
        "postgresql+psycopg://postgres@127.0.0.1:9/academy",  # a port where nothing listens
    ],
)
def test_healthz_answers_503_json_when_the_database_is_down(url, caplog):
    from tests.conftest import make_app

    app = make_app(url)
    r = app.test_client().get("/healthz")
    assert r.status_code == 503 and r.mimetype == "application/json"
    assert r.json == {"status": "unavailable"}  # no driver message, host or traceback
    assert "health check: the database does not answer (OperationalError)" in caplog.text
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize(
    "target",
    ["//evil.example", "/\\evil.example", "/\t/evil.example", "https://evil.example", "\\\\evil.example", ""],
)
def test_language_switch_refuses_to_leave_the_site(client, target):
    r = client.post("/language", data={"lang": "en", "next": target})
    assert r.status_code == 302 and r.location == "/"
    assert "evil" not in r.location


def test_language_switch_returns_to_the_page(client):
    r = client.post("/language", data={"lang": "en", "next": "/people/?q=李"})
    assert r.status_code == 302 and r.location.startswith("/people/?q=")
    assert "Sign in" in client.get("/login").text  # and the language took


def test_create_app_reads_the_environment(monkeypatch, tmp_path, db_url):
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("LMS_SECRET_KEY", "e" * 40)
    monkeypatch.setenv("LMS_PER_PAGE", "7")
    app = create_app({"TESTING": True})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == db_url and app.config["LMS_PER_PAGE"] == 7
