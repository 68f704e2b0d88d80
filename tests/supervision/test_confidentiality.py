"""Confidential notes: the supervisor who wrote them reads them on the record's page; nobody else
(coordinator, administrator, another supervisor, the supervisee, another district) finds them in any
page, export or API answer, and the audit trail never holds them."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.extensions import db
from app.supervision.models import SupervisionRecord
from tests.factories import login
from tests.supervision import NOTES, api_caller, ids_of, sup_world, text_of

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
        assert all(db.session.get(SupervisionRecord, rid).notes == NOTES for rid in rids)
    return SimpleNamespace(ids=ids, rids=rids, call=call, author=web)


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


@pytest.mark.parametrize("who", OTHERS)
def test_nobody_else_finds_the_notes_on_any_page(app, secret, who):
    c = app.test_client()
    assert login(c, who).status_code == 302
    seen = 0
    for url in pages(secret.ids, secret.rids):
        r = c.get(url)
        assert r.status_code in (200, 302, 403, 404), url
        assert NOTES not in r.get_data(as_text=True), url
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
            assert NOTES not in r.data.decode("utf-8-sig")
        r = c.get(f"/supervision/export.xlsx{query}")
        if r.status_code == 200:
            cells = xlsx_cells(r.data)
            assert cells and not any(NOTES in cell or "保密笔记" in cell for cell in cells)
    for url in ("/coverage/export.csv", "/coverage/export.xlsx", "/coverage/missing.csv"):
        r = c.get(url)
        body = "\n".join(xlsx_cells(r.data)) if r.data[:2] == b"PK" else r.get_data(as_text=True)
        assert NOTES not in body
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
        assert NOTES not in text_of(r), url
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
            assert NOTES not in dumped and "保密笔记" not in dumped
