"""At most one valid certificate per person and credential: the partial unique index, the service's answer when
the index catches a race, and migration 0007 for databases that already hold duplicates."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from flask_migrate import upgrade
from sqlalchemy import DateTime, func, select, text
from sqlalchemy.exc import IntegrityError

from shegong_academy.audit.models import AuditEntry
from shegong_academy.core.db import utcnow
from shegong_academy.core.domain import Conflict
from shegong_academy.credentials import services
from shegong_academy.credentials.models import Certificate, SerialCounter
from shegong_academy.credentials.services import (
    issue_certificate,
    reissue_certificate,
    revoke_certificate,
    verification_status,
)
from shegong_academy.extensions import db
from tests.conftest import MIGRATIONS, _pg_database, is_postgres, make_app, use_storage
from tests.credentials.test_credentials import _credential, _trained
from tests.factories import World, forged
from tests.test_migrations import drop_database

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:fontTools.*")


@pytest.fixture
def w(ctx, tmp_path):
    use_storage(ctx, tmp_path / "pdfs")
    return World()


def _completion(w):
    """A credential without a transition, so that the same person can be issued it again."""
    cred = _credential(w, name="completion", validity_months=12)
    cred.transition_from = cred.transition_to = None
    _trained(w, [w.person])
    return cred


def _copy(certificate: Certificate, **changes) -> Certificate:
    """A second row for the same person and credential, written behind the service's back."""
    fields = {
        c.key: getattr(certificate, c.key)
        for c in Certificate.__table__.columns
        if c.key not in ("id", "replaced_at", "status_index", "serial_key")
    }
    fields.update(serial=certificate.serial + "-X", verification_code=forged(certificate.verification_code), **changes)
    copy = Certificate(**fields)
    db.session.add(copy)
    return copy


def test_the_database_refuses_a_second_valid_certificate(w):
    cred = _completion(w)
    first = issue_certificate(credential=cred, person=w.person, actor=None, render=False)
    db.session.commit()
    with pytest.raises(IntegrityError), db.session.begin_nested():
        _copy(first)
        db.session.flush()
    # A revoked, a replaced or another person's certificate is not a second valid one.
    _copy(first, status="revoked")
    replaced = _copy(first)
    replaced.serial, replaced.verification_code, replaced.replaced_at = "R-1", "R-1", utcnow()
    other = _copy(first, person_id=w.trainee_person.id)
    other.serial = other.verification_code = "O-1"
    db.session.flush()
    assert db.session.scalar(select(func.count()).select_from(Certificate)) == 4


def _blind_once(monkeypatch) -> list:
    """Make the service's check before the insert miss what the person holds, once (as a request whose lock
    was another year's counter would); the check after the index fired sees it again."""
    real, calls = services.held_certificate, []

    def blind(credential, person):
        calls.append(person.id)
        return None if len(calls) == 1 else real(credential, person)

    monkeypatch.setattr(services, "held_certificate", blind)
    return calls


def test_a_race_the_index_catches_is_answered_with_the_winners_certificate(w, monkeypatch):
    cred = _completion(w)
    first = issue_certificate(credential=cred, person=w.person, actor=w.coord)
    db.session.commit()
    calls = _blind_once(monkeypatch)
    again = issue_certificate(credential=cred, person=w.person, actor=w.coord)
    assert len(calls) == 2  # the insert reached the index
    assert again.id == first.id
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Certificate)) == 1
    assert db.session.scalar(select(SerialCounter.last_seq)) == 1  # the savepoint gave the serial back
    assert db.session.scalar(select(func.count()).where(AuditEntry.action == "certificate.issue")) == 1


def test_a_reissue_the_index_refuses_is_a_conflict(w, monkeypatch):
    cred = _completion(w)
    revoked = issue_certificate(credential=cred, person=w.person, actor=w.coord, render=False)
    revoke_certificate(certificate=revoked, reason="信息有误", actor=w.coord)
    current = issue_certificate(credential=cred, person=w.person, actor=w.coord, render=False)
    db.session.commit()
    # Reissuing the revoked one while another is valid: the service says so ...
    with pytest.raises(Conflict, match=current.serial):
        reissue_certificate(certificate=revoked, actor=w.coord)
    # ... and so does the index when the check missed it.
    _blind_once(monkeypatch)
    with pytest.raises(Conflict, match=current.serial):
        reissue_certificate(certificate=revoked, actor=w.coord)
    db.session.rollback()
    assert revoked.replaced_at is None and revoked.superseded_by_id is None
    assert db.session.scalar(select(func.sum(SerialCounter.last_seq))) == 2


def test_a_reissue_or_renewal_marks_the_old_certificate_replaced_first(w):
    cred = _completion(w)
    first = issue_certificate(credential=cred, person=w.person, actor=w.coord, render=False)
    second = reissue_certificate(certificate=first, actor=w.coord)
    assert first.replaced_at is not None and first.superseded_by_id == second.id
    assert verification_status(first) == "superseded"
    with pytest.raises(Conflict, match=second.serial):  # reissuing the old one again names its successor
        reissue_certificate(certificate=first, actor=w.coord)
    second.expires_at = utcnow() - timedelta(days=1)
    third = issue_certificate(credential=cred, person=w.person, actor=w.coord, render=False)
    # A renewal supersedes the expired one: it verifies as "superseded by" the renewal, which replaces it.
    assert second.replaced_at is not None and second.superseded_by_id == third.id and third.replaces_id == second.id
    assert verification_status(second) == "superseded" and verification_status(third) == "valid"
    held = services.held_certificate(cred, w.person)
    assert held.id == third.id


T1, T2, T3 = datetime(2024, 3, 1, 2, 0), datetime(2024, 6, 1, 2, 0), datetime(2025, 9, 1, 2, 0)


def test_0007_marks_existing_duplicates_replaced_without_deleting_any(tmp_path):
    url = _pg_database("_migration_0007") if is_postgres() else f"sqlite:///{tmp_path / 'm.db'}"
    app = make_app(url)
    with app.app_context():
        upgrade(directory=MIGRATIONS, revision="0006_cohort_names")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO org_units (id, code, name, kind, path, depth)"
                    " VALUES (1, '330105', '拱墅区', 'district', '/1/', 0)"
                )
            )
            for pid in (1, 2):
                conn.execute(
                    text(
                        "INSERT INTO people (id, unit_id, name, id_number_hash, id_number_enc, id_number_masked,"
                        " category, level, titles, service_areas, active, created_at, updated_at)"
                        " VALUES (:id, 1, :name, :hash, 'x', '330105********0000', 'community_worker', 'none',"
                        " '[]', '[]', true, :t, :t)"
                    ),
                    {"id": pid, "name": f"学员{pid}", "hash": f"{pid:064x}", "t": T1},
                )
            for cid, name in ((1, "psw"), (2, "ce")):
                conn.execute(
                    text(
                        "INSERT INTO credential_types (id, name, title, language, design, issuer_unit_id, issuer_name,"
                        " issuer_code, serial_format, required_program_ids, created_at)"
                        " VALUES (:id, :name, '证书', 'zh_CN', 'transition-zh', 1, '民政局', 'GSMZ',"
                        " '{issuer_code}-{year}-{seq:05d}', '[]', :t)"
                    ),
                    {"id": cid, "name": name, "t": T1},
                )
            insert = text(
                "INSERT INTO certificates (id, credential_id, person_id, serial, verification_code, status, issued_at,"
                " expires_at, superseded_by_id, claims, design, design_version)"
                " VALUES (:id, :cred, :person, :serial, :serial, :status, :issued, :expires, :by, '{}', 'd', '1')"
            )
            for cid, cred, pid, status, issued, expires, by in (
                (1, 1, 1, "valid", T1, None, None),  # three valid at once (the race): 3 stays
                (2, 1, 1, "valid", T2, None, None),
                (3, 1, 1, "valid", T3, None, None),
                (4, 2, 1, "valid", T1, T2, None),  # expired before 5 was issued: renewed, not superseded
                (5, 2, 1, "valid", T3, None, None),
                (7, 1, 2, "valid", T2, None, None),  # a reissue made the right way: unchanged
                (8, 2, 2, "valid", T1, None, None),
            ):
                conn.execute(
                    insert,
                    {
                        "id": cid,
                        "cred": cred,
                        "person": pid,
                        "serial": f"S-{cid}",
                        "status": status,
                        "issued": issued,
                        "expires": expires,
                        "by": by,
                    },
                )
            conn.execute(
                insert,
                {
                    "id": 6,
                    "cred": 1,
                    "person": 2,
                    "serial": "S-6",
                    "status": "revoked",
                    "issued": T1,
                    "expires": None,
                    "by": 7,
                },
            )
        upgrade(directory=MIGRATIONS)
        with db.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT id, status, superseded_by_id, replaced_at FROM certificates ORDER BY id").columns(
                    replaced_at=DateTime()
                )
            ).all()
            audit = conn.execute(
                text(
                    "SELECT entity_id, actor_name FROM audit_entries WHERE action = 'certificate.deduplicate'"
                    " ORDER BY entity_id"
                )
            ).all()
        with db.engine.begin() as conn, pytest.raises(IntegrityError):  # and the index is there
            conn.execute(
                insert,
                {
                    "id": 9,
                    "cred": 1,
                    "person": 1,
                    "serial": "S-9",
                    "status": "valid",
                    "issued": T3,
                    "expires": None,
                    "by": None,
                },
            )
        db.engine.dispose()
    if is_postgres():
        drop_database(url)
    assert [(i, s, by, at) for i, s, by, at in rows] == [
        (1, "valid", 3, T3),
        (2, "valid", 3, T3),
        (3, "valid", None, None),
        (4, "valid", None, T3),
        (5, "valid", None, None),
        (6, "revoked", 7, T2),
        (7, "valid", None, None),
        (8, "valid", None, None),
    ]
    assert audit == [(1, "migration 0007"), (2, "migration 0007"), (4, "migration 0007")]
