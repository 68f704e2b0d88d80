"""The bulk approval service ``issue_to_people`` and its summary (issue 13).

Each person is issued in a savepoint: a refusal is counted with its message and the rest go on; people
who already hold a valid certificate are counted as held; a storage failure stops issuing at once and
says why, keeping what was issued before it. PDFs are not rendered (render=False, or a stub renderer).
"""

from __future__ import annotations

import errno
import os
from datetime import timedelta

import pytest
from sqlalchemy import func, select

import shegong_academy.credentials.render as render_module
from shegong_academy.core.db import utcnow
from shegong_academy.core.i18n import _l
from shegong_academy.core.storage import FileStorage
from shegong_academy.credentials.models import Certificate, SerialCounter
from shegong_academy.credentials.services import IssueSummary, held_certificate, issue_certificate, issue_to_people
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


def test_a_storage_failure_stops_issuing_says_why_and_keeps_what_came_before(w, monkeypatch):
    cred = _credential(w)
    people = [person(w.community, name) for name in ("甲一", "乙二", "丙三")]
    _trained(w, people)
    monkeypatch.setattr(render_module, "render_pdf", lambda design, html: b"%PDF-1.7 stub")  # no real rendering
    real_put, puts = FileStorage.put, []

    def put_then_fill_up(self, key, data, content_type="application/octet-stream"):
        puts.append(key)
        if len(puts) > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), key)
        real_put(self, key, data, content_type)

    monkeypatch.setattr(FileStorage, "put", put_then_fill_up)
    summary = issue(cred, people, w.coord, render=True)
    assert (summary.issued, summary.held, summary.refused) == (1, 0, [])
    assert str(summary.stopped) == str(
        _l("The certificate PDF could not be saved: the certificate folder is full. Please tell the administrator.")
    )
    assert len(puts) == 2  # the third person was not tried
    assert [certificates_of(p) for p in people] == [1, 0, 0]
    assert [p.category for p in people] == [PSW, "community_worker", "community_worker"]  # 乙二's undone
    assert db.session.scalar(select(func.sum(SerialCounter.last_seq))) == 1
