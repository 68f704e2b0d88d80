"""Confidential notes: the supervisor who wrote them reads them on the record's page; nobody else
(coordinator, administrator, another supervisor, the supervisee, another district) finds them, or their
ciphertext, in any page, export or API answer; the audit trail never holds them, and the database keeps
them only encrypted under the data key."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import pytest
from cryptography.fernet import InvalidToken
from openpyxl import load_workbook
from sqlalchemy import inspect, select, text

from shegong_academy.audit.models import AuditEntry
from shegong_academy.auth.models import User
from shegong_academy.core.crypto import decrypt_text
from shegong_academy.extensions import db
from shegong_academy.supervision.models import SupervisionRecord
from shegong_academy.supervision.queries import notes_for
from tests.conftest import make_app
from tests.factories import login
from tests.supervision import NOTES, api_caller, ids_of, stored_notes, sup_world, text_of

OTHERS = ("coord", "admin", "sup2", "streetcoord", "trainee", "coordout")
TOKEN_NAMES = {"coord": "coord", "admin": "admin", "sup2": "sup2", "trainee": "trainee", "coordout": "coord_out"}


@pytest.fixture
def secret(app):
    """Two records holding NOTES: one posted by sup1 through the API, one by sup1 through the form."""
    with app.app_context():
        w = sup_world()
        ids = ids_of(w)
        call = api_caller(app, w, names=("coord", "coord_out", "admin", "trainee", "sup", "sup2", "street_coord"))
    posted = call(
        "POST",
        "/api/v1/supervision",
        who="sup",
        json={
            "supervisor_id": ids.sup_person,
            "supervisee_ids": [ids.person, ids.trainee_person, ids.person2],
            "format": "group",
            "mode": "online",
            "date": "2023-05-01",
            "hours": 2,
            "topic": "保密测试小组督导",
            "functions": ["supportive"],
            "notes": NOTES,
        },
    )
    assert posted.status_code == 201
    assert NOTES not in text_of(posted) and "notes" not in posted.json
    web = app.test_client()
    login(web, "sup1")
    r = web.post(
        "/supervision/new",
        data={
            "supervisor_id": ids.sup_person,
            "supervisee_ids": [ids.trainee_person],
            "format": "individual",
            "mode": "onsite",
            "kind": "special",
            "held_on": "2023-06-01",
            "hours": "1.5",
            "topic": "保密测试个别督导",
            "notes": NOTES,
        },
    )
    assert r.status_code == 302
    with app.app_context():
        rids = list(db.session.scalars(select(SupervisionRecord.id).order_by(SupervisionRecord.id)))
        assert len(rids) == 2
        stored = [db.session.get(SupervisionRecord, rid) for rid in rids]
        assert [stored_notes(rec) for rec in stored] == [NOTES, NOTES]
        ciphertexts = [rec.notes_enc for rec in stored]
    return SimpleNamespace(ids=ids, rids=rids, call=call, author=web, ciphertexts=ciphertexts)


def leaks(secret, body: str) -> list[str]:
    """What of the notes ``body`` gives away: the text, or a stored ciphertext (or a good part of one)."""
    found = ["the notes"] if NOTES in body or "保密笔记" in body else []
    return found + [f"ciphertext {c[:12]}…" for c in secret.ciphertexts if c[20:60] in body]


def pages(ids, rids) -> list[str]:
    people = [ids.person, ids.person2, ids.trainee_person, ids.sup_person, ids.outsider]
    urls = ["/", "/supervision/", "/supervision/new", "/supervision/mine", "/my/", "/people/", "/units/"]
    urls += [f"/supervision/{rid}" for rid in rids]
    urls += [f"/supervision/?{q}" for q in ("year=2023", "status=unconfirmed", "format=group", "mode=onsite")]
    urls += [f"/people/{pid}" for pid in people] + [f"/people/{pid}/edit" for pid in people]
    urls += [f"/units/{ids.district}", f"/units/{ids.street}", "/coverage/", "/credentials/", "/my/certificates"]
    urls += ["/account/tokens"]
    return urls


def xlsx_cells(data: bytes) -> list[str]:
    wb = load_workbook(io.BytesIO(data))
    return [str(cell.value) for ws in wb.worksheets for row in ws.iter_rows() for cell in row if cell.value is not None]


def test_the_author_reads_their_notes_on_the_record_page(secret):
    for rid in secret.rids:
        page = secret.author.get(f"/supervision/{rid}")
        assert page.status_code == 200 and NOTES in page.text
        assert leaks(secret, page.text.replace(NOTES, "")) == []  # the text, never a ciphertext


@pytest.mark.parametrize("who", OTHERS)
def test_nobody_else_finds_the_notes_on_any_page(app, secret, who):
    c = app.test_client()
    assert login(c, who).status_code == 302
    seen = 0
    for url in pages(secret.ids, secret.rids):
        r = c.get(url)
        assert r.status_code in (200, 302, 403, 404), url
        assert leaks(secret, r.get_data(as_text=True)) == [], url
        seen += r.status_code == 200
    assert seen >= 3
    if who in ("coord", "admin", "streetcoord"):  # they do see the records themselves, without notes
        for rid in secret.rids:
            page = c.get(f"/supervision/{rid}")
            assert page.status_code == 200 and "保密测试" in page.text and NOTES not in page.text


@pytest.mark.parametrize("who", (*OTHERS, "sup1"))
def test_exports_never_carry_the_notes(app, secret, who):
    c = app.test_client()
    assert login(c, who).status_code == 302
    for query in ("", "?year=2023", "?status=unconfirmed"):
        r = c.get(f"/supervision/export.csv{query}")
        if r.status_code == 200:
            assert leaks(secret, r.data.decode("utf-8-sig")) == []
        r = c.get(f"/supervision/export.xlsx{query}")
        if r.status_code == 200:
            cells = xlsx_cells(r.data)
            assert cells and leaks(secret, "\n".join(cells)) == []
    for url in ("/coverage/export.csv", "/coverage/export.xlsx", "/coverage/missing.csv"):
        r = c.get(url)
        body = "\n".join(xlsx_cells(r.data)) if r.data[:2] == b"PK" else r.get_data(as_text=True)
        assert leaks(secret, body) == []
    if who in ("coord", "admin", "sup1"):
        rows = xlsx_cells(c.get("/supervision/export.xlsx").data)
        assert "保密测试小组督导" in rows and "保密测试个别督导" in rows


@pytest.mark.parametrize("who", ("coord", "admin", "sup2", "trainee", "coord_out", "street_coord", "sup"))
def test_no_api_route_answers_the_notes(secret, who):
    ids, call = secret.ids, secret.call
    urls = ["/api/v1/supervision", "/api/v1/supervision?year=2023", "/api/v1/people", "/api/v1/units"]
    urls += [f"/api/v1/supervision/{rid}" for rid in secret.rids]
    for pid in (ids.person, ids.person2, ids.trainee_person, ids.sup_person):
        urls += [f"/api/v1/people/{pid}", f"/api/v1/people/{pid}/hours", f"/api/v1/people/{pid}/hours?year=2023"]
    urls += ["/api/v1/reports?unit=330105&year=2023", "/api/v1/openapi.json"]
    for url in urls:
        r = call("GET", url, who=who)
        assert r.status_code in (200, 403, 404), (url, r.status_code)
        assert leaks(secret, text_of(r)) == [], url
        if r.is_json and "/supervision" in url and r.status_code == 200:
            assert '"notes"' not in json.dumps(r.json)
    if who in ("coord", "admin", "sup"):
        listing = call("GET", "/api/v1/supervision", who=who).json
        assert listing["total"] == 2


def test_a_coordinators_post_response_does_not_echo_the_notes(secret):
    ids = secret.ids
    r = secret.call(
        "POST",
        "/api/v1/supervision",
        who="coord",
        json={
            "supervisor_id": ids.sup2_person,
            "supervisee_ids": [ids.person, ids.person2],
            "format": "group",
            "mode": "onsite",
            "date": "2023-07-01",
            "hours": 3,
            "topic": "协调员代录",
            "notes": NOTES,
        },
    )
    assert r.status_code == 201 and NOTES not in text_of(r) and set(r.json) == {"id", "warnings"}


def test_the_audit_trail_never_holds_the_notes(app, secret):
    with app.app_context():
        entries = db.session.scalars(select(AuditEntry)).all()
        assert any(e.action == "supervision.record" for e in entries)
        for e in entries:
            dumped = json.dumps([e.action, e.entity_type, e.actor_name, e.before, e.after], ensure_ascii=False)
            assert leaks(secret, dumped) == []


def test_the_notes_are_stored_encrypted(app, secret):
    """Nowhere in the database is there the text of the notes: every table, every column, as stored."""
    with app.app_context(), db.engine.connect() as conn:
        stored = conn.execute(
            text("SELECT notes FROM supervision_records WHERE id IN (:a, :b) ORDER BY id"),
            {"a": secret.rids[0], "b": secret.rids[1]},
        ).scalars()
        assert list(stored) == secret.ciphertexts
        for name in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{name}"')):
                assert not any(NOTES in str(value) or "保密笔记" in str(value) for value in row), name
        # Two records with the same notes store different ciphertexts (a random IV): equal notes do not show.
        assert secret.ciphertexts[0] != secret.ciphertexts[1]


def test_only_the_author_gets_the_notes_decrypted(app, secret):
    with app.app_context():
        rec = db.session.get(SupervisionRecord, secret.rids[0])
        users = {u.username: u for u in db.session.scalars(select(User))}
        assert notes_for(users["sup1"], rec) == NOTES
        for name in ("coord", "admin", "sup2", "streetcoord", "trainee", "coordout"):
            assert notes_for(users[name], rec) is None, name
        assert notes_for(None, rec) is None


def test_the_notes_are_encrypted_under_the_data_key(app, secret, db_url):
    """The key comes from LMS_DATA_KEY (like ID numbers'): under another data key the notes do not decrypt."""
    other = make_app(db_url, LMS_DATA_KEY="another-data-key-of-at-least-32-characters")
    with other.app_context():
        rec = db.session.get(SupervisionRecord, secret.rids[0])
        with pytest.raises(InvalidToken):
            decrypt_text(rec.notes_enc)
        db.session.remove()
        db.engine.dispose()
