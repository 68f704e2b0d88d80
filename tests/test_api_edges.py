"""Edges of the API found by review: numbers that round to nothing, long id lists, the rate limit's key,
the caller's language, cohort programs and duplicates, batch cost, races answered 409."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select

from shegong_academy.audit.models import AuditEntry
from shegong_academy.auth.models import User
from shegong_academy.auth.services import create_api_token
from shegong_academy.coverage.models import Cohort
from shegong_academy.extensions import db
from shegong_academy.org.models import OrgUnit
from shegong_academy.training.models import Attendance, Course, CourseSession
from tests import test_api_readback
from tests.conftest import count_statements, make_app
from tests.factories import login, person
from tests.training.helpers import course, program

api = test_api_readback.api  # the fixture: a district with programs, courses, sessions and tokens

SESSION_BODY = {"starts_at": "2026-03-10T09:00:00", "ends_at": "2026-03-10T12:00:00", "mode": "onsite"}


def rows(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


# --- numbers are checked as their column keeps them ------------------------------------------------------


@pytest.mark.parametrize("hours", [0.01, 0.04, "1E-900"])
def test_session_hours_that_round_to_zero_are_422_and_write_nothing(app, api, hours):
    before = rows(app, CourseSession)
    r = api("POST", "/api/v1/sessions", json={**SESSION_BODY, "course_id": api.ids["course"], "hours": hours})
    assert r.status_code == 422, r.get_data(as_text=True)
    assert r.json["errors"]["hours"] == ["Hours must be from 0.1 to 24, with one decimal place."]
    assert rows(app, CourseSession) == before


def test_session_hours_are_rounded_half_up_to_a_tenth(api):
    r = api("POST", "/api/v1/sessions", json={**SESSION_BODY, "course_id": api.ids["course"], "hours": 0.05})
    assert r.status_code == 201, r.json
    assert api("GET", f"/api/v1/sessions/{r.json['id']}").json["hours"] == 0.1


@pytest.mark.parametrize("share,status,kept", [(0.001, 422, None), (0.004, 422, None), (0.855, 201, 0.86)])
def test_a_course_minimum_share_is_checked_at_two_places(app, api, share, status, kept):
    before = rows(app, Course)
    body = {"program_id": api.ids["program"], "code": "R-1", "title": "社区治理", "hours": 3, "min_attendance": share}
    r = api("POST", "/api/v1/courses", json=body)
    assert r.status_code == status, r.get_data(as_text=True)
    if status == 422:
        assert r.json["errors"]["min_attendance"] == ["The minimum attended share must be from 0.01 to 1."]
        assert rows(app, Course) == before
    else:
        assert api("GET", f"/api/v1/courses/{r.json['id']}").json["min_attendance"] == kept


@pytest.mark.parametrize("target", [0.0001, 0.0004])
def test_a_cohort_target_that_rounds_to_zero_is_422(app, api, target):
    before = rows(app, Cohort)
    body = {"name": "2022年目标", "unit_code": "330105", "year": 2022, "category": "community_worker"}
    r = api("POST", "/api/v1/cohorts", json={**body, "training_target": target})
    assert r.status_code == 422, r.get_data(as_text=True)
    assert "training_target" in r.json["errors"]
    assert rows(app, Cohort) == before


def test_a_cohort_lists_at_most_ten_thousand_people(app, api):
    """The listed ids are read back in IN clauses, twice in a report: 10,000 stays far below PostgreSQL's
    65,535 parameters (and SQLite's 32,766). A larger group is a category rule. 70,000 ids used to be
    accepted and the report then failed on PostgreSQL."""
    body = {"name": "2022年大名单", "unit_code": "330105", "year": 2022, "category": "station_worker"}
    many = api("POST", "/api/v1/cohorts", json={**body, "member_ids": list(range(10_000_000, 10_070_000))})
    assert many.status_code == 422
    assert many.json["errors"]["member_ids"] == ["Longer than maximum length 10000."]
    ids = [*api.ids["people"][:2], *range(10_000_000, 10_009_998)]  # 10,000: checked in one statement
    r = api("POST", "/api/v1/cohorts", json={**body, "member_ids": ids})
    assert r.status_code == 422, r.get_data(as_text=True)[:300]
    assert r.json["errors"]["member_ids"][0].startswith("Unknown people: 10000000, 10000001")
    assert rows(app, Cohort) == 1  # the fixture's


def test_the_service_refuses_more_listed_people_than_a_report_can_read(app, api):
    from shegong_academy.core.domain import Invalid
    from shegong_academy.coverage.services import create_cohort

    with app.app_context():
        district = db.session.scalar(select(OrgUnit).where(OrgUnit.code == "330105"))
        data = {"name": "名单", "year": 2022, "category": "station_worker"}
        with pytest.raises(Invalid) as refused:
            create_cohort(
                data={**data, "member_ids": list(range(1, 6001)), "excluded_ids": list(range(1, 5001))},
                unit=district,
                actor=None,
            )
        # no request: the deployment's default language
        assert str(refused.value.errors["member_ids"]) == "最多可列出 10,000 人；更大的群体请按单位内的人员类别设定。"
        db.session.rollback()


# --- cohort programs and duplicates ----------------------------------------------------------------------


def test_cohort_programs_must_be_ones_its_people_could_attend(app, api):
    body = {"unit_code": "330105", "year": 2022, "category": "community_worker"}
    before = rows(app, Cohort)
    for ids in ([api.ids["other_program"]], [2_000_000_000], [api.ids["program"], api.ids["other_program"]]):
        r = api("POST", "/api/v1/cohorts", json={**body, "name": f"名单{ids[-1]}", "program_ids": ids})
        assert r.status_code == 422, (ids, r.json)
        # another district's program and an id that does not exist answer alike
        assert r.json["errors"]["program_ids"] == [f"Unknown programs: {ids[-1]}"]
    assert rows(app, Cohort) == before
    own = api("POST", "/api/v1/cohorts", json={**body, "name": "本区", "program_ids": [api.ids["program"]]})
    assert own.status_code == 201, own.json
    assert api("GET", f"/api/v1/cohorts/{own.json['id']}").json["program_ids"] == [api.ids["program"]]


def test_a_street_cohort_may_count_its_district_program(app, api):
    """The street's people attend the district's programs: a street coordinator lists one."""
    with app.app_context():
        street_coord = db.session.scalar(select(User).where(User.username == "streetcoord"))
        token = create_api_token(user=street_coord)
        db.session.commit()
    body = {"name": "街道名单", "unit_code": "330105001", "year": 2022, "category": "community_worker"}
    headers = {"Authorization": f"Bearer {token}"}
    r = api("POST", "/api/v1/cohorts", who=None, headers=headers, json={**body, "program_ids": [api.ids["program"]]})
    assert r.status_code == 201, r.json
    sibling = api("POST", "/api/v1/cohorts", json={**body, "unit_code": "330105002", "name": "湖墅名单"})
    assert sibling.status_code == 201
    # a program held by a sibling street is not on the street's line of the tree
    with app.app_context():
        held = program(db.session.scalar(select(OrgUnit).where(OrgUnit.code == "330105002")), title="湖墅班")
        db.session.commit()
        held_id = held.id
    r = api("POST", "/api/v1/cohorts", who=None, headers=headers, json={**body, "name": "二", "program_ids": [held_id]})
    assert r.status_code == 422 and r.json["errors"]["program_ids"] == [f"Unknown programs: {held_id}"]


def test_creating_the_same_cohort_twice_is_409(app, api):
    body = {"name": "2022年重复", "unit_code": "330105", "year": 2022, "category": "community_worker"}
    assert api("POST", "/api/v1/cohorts", json=body).status_code == 201
    again = api("POST", "/api/v1/cohorts", json=body, headers={"Accept-Language": "zh-CN"})
    assert again.status_code == 409, again.json
    assert again.json["detail"] == "拱墅区 在 2022 年已有名为“2022年重复”的对象组。"
    assert again.json["errors"] == {"name": ["该单位该年度已有同名的对象组。"]}
    assert api("POST", "/api/v1/cohorts", json={**body, "year": 2023}).status_code == 201  # another year
    assert api("POST", "/api/v1/cohorts", json={**body, "unit_code": "330105001"}).status_code == 201
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(Cohort.name == "2022年重复")) == 3


def test_the_cohort_form_says_the_name_is_taken(app, api):
    with app.app_context():
        district = db.session.scalar(select(OrgUnit).where(OrgUnit.code == "330105")).id
    client = app.test_client()
    login(client, "coord")
    form = {"name": "2022年全员", "unit_id": district, "category": "", "year": 2022, "training_target": "1"}
    form["supervision_target"] = "1"
    r = client.post("/coverage/cohorts/new", data=form, headers={"Accept-Language": "en"})
    assert r.status_code == 200
    assert "This name is taken for this unit and year." in r.get_data(as_text=True)
    assert rows(app, Cohort) == 1


# --- the rate limit and the caller's language ------------------------------------------------------------


@pytest.fixture
def limited_app(db_url):
    """Build an app with given limits on the test database; returns it and a district coordinator's token."""
    from tests.factories import World

    apps = []

    def build(**limits) -> tuple[Flask, str]:
        app = make_app(db_url, **limits)
        apps.append(app)
        with app.app_context():
            token = create_api_token(user=World().coord)
            db.session.commit()
        return app, token

    yield build
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.mark.parametrize(
    "variant", ["bearer {t}", "BEARER {t}", "Bearer  {t}", "Bearer {t} ", "Bearer {t}\t", " Bearer {t}"]
)
def test_the_rate_limit_is_per_token_however_the_header_is_spelled(limited_app, variant):
    app, token = limited_app(LMS_API_RATE_LIMIT="3 per minute")
    client = app.test_client()
    spent = [client.get("/api/v1/units", headers={"Authorization": f"Bearer {token}"}).status_code for _ in range(3)]
    assert spent == [200, 200, 200]
    r = client.get("/api/v1/units", headers={"Authorization": variant.format(t=token)})
    assert r.status_code == 429 and r.mimetype == "application/problem+json"


def test_refused_tokens_count_against_the_address(limited_app):
    app, token = limited_app(LMS_API_AUTH_FAILURE_LIMIT="5 per minute")
    client = app.test_client()
    guesses = [client.get("/api/v1/units", headers={"Authorization": f"Bearer lms_guess{i}"}) for i in range(7)]
    assert [g.status_code for g in guesses] == [401] * 5 + [429] * 2
    assert guesses[-1].mimetype == "application/problem+json"
    # A valid token from the same address is never held back (integrations behind one proxy address), and
    # good requests do not count: more of them than the limit all succeed.
    good = [client.get("/api/v1/units", headers={"Authorization": f"Bearer {token}"}).status_code for _ in range(8)]
    assert good == [200] * 8
    # Without a header nothing is guessed: a plain 401 every time.
    assert {client.get("/api/v1/units").status_code for _ in range(8)} == {401}
    # Another address has its own count.
    other = {"REMOTE_ADDR": "10.0.0.2"}
    assert client.get("/api/v1/units", headers={"Authorization": "Bearer x"}, environ_base=other).status_code == 401


@pytest.mark.parametrize(
    "header,detail",
    [
        ("en-US,zh-CN;q=0.1", "Not found, or not within your units."),
        ("en-US,zh;q=0.5", "Not found, or not within your units."),
        ("en", "Not found, or not within your units."),
        ("zh-CN,en;q=0.1", "不存在，或不在您管辖的单位内。"),
        ("zh-TW", "不存在，或不在您管辖的单位内。"),
        ("fr-FR,zh;q=0.8,en;q=0.5", "不存在，或不在您管辖的单位内。"),
        ("fr-FR", "Not found, or not within your units."),
        ("zh;q=0,en;q=0.2", "Not found, or not within your units."),
    ],
)
def test_the_language_is_the_first_one_spoken_in_quality_order(api, header, detail):
    assert api("GET", "/api/v1/programs/123456", headers={"Accept-Language": header}).json["detail"] == detail


def test_pages_follow_the_same_rule(app):
    client = app.test_client()
    assert "Sign in" in client.get("/login", headers={"Accept-Language": "en-US,zh-CN;q=0.1"}).get_data(as_text=True)
    assert "登录" in client.get("/login", headers={"Accept-Language": "zh-CN,en;q=0.1"}).get_data(as_text=True)


# --- the cost of a batch ---------------------------------------------------------------------------------


def test_batch_attendance_costs_the_same_statements_for_two_people_or_forty(app, api):
    with app.app_context():
        from shegong_academy.training.models import Program
        from shegong_academy.training.services import enrol

        prog = db.session.get(Program, api.ids["program"])
        crs = course(prog, code="BIG", capacity=None)
        from tests.training.helpers import session

        sess = session(crs)
        unit = db.session.scalar(select(OrgUnit).where(OrgUnit.code == "330105001"))
        people = [person(unit, f"学员{i}") for i in range(40)]
        coord = db.session.scalar(select(User).where(User.username == "coord"))
        for p in people:
            enrol(course=crs, person=p, actor=coord)
        db.session.commit()
        ids, session_id = [p.id for p in people], sess.id
    url = f"/api/v1/sessions/{session_id}/attendance"

    def put(n, status):
        return lambda: api("PUT", url, json={"items": [{"person_id": i, "status": status} for i in ids[:n]]})

    two = count_statements(app, put(2, "present"))
    forty = count_statements(app, put(40, "late"))
    assert forty == two, (two, forty)
    assert rows(app, Attendance) == 40
    with app.app_context():
        entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "attendance.batch")).all()
        assert len(entries) == 2  # one per batch, listing what changed
        assert len(entries[1].after["changes"]) == 40
        assert entries[1].after["changes"][str(ids[0])] == {"before": ["present", None], "after": ["late", None]}
    assert count_statements(app, put(40, "late")) < forty  # nothing changed: nothing written
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(AuditEntry.action == "attendance.batch")) == 2


# --- a race the checks could not see answers 409 ----------------------------------------------------------


def test_a_unique_violation_is_409_and_a_check_violation_stays_a_500(app):
    from flask import Blueprint

    from shegong_academy.core.web import setup_blueprint

    # Routes of an academy blueprint: its error handlers answer them (a host's routes keep the host's).
    bp = setup_blueprint(Blueprint("race_test", __name__), forms=False)

    def insert(kind: str, code: str):
        db.session.add(OrgUnit(code=code, name="重复", kind=kind, path="/"))
        db.session.flush()
        return "written"

    @bp.get("/api/v1/_test/duplicate")
    def api_duplicate():
        insert("district", "999001")
        return insert("district", "999001")  # what a concurrent request would have done first

    @bp.get("/_test/duplicate")
    def page_duplicate():
        insert("district", "999002")
        return insert("district", "999002")

    @bp.get("/api/v1/_test/check")
    def api_check():
        return insert("planet", "999003")  # a CHECK constraint: a bug, not a race

    app.register_blueprint(bp)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = app.test_client()
    r = client.get("/api/v1/_test/duplicate", headers={"Accept-Language": "zh-CN"})
    assert r.status_code == 409 and r.mimetype == "application/problem+json"
    assert r.json["detail"] == "有人同时修改了此内容，请刷新后重试。"
    page = client.get("/_test/duplicate", headers={"Accept-Language": "en"})
    assert page.status_code == 409 and "Someone else changed this at the same moment" in page.get_data(as_text=True)
    bug = client.get("/api/v1/_test/check")
    assert bug.status_code == 500 and bug.mimetype == "application/problem+json"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OrgUnit)) == 0  # nothing of them was kept


@pytest.mark.parametrize("year", [2022.9, "2022", True])
@pytest.mark.parametrize("url", ["/api/v1/programs", "/api/v1/cohorts"])
def test_a_year_in_a_body_is_a_whole_json_number(app, api, url, year):
    """2022.9 used to be stored as 2022; a string or a boolean is not a year either."""
    from shegong_academy.training.models import Program

    if url.endswith("programs"):
        model, body = Program, {"title": "新任社工班", "kind": "class"}
    else:
        model, body = Cohort, {"name": "名单", "category": "community_worker"}
    before = rows(app, model)
    r = api("POST", url, json={**body, "unit_code": "330105", "year": year})
    assert r.status_code == 422, r.get_data(as_text=True)
    assert r.json["errors"] == {"year": ["Not a valid integer."]}
    assert rows(app, model) == before
    assert api("POST", url, json={**body, "unit_code": "330105", "year": 2022}).status_code == 201


# --- the batch answers like a list ------------------------------------------------------------------------


def test_batch_attendance_answers_items_and_total_like_the_list(app, api):
    url = f"/api/v1/sessions/{api.ids['sessions'][0]}/attendance"
    seated = api.ids["people"][:2]
    items = [{"person_id": seated[0], "status": "present"}, {"person_id": seated[1], "status": "late"}]
    r = api("PUT", url, json={"items": items})
    assert r.status_code == 200, r.json
    assert r.json["total"] == 2 == len(r.json["items"])
    assert r.json == api("GET", url).json  # the same shape and content as reading the list back
    one = api("PUT", url, json={"items": items[:1]})
    assert one.json["total"] == 1 and [a["person_id"] for a in one.json["items"]] == [seated[0]]
    # The OpenAPI document says so: the PUT answers the list's schema, "total" required.
    spec = api("GET", "/api/v1/openapi.json").json
    assert spec["servers"] == [{"url": "/api/v1"}]
    path = spec["paths"]["/sessions/{session_id}/attendance"]
    put = path["put"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert put == path["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    schema = spec["components"]["schemas"][put["$ref"].rsplit("/", 1)[1]]
    assert {"items", "total"} <= set(schema["required"]) and schema["properties"]["total"]["type"] == "integer"
