"""Hostile input is refused with a 4xx, never a 500: numbers past any column in list filters, page numbers
and forms, JSON nested hundreds deep, and text that is not Unicode (lone surrogates, invalid UTF-8 in a
body, a query string or a path). Every GET endpoint of the access matrix (UI and API) is walked, on
SQLite and on PostgreSQL (where an integer beyond BIGINT is an error of the database, not a miss)."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from shegong_academy.audit.models import AuditEntry
from shegong_academy.core.security import MAX_JSON_DEPTH
from shegong_academy.extensions import db
from shegong_academy.people.models import Person
from shegong_academy.training.models import Attendance, Course, CourseSession, Enrolment, Program
from tests import test_access_matrix
from tests.factories import login

ROLES = test_access_matrix.ROLES
world = test_access_matrix.world  # the fixture: one of everything, in and out of the coordinator's district
world_template = test_access_matrix.world_template  # on SQLite, that world built once per run…
db_url = test_access_matrix.db_url  # …and each test's database a copy of it

NUMBERS = [
    "99999999999999999999",  # past BIGINT
    str(2**31),  # one past an INTEGER key
    "-1",
    "NaN",
    "²",  # a digit to str.isdigit(), not to int()
]
TEXT = ["%ff", "%ed%a0%80"]  # percent-encoded bytes that are not UTF-8 (the second a lone surrogate)
HOSTILE = NUMBERS + TEXT
# Every query argument a page or export reads (and two it does not).
UI_ARGS = ("unit", "page", "per_page", "year", "cohort", "supervisor", "status", "format", "mode", "category")
UI_ARGS += ("level", "q", "show", "code", "kind", "next", "t", "lang")

GETS = [(path, expected) for method, path, body, expected in test_access_matrix.ENDPOINTS if method == "GET"]


def _api_query_arguments(client, path: str) -> list[str]:
    """The query arguments the OpenAPI document lists for a path (with the matrix's ``{name}`` placeholders)."""
    spec = client.get("/api/v1/openapi.json").json
    pattern = re.sub(r"\\\{\w+\\\}", r"\\{\\w+\\}", re.escape(path.split("?")[0]))
    for documented, operations in spec["paths"].items():
        if re.fullmatch(pattern, spec["servers"][0]["url"] + documented) and "get" in operations:
            return [p["name"] for p in operations["get"].get("parameters", []) if p["in"] == "query"]
    raise AssertionError(f"{path} is not in the OpenAPI document")


def _with(url: str, values: dict[str, str]) -> str:
    """``url`` with the query arguments ``values`` set (others it has are kept)."""
    base, _, query = url.partition("?")
    kept = [part for part in query.split("&") if part and part.split("=")[0] not in values]
    return base + "?" + "&".join(kept + [f"{name}={value}" for name, value in values.items()])


@pytest.mark.parametrize("path,expected", GETS, ids=[path for path, _ in GETS])
def test_hostile_query_values_never_answer_500(app, client, world, path, expected):
    """As a user who may open the page: the API with each documented argument alone set to each hostile
    value (its arguments are validated together, so one refusal would hide another's overflow); a page
    with every argument set to the same hostile value at once (each is read on its own)."""
    api = path.startswith("/api/") and path != "/api/v1/docs"
    # Someone who may open the page; if nobody may, the coordinator (the answer must still not be a 500).
    role = next((r for r in ("coord_in", "admin", "trainee") if expected[ROLES.index(r)] == 200), "coord_in")
    url = test_access_matrix.fill(path, world)
    if api:
        headers = {"Authorization": f"Bearer {world['tokens'][role]}"}
        names = dict.fromkeys([*_api_query_arguments(client, path), "page", "per_page"])
        urls = [_with(url, {name: value}) for name in names for value in HOSTILE]
    else:
        headers = {}
        assert login(client, test_access_matrix.USERNAMES[role]).status_code == 302
        urls = [_with(url, dict.fromkeys(UI_ARGS, value)) for value in HOSTILE]
    failures = []
    for full in urls:
        response = client.get(full, headers=headers)
        response.close()
        if response.status_code >= 500 or (
            api and response.status_code >= 400 and response.mimetype != "application/problem+json"
        ):
            failures.append(f"{response.status_code} {full}")
    assert not failures, "\n".join(failures)


def test_raw_invalid_utf8_in_a_query_string_and_a_form_is_read_as_replacement_characters(app, client, world):
    """Bytes that are not UTF-8 and not percent-encoded either (a proxy may pass them through)."""
    assert login(client, "coord").status_code == 302
    for url in ("/people/", "/supervision/", "/coverage/", "/programs/", "/credentials/", "/verify/"):
        response = client.get(url, environ_overrides={"QUERY_STRING": "q=\xff\xfe&unit=\xc0\xaf&year=\xed\xa0\x80"})
        assert response.status_code < 500, url
    before = _count(app, Program)
    response = client.post(
        "/programs/new", data=b"title=\xff\xfe&kind=class&year=2022", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200 and _count(app, Program) == before  # the form re-renders, unsaved
    headers = {"Authorization": f"Bearer {world['tokens']['coord_in']}"}
    response = client.get("/api/v1/people", headers=headers, environ_overrides={"QUERY_STRING": "unit=\xff"})
    assert response.status_code == 404 and response.mimetype == "application/problem+json"


@pytest.mark.parametrize("value", ["%ff", "%ed%a0%80", "%c0%af", "%ef%bf%bf", "99999999999999999999"])
def test_invalid_utf8_in_a_path_never_answers_500(app, client, world, value):
    assert login(client, "admin").status_code == 302
    headers = {"Authorization": f"Bearer {world['tokens']['admin']}"}
    checked = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or not rule.arguments:
            continue
        url = re.sub(r"<[^>]+>", value, rule.rule)
        response = client.get(url, headers=headers)
        response.close()
        assert response.status_code in (400, 404, 405), f"GET {url}: {response.status_code}"
        checked += 1
    assert checked > 20


# --- JSON bodies --------------------------------------------------------------------------------------------

BODIES = [
    (method, path, body)
    for method, path, body, _expected in test_access_matrix.API
    if method in ("POST", "PUT", "PATCH") and body is not None
]


def nested(depth: int, kind: str = "list") -> str:
    """A JSON document nested ``depth`` levels deep."""
    if kind == "list":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


def with_surrogate(body):
    """``body`` with a lone surrogate appended to every string in it."""
    if isinstance(body, dict):
        return {k: with_surrogate(v) for k, v in body.items()}
    if isinstance(body, list):
        return [with_surrogate(v) for v in body]
    if isinstance(body, str):
        return body + "\ud800"
    return body


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def _written(app) -> tuple[int, ...]:
    """How many rows every API body could write (the audit trail without its token.use entries)."""
    with app.app_context():
        audit = db.session.scalar(select(func.count()).where(AuditEntry.action != "token.use"))
    return (audit, *(_count(app, model) for model in (Attendance, Course, CourseSession, Enrolment, Person, Program)))


@pytest.mark.parametrize("method,path,body", BODIES, ids=[f"{m} {p}" for m, p, _ in BODIES])
def test_json_bodies_nested_too_deep_or_not_unicode_are_400(app, client, world, method, path, body):
    headers = {"Authorization": f"Bearer {world['tokens']['admin']}", "Content-Type": "application/json"}
    url = test_access_matrix.fill(path, world)
    filled = test_access_matrix.fill(body, world)
    surrogate = json.dumps({**with_surrogate(filled), "extra": "\udc00"})  # ASCII: the surrogates are escaped
    before = _written(app)
    cases = {
        "900 lists deep": (nested(900), "The request body is nested too deeply."),
        "900 objects deep": (nested(900, "object"), "The request body is nested too deeply."),
        "one level too deep": (nested(MAX_JSON_DEPTH + 1), "The request body is nested too deeply."),
        "a deep field": (json.dumps({**filled, "extra": json.loads(nested(500))}), "nested too deeply"),
        "lone surrogates": (surrogate, "The request contains text that is not valid Unicode."),
        "a surrogate key": (
            json.dumps({"\udfff": 1, **filled}),
            "The request contains text that is not valid Unicode.",
        ),
        "invalid UTF-8": (json.dumps(filled, ensure_ascii=False).encode()[:-1] + b'\xff"}', "Invalid input."),
    }
    for name, (data, detail) in cases.items():
        response = client.open(url, method=method, data=data, headers=headers)
        assert response.status_code == 400, f"{name}: {response.status_code} {response.get_data(as_text=True)}"
        assert response.mimetype == "application/problem+json", name
        assert detail in response.json["detail"] or detail in json.dumps(response.json), (name, response.json)
    assert _written(app) == before


def test_json_as_deep_as_allowed_reaches_the_schema(app, client, world):
    """The limit refuses only what is too deep: a body nested MAX_JSON_DEPTH levels is validated as usual."""
    headers = {"Authorization": f"Bearer {world['tokens']['admin']}"}
    body = json.loads(nested(MAX_JSON_DEPTH - 1))
    response = client.post("/api/v1/programs", json={"title": body}, headers=headers)
    assert response.status_code == 422 and "title" in response.json["errors"]


@pytest.mark.parametrize("path", ["/login", "/programs/new", "/supervision/new", "/coverage/cohorts/new"])
def test_pages_refuse_a_json_body_nested_too_deep_or_not_unicode(app, client, world, path):
    assert login(client, "coord").status_code == 302
    for data in (nested(900), nested(900, "object"), '{"title": "\\ud800"}'):
        response = client.post(path, data=data, content_type="application/json")
        assert response.status_code == 400, (path, data[:20])


def test_numbers_past_every_column_in_forms_never_answer_500(app, client, world):
    """Ids posted in forms (a cohort to enrol, a roster line, people to certify) that no row can have."""
    assert login(client, "coord").status_code == 302
    big = "99999999999999999999"
    posts = [
        (f"/courses/{world['course']}/enrol", {"many-unit_id": world["unit"], "many-cohort_id": big}),
        (f"/courses/{world['course']}/enrol", {"one-person_id": big}),
        (f"/sessions/{world['session']}", {f"status-{big}": "absent", "status-²": "absent"}),
        (f"/credentials/{world['credential']}/approve", {"person_id": [big, "²", str(2**31)]}),
        ("/supervision/new", {"supervisor_id": big, "supervisee_ids": [big], "hours": "1", "topic": "x"}),
        (f"/people/{world['person']}/supervisor", {"supervisor_id": big}),
    ]
    for url, data in posts:
        response = client.post(url, data=data)
        assert response.status_code < 500, f"POST {url} {data}: {response.status_code}"
