"""Day-two corrections through the pages and the API: edit forms, the cancel and delete confirmations,
the 409 page of a refused deletion, the trainee's notices, and the JSON answers of the API.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from shegong_academy.audit.models import AuditEntry
from shegong_academy.auth.services import create_api_token
from shegong_academy.extensions import db
from shegong_academy.notices.models import Notification
from shegong_academy.training.models import Attendance, Course, CourseSession, Program
from shegong_academy.training.services import enrol, save_roster
from tests.training.helpers import course, program, session
from tests.training.test_routes import Site, field_errors, flashes, page


@pytest.fixture
def site(app):
    return Site(app)


def build(site: Site, attended: bool = True) -> dict:
    with site.world() as w:
        crs = course(program(w.district), capacity=10)
        s1, s2 = session(crs, 0), session(crs, 1)
        enrol(course=crs, person=w.trainee_person, actor=w.coord)
        enrol(course=crs, person=w.person, actor=w.coord)
        if attended:
            save_roster(session=s1, exceptions={}, actor=w.coord)
        db.session.flush()
        return {
            "program": crs.program_id,
            "course": crs.id,
            "s1": s1.id,
            "s2": s2.id,
            "trainee_person": w.trainee_person.id,
        }


def test_a_course_title_is_corrected_through_its_form(site):
    ids = build(site)
    c = site.client("coord")
    r = c.get(f"/courses/{ids['course']}/edit")
    assert r.status_code == 200 and 'value="社会工作专业理念与方法"' in page(r)
    # the attended share in percent, as the course page shows it and the form takes it
    assert re.search(r'<input[^>]*name="min_attendance"[^>]*value="80"', page(r)), page(r)
    form = {
        "code": "C1",
        "title": "社会工作专业理念与实务",
        "hours": "6",
        "capacity": "10",
        "policy": "open",
        "content_slug": "",
    }
    r = c.post(f"/courses/{ids['course']}/edit", data={**form, "min_attendance": "80"})
    assert r.status_code == 302, field_errors(r)
    with site.world():
        assert db.session.get(Course, ids["course"]).title == "社会工作专业理念与实务"
    # bad input re-renders with the message, and changes nothing
    r = c.post(f"/courses/{ids['course']}/edit", data={**form, "title": "", "capacity": "1", "min_attendance": "80"})
    assert r.status_code == 200 and field_errors(r)
    r = c.post(f"/courses/{ids['course']}/edit", data={**form, "capacity": "1", "min_attendance": "80"})
    assert r.status_code == 200
    assert "2 people hold a seat: the capacity cannot be lower." in " ".join(m for _c, m in flashes(r)) + " ".join(
        field_errors(r)
    ) or "At least 2." in field_errors(r)
    with site.world():
        assert db.session.get(Course, ids["course"]).capacity == 10


def test_cancelling_a_session_asks_first_and_says_what_will_happen(site):
    ids = build(site)
    c = site.client("coord")
    r = c.get(f"/sessions/{ids['s1']}/cancel")
    text = page(r)
    assert r.status_code == 200
    assert "2 enrolled trainees will be told, with your reason." in text
    assert "2 attendance records are kept but no longer count" in text
    with site.world():
        assert db.session.get(CourseSession, ids["s1"]).cancelled_at is None  # asking changed nothing
    r = c.post(f"/sessions/{ids['s1']}/cancel", data={"reason": ""})
    assert r.status_code == 200 and field_errors(r)
    r = c.post(f"/sessions/{ids['s1']}/cancel", data={"reason": "暴雨红色预警，停课"})
    assert r.status_code == 302
    with site.world():
        assert db.session.get(CourseSession, ids["s1"]).cancel_reason == "暴雨红色预警，停课"
    assert site.count(Attendance, Attendance.session_id == ids["s1"]) == 2
    text = page(c.get(f"/courses/{ids['course']}"))
    assert "Cancelled" in text and "暴雨红色预警，停课" in text and "Restore" in text
    # the trainee sees why, in their language
    t = site.client("trainee")
    text = page(t.get("/my/"))
    assert "is cancelled: 暴雨红色预警，停课" in text
    t.post("/my/notices/read", data={})
    with site.world():
        told = db.session.scalars(select(Notification)).all()
        # the trainee's own notifications are read; 李四's (told the same) are not
        assert {n.read_at is not None for n in told if n.person_id == ids["trainee_person"]} == {True}
        assert {n.read_at is None for n in told if n.person_id != ids["trainee_person"]} == {True}
    # undo
    assert c.post(f"/sessions/{ids['s1']}/restore", data={}).status_code == 302
    with site.world():
        assert db.session.get(CourseSession, ids["s1"]).cancelled_at is None


def test_a_session_is_rescheduled_through_its_form(site):
    ids = build(site)
    c = site.client("coord")
    r = c.get(f"/sessions/{ids['s2']}/edit")
    assert r.status_code == 200 and 'value="2022-05-11T09:00"' in r.text  # shown in local time
    data = {"starts_at": "2022-05-18T14:00", "ends_at": "2022-05-18T17:00", "hours": "3", "mode": "onsite"}
    r = c.post(f"/sessions/{ids['s2']}/edit", data={**data, "place": "湖墅街道社工站"})
    assert r.status_code == 302, field_errors(r)
    with site.world():
        moved = db.session.get(CourseSession, ids["s2"])
        assert moved.starts_at.hour == 6 and moved.place == "湖墅街道社工站"  # 14:00 in Hangzhou
    assert "moves to 2022-05-18 14:00, 湖墅街道社工站" in page(site.client("trainee").get("/my/"))
    r = c.post(f"/sessions/{ids['s2']}/edit", data={**data, "ends_at": "2022-05-18T13:00"})
    assert r.status_code == 200 and "The end is not after the start." in field_errors(r)


def test_a_course_with_attendance_cannot_be_deleted_the_page_says_why(site):
    ids = build(site)
    c = site.client("coord")
    r = c.get(f"/courses/{ids['course']}/delete")
    assert r.status_code == 200 and "This cannot be undone." in page(r)
    r = c.post(f"/courses/{ids['course']}/delete", data={})
    assert r.status_code == 409
    assert "People attended sessions of this course: it can be closed, not deleted." in page(r)
    with site.world():
        assert db.session.get(Course, ids["course"]) is not None
    r = c.post(f"/programs/{ids['program']}/delete", data={})
    assert r.status_code == 409
    # closing works, and is undone by reopening
    assert c.post(f"/courses/{ids['course']}/close", data={}).status_code == 302
    assert "Closed" in page(c.get(f"/courses/{ids['course']}"))
    assert c.post(f"/courses/{ids['course']}/reopen", data={}).status_code == 302
    with site.world():
        assert db.session.get(Course, ids["course"]).closed_at is None


def test_a_program_nobody_attended_is_deleted_after_confirming(site):
    ids = build(site, attended=False)
    c = site.client("coord")
    text = page(c.get(f"/programs/{ids['program']}/delete"))
    assert "1 courses, 2 sessions and 2 enrolments will be removed." in text
    r = c.post(f"/programs/{ids['program']}/delete", data={})
    assert r.status_code == 302 and r.location.endswith("/programs/")
    with site.world():
        assert db.session.get(Program, ids["program"]) is None
        assert db.session.scalar(select(AuditEntry.before).where(AuditEntry.action == "program.delete"))["courses"] == 1


def test_the_edit_pages_speak_chinese(site):
    ids = build(site)
    c = site.client("coord")
    c.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    assert "修改" in page(c.get(f"/courses/{ids['course']}"))
    assert "取消" in page(c.get(f"/sessions/{ids['s1']}/cancel"))
    assert "保存" in page(c.get(f"/sessions/{ids['s1']}/edit"))


def test_the_api_corrects_cancels_and_refuses(site):
    ids = build(site)
    with site.world() as w:
        token = create_api_token(user=w.coord)
    c = site.app.test_client()
    h = {"Authorization": f"Bearer {token}"}
    r = c.patch(f"/api/v1/courses/{ids['course']}", json={"title": "社会工作专业理念与实务"}, headers=h)
    assert r.status_code == 200 and r.json["title"] == "社会工作专业理念与实务" and r.json["closed"] is False
    r = c.patch(f"/api/v1/courses/{ids['course']}", json={"capacity": 1}, headers=h)
    assert r.status_code == 409 and r.json["status"] == 409
    r = c.patch(f"/api/v1/courses/{ids['course']}", json={"hours": "lots"}, headers=h)
    assert r.status_code == 422
    r = c.post(f"/api/v1/sessions/{ids['s1']}/cancel", json={}, headers=h)
    assert r.status_code == 422
    r = c.post(f"/api/v1/sessions/{ids['s1']}/cancel", json={"reason": "停电"}, headers=h)
    assert r.status_code == 200 and r.json["cancelled"] is True and r.json["cancel_reason"] == "停电"
    r = c.post(f"/api/v1/sessions/{ids['s1']}/cancel", json={"reason": "停电"}, headers=h)
    assert r.status_code == 409
    r = c.patch(f"/api/v1/sessions/{ids['s2']}", json={"starts_at": "2022-05-11T14:00:00"}, headers=h)
    assert r.status_code == 422  # now after its end
    r = c.delete(f"/api/v1/courses/{ids['course']}", headers=h)
    assert r.status_code == 409 and "closed, not deleted" in r.json["detail"]
    r = c.patch(f"/api/v1/programs/{ids['program']}", json={"closed": True}, headers=h)
    assert r.status_code == 200 and r.json["closed"] is True
