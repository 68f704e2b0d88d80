"""Operations (issue 14, item 5): readiness, request ids in responses, logs and jobs, JSON logs, metrics,
reverse proxies, and the embedded mode's backup and restore."""

from __future__ import annotations

import io
import json
import tarfile
from datetime import date

import pytest
from sqlalchemy import func, select

from shegong_academy.auth.models import User
from shegong_academy.core.uow import transaction
from shegong_academy.extensions import db
from shegong_academy.jobs import services
from shegong_academy.jobs.models import Job
from shegong_academy.org.models import OrgUnit
from tests.conftest import make_app, migrate
from tests.factories import PASSWORD, World, person, user


def test_readyz_checks_every_dependency(client):
    r = client.get("/readyz")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    assert r.json == {"status": "ok", "checks": {"database": "ok", "redis": "ok", "storage": "ok", "queue": "ok"}}


def test_readyz_is_503_naming_what_does_not_answer_and_nothing_more(tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    app = make_app(
        "sqlite:////nonexistent-folder-for-lms-tests/academy.db",
        LMS_STORAGE_URL=(blocker / "store").as_uri(),
        LMS_REDIS_URL="redis://127.0.0.1:9/0",  # nothing listens there
        RATELIMIT_STORAGE_URI="memory://",
    )
    r = app.test_client().get("/readyz")
    assert r.status_code == 503 and r.mimetype == "application/json"
    assert r.json == {
        "status": "unavailable",
        "checks": {"database": "unavailable", "redis": "unavailable", "storage": "unavailable", "queue": "ok"},
    }
    assert "readiness: redis does not answer (ConnectionError)" in caplog.text
    with app.app_context():
        db.engine.dispose()


def test_a_request_id_is_answered_and_a_proxys_sane_one_kept(client):
    mine = client.get("/healthz")
    assert len(mine.headers["X-Request-ID"]) == 32
    assert client.get("/healthz", headers={"X-Request-ID": "nginx-4f2a9c1b"}).headers["X-Request-ID"] == (
        "nginx-4f2a9c1b"
    )
    for hostile in ("x", "a" * 65, "id with spaces", "<script>", "编号-12345678"):
        answered = client.get("/healthz", headers={"X-Request-ID": hostile}).headers["X-Request-ID"]
        assert answered != hostile and len(answered) == 32


def test_a_job_carries_the_id_of_the_request_that_submitted_it(app):
    with app.test_request_context(headers={"X-Request-ID": "req-0123456789"}):
        app.preprocess_request()
        with transaction():
            job = services.submit_job(kind="ledger.rebuild", params={}, actor=None, queue=False)
        assert job.request_id == "req-0123456789"


def test_json_logs_are_one_object_per_line_with_the_request_id(tmp_path, capfd):
    url = f"sqlite:///{tmp_path / 'json.db'}"
    migrate(url)
    app = make_app(url, LMS_LOG_FORMAT="json")
    capfd.readouterr()
    app.test_client().get("/readyz", headers={"X-Request-ID": "probe-0001-abcd"})  # database fine: nothing logged
    with app.test_request_context(headers={"X-Request-ID": "probe-0002-abcd"}):
        app.preprocess_request()
        app.logger.warning("coverage report of %s took %s s", "拱墅区", 3)
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    assert lines == [
        {
            "time": lines[0]["time"],
            "level": "WARNING",
            "logger": app.logger.name,
            "message": "coverage report of 拱墅区 took 3 s",
            "request_id": "probe-0002-abcd",
            "job_id": None,
        }
    ]
    with app.app_context():
        db.engine.dispose()


def test_metrics_are_off_by_default_and_count_requests_and_jobs_when_on(app, client, tmp_path):
    assert client.get("/metrics").status_code == 404
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    migrate(url)
    metered = make_app(url, LMS_METRICS=True)
    with metered.app_context():
        with transaction():
            services.submit_job(kind="ledger.rebuild", params={}, actor=None)  # runs at once (eager)
        with transaction():
            services.submit_job(kind="ledger.rebuild", params={"again": 1}, actor=None, queue=False)  # waits
    c = metered.test_client()
    c.get("/healthz")
    text = c.get("/metrics").get_data(as_text=True)
    assert 'lms_http_request_duration_seconds_count{endpoint="site.healthz",method="GET",status="200"}' in text
    assert 'lms_jobs_finished_total{kind="ledger.rebuild",state="done"}' in text
    assert "lms_jobs_queued 1.0" in text
    with metered.app_context():
        db.engine.dispose()


def test_behind_one_trusted_proxy_the_forwarded_scheme_and_host_are_used(tmp_path):
    url = f"sqlite:///{tmp_path / 'proxy.db'}"
    migrate(url)
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "academy.example.gov.cn"}
    proxied = make_app(url, LMS_PROXY_COUNT=1)
    seen = {}

    @proxied.get("/_probe")
    def _probe():
        from flask import request

        seen.update(scheme=request.scheme, host=request.host, addr=request.remote_addr)
        return "ok"

    proxied.test_client().get(
        "/_probe", headers={**forwarded, "X-Forwarded-For": "203.0.113.9"}, environ_base={"REMOTE_ADDR": "10.0.0.2"}
    )
    assert seen == {"scheme": "https", "host": "academy.example.gov.cn", "addr": "203.0.113.9"}
    untrusting = make_app(url)

    @untrusting.get("/_probe")
    def _probe2():
        from flask import request

        seen.update(scheme=request.scheme, host=request.host, addr=request.remote_addr)
        return "ok"

    untrusting.test_client().get(
        "/_probe", headers={**forwarded, "X-Forwarded-For": "203.0.113.9"}, environ_base={"REMOTE_ADDR": "10.0.0.2"}
    )
    assert seen == {"scheme": "http", "host": "localhost", "addr": "10.0.0.2"}  # a client cannot claim an address


@pytest.fixture
def embedded(tmp_path):
    """An embedded-mode app: an SQLite file and a folder store in its instance folder."""
    instance = tmp_path / "instance"
    instance.mkdir()
    url = f"sqlite:///{instance / 'academy.db'}"
    migrate(url)
    app = make_app(url, LMS_STORAGE_URL=(instance / "files").as_uri())
    yield app, instance
    with app.app_context():
        db.engine.dispose()


def _units(app) -> list[str]:
    with app.app_context():
        names = sorted(db.session.scalars(select(OrgUnit.name)))
        db.session.remove()
        return names


def test_backup_and_restore_bring_back_the_database_and_the_files(embedded, tmp_path):
    app, instance = embedded
    with app.app_context():
        World()
        db.session.commit()
        from shegong_academy.core.storage import storage

        storage().put("certificates/GSMZ-2026-00001.pdf", "%PDF 证书".encode(), "application/pdf")
    before = _units(app)
    runner = app.test_cli_runner()
    archive = tmp_path / "backup.tar.gz"
    result = runner.invoke(args=["lms", "backup", "--out", str(archive)])
    assert result.exit_code == 0, result.output
    assert "1 file(s)" in result.output and (archive.stat().st_mode & 0o777) == 0o600

    # Later: a unit is renamed, the file deleted, another written.
    with app.app_context():
        unit = db.session.scalar(select(OrgUnit).where(OrgUnit.name == "拱墅区"))
        unit.name = "改名区"
        db.session.commit()
        storage().delete("certificates/GSMZ-2026-00001.pdf")
        storage().put("certificates/GSMZ-2026-00002.pdf", b"%PDF later", "application/pdf")
    assert _units(app) != before

    refused = runner.invoke(args=["lms", "restore", str(archive)], input="n\n")
    assert refused.exit_code == 1 and "replaces the current database" in refused.output
    assert _units(app) != before  # asked, and nothing was done
    restored = runner.invoke(args=["lms", "restore", str(archive), "--yes"])
    assert restored.exit_code == 0, restored.output
    assert _units(app) == before
    files = instance / "files" / "certificates"
    assert sorted(p.name for p in files.iterdir()) == ["GSMZ-2026-00001.pdf"]
    assert (files / "GSMZ-2026-00001.pdf").read_bytes() == "%PDF 证书".encode()
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Job)) == 0


def test_restore_refuses_what_is_not_a_backup_and_changes_nothing(embedded, tmp_path):
    app, _instance = embedded
    with app.app_context():
        World()
        db.session.commit()
    before = _units(app)
    runner = app.test_cli_runner()
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not an archive")
    result = runner.invoke(args=["lms", "restore", str(junk), "--yes"])
    assert result.exit_code == 1 and "not a backup archive" in result.output
    # A tar that climbs out of its folder (and has a manifest and a database) is refused too.
    hostile = tmp_path / "hostile.tar.gz"
    with tarfile.open(hostile, "w:gz") as tar:
        for name, data in (
            ("manifest.json", json.dumps({"format": 1, "created_at": "x", "revision": None, "files": 0}).encode()),
            ("database.sqlite", b""),
            ("../../escaped.txt", b"gotcha"),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    result = runner.invoke(args=["lms", "restore", str(hostile), "--yes"])
    assert result.exit_code == 1
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path.parent / "escaped.txt").exists()
    assert _units(app) == before


def test_backup_refuses_an_object_store_and_postgresql(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'x.db'}", LMS_STORAGE_URL="s3://bucket/prefix")
    result = app.test_cli_runner().invoke(args=["lms", "backup", "--out", str(tmp_path / "b.tar.gz")])
    assert result.exit_code == 1 and "object store" in result.output
    assert not (tmp_path / "b.tar.gz").exists()


def _keyed_app(url, secret, fallbacks=(), data_key="data-key-one-" + "d" * 40):
    return make_app(
        url, SECRET_KEY=secret, LMS_SECRET_KEY=secret, LMS_SECRET_KEY_FALLBACKS=list(fallbacks), LMS_DATA_KEY=data_key
    )


def test_a_rotated_secret_keeps_people_signed_in_while_the_old_one_is_a_fallback(tmp_path):
    url = f"sqlite:///{tmp_path / 'rotate.db'}"
    migrate(url)
    old, new = "old-secret-" + "o" * 40, "new-secret-" + "n" * 40
    before = _keyed_app(url, old)
    with before.app_context():
        World()
        db.session.commit()
    client = before.test_client()
    assert client.post("/login", data={"username": "coord", "password": PASSWORD}).status_code == 302
    signed = client.get_cookie("lms_session", path="/").value
    assert client.get("/account/password").status_code == 200

    rotated = _keyed_app(url, new, fallbacks=[old]).test_client()
    rotated.set_cookie("lms_session", signed)
    assert rotated.get("/account/password").status_code == 200  # still signed in
    dropped = _keyed_app(url, new).test_client()
    dropped.set_cookie("lms_session", signed)
    assert dropped.get("/account/password").status_code == 302  # the old key is no longer accepted
    for app in (before,):
        with app.app_context():
            db.engine.dispose()


def test_rotating_the_data_key_reencrypts_id_numbers_and_notes_or_changes_nothing(tmp_path, monkeypatch):
    from shegong_academy.core.crypto import decrypt_text
    from shegong_academy.people.models import Person
    from shegong_academy.people.services import id_number_digest, reveal_id_number
    from shegong_academy.supervision.models import SupervisionRecord
    from shegong_academy.supervision.services import record_supervision

    url = f"sqlite:///{tmp_path / 'datakey.db'}"
    migrate(url)
    secret, k1, k2 = "secret-" + "s" * 40, "data-key-one-" + "1" * 40, "data-key-two-" + "2" * 40
    first = _keyed_app(url, secret, data_key=k1)
    with first.app_context():
        w = World()
        supervisor = person(w.street, "孙督导")
        user("supervisor", "supervisor", w.district, person=supervisor)
        record_supervision(
            data={
                "format": "individual",
                "mode": "onsite",
                "held_on": date(2022, 5, 20),
                "hours": 2,
                "topic": "个案督导",
                "notes": "案主情绪低落，需跟进",
            },
            supervisor=supervisor,
            supervisees=[w.person],
            actor=w.coord,
        )
        db.session.commit()
        ids = {p.id: reveal_id_number(person=p, actor=w.admin) for p in db.session.scalars(select(Person))}
        db.session.commit()
    second = _keyed_app(url, secret, data_key=k2)
    runner = second.test_cli_runner()

    def stored():
        with second.app_context():
            rows = [(p.id_number_enc, p.id_number_hash) for p in db.session.scalars(select(Person).order_by(Person.id))]
            db.session.remove()
            return rows

    untouched = stored()
    monkeypatch.setenv("LMS_DATA_KEY_PREVIOUS", "not-the-key-" + "x" * 40)
    wrong = runner.invoke(args=["lms", "rotate-data-key"])
    assert wrong.exit_code == 1 and "does not decrypt the stored data: nothing was changed" in wrong.output
    assert stored() == untouched

    monkeypatch.setenv("LMS_DATA_KEY_PREVIOUS", k1)
    done = runner.invoke(args=["lms", "rotate-data-key"])
    assert done.exit_code == 0, done.output
    assert f"re-encrypted {len(ids)} ID number(s), 1 supervision note(s) and 0 signing key(s)" in done.output
    with second.app_context():
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        for someone in db.session.scalars(select(Person)):
            assert reveal_id_number(person=someone, actor=admin) == ids[someone.id]
            assert someone.id_number_hash == id_number_digest(ids[someone.id])  # duplicates are still found
        record = db.session.scalar(select(SupervisionRecord))
        assert decrypt_text(record.notes_enc) == "案主情绪低落，需跟进"
        db.session.remove()
        db.engine.dispose()
    with first.app_context():
        db.engine.dispose()
