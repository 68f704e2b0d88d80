"""Every endpoint, UI and API, walked as each kind of user (STYLE.md rule 2).

Later features add their endpoints to ENDPOINTS; a test fails when the app
has an endpoint the matrix does not list.
"""

from __future__ import annotations

import pytest

from app.auth.services import create_api_token
from app.extensions import db
from tests.factories import World, id_number, login

ROLES = ("anonymous", "trainee", "coord_in", "coord_out", "admin")
USERNAMES = {"trainee": "trainee", "coord_in": "coord", "coord_out": "coordout", "admin": "admin"}
LOGIN = 302  # anonymous UI requests are sent to /login

# (method, path template, body, expected status per role in ROLES order)
# {person}: a person in 拱墅区 (coord_in's district); {unit}: 和睦社区 in it.
UI = [
    ("GET", "/", None, (LOGIN, 200, 302, 302, 302)),
    ("GET", "/login", None, (200, 302, 302, 302, 302)),
    ("POST", "/login", {"username": "x", "password": "y"}, (200, 302, 302, 302, 302)),
    ("POST", "/logout", {}, (302, 302, 302, 302, 302)),
    ("POST", "/language", {"lang": "en"}, (302, 302, 302, 302, 302)),
    ("GET", "/healthz", None, (200, 200, 200, 200, 200)),
    ("GET", "/account/password", None, (LOGIN, 200, 200, 200, 200)),
    ("POST", "/account/password", {"current": "x"}, (LOGIN, 200, 200, 200, 200)),
    ("GET", "/people/", None, (LOGIN, 403, 200, 200, 200)),
    ("GET", "/people/{person}", None, (LOGIN, 403, 200, 404, 200)),
    ("GET", "/people/{person}/edit", None, (LOGIN, 403, 200, 404, 200)),
    ("POST", "/people/{person}/edit", {"name": ""}, (LOGIN, 403, 200, 404, 200)),
    ("POST", "/people/{person}/id-number", {}, (LOGIN, 403, 403, 403, 200)),
    ("GET", "/people/import", None, (LOGIN, 403, 200, 200, 200)),
    ("POST", "/people/import", {}, (LOGIN, 403, 200, 200, 200)),
    ("GET", "/units/", None, (LOGIN, 403, 200, 200, 200)),
    ("GET", "/units/{unit}", None, (LOGIN, 403, 200, 404, 200)),
    ("GET", "/units/import", None, (LOGIN, 403, 403, 403, 200)),
    ("POST", "/units/import", {}, (LOGIN, 403, 403, 403, 200)),
    ("GET", "/static/css/app.css", None, (200, 200, 200, 200, 200)),
]
API = [
    ("GET", "/api/v1/units", None, (401, 200, 200, 200, 200)),
    ("GET", "/api/v1/people", None, (401, 200, 200, 200, 200)),
    ("GET", "/api/v1/people/{person}", None, (401, 404, 200, 404, 200)),
    (
        "POST",
        "/api/v1/people",
        {"unit_code": "330105001001", "name": "孙八", "id_number": "{new_id}", "phone": "13800138000"},
        (401, 403, 201, 422, 201),
    ),
]
ENDPOINTS = UI + API


@pytest.fixture
def world(app):
    with app.app_context():
        w = World()
        tokens = {
            role: create_api_token(user=getattr(w, attr))
            for role, attr in (
                ("trainee", "trainee"),
                ("coord_in", "coord"),
                ("coord_out", "coord_out"),
                ("admin", "admin"),
            )
        }
        db.session.commit()
        return {"person": w.person.id, "unit": w.community.id, "tokens": tokens}


def fill(template, world):
    if isinstance(template, dict):
        return {k: fill(v, world) for k, v in template.items()}
    if isinstance(template, str):
        return template.format(person=world["person"], unit=world["unit"], new_id=id_number(900))
    return template


@pytest.mark.parametrize("role_index,role", list(enumerate(ROLES)))
@pytest.mark.parametrize("method,path,body,expected", UI, ids=[f"{m} {p}" for m, p, *_ in UI])
def test_ui_endpoint(app, client, world, method, path, body, expected, role_index, role):
    if role != "anonymous":
        assert login(client, USERNAMES[role]).status_code == 302
    url = fill(path, world)
    response = client.open(url, method=method, data=fill(body, world))
    response.close()
    assert response.status_code == expected[role_index], f"{role} {method} {url}"
    if (
        response.status_code == 302
        and expected[role_index] == LOGIN
        and role == "anonymous"
        and path not in ("/logout", "/language")
    ):
        assert "/login" in response.location


@pytest.mark.parametrize("role_index,role", list(enumerate(ROLES)))
@pytest.mark.parametrize("method,path,body,expected", API, ids=[f"{m} {p}" for m, p, *_ in API])
def test_api_endpoint(app, client, world, method, path, body, expected, role_index, role):
    headers = {} if role == "anonymous" else {"Authorization": f"Bearer {world['tokens'][role]}"}
    url = fill(path, world)
    response = client.open(url, method=method, json=fill(body, world), headers=headers)
    assert response.status_code == expected[role_index], f"{role} {method} {url}: {response.get_data(as_text=True)}"
    assert response.is_json, "API answers are always JSON"
    if response.status_code >= 400:
        assert {"type", "title", "status", "detail"} <= set(response.json)


def test_matrix_lists_every_endpoint(app):
    listed = set()
    for method, path, *_ in ENDPOINTS:
        listed.add((method, path.split("?")[0]))
    missing = []
    for rule in app.url_map.iter_rules():
        path = rule.rule
        for arg in rule.arguments:
            path = path.replace(f"<int:{arg}>", "{x}").replace(f"<{arg}>", "{x}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            normalised = {(m, p.replace("{person}", "{x}").replace("{unit}", "{x}")) for m, p in listed}
            if (
                rule.endpoint.startswith("api-docs")
                or (method, path.replace("<path:filename>", "css/app.css")) in normalised
            ):
                continue
            missing.append(f"{method} {rule.rule} ({rule.endpoint})")
    assert not missing, "endpoints missing from the access matrix: " + ", ".join(sorted(missing))
