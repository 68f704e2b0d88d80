"""Reading back through the API what an integrating platform wrote: programs, courses, sessions,
enrolments, attendance (one by one and in a batch), cohorts and certificates — scoped like the UI,
with validation messages in the caller's language."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from shegong_academy.api.messages import translate
from shegong_academy.audit.models import AuditEntry
from shegong_academy.auth.services import create_api_token
from shegong_academy.coverage.services import create_cohort
from shegong_academy.credentials.models import CredentialType
from shegong_academy.credentials.services import issue_certificate
from shegong_academy.extensions import db
from shegong_academy.training.models import Attendance
from shegong_academy.training.services import enrol
from tests.conftest import count_statements
from tests.factories import World, person
from tests.training.helpers import course, program, session


@pytest.fixture
def api(app):
    with app.app_context():
        w = World()
        prog = program(w.district, year=2022)
        other = program(w.other, title="西湖区培训班", year=2022)
        older = program(w.street, title="2021年街道培训", year=2021)
        crs = course(prog, capacity=2)
        course(other)
        course(older, code="C9")
        first = session(crs)
        second = session(crs, n=1)
        people = [w.person, w.person2, w.trainee_person, person(w.community, "周九")]
        for p in people:
            enrol(course=crs, person=p, actor=w.coord)  # capacity 2: two seats, two on the waitlist
        cohort = create_cohort(
            data={"name": "2022年全员", "year": 2022, "member_ids": [w.person.id, w.person2.id]},
            unit=w.district,
            actor=w.coord,
        )
        credential = CredentialType(
            name="completion",
            title="培训合格证书",
            design="completion-zh",
            issuer_unit=w.district,
            issuer_name="杭州市拱墅区民政局",
            issuer_code="GSMZ",
        )
        db.session.add(credential)
        db.session.flush()
        certificate = issue_certificate(credential=credential, person=w.trainee_person, actor=w.coord, render=False)
        tokens = {who: create_api_token(user=getattr(w, who)) for who in ("coord", "coord_out", "admin", "trainee")}
        db.session.commit()
        ids = {
            "program": prog.id,
            "other_program": other.id,
            "older_program": older.id,
            "course": crs.id,
            "sessions": [first.id, second.id],
            "people": [p.id for p in people],
            "outsider": w.outsider.id,
            "cohort": cohort.id,
            "trainee_person": w.trainee_person.id,
            "certificate": certificate.id,
            "code": certificate.verification_code,
        }
    client = app.test_client()

    def call(method, url, who="coord", **kw):
        headers = dict(kw.pop("headers", {}))
        if who:
            headers["Authorization"] = f"Bearer {tokens[who]}"
        return client.open(url, method=method, headers=headers, **kw)

    call.ids = ids
    return call


def attendance_rows(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Attendance))


# --- programs, courses, sessions ------------------------------------------------------------------------------


def test_programs_list_only_the_callers_units(api):
    r = api("GET", "/api/v1/programs")
    assert r.status_code == 200
    assert {p["id"] for p in r.json["items"]} == {api.ids["program"], api.ids["older_program"]}
    assert r.json["total"] == 2
    mine = next(p for p in r.json["items"] if p["id"] == api.ids["program"])
    assert mine == {
        "id": api.ids["program"],
        "title": "项目社工特训营",
        "kind": "camp",
        "unit_code": "330105",
        "year": 2022,
        "tier": "骨干",
        "starts_on": None,
        "ends_on": None,
        "audience": None,
        "closed": False,
    }
    out = api("GET", "/api/v1/programs", who="coord_out").json
    assert [p["id"] for p in out["items"]] == [api.ids["other_program"]]
    assert api("GET", "/api/v1/programs", who="trainee").json == {"items": [], "total": 0}


def test_programs_filter_by_year_and_unit(api):
    assert [p["id"] for p in api("GET", "/api/v1/programs?year=2021").json["items"]] == [api.ids["older_program"]]
    by_street = api("GET", "/api/v1/programs?unit=330105001").json["items"]
    assert [p["id"] for p in by_street] == [api.ids["older_program"]]
    assert api("GET", "/api/v1/programs?unit=330106").status_code == 404  # another district's unit
    assert api("GET", "/api/v1/programs?unit=999999").status_code == 404


def test_program_detail_has_its_courses_and_is_404_elsewhere(api):
    r = api("GET", f"/api/v1/programs/{api.ids['program']}")
    assert r.status_code == 200
    assert [c["id"] for c in r.json["courses"]] == [api.ids["course"]]
    assert api("GET", f"/api/v1/programs/{api.ids['other_program']}").status_code == 404
    assert api("GET", f"/api/v1/programs/{api.ids['program']}", who="coord_out").status_code == 404


def test_course_shows_seats_and_waitlist(api):
    r = api("GET", f"/api/v1/courses/{api.ids['course']}")
    assert r.status_code == 200
    assert r.json | {} == {
        "id": api.ids["course"],
        "program_id": api.ids["program"],
        "code": "C1",
        "title": "社会工作专业理念与方法",
        "hours": 6.0,
        "capacity": 2,
        "policy": "open",
        "min_attendance": 0.8,
        "pass_mark": None,
        "content_slug": None,
        "enrolled": 2,
        "waitlisted": 2,
        "closed": False,
    }
    listed = api("GET", f"/api/v1/courses?program_id={api.ids['program']}").json
    assert [c["id"] for c in listed["items"]] == [api.ids["course"]]
    assert api("GET", "/api/v1/courses", who="coord_out").json["total"] == 1
    assert api("GET", f"/api/v1/courses/{api.ids['course']}", who="coord_out").status_code == 404
    # Filtering by another district's program (or one that does not exist) is 404, as for a unit filter.
    for who, program_id in (("coord_out", api.ids["program"]), ("coord", api.ids["other_program"]), ("coord", 777)):
        r = api("GET", f"/api/v1/courses?program_id={program_id}", who=who)
        assert r.status_code == 404 and r.json["detail"] == "Unknown program.", (who, program_id)


def test_sessions_are_in_local_time_and_filter_by_day(api):
    r = api("GET", f"/api/v1/sessions?course_id={api.ids['course']}")
    assert r.status_code == 200
    for who, course_id in (("coord_out", api.ids["course"]), ("coord", 777)):
        refused = api("GET", f"/api/v1/sessions?course_id={course_id}", who=who)
        assert refused.status_code == 404 and refused.json["detail"] == "Unknown course.", (who, course_id)
    first, second = r.json["items"]
    assert first["starts_at"] == "2022-05-10T09:00:00+08:00"  # stored 01:00 UTC
    assert first["ends_at"] == "2022-05-10T12:00:00+08:00"
    assert (first["hours"], first["mode"]) == (3.0, "onsite")
    assert second["starts_at"].startswith("2022-05-11T09:00")
    only = api("GET", "/api/v1/sessions?from=2022-05-11&to=2022-05-11").json["items"]
    assert [s["id"] for s in only] == [api.ids["sessions"][1]]
    one = api("GET", f"/api/v1/sessions/{api.ids['sessions'][0]}")
    assert one.status_code == 200 and one.json == first
    assert api("GET", f"/api/v1/sessions/{api.ids['sessions'][0]}", who="coord_out").status_code == 404


# --- enrolments and attendance -------------------------------------------------------------------------------


def test_enrolments_seats_first_then_waitlist_in_order(api):
    r = api("GET", f"/api/v1/courses/{api.ids['course']}/enrolments")
    assert r.status_code == 200
    rows = [(e["person_id"], e["status"], e["waitlist_position"]) for e in r.json["items"]]
    people = api.ids["people"]
    assert rows == [
        (people[0], "enrolled", None),
        (people[1], "enrolled", None),
        (people[2], "waitlisted", 1),
        (people[3], "waitlisted", 2),
    ]
    waiting = api("GET", f"/api/v1/courses/{api.ids['course']}/enrolments?status=waitlisted").json
    assert waiting["total"] == 2
    assert api("GET", f"/api/v1/courses/{api.ids['course']}/enrolments?status=lost").status_code == 422


def test_batch_attendance_writes_every_row_and_reads_back(app, api):
    url = f"/api/v1/sessions/{api.ids['sessions'][0]}/attendance"
    seated = api.ids["people"][:2]
    items = [
        {"person_id": seated[0], "status": "present"},
        {"person_id": seated[1], "status": "excused", "reason": "社区值班"},
    ]
    r = api("PUT", url, json={"items": items})
    assert r.status_code == 200, r.json
    assert [(a["person_id"], a["status"], a["reason"], a["method"]) for a in r.json["items"]] == [
        (seated[0], "present", None, "api"),
        (seated[1], "excused", "社区值班", "api"),
    ]
    read = api("GET", url).json
    assert read["total"] == 2 and read["items"] == r.json["items"]
    with app.app_context():
        audits = db.session.scalar(select(func.count()).where(AuditEntry.action == "attendance.batch"))
    assert audits == 1  # one entry for the batch
    again = api("PUT", url, json={"items": items})  # idempotent: same rows, nothing new in the audit
    assert again.status_code == 200 and again.json == r.json
    assert attendance_rows(app) == 2
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(AuditEntry.action == "attendance.batch")) == audits


@pytest.mark.parametrize(
    "bad,field",
    [
        ({"person_id": "waitlisted", "status": "present"}, "items.1.person_id"),
        ({"person_id": "outsider", "status": "present"}, "items.1.person_id"),
        ({"person_id": "first", "status": "late"}, "items.1.person_id"),  # listed twice
        ({"person_id": "second", "status": "excused"}, "items.1.reason"),
        ({"person_id": "second", "status": "asleep"}, "items.1.status"),
        ({"status": "present"}, "items.1.person_id"),
    ],
    ids=["waitlisted", "other-district", "twice", "excused-without-reason", "unknown-status", "no-person"],
)
def test_one_bad_item_writes_nothing_and_names_the_item(app, api, bad, field):
    people = api.ids["people"]
    names = {"first": people[0], "second": people[1], "waitlisted": people[2], "outsider": api.ids["outsider"]}
    if "person_id" in bad:
        bad = {**bad, "person_id": names[bad["person_id"]]}
    items = [{"person_id": people[0], "status": "present"}, bad]
    r = api("PUT", f"/api/v1/sessions/{api.ids['sessions'][0]}/attendance", json={"items": items})
    assert r.status_code == 422, r.json
    assert r.mimetype == "application/problem+json"
    assert field in r.json["errors"], r.json
    assert attendance_rows(app) == 0  # the good first item was not written either


def test_batch_attendance_is_404_in_another_district_and_refuses_an_empty_list(app, api):
    url = f"/api/v1/sessions/{api.ids['sessions'][0]}/attendance"
    items = [{"person_id": api.ids["people"][0], "status": "present"}]
    assert api("PUT", url, who="coord_out", json={"items": items}).status_code == 404
    assert api("PUT", url, who="trainee", json={"items": items}).status_code == 404
    empty = api("PUT", url, json={"items": []})
    assert empty.status_code == 422 and "items" in empty.json["errors"]
    assert attendance_rows(app) == 0


# --- cohorts and certificates ----------------------------------------------------------------------------------


def test_cohorts_list_and_detail(api):
    r = api("GET", "/api/v1/cohorts?year=2022")
    assert r.status_code == 200 and r.json["total"] == 1
    (cohort,) = r.json["items"]
    assert cohort["name"] == "2022年全员" and cohort["members"] == 2 and cohort["training_target"] == 1.0
    assert cohort["unit_code"] == "330105" and cohort["frozen"] is False
    detail = api("GET", f"/api/v1/cohorts/{api.ids['cohort']}").json
    assert detail["member_ids"] == sorted(api.ids["people"][:2])
    assert api("GET", "/api/v1/cohorts", who="coord_out").json["total"] == 0
    assert api("GET", f"/api/v1/cohorts/{api.ids['cohort']}", who="coord_out").status_code == 404
    assert api("GET", "/api/v1/cohorts?year=2021").json["total"] == 0


def test_certificates_of_a_person(api):
    url = f"/api/v1/people/{api.ids['trainee_person']}/certificates"
    r = api("GET", url)
    assert r.status_code == 200 and r.json["total"] == 1
    (cert,) = r.json["items"]
    assert cert["id"] == api.ids["certificate"] and cert["status"] == "valid"
    assert cert["credential"] == "completion" and cert["title"] == "培训合格证书"
    assert cert["serial"].startswith("GSMZ-")
    assert cert["verify_url"].endswith(f"/verify/{api.ids['code']}")
    assert api("GET", url, who="trainee").json == r.json  # a trainee reads their own
    assert api("GET", url, who="coord_out").status_code == 404
    mine = api("GET", f"/api/v1/people/{api.ids['people'][0]}/certificates", who="trainee")
    assert mine.status_code == 404  # another person's, for a trainee


# --- bad input: out-of-range ids, never a 500 --------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,url,body",
    [
        ("GET", "/api/v1/programs/99999999999999999999", None),
        ("GET", "/api/v1/sessions/0", None),
        ("GET", "/api/v1/courses?program_id=99999999999999999999", None),
        ("POST", "/api/v1/courses", {"program_id": 2**40, "code": "X", "title": "X", "hours": 1}),
        (
            "POST",
            "/api/v1/sessions",
            {"course_id": 1, "starts_at": "0001-01-01T00:00:00", "ends_at": "0001-01-01T01:00:00", "hours": 1},
        ),
        ("GET", "/api/v1/sessions?from=0001-01-01", None),
    ],
)
def test_out_of_range_ids_and_dates_are_4xx_not_500(api, method, url, body):
    r = api(method, url, json=body)
    assert r.status_code in (404, 422), r.get_data(as_text=True)
    assert r.mimetype == "application/problem+json"


# --- the caller's language --------------------------------------------------------------------------------------


def test_validation_messages_follow_accept_language(api):
    body = {"title": "", "kind": "party", "unit_code": "330105", "year": 1999}
    en = api("POST", "/api/v1/programs", json=body)
    zh = api("POST", "/api/v1/programs", json=body, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert en.status_code == zh.status_code == 422
    assert en.json["detail"] == "Invalid input." and zh.json["detail"] == "输入有误。"
    assert en.json["errors"]["year"] == ["Must be greater than or equal to 2000 and less than or equal to 2100."]
    assert zh.json["errors"]["year"] == ["必须大于或等于 2000 且小于或等于 2100。"]
    assert zh.json["errors"]["kind"] == ["必须是以下之一：camp, class, workshop, salon, forum。"]
    assert zh.json["errors"]["title"] == ["长度必须在 1 到 120 之间。"]
    missing = api("POST", "/api/v1/programs", json={}, headers={"Accept-Language": "zh"})
    assert missing.json["errors"]["title"] == ["必填字段缺少数据。"]


def test_a_body_that_is_not_json_is_415_and_writes_nothing(api, app):
    before = api("GET", "/api/v1/programs").json["total"]
    for content_type, data in (
        ("application/x-www-form-urlencoded", "title=新任社工能力提升班&kind=class&unit_code=330105&year=2026"),
        ("text/plain", '{"title": "x"}'),
        ("multipart/form-data; boundary=b", "--b--"),
    ):
        r = api("POST", "/api/v1/programs", data=data.encode(), headers={"Content-Type": content_type})
        assert r.status_code == 415 and r.mimetype == "application/problem+json", (content_type, r.status_code)
        assert "application/json" in r.json["detail"]
    zh = api("POST", "/api/v1/programs", data=b"a=b", headers={"Content-Type": "text/plain", "Accept-Language": "zh"})
    assert zh.status_code == 415 and zh.json["title"] == "不支持的媒体类型" and "JSON" in zh.json["detail"]
    assert api("GET", "/api/v1/programs").json["total"] == before
    # The check is on bodies only: a JSON body with a charset parameter is fine.
    ok = api(
        "POST",
        "/api/v1/programs",
        data='{"title": "夏季督导工作坊", "kind": "workshop", "unit_code": "330105", "year": 2026}'.encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert ok.status_code == 201, ok.get_data(as_text=True)


def test_service_and_http_errors_follow_accept_language(api):
    zh = {"Accept-Language": "zh-CN"}
    url = f"/api/v1/sessions/{api.ids['sessions'][0]}/attendance"
    bad = {"items": [{"person_id": api.ids["people"][0], "status": "excused"}]}
    assert api("PUT", url, json=bad, headers=zh).json["errors"]["items.0.reason"] == ["请假须填写原因。"]
    assert api("PUT", url, json=bad).json["errors"]["items.0.reason"] == ["An excused absence needs a reason."]
    assert api("GET", "/api/v1/programs", who=None, headers=zh).json["detail"] == "缺少 Bearer 令牌。"
    assert api("GET", "/api/v1/programs/123456", headers=zh).json["detail"] == "不存在，或不在您管辖的单位内。"
    assert api("GET", "/api/v1/programs/123456").json["detail"] == "Not found, or not within your units."
    # RFC 9457 lets the title change only to be localised: it follows the caller's language too.
    assert api("GET", "/api/v1/programs/123456", headers=zh).json["title"] == "未找到"
    assert api("GET", "/api/v1/programs/123456").json["title"] == "Not Found"
    assert api("GET", "/api/v1/programs", who=None, headers=zh).json["title"] == "未认证"
    assert api("POST", "/api/v1/programs", data="{", headers={**zh, "Content-Type": "application/json"}).json[
        "errors"
    ] == {"json": ["请求体不是有效的 JSON。"]}


def test_translate_leaves_unknown_messages_alone(app):
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert translate("Length must be between 3 and 9.") == "长度必须在 3 到 9 之间。"
        assert translate("Something only we say.") == "Something only we say."


def test_nul_characters_are_refused_before_anything_is_written(app, api):
    from shegong_academy.training.models import Program

    def programs():
        with app.app_context():
            return db.session.scalar(select(func.count()).select_from(Program))

    before = programs()
    body = {"title": "培训\x00班", "kind": "class", "unit_code": "330105", "year": 2022}
    r = api("POST", "/api/v1/programs", json=body)
    assert r.status_code == 400 and r.mimetype == "application/problem+json"
    assert r.json["detail"] == "The request contains a NUL character."
    zh = api("GET", "/api/v1/programs?unit=3301%0005", headers={"Accept-Language": "zh-CN"})
    assert zh.status_code == 400 and zh.json["detail"] == "请求中含有 NUL 字符。"
    assert api("GET", "/api/v1/verify/AB%00CD", who=None).status_code in (400, 404)
    assert programs() == before


def test_nul_characters_in_a_form_get_the_error_page(app, client):
    from tests.factories import login

    with app.app_context():
        World()
    assert login(client, "coord").status_code == 302
    r = client.post("/programs/new", data={"title": "培训\x00班", "kind": "class", "year": "2022"})
    assert r.status_code == 400 and "text/html" in r.content_type


LISTS = [
    "/api/v1/people",
    "/api/v1/programs",
    "/api/v1/courses",
    "/api/v1/sessions",
    "/api/v1/cohorts",
    "/api/v1/supervision",
    "/api/v1/people/{trainee}/certificates",
]


def add_one_of_each(app, n: int, start: int) -> None:
    """n more programs (each with a course and a session), cohorts, supervision records and certificates."""
    from datetime import date

    from shegong_academy.auth.models import User
    from shegong_academy.org.models import OrgUnit
    from shegong_academy.people.models import Person
    from shegong_academy.supervision.services import record_supervision
    from tests.factories import unit as make_unit

    with app.app_context():
        coord = db.session.scalar(select(User).where(User.username == "coord"))
        member = db.session.scalar(select(Person).where(Person.name == "李四"))
        trainee = db.session.scalar(select(Person).where(Person.name == "钱七"))
        supervisor = db.session.scalar(select(Person).where(Person.name == "孙督导"))
        credential = db.session.scalar(select(CredentialType))
        district = coord.roles[0].unit
        units = [district, *db.session.scalars(select(OrgUnit).where(OrgUnit.parent_id == district.id))]
        for i in range(start, start + n):
            unit = units[i % len(units)]  # objects of several units: a lazy load per unit would show
            person(make_unit(f"社区{i}", "community", units[1]), f"学员{i}")  # each in a unit of their own
            session(course(program(unit, title=f"培训班{i}", year=2022), code=f"K{i}"))
            create_cohort(data={"name": f"对象{i}", "year": 2022, "member_ids": [member.id]}, unit=unit, actor=coord)
            data = {"format": "individual", "mode": "onsite", "held_on": date(2022, 6, 1), "hours": 1, "topic": "督导"}
            record_supervision(data=data, supervisor=supervisor, supervisees=[member], actor=coord)
            issue_certificate(credential=credential, person=trainee, actor=coord, render=False).status = "revoked"
            db.session.flush()  # revoked: the next issue makes a new certificate
        db.session.commit()


@pytest.mark.parametrize("url", LISTS)
def test_a_page_costs_the_same_statements_for_one_item_or_thirty(app, api, url):
    from shegong_academy.people.models import Person
    from tests.factories import user

    with app.app_context():
        street = db.session.scalar(select(Person).where(Person.name == "李四")).unit.parent
        district = street.parent
        user("supervisor", "supervisor", district, person=person(street, "孙督导"))
        db.session.commit()
    add_one_of_each(app, 1, 0)
    url = url.format(trainee=api.ids["trainee_person"])
    before = count_statements(app, lambda: api("GET", url))
    add_one_of_each(app, 30, 1)
    assert api("GET", url).json["total"] >= 30
    assert count_statements(app, lambda: api("GET", url)) == before
