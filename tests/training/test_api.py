"""The training API: programs, courses, sessions, enrolments, attendance and hours, through bearer tokens."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from shegong_academy.auth.services import create_api_token
from shegong_academy.extensions import db
from shegong_academy.training.models import Attendance, Course, CourseSession, Enrolment, Program
from tests.factories import World, person

PROBLEM = "application/problem+json"


@pytest.fixture
def api(app):
    with app.app_context():
        w = World()
        extra = [person(w.street2, f"学员{i}") for i in range(4)]
        tokens = {name: create_api_token(user=getattr(w, name)) for name in ("coord", "coord_out", "admin", "trainee")}
        db.session.commit()
        ids = {
            "person": w.person.id,
            "person2": w.person2.id,
            "outsider": w.outsider.id,
            "trainee_person": w.trainee_person.id,
            "extra": [p.id for p in extra],
        }
    client = app.test_client()

    def call(method, url, who="coord", **kw):
        headers = kw.pop("headers", {})
        if who:
            headers["Authorization"] = f"Bearer {tokens[who]}"
        return client.open(url, method=method, headers=headers, **kw)

    call.ids = ids
    call.app = app
    return call


def problem(r, status: int, *fields: str) -> dict:
    """Assert that ``r`` is a problem+json answer with ``status``, naming ``fields`` in its errors."""
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.mimetype == PROBLEM
    body = r.json
    assert body["status"] == status and {"type", "title", "detail"} <= set(body)
    if status == 422:
        assert isinstance(body.get("errors"), dict) and body["errors"], body
    for field in fields:
        assert field in body["errors"], body
    return body


def new_program(api, who="coord", **kw):
    body = {"title": "项目社工特训营", "kind": "camp", "unit_code": "330105", "year": 2022, "tier": "骨干", **kw}
    return api("POST", "/api/v1/programs", who, json=body)


def new_course(api, program_id, /, who="coord", **kw):
    body = {"program_id": program_id, "code": "C1", "title": "社会工作理念与方法", "hours": 6, "capacity": 2, **kw}
    return api("POST", "/api/v1/courses", who, json=body)


def new_session(api, course_id, /, day=10, who="coord", **kw):
    body = {
        "course_id": course_id,
        "starts_at": f"2022-05-{day:02d}T09:00:00",
        "ends_at": f"2022-05-{day:02d}T12:00:00",
        "hours": 3,
        "mode": "onsite",
        "place": "拱墅区社工站",
        **kw,
    }
    return api("POST", "/api/v1/sessions", who, json=body)


def created_id(r) -> int:
    assert r.status_code == 201, r.get_data(as_text=True)
    assert isinstance(r.json["id"], int)
    return r.json["id"]


def setup_course(api, **kw) -> int:
    return created_id(new_course(api, created_id(new_program(api)), **kw))


def enrol(api, course_id, person_id, who="coord"):
    return api("POST", f"/api/v1/courses/{course_id}/enrolments", who, json={"person_id": person_id})


def mark(api, session_id, person_id, status, who="coord", **kw):
    return api("PUT", f"/api/v1/sessions/{session_id}/attendance/{person_id}", who, json={"status": status, **kw})


# --- creating programs, courses and sessions -------------------------------------------------------------


def test_create_program_course_session(api):
    program_id = created_id(new_program(api))
    course_id = created_id(new_course(api, program_id, capacity=30, policy="coordinator", min_attendance="0.75"))
    session_id = created_id(new_session(api, course_id))
    with api.app.app_context():
        program = db.session.get(Program, program_id)
        assert (program.title, program.kind, program.year, program.unit.code) == (
            "项目社工特训营",
            "camp",
            2022,
            "330105",
        )
        course = db.session.get(Course, course_id)
        assert course.program_id == program_id and course.capacity == 30 and course.policy == "coordinator"
        assert course.hours == Decimal("6") and course.min_attendance == Decimal("0.75")
        session = db.session.get(CourseSession, session_id)
        assert session.course_id == course_id and session.hours == Decimal("3") and session.mode == "onsite"


def test_admin_creates_anywhere(api):
    assert created_id(new_program(api, who="admin", unit_code="330106")) > 0


@pytest.mark.parametrize(
    "field,value",
    [
        ("kind", "party"),
        ("year", 1999),
        ("year", 2101),
        ("year", "2022x"),
        ("title", ""),
        ("unit_code", "999999"),
        ("unit_code", "330106"),  # another district: unknown to this coordinator
    ],
)
def test_program_validation(api, field, value):
    problem(new_program(api, **{field: value}), 422, field)
    with api.app.app_context():
        assert db.session.scalar(select(func.count(Program.id))) == 0


def test_program_missing_fields(api):
    r = api("POST", "/api/v1/programs", json={"title": "x"})
    problem(r, 422, "kind", "unit_code", "year")


@pytest.mark.parametrize(
    "field,value",
    [
        ("hours", 0),
        ("hours", -2),
        ("hours", 201),
        ("hours", "many"),
        ("capacity", 0),
        ("capacity", -1),
        ("capacity", 2.5),
        ("policy", "lottery"),
        ("code", ""),
        ("min_attendance", 0),
        ("min_attendance", "1.5"),
        ("program_id", 999999),
        ("program_id", "1"),
    ],
)
def test_course_validation(api, field, value):
    program_id = created_id(new_program(api))
    problem(new_course(api, program_id, **{field: value}), 422, field)
    with api.app.app_context():
        assert db.session.scalar(select(func.count(Course.id))) == 0


def test_course_of_a_foreign_program_is_422_and_duplicate_code_is_409(api):
    foreign = created_id(new_program(api, who="admin", unit_code="330106"))
    problem(new_course(api, foreign), 422, "program_id")
    mine = created_id(new_program(api))
    created_id(new_course(api, mine))
    problem(new_course(api, mine), 409)  # the same code twice in one program
    created_id(new_course(api, mine, code="C2"))


@pytest.mark.parametrize(
    "field,value",
    [
        ("hours", 0),
        ("hours", 25),
        ("mode", "radio"),
        ("starts_at", "tomorrow"),
        ("ends_at", "2022-05-10T08:00:00"),  # before the start
        ("ends_at", "2022-05-10T09:00:00"),  # equal to the start
        ("ends_at", "2022-05-12T09:00:00"),  # longer than a day
        ("course_id", 999999),
    ],
)
def test_session_validation(api, field, value):
    course_id = setup_course(api)
    problem(new_session(api, course_id, **{field: value}), 422, field)
    with api.app.app_context():
        assert db.session.scalar(select(func.count(CourseSession.id))) == 0


def test_session_of_a_foreign_course_is_422(api):
    foreign = created_id(new_course(api, created_id(new_program(api, who="admin", unit_code="330106")), who="admin"))
    problem(new_session(api, foreign), 422, "course_id")
    created_id(new_session(api, foreign, who="admin"))


def test_session_times_naive_are_local_and_offsets_are_kept(api):
    course_id = setup_course(api)
    naive = created_id(new_session(api, course_id))  # 09:00 in Hangzhou
    offset = created_id(
        new_session(api, course_id, starts_at="2022-05-11T09:00:00+00:00", ends_at="2022-05-11T11:00:00Z", hours=2)
    )
    shanghai = created_id(
        new_session(api, course_id, starts_at="2022-05-12T09:00:00+08:00", ends_at="2022-05-12T10:00:00+08:00", hours=1)
    )
    with api.app.app_context():
        s = db.session.get(CourseSession, naive)
        assert s.starts_at == datetime(2022, 5, 10, 1, 0, tzinfo=UTC)
        assert s.ends_at == datetime(2022, 5, 10, 4, 0, tzinfo=UTC)
        s = db.session.get(CourseSession, offset)
        assert s.starts_at == datetime(2022, 5, 11, 9, 0, tzinfo=UTC)
        assert s.ends_at == datetime(2022, 5, 11, 11, 0, tzinfo=UTC)
        assert db.session.get(CourseSession, shanghai).starts_at == datetime(2022, 5, 12, 1, 0, tzinfo=UTC)


def test_trainee_and_other_district_cannot_create(api):
    problem(new_program(api, who="trainee"), 403)
    program_id = created_id(new_program(api))
    problem(new_course(api, program_id, who="trainee"), 403)
    problem(new_course(api, program_id, who="coord_out"), 422, "program_id")
    course_id = created_id(new_course(api, program_id))
    problem(new_session(api, course_id, who="coord_out"), 422, "course_id")
    problem(new_session(api, course_id, who="trainee"), 403)


# --- enrolments -------------------------------------------------------------------------------------------


def test_enrol_then_waitlist_then_duplicate_is_409(api):
    course_id = setup_course(api, capacity=2)
    people = [api.ids["person"], api.ids["person2"], *api.ids["extra"]]
    answers = [enrol(api, course_id, pid) for pid in people]
    assert [r.status_code for r in answers] == [201] * 6
    assert [r.json["status"] for r in answers] == ["enrolled"] * 2 + ["waitlisted"] * 4
    assert [r.json["waitlist_position"] for r in answers] == [None, None, 1, 2, 3, 4]
    assert all(r.json["course_id"] == course_id and isinstance(r.json["id"], int) for r in answers)
    assert [r.json["person_id"] for r in answers] == people
    body = problem(enrol(api, course_id, api.ids["person"]), 409)
    assert body["title"] == "Conflict"
    problem(enrol(api, course_id, api.ids["extra"][0]), 409)  # waitlisted is enrolled enough
    with api.app.app_context():
        assert db.session.get(Course, course_id).seats_taken == 2
        assert db.session.scalar(select(func.count(Enrolment.id))) == 6


def test_enrol_validation(api):
    course_id = setup_course(api)
    problem(api("POST", f"/api/v1/courses/{course_id}/enrolments", json={}), 422, "person_id")
    problem(api("POST", f"/api/v1/courses/{course_id}/enrolments", json={"person_id": "x"}), 422, "person_id")
    problem(enrol(api, course_id, 999999), 422, "person_id")
    problem(enrol(api, 999999, api.ids["person"]), 404)


def test_enrolling_a_person_of_another_district(api):
    """A coordinator cannot reach a person outside their district: 422 naming person_id, nothing written."""
    course_id = setup_course(api)
    problem(enrol(api, course_id, api.ids["outsider"]), 422, "person_id")
    with api.app.app_context():
        assert db.session.scalar(select(func.count(Enrolment.id))) == 0
        assert db.session.get(Course, course_id).seats_taken == 0
    # the administrator sees everyone and may enrol across districts
    assert enrol(api, course_id, api.ids["outsider"], who="admin").json["status"] == "enrolled"


def test_withdrawal_promotes_the_first_waitlisted(api):
    course_id = setup_course(api, capacity=2)
    first, second, *waiting = [api.ids["person"], api.ids["person2"], *api.ids["extra"]]
    for pid in (first, second, *waiting):
        assert enrol(api, course_id, pid).status_code == 201
    r = api("DELETE", f"/api/v1/courses/{course_id}/enrolments/{first}")
    assert r.status_code == 204 and r.get_data() == b""
    with api.app.app_context():
        rows = {
            e.person_id: (e.status, e.waitlist_position)
            for e in db.session.scalars(select(Enrolment).where(Enrolment.course_id == course_id))
        }
        assert rows[first] == ("withdrawn", None)
        assert rows[waiting[0]] == ("enrolled", None)  # number 1 in line, promoted at once
        assert [rows[p] for p in waiting[1:]] == [("waitlisted", 2), ("waitlisted", 3), ("waitlisted", 4)]
        assert db.session.get(Course, course_id).seats_taken == 2
    # a waitlisted person leaving frees no seat and promotes nobody
    assert api("DELETE", f"/api/v1/courses/{course_id}/enrolments/{waiting[1]}").status_code == 204
    with api.app.app_context():
        assert db.session.get(Course, course_id).seats_taken == 2
        assert (
            db.session.scalar(
                select(Enrolment.status).where(Enrolment.person_id == waiting[2], Enrolment.course_id == course_id)
            )
            == "waitlisted"
        )
    # withdrawn twice, or never enrolled: 404
    problem(api("DELETE", f"/api/v1/courses/{course_id}/enrolments/{first}"), 404)
    problem(api("DELETE", f"/api/v1/courses/{course_id}/enrolments/{api.ids['trainee_person']}"), 404)
    problem(api("DELETE", f"/api/v1/courses/999999/enrolments/{second}"), 404)
    # re-enrolling after a withdrawal joins the back of the line
    r = enrol(api, course_id, first)
    assert (r.status_code, r.json["status"], r.json["waitlist_position"]) == (201, "waitlisted", 5)


# --- attendance -------------------------------------------------------------------------------------------


@pytest.fixture
def course_with_sessions(api):
    course_id = setup_course(api, capacity=None, min_attendance="0.75")
    sessions = [created_id(new_session(api, course_id, day=10 + n)) for n in range(4)]
    for pid in (api.ids["person"], api.ids["person2"], api.ids["trainee_person"]):
        assert enrol(api, course_id, pid).json["status"] == "enrolled"
    return course_id, sessions


def test_attendance_put_is_idempotent(api, course_with_sessions):
    _, sessions = course_with_sessions
    pid = api.ids["person"]
    first = mark(api, sessions[0], pid, "present")
    second = mark(api, sessions[0], pid, "present")
    assert first.status_code == second.status_code == 200
    assert first.json == second.json
    assert first.json == {
        "session_id": sessions[0],
        "person_id": pid,
        "status": "present",
        "reason": None,
        "method": "api",
    }
    r = mark(api, sessions[0], pid, "excused", reason="生病")
    assert (r.status_code, r.json["status"], r.json["reason"]) == (200, "excused", "生病")
    with api.app.app_context():
        rows = db.session.scalars(select(Attendance)).all()
        assert [(a.session_id, a.person_id, a.status) for a in rows] == [(sessions[0], pid, "excused")]


def test_attendance_validation(api, course_with_sessions):
    _, sessions = course_with_sessions
    pid = api.ids["person"]
    problem(mark(api, sessions[0], pid, "asleep"), 422, "status")
    problem(api("PUT", f"/api/v1/sessions/{sessions[0]}/attendance/{pid}", json={}), 422, "status")
    problem(mark(api, sessions[0], pid, "excused"), 422, "reason")
    problem(mark(api, sessions[0], pid, "excused", reason="   "), 422, "reason")
    problem(mark(api, sessions[0], api.ids["extra"][0], "present"), 422, "person_id")  # in scope, not enrolled
    problem(mark(api, sessions[0], api.ids["outsider"], "present"), 404)  # neither in scope nor enrolled
    problem(mark(api, 999999, pid, "present"), 404)
    with api.app.app_context():
        assert db.session.scalar(select(func.count(Attendance.id))) == 0


def test_waitlisted_person_cannot_be_marked(api):
    course_id = setup_course(api, capacity=1)
    session_id = created_id(new_session(api, course_id))
    enrol(api, course_id, api.ids["person"])
    assert enrol(api, course_id, api.ids["person2"]).json["status"] == "waitlisted"
    problem(mark(api, session_id, api.ids["person2"], "present"), 422, "person_id")


# --- hours ------------------------------------------------------------------------------------------------


def hours(api, person_id, who="coord", year=2022):
    return api("GET", f"/api/v1/people/{person_id}/hours" + (f"?year={year}" if year else ""), who)


def test_hours_sum_attended_sessions_and_follow_the_completion_rule(api, course_with_sessions):
    _, sessions = course_with_sessions
    a, b = api.ids["person"], api.ids["person2"]
    # a: present, late, present, excused → 3 of 4 attended ≥ 0.75: completed, 9 hours
    for sid, status in zip(sessions, ("present", "late", "present"), strict=False):
        assert mark(api, sid, a, status).status_code == 200
    assert mark(api, sessions[3], a, "excused", reason="家中有事").status_code == 200
    # b: present, absent, excused, present → 2 of 4: not completed, 6 hours
    for sid, status in zip(sessions, ("present", "absent", "excused", "present"), strict=True):
        assert mark(api, sid, b, status, reason="病假" if status == "excused" else None).status_code == 200
    r = hours(api, a)
    assert r.status_code == 200
    assert r.json["training_hours"] == 9.0 and r.json["sessions_attended"] == 3 and r.json["courses_completed"] == 1
    assert r.json["person_id"] == a and r.json["year"] == 2022
    assert r.json["supervision_hours"] == 0.0
    r = hours(api, b)
    assert (r.json["training_hours"], r.json["sessions_attended"], r.json["courses_completed"]) == (6.0, 2, 0)
    # another year has nothing; all time (no year) is the same as 2022
    assert hours(api, a, year=2021).json["training_hours"] == 0.0
    assert hours(api, a, year=2021).json["courses_completed"] == 0
    all_time = hours(api, a, year=None).json
    assert (all_time["training_hours"], all_time["courses_completed"], all_time["year"]) == (9.0, 1, None)
    # marking a present again changes nothing (idempotent), excusing one drops it below the share
    mark(api, sessions[0], a, "present")
    assert hours(api, a).json["training_hours"] == 9.0
    mark(api, sessions[2], a, "absent")
    assert (hours(api, a).json["training_hours"], hours(api, a).json["courses_completed"]) == (6.0, 0)


def test_hours_year_is_the_local_calendar_year(api):
    course_id = setup_course(api, capacity=None)
    # 00:30 on 1 January 2022 in Hangzhou is still 2021 in UTC
    sid = created_id(
        new_session(api, course_id, starts_at="2022-01-01T00:30:00", ends_at="2022-01-01T02:30:00", hours=2)
    )
    enrol(api, course_id, api.ids["person"])
    mark(api, sid, api.ids["person"], "present")
    assert hours(api, api.ids["person"], year=2022).json["training_hours"] == 2.0
    assert hours(api, api.ids["person"], year=2021).json["training_hours"] == 0.0


def test_hours_validation(api):
    assert "year" in problem(hours(api, api.ids["person"], year=1999), 422)["errors"]
    assert "year" in problem(api("GET", f"/api/v1/people/{api.ids['person']}/hours?year=abc"), 422)["errors"]
    problem(hours(api, 999999), 404)


def test_trainee_reads_own_hours_only(api, course_with_sessions):
    _, sessions = course_with_sessions
    me = api.ids["trainee_person"]
    mark(api, sessions[0], me, "late")
    r = hours(api, me, who="trainee")
    assert r.status_code == 200 and r.json["training_hours"] == 3.0 and r.json["person_id"] == me
    problem(hours(api, api.ids["person"], who="trainee"), 404)
    problem(hours(api, api.ids["outsider"], who="trainee"), 404)


# --- scope ------------------------------------------------------------------------------------------------


def test_other_district_and_trainee_get_404_on_every_object(api, course_with_sessions):
    course_id, sessions = course_with_sessions
    pid = api.ids["person"]
    mark(api, sessions[0], pid, "present")
    for who in ("coord_out", "trainee"):
        problem(enrol(api, course_id, api.ids["extra"][0], who=who), 404)
        problem(enrol(api, course_id, api.ids["outsider"], who=who), 404)
        problem(api("DELETE", f"/api/v1/courses/{course_id}/enrolments/{pid}", who), 404)
        problem(mark(api, sessions[0], pid, "absent", who=who), 404)
        problem(hours(api, pid, who=who), 404)
    problem(new_session(api, course_id, who="coord_out"), 422, "course_id")
    with api.app.app_context():  # nothing changed
        assert db.session.scalar(select(Attendance.status)) == "present"
        assert db.session.scalar(select(func.count(Enrolment.id)).where(Enrolment.status == "enrolled")) == 3


@pytest.mark.parametrize(
    "method,path",
    [
        ("POST", "/api/v1/programs"),
        ("POST", "/api/v1/courses"),
        ("POST", "/api/v1/sessions"),
        ("POST", "/api/v1/courses/1/enrolments"),
        ("DELETE", "/api/v1/courses/1/enrolments/1"),
        ("PUT", "/api/v1/sessions/1/attendance/1"),
        ("GET", "/api/v1/people/1/hours"),
    ],
)
def test_anonymous_is_401(api, method, path):
    r = api(method, path, who=None, json={})
    problem(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_endpoints_are_in_the_openapi_document(api):
    document = api("GET", "/api/v1/openapi.json", who=None).json
    paths = {document["servers"][0]["url"] + path: item for path, item in document["paths"].items()}
    for path, method in [
        ("/api/v1/programs", "post"),
        ("/api/v1/courses", "post"),
        ("/api/v1/sessions", "post"),
        ("/api/v1/courses/{course_id}/enrolments", "post"),
        ("/api/v1/courses/{course_id}/enrolments/{person_id}", "delete"),
        ("/api/v1/sessions/{session_id}/attendance/{person_id}", "put"),
        ("/api/v1/people/{person_id}/hours", "get"),
    ]:
        assert method in paths[path], path
