"""A certificate folder that cannot be written, the revocation date, and printing to a missing folder
(issue 12, item 9).

The tests run as root, where a read-only mode does not stop a write: a full or
read-only disk is simulated by the write itself failing with the errno the
kernel would give (after writing part of the file, as a full disk does), and a
folder that cannot exist by a path under a regular file.
"""

from __future__ import annotations

import errno
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask_babel import gettext
from sqlalchemy import func, select

from shegong_academy.core.storage import FileStorage
from shegong_academy.credentials.models import Certificate, CredentialType, SerialCounter
from shegong_academy.credentials.services import issue_certificate, revoke_certificate
from shegong_academy.extensions import db
from shegong_academy.people.models import Person
from tests.conftest import use_storage
from tests.credentials.test_credentials import _credential, _trained, issue_unrendered
from tests.factories import World, login

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:fontTools.*")

FULL = "The certificate PDF could not be saved: the certificate folder is full. Please tell the administrator."
READ_ONLY = (
    "The certificate PDF could not be saved: the certificate folder is read-only. Please tell the administrator."
)
UNWRITABLE = (
    "The certificate PDF could not be saved: the certificate folder cannot be written. Please tell the administrator."
)


def _failing_write(monkeypatch, code: int) -> None:
    """Every Path.write_bytes writes half its data, then fails with ``code``."""

    def write_bytes(self: Path, data: bytes) -> int:
        with open(self, "wb") as fh:
            fh.write(data[: len(data) // 2])
        raise OSError(code, os.strerror(code), str(self))

    monkeypatch.setattr(Path, "write_bytes", write_bytes)


def _failing_store(monkeypatch, code: int) -> None:
    """The store's writes fail with ``code`` (tests/test_storage.py shows a failed write leaves no file)."""

    def put(self, key: str, data: bytes, content_type: str = "") -> None:
        raise OSError(code, os.strerror(code), str(self.path(key)))

    monkeypatch.setattr(FileStorage, "put", put)


def _no_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if p.is_file()]


def _setup(app, storage: Path) -> dict:
    use_storage(app, storage)
    with app.app_context():
        w = World()
        cred = _credential(w)
        _trained(w, [w.person])
        db.session.commit()
        return {"credential": cred.id, "person": w.person.id, "name": cred.name}


def _nothing_issued(app, person_id: int) -> None:
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Certificate)) == 0
        assert db.session.scalar(select(func.coalesce(func.sum(SerialCounter.last_seq), 0))) == 0
        assert db.session.get(Person, person_id).category == "community_worker"  # no transition either


def _message(app, msgid: str, **kw) -> str:
    with app.test_request_context():
        return gettext(msgid, **kw)


def test_a_full_folder_is_said_clearly_and_rolls_the_approval_back(app, tmp_path, monkeypatch):
    storage = tmp_path / "pdfs"
    ids = _setup(app, storage)
    client = app.test_client()
    login(client, "coord")
    _failing_store(monkeypatch, errno.ENOSPC)
    page = client.post(
        f"/credentials/{ids['credential']}/approve",
        data={"person_id": [ids["person"]], "confirmed": "1"},
        follow_redirects=True,
    )
    assert page.status_code == 200
    stopped = _message(app, "Issuing stopped: %(reason)s", reason=_message(app, FULL))
    assert stopped.replace("“", "").replace("”", "") in page.text.replace("“", "").replace("”", "")
    _nothing_issued(app, ids["person"])
    assert _no_files(storage)


def test_a_read_only_folder_stops_the_issue_command_cleanly(app, tmp_path, monkeypatch):
    storage = tmp_path / "pdfs"
    ids = _setup(app, storage)
    _failing_store(monkeypatch, errno.EROFS)
    result = app.test_cli_runner().invoke(args=["lms", "certificates", "issue", "--credential", ids["name"]])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)  # a message, not a traceback
    assert f"issuing stopped: {READ_ONLY}" in result.output and "certificates issued: 0" in result.output
    _nothing_issued(app, ids["person"])
    assert _no_files(storage)


def test_a_folder_that_cannot_be_made_is_a_clear_503(app, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    ids = _setup(app, blocker / "pdfs")
    with app.app_context():  # a certificate issued without its PDF (rendered on first download)
        cert = issue_unrendered(ids["credential"], ids["person"])
        db.session.commit()
        cert_id = cert.id
    client = app.test_client()
    login(client, "coord")
    r = client.get(f"/certificates/{cert_id}.pdf")
    assert r.status_code == 503 and _message(app, UNWRITABLE) in r.text
    with app.app_context():
        assert db.session.get(Certificate, cert_id).pdf_path is None
    assert blocker.read_text() == "not a folder"


def test_the_issue_service_raises_unavailable_and_leaves_no_temporary_file(app, tmp_path, monkeypatch):
    from shegong_academy.core.domain import Unavailable

    storage = tmp_path / "pdfs"
    ids = _setup(app, storage)
    _failing_store(monkeypatch, errno.EDQUOT)
    with app.app_context():
        with pytest.raises(Unavailable) as caught:
            issue_certificate(
                credential=db.session.get(CredentialType, ids["credential"]),
                person=db.session.get(Person, ids["person"]),
                actor=None,
            )
        assert caught.value.status == 503 and str(caught.value.message) == _message(app, FULL)
        db.session.rollback()
    assert _no_files(storage)


def test_revoked_on_is_the_local_date_like_issued_on(app, tmp_path, monkeypatch):
    ids = _setup(app, tmp_path / "pdfs")
    with app.app_context():
        cert = issue_unrendered(ids["credential"], ids["person"])
        # 23:30 UTC on 1 January is 07:30 on 2 January in Asia/Shanghai
        monkeypatch.setattr(
            "shegong_academy.credentials.services.utcnow", lambda: datetime(2026, 1, 1, 23, 30, tzinfo=UTC)
        )
        revoke_certificate(certificate=cert, reason="信息有误", actor=None)
        db.session.commit()
        code = cert.verification_code
    client = app.test_client()
    assert client.get(f"/api/v1/verify/{code}").json["revoked_on"] == "2026-01-02"
    assert "2026-01-02" in client.get(f"/verify/{code}").text


def test_printing_to_a_missing_folder_says_so_without_a_traceback(app, tmp_path):
    ids = _setup(app, tmp_path / "pdfs")
    runner = app.test_cli_runner()
    runner.invoke(args=["lms", "certificates", "issue", "--credential", ids["name"]])
    missing = tmp_path / "missing" / "dir" / "x.pdf"
    result = runner.invoke(args=["lms", "certificates", "print", "--credential", ids["name"], "--out", str(missing)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert f"the folder {missing.parent} does not exist" in result.output
    assert not (tmp_path / "missing").exists()


def test_printing_to_a_full_disk_says_so_and_leaves_nothing(app, tmp_path, monkeypatch):
    ids = _setup(app, tmp_path / "pdfs")
    runner = app.test_cli_runner()
    runner.invoke(args=["lms", "certificates", "issue", "--credential", ids["name"]])
    out = tmp_path / "print"
    out.mkdir()
    _failing_write(monkeypatch, errno.ENOSPC)
    result = runner.invoke(
        args=["lms", "certificates", "print", "--credential", ids["name"], "--out", str(out / "all.pdf")]
    )
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "No space left on device" in result.output
    assert list(out.iterdir()) == []
