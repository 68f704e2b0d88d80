"""The API foundation: bearer tokens, JSON problem details, pagination, units and people."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from shegong_academy.auth.models import ApiToken
from shegong_academy.auth.services import create_api_token, revoke_api_token
from shegong_academy.core.db import utcnow
from shegong_academy.extensions import db
from shegong_academy.people.models import Person
from tests.factories import World, id_number, person


@pytest.fixture
def api(app):
    with app.app_context():
        w = World()
        for i in range(7):
            person(w.street2, f"员工{i}")
        tokens = {name: create_api_token(user=getattr(w, name)) for name in ("coord", "coord_out", "admin", "trainee")}
        db.session.commit()
        ids = {"person": w.person.id, "outsider": w.outsider.id}
    client = app.test_client()

    def call(method, url, who="coord", **kw):
        headers = kw.pop("headers", {})
        if who:
            headers["Authorization"] = f"Bearer {tokens[who]}"
        return client.open(url, method=method, headers=headers, **kw)

    call.ids = ids
    call.tokens = tokens
    return call


def test_token_is_stored_hashed(app, api):
    with app.app_context():
        rows = db.session.scalars(select(ApiToken)).all()
        assert rows and all(api.tokens["coord"] not in (r.token_hash, r.prefix) for r in rows)
        assert all(len(r.token_hash) == 64 for r in rows)


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer nope", "Basic Zm9vOmJhcg==", "bearer  "])
def test_bad_credentials_are_401_problem_json(api, header):
    r = api("GET", "/api/v1/people", who=None, headers={"Authorization": header} if header else {})
    assert r.status_code == 401
    assert r.mimetype == "application/problem+json"
    assert r.json["status"] == 401 and r.json["title"] == "Unauthorized"
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_and_expired_tokens_stop_working(app, api):
    assert api("GET", "/api/v1/units").status_code == 200
    with app.app_context():
        from shegong_academy.auth.services import resolve_api_token

        token = db.session.scalars(select(ApiToken).order_by(ApiToken.id)).first()
        revoke_api_token(token=token, actor=None)
        other = db.session.scalars(select(ApiToken).order_by(ApiToken.id)).all()[1]
        other.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        assert resolve_api_token(api.tokens["coord"]) is None
    assert api("GET", "/api/v1/units").status_code == 401
    assert api("GET", "/api/v1/units", who="coord_out").status_code == 401
    assert api("GET", "/api/v1/units", who="admin").status_code == 200


def test_revoking_a_token_on_its_page_asks_first(app, api):
    """A token's revocation stops a system at once and cannot be undone: the page says so and asks."""
    from tests.factories import login

    with app.app_context():
        token = db.session.scalars(select(ApiToken).order_by(ApiToken.id)).first()
        token_id, name = token.id, token.name
    c = app.test_client()
    c.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login(c, "coord")
    asked = c.post(f"/account/tokens/{token_id}/revoke")
    assert asked.status_code == 200 and f"Revoke the token “{name}”?" in asked.text
    assert "It has not been used yet." in asked.text and 'name="confirmed" value="1"' in asked.text
    assert api("GET", "/api/v1/units").status_code == 200  # still good: nothing happened yet
    asked = c.post(f"/account/tokens/{token_id}/revoke")
    assert "last used " in asked.text  # it has been now
    assert c.post(f"/account/tokens/{token_id}/revoke", data={"confirmed": "1"}).status_code == 302
    assert api("GET", "/api/v1/units").status_code == 401


def test_people_list_is_scoped_and_paginated(api):
    r = api("GET", "/api/v1/people?per_page=3&page=2")
    assert r.status_code == 200
    assert r.json["total"] == 10  # 3 of World in 拱墅区 + 7 added
    assert len(r.json["items"]) == 3
    names = {p["name"] for p in api("GET", "/api/v1/people?per_page=100").json["items"]}
    assert "赵六" not in names and "李四" in names
    assert api("GET", "/api/v1/people?unit=330105001").json["total"] == 2
    assert api("GET", "/api/v1/people?category=project_social_worker").json["total"] == 1


@pytest.mark.parametrize("query", ["per_page=101", "per_page=0", "page=0", "page=abc", "category=wizard"])
def test_bad_pagination_and_filters_are_422(api, query):
    r = api("GET", f"/api/v1/people?{query}")
    assert r.status_code == 422
    assert r.json["errors"]


def test_unknown_or_foreign_unit_filter_is_404(api):
    assert api("GET", "/api/v1/people?unit=330106").status_code == 404
    assert api("GET", "/api/v1/people?unit=999999").status_code == 404


def test_person_detail_masks_the_id(api):
    r = api("GET", f"/api/v1/people/{api.ids['person']}")
    assert r.status_code == 200
    body = r.json
    assert set(body) >= {"id", "name", "unit_code", "category", "level", "id_number"}
    assert body["id_number"][4:14] == "*" * 10 and body["unit_code"] == "330105001001"


def test_other_districts_person_is_404(api):
    r = api("GET", f"/api/v1/people/{api.ids['outsider']}")
    assert r.status_code == 404 and r.json["status"] == 404
    assert api("GET", f"/api/v1/people/{api.ids['outsider']}", who="coord_out").status_code == 200


def test_create_person(app, api):
    body = {
        "unit_code": "330105002",
        "name": "孙八",
        "id_number": id_number(501),
        "phone": "13800138000",
        "category": "项目社工",
        "level": "助理社会工作师",
    }
    r = api("POST", "/api/v1/people", json=body)
    assert r.status_code == 201
    with app.app_context():
        p = db.session.get(Person, r.json["id"])
        assert (p.name, p.category, p.level) == ("孙八", "project_social_worker", "assistant")
    again = api("POST", "/api/v1/people", json=body)
    assert again.status_code == 409 and "id_number" in again.json["errors"]


def test_create_person_with_a_registration_date(api):
    body = {"unit_code": "330105002", "name": "钱九", "id_number": id_number(503), "certified_on": "2021-06-30"}
    r = api("POST", "/api/v1/people", json={**body, "level": "assistant"})
    assert r.status_code == 201
    assert api("GET", f"/api/v1/people/{r.json['id']}").json["certified_on"] == "2021-06-30"


@pytest.mark.parametrize(
    "change,field",
    [
        ({"id_number": "110105194912310021"}, "id_number"),
        ({"phone": "12345"}, "phone"),
        ({"category": "wizard"}, "category"),
        ({"level": "grandmaster"}, "level"),
        ({"name": ""}, "name"),
        ({"unit_code": "330106001"}, "unit_code"),  # another district: as if unknown
        ({"unit_code": None}, "unit_code"),
        ({"certified_on": "2099-01-01"}, "certified_on"),
        ({"certified_on": "30/06/2021"}, "certified_on"),
    ],
)
def test_create_person_validation_is_422_and_writes_nothing(app, api, change, field):
    with app.app_context():
        before = db.session.query(Person).count()
    body = {"unit_code": "330105002", "name": "孙八", "id_number": id_number(502), **change}
    r = api("POST", "/api/v1/people", json=body)
    assert r.status_code == 422, r.json
    assert field in r.json["errors"]
    with app.app_context():
        assert db.session.query(Person).count() == before


@pytest.mark.parametrize("payload", ["not json", "[1,2]", '{"name": 5}', "null"])
def test_malformed_bodies_are_4xx_json(api, payload):
    r = api("POST", "/api/v1/people", data=payload, headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500
    assert r.is_json


def test_api_errors_follow_accept_language_free_shape(api):
    r = api("GET", "/api/v1/nothing-here")
    assert r.status_code == 404 and r.is_json and r.json["title"] == "Not Found"
    r = api("DELETE", "/api/v1/people")
    assert r.status_code == 405 and r.is_json


def test_trainee_cannot_create_people(api):
    r = api(
        "POST", "/api/v1/people", who="trainee", json={"unit_code": "330105", "name": "x", "id_number": id_number(503)}
    )
    assert r.status_code == 403


def test_units_filter_by_code(api):
    r = api("GET", "/api/v1/units?code=330105001")
    assert r.json["total"] == 1 and r.json["items"][0]["kind"] == "street"
    assert api("GET", "/api/v1/units?code=330106").json["total"] == 0


def test_rate_limit_per_token(db_url):
    from tests.conftest import make_app

    app = make_app(db_url, LMS_API_RATE_LIMIT="5 per minute")
    with app.app_context():
        w = World()
        first, second = create_api_token(user=w.coord), create_api_token(user=w.admin)
        db.session.commit()
    client = app.test_client()
    codes = [client.get("/api/v1/units", headers={"Authorization": f"Bearer {first}"}).status_code for _ in range(7)]
    assert codes[:5] == [200] * 5 and codes[5:] == [429, 429]
    r = client.get("/api/v1/units", headers={"Authorization": f"Bearer {first}"})
    assert r.is_json and r.json["status"] == 429
    assert client.get("/api/v1/units", headers={"Authorization": f"Bearer {second}"}).status_code == 200
    with app.app_context():
        db.engine.dispose()


def test_docs_page_lists_every_operation_from_the_document(app, api):
    """The rendered page comes from the generated document: every operation under its feature, an index
    linking to it by operationId, full paths, success responses before errors, and nothing fetched from elsewhere."""
    from markupsafe import escape

    from tests.factories import login

    spec = api("GET", "/api/v1/openapi.json").json
    client = app.test_client()
    login(client, "coord")
    page = client.get("/api/v1/docs", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    operations = [(m, p, op) for p, item in spec["paths"].items() for m, op in item.items() if m != "parameters"]
    assert len(operations) >= 29
    for method, path, op in operations:
        anchor = op["operationId"]
        assert f'id="{anchor}"' in page and f'href="#{anchor}"' in page, (method, path)
        section = page.split(f'id="{anchor}"')[1].split("</section>")[0]
        assert f"<code>/api/v1{path}</code>" in section, (method, path)
        # under its feature's heading: the last feature heading before the operation is its tag
        heading = page.split(f'id="{anchor}"')[0].rsplit('<h2 class="api-tag" id="tag-', 1)[1]
        assert heading.startswith(f'{op["tags"][0]}"'), (method, path)
    for tag in spec["tags"]:
        assert f'href="#tag-{tag["name"]}"' in page and escape(tag["description"]) in page
    assert 'src="http' not in page and 'src="//' not in page and "cdn" not in page.lower()
    assert "位置" in page and "请求体" in page
    post_programs = page.split('id="training_create_program"')[1].split("</section>")[0]
    assert post_programs.index("<code>201</code>") < post_programs.index("<code>422</code>")
    cohort = page.split('id="coverage_create_cohort"')[1].split("</section>")[0]
    assert "<code>category</code></td><td>string | null (community_worker, project_social_worker" in cohort
