"""The built wheel is a working plugin (issue 13, item 3).

The wheel is built from a copy of the source, installed into a new virtualenv
without network and without the source tree on the path (the project's
dependencies are borrowed from its own .venv through a plain .pth line, which
leaves the editable install's finder asleep), and mounted under /training by a
small portal of its own: it has its own ``/``, its own 404 page, its own
response header, session, Flask-SQLAlchemy, Flask-Babel, Alembic history and a
package of its own named ``app``. The portal migrates the academy, loads the
demo and serves it over HTTP on a free loopback port; the tests walk it.

Whatever TEST_DATABASE_URL says, the portal keeps its database in an SQLite
file of its own, so CI runs it once, not per database (marker ``once``; about 15 s).
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from shegong_academy.demo.world import DEMO_PASSWORD

REPO = Path(__file__).resolve().parent.parent
# What the wheel is built from: the project minus what is not source (a copy, so a stale build/ or a
# concurrent `make dist` in the checkout cannot change what the wheel holds).
NOT_SOURCE = {"tests", "bench", "build", "dist", "instance", "node_modules"}
# Folders of the repository that the wheel carries as package data, and where they land in it.
DATA_FOLDERS = {
    "templates": "shegong_academy/templates",
    "certificates": "shegong_academy/certificates",
    "course_content": "shegong_academy/course_content",
    "migrations": "shegong_academy/migrations",
    "app/static": "shegong_academy/static",
}
PORTAL_REVISION = "portal_0001"

pytestmark = pytest.mark.once

PORTAL_PACKAGE = '''\
"""The portal's own package, under the name every Flask project picks first."""

from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


class Notice(db.Model):
    __tablename__ = "notices"
    id = db.Column(db.Integer, primary_key=True)
    text = db.Column(db.String(200), nullable=False)
'''

PORTAL = '''\
"""A portal of its own that mounts the academy under /training."""

from pathlib import Path

from flask import Flask, session
from flask_babel import Babel, get_locale
from sqlalchemy import func, select

from app import Notice, db
from shegong_academy import Academy

HERE = Path(__file__).resolve().parent

app = Flask(__name__)
app.config["SECRET_KEY"] = "portal-secret-0123456789abcdef0123456789abcdef"
app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{HERE / 'portal.db'}"
db.init_app(app)
Babel(app, locale_selector=lambda: "fr")


@app.get("/")
def home():
    session["visits"] = session.get("visits", 0) + 1
    notices = db.session.scalar(select(func.count(Notice.id)))
    return f"portal home; locale {get_locale()}; visit {session['visits']}; notices {notices}"


@app.errorhandler(404)
def not_found(exc):
    return "portal: no such page", 404


@app.after_request
def portal_header(response):
    response.headers["X-Portal"] = "kept"
    return response


Academy(app, url_prefix="/training")
'''

# Serves the portal on a free loopback port (gunicorn is not a dependency): first a line saying where
# everything was imported from, then the port.
SERVE = """\
import json
import sys

from werkzeug.serving import make_server

import app as portal_package
import shegong_academy
from host import app as portal
from shegong_academy.core import paths

print(json.dumps({
    "academy": shegong_academy.__file__,
    "modules": sorted(m.__file__ for n, m in sys.modules.items() if n.split(".")[0] == "shegong_academy"),
    "paths": [str(f()) for f in (paths.templates, paths.static, paths.translations, paths.certificate_designs,
                                 paths.course_content, paths.migrations)],
    "portal_package": portal_package.__file__,
    "sys_path": sys.path,
    "editable_finder": any("__editable__" in n for n in sys.modules),
}), flush=True)
server = make_server("127.0.0.1", 0, portal, threaded=True)
print(server.port, flush=True)
server.serve_forever()
"""


def _run(args: list, cwd: Path, env: dict | None = None, timeout: float = 300) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def _portal_env(tmp: Path) -> dict:
    """The environment of the portal's processes: none of the test run's settings, a few LMS_* of its own."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LMS_", "FLASK_", "PYTHON", "PIP_", "SQLALCHEMY_"))
        and key not in ("DATABASE_URL", "TEST_DATABASE_URL", "VIRTUAL_ENV")
    }
    env.update(
        PYTHONWARNINGS="error",  # like the suite's filterwarnings
        PYTHONDONTWRITEBYTECODE="1",
        # Read by the academy from the environment, with no call of the portal's:
        LMS_PASSWORD_TIME_COST="1",
        LMS_PASSWORD_MEMORY_KIB="1024",
        LMS_STORAGE_URL=(tmp / "files").as_uri(),
    )
    return env


@dataclass
class Install:
    wheel: Path
    python: Path  # the new virtualenv's interpreter
    site: Path  # its site-packages
    dependencies: list[Path]  # the project's site-packages, borrowed through a .pth line
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class Portal:
    install: Install
    folder: Path
    env: dict
    base: str = ""
    token: str = ""
    imports: dict = field(default_factory=dict)  # where the served process imported everything from
    timings: dict[str, float] = field(default_factory=dict)

    def flask(self, *args: str) -> str:
        return _run([self.install.python, "-m", "flask", "--app", "host", *args], self.folder, self.env)


@pytest.fixture(scope="module")
def install(tmp_path_factory) -> Install:
    """Build the wheel from a copy of the source and install it, without network, into a new virtualenv."""
    tmp = tmp_path_factory.mktemp("wheel")
    timings: dict[str, float] = {}
    started = time.monotonic()
    source = tmp / "source"
    source.mkdir()
    for item in REPO.iterdir():
        if item.name.startswith(".") or item.name in NOT_SOURCE or item.name.endswith(".egg-info"):
            continue
        if item.is_dir():
            shutil.copytree(item, source / item.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(item, source / item.name)
    # --no-isolation: an isolated build would download setuptools.
    _run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", tmp / "dist", source], tmp)
    [wheel] = (tmp / "dist").glob("shegong_academy-*.whl")
    timings["build the wheel"] = time.monotonic() - started

    started = time.monotonic()
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], tmp)
    python = venv / "bin" / "python"
    # The project's pip installs into the new interpreter (saves ensurepip's 5-8 s); no index, no dependencies.
    pip = [sys.executable, "-m", "pip", "--python", python, "--disable-pip-version-check"]
    _run([*pip, "install", "--no-deps", "--no-index", "--no-cache-dir", wheel], tmp)
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp).strip())
    # A plain directory line: that folder joins sys.path, but its own .pth files (the editable install's
    # finder, which maps shegong_academy to the source tree) are not run.
    dependencies = sorted({Path(sysconfig.get_paths()[k]) for k in ("purelib", "platlib")})
    (site / "zz-project-dependencies.pth").write_text("".join(f"{d}\n" for d in dependencies))
    timings["new virtualenv + pip install"] = time.monotonic() - started
    return Install(wheel=wheel, python=python, site=site, dependencies=dependencies, timings=timings)


def _portal_tables(database: Path) -> None:
    """The portal's own tables, at its own Alembic revision, before the academy migrates beside them."""
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE notices (id INTEGER PRIMARY KEY, text VARCHAR(200) NOT NULL)")
        conn.execute("INSERT INTO notices (text) VALUES ('welcome')")
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        conn.execute("INSERT INTO alembic_version VALUES (?)", (PORTAL_REVISION,))
    conn.close()


def _lines(stream, into: queue.Queue) -> None:
    for line in stream:
        into.put(line)


@pytest.fixture(scope="module")
def portal(install, tmp_path_factory):
    """The portal, migrated, with the demo loaded, serving on a free loopback port."""
    folder = tmp_path_factory.mktemp("portal")
    (folder / "app").mkdir()
    (folder / "app" / "__init__.py").write_text(PORTAL_PACKAGE)
    (folder / "host.py").write_text(PORTAL)
    (folder / "serve.py").write_text(SERVE)
    _portal_tables(folder / "portal.db")
    env = _portal_env(folder)
    portal = Portal(install, folder, env, timings=dict(install.timings))
    started = time.monotonic()
    portal.flask("lms", "db", "upgrade")
    portal.timings["lms db upgrade"] = time.monotonic() - started
    started = time.monotonic()
    portal.flask("lms", "demo")
    portal.timings["lms demo"] = time.monotonic() - started
    portal.token = portal.flask("lms", "create-token", "--username", "gongshu", "--name", "wheel").split()[-1]

    started = time.monotonic()
    log = (folder / "server.log").open("w")
    server = subprocess.Popen(
        [install.python, "serve.py"], cwd=folder, env=env, stdout=subprocess.PIPE, stderr=log, text=True
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(server.stdout, lines), daemon=True).start()
    try:
        try:
            portal.imports = json.loads(lines.get(timeout=120))
            portal.base = f"http://127.0.0.1:{int(lines.get(timeout=30))}"
        except (queue.Empty, ValueError):
            pytest.fail(f"the portal did not start:\n{(folder / 'server.log').read_text()[-4000:]}")
        portal.timings["start the server"] = time.monotonic() - started
        yield portal
    finally:
        server.terminate()
        server.wait(timeout=10)
        server.stdout.close()
        log.close()
    print("\nwheel test timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in portal.timings.items()))


@dataclass
class Page:
    status: int
    headers: dict
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()

    def csrf_token(self) -> str:
        return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', self.text).group(1)


class _KeepRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is an answer to look at, not to follow


class Browser:
    """A visitor with a cookie jar, talking HTTP to the served portal."""

    def __init__(self, base: str):
        self.base = base
        self.cookies = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), _KeepRedirects)

    def open(self, path: str, data: dict | None = None, headers: dict | None = None) -> Page:
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, data=body, headers=headers or {})  # noqa: S310 (http://127.0.0.1)
        try:
            with self.opener.open(request, timeout=120) as r:
                return Page(r.status, dict(r.headers), r.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return Page(exc.code, dict(exc.headers), exc.read())

    def cookie(self, name: str):
        return next((c for c in self.cookies if c.name == name), None)

    def sign_in(self, username: str) -> Page:
        form = self.open("/training/login")
        assert form.status == 200
        r = self.open(
            "/training/login",
            {"csrf_token": form.csrf_token(), "username": username, "password": DEMO_PASSWORD},
        )
        assert r.status == 302 and r.headers["Location"].startswith("/training/"), (r.status, r.text[:500])
        return r


def _relative(path: Path, root: Path) -> str | None:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else None


def test_wheel_carries_the_code_and_every_data_folder(install):
    names = set(zipfile.ZipFile(install.wheel).namelist())
    code = {
        f"shegong_academy/{p.relative_to(REPO / 'app').as_posix()}"
        for p in (REPO / "app").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    data = {
        f"{inside}/{p.relative_to(REPO / folder).as_posix()}"
        for folder, inside in DATA_FOLDERS.items()
        for p in (REPO / folder).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    catalogues = {f"shegong_academy/translations/{lang}/LC_MESSAGES/messages.mo" for lang in ("zh_Hans_CN", "en")}
    assert code - names == set(), "a package missing from [tool.setuptools] packages in pyproject.toml?"
    assert data - names == set()
    assert catalogues - names == set(), "compiled catalogues missing (make translations)"
    assert "shegong_academy/demo/data/divisions.csv" in names
    assert not any(n.startswith(("app/", "tests/")) for n in names)  # nothing under a name a host may own


def test_installed_plugin_runs_from_its_virtualenv_not_the_source(portal):
    seen = portal.imports
    package = portal.install.site / "shegong_academy"
    assert Path(seen["academy"]).parent == package
    assert seen["modules"] and all(Path(f).is_relative_to(package) for f in seen["modules"])
    assert all(Path(p).is_relative_to(package) for p in seen["paths"])
    assert Path(seen["portal_package"]) == portal.folder / "app" / "__init__.py"  # the portal's own `app`
    assert not seen["editable_finder"]
    inside_repo = [p for p in seen["sys_path"] if p and Path(p).resolve().is_relative_to(REPO)]
    assert {Path(p) for p in inside_repo} <= set(portal.install.dependencies)  # only the borrowed dependencies


def test_academy_migrations_leave_the_portal_tables_alone(portal):
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    with sqlite3.connect(portal.folder / "portal.db") as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(PORTAL_REVISION,)]
        assert conn.execute("SELECT version_num FROM lms_alembic_version").fetchall() == [(head,)]
        assert conn.execute("SELECT text FROM notices").fetchall() == [("welcome",)]


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(REPO / "migrations"))
    return config


def test_walk_sign_in_dashboard_and_a_certificate_pdf(portal, tmp_path):
    browser = Browser(portal.base)
    form = browser.open("/training/login")
    refused = browser.open("/training/login", {"username": "gongshu", "password": DEMO_PASSWORD})
    assert refused.status == 400  # the academy's forms carry their CSRF token
    browser.sign_in("gongshu")
    dashboard = browser.open("/training/coverage/")
    assert dashboard.status == 200 and "2022年项目社工转岗人员" in dashboard.text
    assert 'href="/training/static/css/app.css' in form.text + dashboard.text

    # Approve one eligible person for the project-social-worker certificate, through the page.
    credentials = browser.open("/training/credentials/")
    credential_id = re.search(r'href="/training/credentials/(\d+)"[^>]*>项目社工转岗证书', credentials.text).group(1)
    eligible = browser.open(f"/training/credentials/{credential_id}?show=eligible")
    person_id = re.search(r'name="person_id" value="(\d+)"', eligible.text).group(1)
    approved = browser.open(
        f"/training/credentials/{credential_id}/approve",
        {"csrf_token": eligible.csrf_token(), "person_id": person_id},
    )
    assert approved.status == 200 and 'name="confirmed"' in approved.text  # asked first, nothing issued yet
    approved = browser.open(
        f"/training/credentials/{credential_id}/approve",
        {"csrf_token": eligible.csrf_token(), "person_id": person_id, "confirmed": "1"},
    )
    assert approved.status == 302
    issued = browser.open(approved.headers["Location"])
    [certificate_id] = set(re.findall(r'href="/training/certificates/(\d+)"', issued.text))
    pdf = browser.open(f"/training/certificates/{certificate_id}.pdf")
    assert pdf.status == 200 and pdf.headers["Content-Type"] == "application/pdf"
    (tmp_path / "certificate.pdf").write_bytes(pdf.body)
    text = _run(["pdftotext", "-layout", tmp_path / "certificate.pdf", "-"], tmp_path)
    link = re.search(r"https?://\S+/verify/[\w-]+", text).group(0)
    assert link.startswith(f"{portal.base}/training/verify/")
    assert any((portal.folder / "files" / "certificates").iterdir())  # LMS_STORAGE_URL, from the environment

    # The link on the paper answers to anyone, as does the API.
    code = link.rsplit("/", 1)[1]
    public = Browser(portal.base)
    assert public.open(link.removeprefix(portal.base)).status == 200
    verified = public.open(f"/training/api/v1/verify/{code}")
    assert verified.status == 200 and json.loads(verified.body)["status"] == "valid"


def test_api_under_the_prefix_with_a_token_from_the_command_line(portal):
    api = Browser(portal.base)
    auth = {"Authorization": f"Bearer {portal.token}"}
    units = api.open("/training/api/v1/units?code=330105", headers=auth)
    assert units.status == 200 and [u["code"] for u in json.loads(units.body)["items"]] == ["330105"]
    assert api.open("/training/api/v1/units").status == 401
    document = json.loads(api.open("/training/api/v1/openapi.json").body)
    servers = [s["url"].rstrip("/") for s in document.get("servers", [])] or [""]
    assert all((s + p).startswith("/training/api/v1/") for s in servers for p in document["paths"])
    outside = api.open("/api/v1/units", headers=auth)
    assert outside.status == 404 and outside.text == "portal: no such page"


def test_portal_keeps_its_own_page_headers_404_session_and_language(portal):
    browser = Browser(portal.base)
    home = browser.open("/")
    assert home.status == 200 and home.text == "portal home; locale fr; visit 1; notices 1"
    assert home.headers["X-Portal"] == "kept"
    for header in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"):
        assert header not in home.headers
    missing = browser.open("/nope")
    assert (missing.status, missing.text) == (404, "portal: no such page")
    assert "Content-Security-Policy" not in missing.headers and "X-Frame-Options" not in missing.headers

    ours = browser.open("/training/nope")
    assert ours.status == 404 and "portal" not in ours.text and '<html lang="zh-CN">' in ours.text
    assert (
        ours.headers["X-Frame-Options"] == "DENY"
        and "frame-ancestors 'none'" in ours.headers["Content-Security-Policy"]
    )

    portal_cookie = browser.cookie("session").value
    browser.sign_in("gongshu")
    assert browser.cookie("session").value == portal_cookie  # signing in to the academy left it alone
    assert browser.cookie("lms_session").path == "/training/"
    assert browser.open("/").text == "portal home; locale fr; visit 2; notices 1"
