"""The bulk approval service ``issue_to_people`` and its summary (issue 13).

Each person is issued in a savepoint: a refusal is counted with its message and the rest go on; people
who already hold a valid certificate are counted as held. Certificates are rendered a batch at a time
(``RENDER_BATCH`` people, one layout) and kept only with their stored PDFs: a storage failure stops
issuing at once and says why, taking back its batch and keeping the batches before it. PDFs are not
rendered (render=False, or a stub renderer) except where a test reads them.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import subprocess
from datetime import timedelta

import pytest
from sqlalchemy import func, select

import shegong_academy.credentials.render as render_module
from shegong_academy.core.db import utcnow
from shegong_academy.core.i18n import _l
from shegong_academy.core.storage import FileStorage, storage
from shegong_academy.credentials import services
from shegong_academy.credentials.models import Certificate, SerialCounter
from shegong_academy.credentials.services import (
    IssueSummary,
    held_certificate,
    issue_certificate,
    issue_to_people,
    pdf_key,
)
from shegong_academy.extensions import db
from tests.conftest import use_storage
from tests.credentials.test_credentials import _credential, _trained
from tests.factories import World, person

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:fontTools.*")

PSW = "project_social_worker"


@pytest.fixture
def w(ctx, tmp_path):
    use_storage(ctx, tmp_path / "pdfs")
    return World()


def certificates_of(p) -> int:
    return db.session.scalar(select(func.count(Certificate.id)).where(Certificate.person_id == p.id))


def issue(cred, people_or_ids, actor, render=False) -> IssueSummary:
    ids = [getattr(p, "id", p) for p in people_or_ids]
    return issue_to_people(credential=cred, person_ids=ids, actor=actor, render=render)


def test_the_summary_counts_issued_held_and_refused_people_separately(w):
    cred = _credential(w)
    newcomer, holder = person(w.community, "欧阳娜娜"), person(w.street, "司马懿")
    _trained(w, [newcomer, holder])
    issue_certificate(credential=cred, person=holder, actor=w.coord, render=False)
    summary = issue(
        cred,
        [
            newcomer,  # trained: issued
            holder,  # holds a valid certificate: held
            w.trainee_person,  # 钱七, untrained: refused
            w.person2,  # 王五, already a project social worker: refused
            w.outsider,  # 赵六, another district's: refused
            987654,  # nobody: refused
        ],
        w.coord,
    )
    assert (summary.issued, summary.held, len(summary.refused), summary.stopped) == (1, 1, 4, None)
    refusals = [str(m) for m in summary.refused]
    assert "钱七" in refusals[0] and "王五" in refusals[1]  # in the order asked, naming who
    assert refusals[2] == refusals[3] == str(_l("Not found."))  # out of scope says no more than unknown
    assert (certificates_of(newcomer), certificates_of(holder)) == (1, 1)
    assert newcomer.category == PSW  # the transition applied to the one issued
    assert db.session.scalar(select(func.count(Certificate.id))) == 2
    assert db.session.scalar(select(func.sum(SerialCounter.last_seq))) == 2  # no serial spent on a refusal


def test_a_refusal_neither_stops_nor_undoes_the_people_around_it(w):
    cred = _credential(w)
    first, last = person(w.community, "诸葛亮"), person(w.community, "黄月英")
    _trained(w, [first, last])
    summary = issue(cred, [first, w.trainee_person, 123456, last], w.coord)
    assert (summary.issued, summary.held, len(summary.refused)) == (2, 0, 2)
    assert held_certificate(cred, first) is not None and held_certificate(cred, last) is not None
    assert certificates_of(w.trainee_person) == 0 and w.trainee_person.category == "community_worker"


def test_a_person_listed_twice_is_issued_once(w):
    cred = _credential(w)
    _trained(w, [w.person])
    summary = issue(cred, [w.person, w.person, w.person], w.coord)
    assert (summary.issued, summary.held, summary.refused) == (1, 0, [])
    assert certificates_of(w.person) == 1


def test_approving_again_counts_holders_as_held_even_after_their_transition(w):
    cred = _credential(w)
    _trained(w, [w.person])
    assert issue(cred, [w.person], w.coord).issued == 1
    assert w.person.category == PSW  # no longer of the "from" category, yet not refused:
    again = issue(cred, [w.person], w.coord)
    assert (again.issued, again.held, again.refused) == (0, 1, [])
    assert certificates_of(w.person) == 1


def test_an_expired_certificate_is_renewed_and_counted_as_issued(w):
    cred = _credential(w, validity_months=12, name="completion")
    cred.transition_from = cred.transition_to = None
    _trained(w, [w.person])
    old = issue_certificate(credential=cred, person=w.person, actor=w.coord, render=False)
    old.expires_at = utcnow() - timedelta(days=1)
    db.session.flush()
    summary = issue(cred, [w.person], w.coord)
    assert (summary.issued, summary.held, summary.refused) == (1, 0, [])
    assert held_certificate(cred, w.person).id != old.id and old.replaced_at is not None


def test_a_storage_failure_stops_issuing_says_why_and_keeps_the_batches_before(w, monkeypatch):
    cred = _credential(w)
    people = [person(w.community, name) for name in ("甲一", "乙二", "丙三", "丁四", "戊五")]
    _trained(w, people)
    monkeypatch.setattr(services, "RENDER_BATCH", 2)
    monkeypatch.setattr(render_module, "render_each", stub_render_each)  # no real rendering
    monkeypatch.setattr("shegong_academy.credentials.pdfsign.sign_pdf", lambda certificate, pdf: pdf)  # nor signing
    real_put, puts = FileStorage.put, []

    def put_then_fill_up(self, key, data, content_type="application/octet-stream"):
        puts.append(key)
        if len(puts) > 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), key)
        real_put(self, key, data, content_type)

    monkeypatch.setattr(FileStorage, "put", put_then_fill_up)
    summary = issue(cred, people, w.coord, render=True)
    assert (summary.issued, summary.held, summary.refused) == (2, 0, [])
    assert str(summary.stopped) == str(
        _l("The certificate PDF could not be saved: the certificate folder is full. Please tell the administrator.")
    )
    assert len(puts) == 4  # 丙三's PDF was stored, 丁四's was not; 戊五's batch was not tried
    # 丙三 and 丁四 were one batch: neither keeps a certificate, even 丙三 whose PDF had been stored
    assert [certificates_of(p) for p in people] == [1, 1, 0, 0, 0]
    assert [p.category for p in people] == [PSW, PSW, "community_worker", "community_worker", "community_worker"]
    assert db.session.scalar(select(func.sum(SerialCounter.last_seq))) == 2
    assert all(c.pdf_sha256 for c in db.session.scalars(select(Certificate)))  # none is kept without its PDF


def stub_render_each(design, contexts, batch=20):
    for c in contexts:
        yield f"%PDF-1.7 stub {c['serial']}".encode()


def test_bulk_issuing_stores_for_each_person_a_pdf_of_their_own_and_its_hash(w, monkeypatch):
    cred = _credential(w)
    names = ["甲一", "乙二", "丙三", "丁四", "戊五"]
    people = [person(w.community, name) for name in names]
    _trained(w, people)
    monkeypatch.setattr(services, "RENDER_BATCH", 2)  # three batches: two of two, one of one
    assert issue(cred, [*people, w.trainee_person], w.coord, render=True).issued == 5
    for p in people:
        [certificate] = db.session.scalars(select(Certificate).where(Certificate.person_id == p.id))
        pdf = storage().get(pdf_key(certificate))
        assert certificate.pdf_sha256 == hashlib.sha256(pdf).hexdigest()  # the hash of the bytes stored
        path = storage().path(pdf_key(certificate))
        text = re.sub(r"\s", "", _poppler("pdftotext", path, "-"))
        assert p.name in text and f"验证码：{certificate.verification_code}" in text
        assert f"证书编号：{certificate.serial}" in text
        assert [n for n in names if n != p.name and n in text] == []  # nobody else's name
        fonts = [line for line in _poppler("pdffonts", path).splitlines() if "CJK" in line]
        assert fonts and all(" yes yes yes " in line for line in fonts)
        assert "Pages:           1" in _poppler("pdfinfo", path)


def _poppler(*args) -> str:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, check=True, timeout=60).stdout
