"""One valid certificate per person and credential, however many approvals, reissues or runs race.

Real threads, each with its own app context, session and connection (see
tests/training/test_concurrency.py), and real processes for the command line.
Runs on SQLite (BEGIN IMMEDIATE, WAL, busy timeout) and on PostgreSQL
(``TEST_DATABASE_URL``), where the issuer's counter row lock decides.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from shegong_academy.audit.models import AuditEntry
from shegong_academy.core.db import utcnow
from shegong_academy.credentials.models import Certificate, CredentialType, SerialCounter
from shegong_academy.credentials.services import issue_certificate
from shegong_academy.extensions import db
from shegong_academy.people.models import Person
from tests.conftest import TEST_CONFIG, make_app
from tests.credentials.test_credentials import _credential, _trained, issue_unrendered
from tests.factories import World, login, person
from tests.training.test_concurrency import N, together, unexpected

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:fontTools.*")
ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def capp(db_url, tmp_path):
    """An app whose pool holds a connection for every thread, storing PDFs in the test's folder."""
    app = make_app(
        db_url,
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True, "pool_size": N + 5, "max_overflow": 0},
        LMS_STORAGE_URL=(tmp_path / "pdfs").as_uri(),
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _world(capp, **credential) -> dict:
    with capp.app_context():
        w = World()
        cred = _credential(w, **credential)
        _trained(w, [w.person])
        db.session.commit()
        return {"credential": cred.id, "person": w.person.id}


def _clients(capp, n: int = N) -> list:
    """``n`` clients sharing one signed-in coordinator's cookie: one browser clicking again and again."""
    first = capp.test_client()
    assert login(first, "coord").status_code == 302
    cookie = first.get_cookie("lms_session").value
    clients = [capp.test_client() for _ in range(n)]
    for client in clients:
        client.set_cookie("lms_session", cookie)
    return clients


def _certificates(person_id: int) -> list[Certificate]:
    return list(
        db.session.scalars(select(Certificate).where(Certificate.person_id == person_id).order_by(Certificate.id))
    )


def _valid(person_id: int) -> list[Certificate]:
    return [c for c in _certificates(person_id) if c.status == "valid" and c.replaced_at is None]


def _last_seq() -> int:
    return db.session.scalar(select(func.sum(SerialCounter.last_seq))) or 0


def test_twenty_approvals_of_one_person_issue_one_certificate(capp, tmp_path):
    ids = _world(capp)
    clients = _clients(capp)
    url = f"/credentials/{ids['credential']}/approve"

    def approve(i: int):
        r = clients[i].post(url, data={"person_id": [ids["person"]], "confirmed": "1"})
        return r.status_code

    results = together(capp, approve)
    assert unexpected(results) == []
    assert results == [302] * N
    with capp.app_context():
        certificates = _certificates(ids["person"])
        assert len(certificates) == 1 and certificates[0].status == "valid"
        assert certificates[0].serial.endswith("-00001")
        assert _last_seq() == 1  # the nineteen losers took no serial: no gap
        issued = select(func.count()).where(AuditEntry.action == "certificate.issue")
        assert db.session.scalar(issued) == 1
        assert db.session.get(Person, ids["person"]).category == "project_social_worker"
    assert sorted(p.name for p in (tmp_path / "pdfs" / "certificates").iterdir()) == [f"{certificates[0].serial}.pdf"]
    # the losers were told: the page after the redirect says the person already held it
    page = clients[0].get(f"/credentials/{ids['credential']}?show=issued")
    assert certificates[0].serial in page.text


@pytest.mark.parametrize("expires_in_days", [-1, 30], ids=["expired", "due-within-the-window"])
def test_twenty_renewals_of_a_certificate_make_one(capp, expires_in_days):
    ids = _world(capp, validity_months=12, name="completion")
    with capp.app_context():
        cred = db.session.get(CredentialType, ids["credential"])
        cred.transition_from = cred.transition_to = None
        old = issue_certificate(credential=cred, person=db.session.get(Person, ids["person"]), actor=None, render=False)
        old.expires_at = utcnow() + timedelta(days=expires_in_days)
        db.session.commit()
        old_id = old.id
    clients = _clients(capp)
    url = f"/credentials/{ids['credential']}/approve"
    form = {"person_id": [ids["person"]], "confirmed": "1", "renew": "1"}
    results = together(capp, lambda i: clients[i].post(url, data=form).status_code)
    assert results == [302] * N
    with capp.app_context():
        valid = _valid(ids["person"])
        assert len(_certificates(ids["person"])) == 2 and len(valid) == 1
        assert valid[0].id != old_id and valid[0].serial.endswith("-00002")
        old = db.session.get(Certificate, old_id)
        # The renewal supersedes it: it verifies as "superseded by" the new one (and its status-list bit is set).
        assert old.replaced_at is not None and old.superseded_by_id == valid[0].id
        assert _last_seq() == 2


def test_twenty_reissues_at_once_make_one_replacement(capp):
    ids = _world(capp)
    with capp.app_context():
        cert = issue_unrendered(ids["credential"], ids["person"])
        db.session.commit()
        old_id = cert.id
    clients = _clients(capp)
    results = together(
        capp, lambda i: clients[i].post(f"/certificates/{old_id}/reissue", data={"confirmed": "1"}).status_code
    )
    assert results == [302] * N  # one to the new certificate, the rest back with "already reissued as …"
    with capp.app_context():
        certificates = _certificates(ids["person"])
        assert len(certificates) == 2
        old, new = certificates
        assert (old.superseded_by_id, new.replaces_id) == (new.id, old.id)
        assert old.replaced_at is not None and _valid(ids["person"]) == [new]
        new_serial = new.serial
        assert _last_seq() == 2
        assert db.session.scalar(select(func.count()).where(AuditEntry.action == "certificate.reissue")) == 1
    page = clients[0].get(f"/certificates/{old_id}")
    assert new_serial in page.text


def _issue_command(db_url: str, storage: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "LMS_SECRET_KEY": TEST_CONFIG["SECRET_KEY"],
        "LMS_STORAGE_URL": storage.as_uri(),
    }
    args = [sys.executable, "-m", "flask", "--app", "wsgi", "lms", "certificates", "issue", "--credential", "psw"]
    return subprocess.Popen(
        [*args, "--unit", "330105"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_two_issue_commands_at_once_issue_each_person_once(app, db_url, tmp_path):
    with app.app_context():
        w = World()
        _credential(w)
        people = [person(w.community, f"学员{i}") for i in range(6)]
        _trained(w, people)
        db.session.commit()
        ids = [p.id for p in people]
        db.session.remove()  # no transaction left open (on SQLite it would hold the write lock)
    runs = [_issue_command(db_url, tmp_path / "pdfs") for _ in range(2)]
    outputs = [run.communicate(timeout=300) for run in runs]
    for run, (_out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err
        assert "Traceback" not in err
    counts = [int(out.split("certificates issued: ")[1].split()[0]) for out, _err in outputs]
    assert sum(counts) == len(ids)  # between them, each person once
    with app.app_context():
        rows = db.session.execute(select(Certificate.person_id, Certificate.serial)).all()
        assert sorted(pid for pid, _ in rows) == sorted(ids)
        assert sorted(int(serial.rsplit("-", 1)[1]) for _, serial in rows) == list(range(1, len(ids) + 1))
        assert _last_seq() == len(ids)
    assert not [p for p in (tmp_path / "pdfs").rglob("*") if p.is_file() and p.suffix != ".pdf"]
