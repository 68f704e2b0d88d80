"""Fixtures: every test gets a database built by the migrations, isolated from the others.

SQLite (default): the migrations run once into a template file, copied per test.
PostgreSQL (``TEST_DATABASE_URL``): the migrations run once, tables are
truncated after each test. The demo world is loaded once per run into a
database of its own and must only be read.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from werkzeug.serving import WSGIRequestHandler, make_server

from shegong_academy import create_app
from shegong_academy.extensions import db

PG_URL = os.environ.get("TEST_DATABASE_URL")
MIGRATIONS = str(Path(__file__).resolve().parent.parent / "migrations")

TEST_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key-0123456789abcdef0123456789",
    "WTF_CSRF_ENABLED": False,
    # Cheap hashes in tests; production uses the OWASP cost from the config.
    "LMS_PASSWORD_TIME_COST": 1,
    "LMS_PASSWORD_MEMORY_KIB": 1024,
    "RATELIMIT_ENABLED": True,
    # Issued PDFs, print results and uploads go to a scratch folder, never into the project's instance/.
    "LMS_STORAGE_URL": Path(tempfile.mkdtemp(prefix="lms-test-storage-")).as_uri(),
    # Jobs run at once in the caller (the same task code a worker runs); tests/e2e start real workers.
    "LMS_JOBS_EAGER": True,
}


def is_postgres() -> bool:
    return bool(PG_URL)


def make_app(url: str, **overrides):
    return create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": url, **overrides})


def migrate(url: str) -> None:
    app = make_app(url)
    with app.app_context():
        upgrade(directory=MIGRATIONS)
        db.engine.dispose()


def _pg_database(suffix: str) -> str:
    """Create (fresh) a sibling database of TEST_DATABASE_URL and return its URL."""
    base = make_url(PG_URL)
    name = f"{base.database}{suffix}"
    admin = create_engine(base.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def template_db(tmp_path_factory) -> str:
    if is_postgres():
        engine = create_engine(PG_URL)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        migrate(PG_URL)
        return PG_URL
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate(f"sqlite:///{path}")
    return str(path)


_CLEANERS: dict[str, tuple] = {}


def _truncate(url: str) -> None:
    """Empty every table and restart every sequence: what ``TRUNCATE … RESTART IDENTITY`` did, several times faster.

    TRUNCATE gives each of the 27 tables a new file (229 ms after every test, minutes of a run); deleting the
    few rows a test wrote, children first, and restarting the sequences takes a fraction of that, in one round
    trip on a connection kept for the run.
    """
    if url not in _CLEANERS:
        engine = create_engine(url)
        with engine.connect() as conn:
            sequences = conn.exec_driver_sql(
                "SELECT quote_ident(sequence_schema) || '.' || quote_ident(sequence_name)"
                " FROM information_schema.sequences"
            ).scalars()
            # The audit trail refuses DELETE (a trigger: append-only); TRUNCATE fires no row trigger.
            statements = [
                f'TRUNCATE "{t.name}"' if t.name == "audit_entries" else f'DELETE FROM "{t.name}"'
                for t in reversed(db.metadata.sorted_tables)
            ]
            statements += [f"ALTER SEQUENCE {name} RESTART" for name in sequences]
        _CLEANERS[url] = (engine, "; ".join(statements))
    engine, sql = _CLEANERS[url]
    with engine.begin() as conn:
        conn.connection.driver_connection.execute(sql)  # several statements: psycopg's simple query protocol


@pytest.fixture
def db_url(template_db, tmp_path):
    """A migrated, empty database for one test (any app built on it is cleaned up after)."""
    if is_postgres():
        yield template_db
        _truncate(template_db)
        return
    target = tmp_path / "test.db"
    shutil.copyfile(template_db, target)
    yield f"sqlite:///{target}"


@pytest.fixture
def app(db_url):
    app = make_app(db_url)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def ctx(app):
    """An application context, for service and query tests."""
    with app.app_context():
        yield app
        db.session.rollback()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture(scope="session")
def demo_url(tmp_path_factory, template_db) -> str:
    """A database holding the demo world, loaded once per run; tests only read it."""
    if is_postgres():
        url = _pg_database("_demo")
        migrate(url)
    else:
        path = tmp_path_factory.mktemp("demo") / "demo.db"
        shutil.copyfile(template_db, path)
        url = f"sqlite:///{path}"
    app = make_app(url)
    with app.app_context():
        from shegong_academy.demo.world import load_demo

        load_demo()
        db.session.commit()
        db.engine.dispose()
    return url


@pytest.fixture
def demo_app(demo_url):
    app = make_app(demo_url)
    yield app
    with app.app_context():
        db.session.rollback()
        db.engine.dispose()


def use_storage(app, folder: Path) -> None:
    """Keep the app's stored files (issued PDFs, print results) in ``folder``."""
    app.config["LMS_STORAGE_URL"] = Path(folder).as_uri()
    app.extensions.pop("lms_storage", None)


@contextmanager
def statements(app) -> Iterator[list[str]]:
    """Collect the SQL statements run inside the block, whitespace folded (a deterministic stand-in for timing)."""
    import re

    from sqlalchemy import event

    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        seen.append(re.sub(r"\s+", " ", statement))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def count_statements(app, call) -> int:
    """Count the statements ``call()`` (one request, answered 200) sends to the app's database."""
    with statements(app) as seen:
        response = call()
    assert response.status_code == 200, response.get_data(as_text=True)
    return len(seen)


@pytest.fixture
def host(db_url, tmp_path):
    """A host application of its own that mounts the academy under /training, with the test world in it."""
    from flask import Flask

    from shegong_academy import Academy
    from shegong_academy.config import load_config
    from tests.factories import World

    host = Flask("host")
    host.config.from_mapping(
        load_config(
            {**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": db_url, "LMS_STORAGE_URL": (tmp_path / "pdfs").as_uri()},
            host.instance_path,
            environ={},
        )
    )

    @host.get("/")
    def host_home():
        return "host home"

    Academy(host, url_prefix="/training")
    with host.app_context():
        World()
    yield host
    with host.app_context():
        db.session.remove()
        db.engine.dispose()


# Tests marked ``postgres_only`` test PostgreSQL's own behaviour. On any other database they are
# deselected, counted and named in the summary: never skipped silently. CI runs them in its PostgreSQL run.
ON_POSTGRES = bool(PG_URL) and make_url(PG_URL).get_backend_name() == "postgresql"
POSTGRES_ONLY_DESELECTED = pytest.StashKey[int]()


def pytest_collection_modifyitems(config, items):
    if ON_POSTGRES:
        return
    deselected = [item for item in items if item.get_closest_marker("postgres_only")]
    config.stash[POSTGRES_ONLY_DESELECTED] = len(deselected)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker("postgres_only")]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    count = config.stash.get(POSTGRES_ONLY_DESELECTED, 0)
    if count:
        database = make_url(PG_URL).get_backend_name() if PG_URL else "SQLite"
        terminalreporter.write_line(
            f"postgres_only: {count} test(s) run on PostgreSQL only (TEST_DATABASE_URL is {database}); "
            "CI runs them in its PostgreSQL run"
        )


_BODIES = threading.local()  # the response bodies of the request a server thread is handling


def _closing_bodies(app):
    """``app``, noting each response body it returns, for :class:`_QuietHandler` to close."""

    def noted(environ, start_response):
        body = app(environ, start_response)
        _BODIES.open.append(body)
        return body

    return noted


class _QuietHandler(WSGIRequestHandler):
    """Keep the access log out of the test output; errors are still logged. A response body is closed when its
    request ends, however it ended: Werkzeug's server skips closing it when the browser resets the connection
    while it drains the request (a page closed during its favicon), leaving the file open (a ResourceWarning)."""

    def log_request(self, code="-", size="-") -> None:
        pass

    def run_wsgi(self) -> None:
        _BODIES.open = []
        try:
            super().run_wsgi()
        finally:
            for body in _BODIES.open:
                if hasattr(body, "close"):
                    body.close()  # a second close does nothing


@contextmanager
def serving(app, name: str = "test-server") -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 and a port the OS chooses, in a thread; yield its base URL."""
    server = make_server("127.0.0.1", 0, _closing_bodies(app), threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
