"""Day-two corrections of training (app.training.changes): edit, reschedule, cancel and restore, close, delete.

Each change is audited with before/after, refreshes the rollups in the same transaction (checked
against a fresh recomputation), and tells the trainees a moved or cancelled session concerns.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from shegong_academy.audit.models import AuditEntry
from shegong_academy.core.domain import Conflict, Forbidden, Invalid, NotFound
from shegong_academy.extensions import db
from shegong_academy.ledger.queries import Period, person_hours
from shegong_academy.notices.models import Notification
from shegong_academy.notices.wording import subject as wording
from shegong_academy.training import changes
from shegong_academy.training.checkin import make_token
from shegong_academy.training.models import Attendance, Course, CourseSession, Enrolment, Program
from shegong_academy.training.queries import open_courses_for
from shegong_academy.training.services import check_in, enrol, record_attendance, save_roster
from tests.coverage import T0, assert_ledger_agrees, assert_rollups_current
from tests.factories import World, person
from tests.training.helpers import course, program, session


@pytest.fixture
def w(ctx):
    return World()


def audits(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def notices(person_id: int) -> list[Notification]:
    """What the person was told about sessions (enrolments tell them too)."""
    return list(
        db.session.scalars(
            select(Notification)
            .where(Notification.person_id == person_id, Notification.kind.startswith("session."))
            .order_by(Notification.id)
        )
    )


@pytest.fixture
def three(w):
    """A course of three 3-hour sessions (80% to complete), two trainees: a attends all three, b the first two."""
    crs = course(program(w.district), min_attendance="0.8")
    s1, s2, s3 = (session(crs, n) for n in range(3))
    a, b = person(w.community, "陈一"), person(w.street2, "林二")
    for p in (a, b):
        enrol(course=crs, person=p, actor=w.coord)
    save_roster(session=s1, exceptions={}, actor=w.coord)
    save_roster(session=s2, exceptions={}, actor=w.coord)
    save_roster(session=s3, exceptions={b.id: ("absent", None)}, actor=w.coord)
    return crs, (s1, s2, s3), (a, b)


def test_a_typo_in_a_course_title_is_fixed_and_audited(w, three):
    crs, _, _ = three
    changes.update_course(course=crs, data={"title": "社会工作专业理念与方法（修订）"}, actor=w.coord)
    assert crs.title == "社会工作专业理念与方法（修订）"
    [entry] = audits("course.update")
    assert entry.before == {"title": "社会工作专业理念与方法"}
    assert entry.after == {"title": "社会工作专业理念与方法（修订）"}
    assert entry.actor_name == "coord"


def test_an_edit_that_changes_nothing_is_not_audited(w, three):
    crs, _, _ = three
    changes.update_course(course=crs, data={"title": crs.title}, actor=w.coord)
    assert audits("course.update") == []


def test_course_edits_are_checked_like_new_courses(w, three):
    crs, _, _ = three
    other = course(crs.program, code="C2")
    with pytest.raises(Conflict):  # the code is used by another course of the program
        changes.update_course(course=other, data={"code": "C1"}, actor=w.coord)
    with pytest.raises(Invalid) as bad:
        changes.update_course(course=crs, data={"title": "  ", "hours": "0"}, actor=w.coord)
    assert set(bad.value.errors) == {"title", "hours"}
    with pytest.raises(Conflict):  # two people hold a seat
        changes.update_course(course=crs, data={"capacity": 1}, actor=w.coord)
    assert crs.capacity is None and crs.title == "社会工作专业理念与方法"
    changes.update_course(course=crs, data={"capacity": 2}, actor=w.coord)
    assert crs.capacity == 2


def test_a_coordinator_edits_only_inside_their_units(w, three):
    crs, (s1, _, _), _ = three
    for call in (
        lambda: changes.update_course(course=crs, data={"title": "x"}, actor=w.coord_out),
        lambda: changes.update_program(program=crs.program, data={"title": "x"}, actor=w.coord_out),
        lambda: changes.cancel_session(session=s1, reason="雨", actor=w.coord_out),
        lambda: changes.delete_course(course=crs, actor=w.coord_out),
        lambda: changes.update_course(course=crs, data={"title": "x"}, actor=w.street_coord),  # a district's course
    ):
        with pytest.raises(NotFound):
            call()
    assert crs.title == "社会工作专业理念与方法" and s1.cancelled_at is None


def test_a_stricter_completion_rule_refreshes_the_rollups(w, three):
    crs, _, (a, b) = three
    assert person_hours(b.id, None).courses_completed == 0  # 2 of 3 < 80%
    changes.update_course(course=crs, data={"min_attendance": "0.6"}, actor=w.coord)
    assert person_hours(b.id, None).courses_completed == 1
    assert_rollups_current([a.id, b.id])
    assert_ledger_agrees(b.id)


def test_cancelling_a_session_keeps_its_attendance_but_stops_counting_it(w, three):
    crs, (s1, s2, s3), (a, b) = three
    assert person_hours(a.id, None).training_hours == 9
    assert person_hours(b.id, None).courses_completed == 0

    told = changes.cancel_session(session=s3, reason="暴雨红色预警，停课", actor=w.coord)

    assert told == 2
    assert s3.cancelled_at is not None and s3.cancel_reason == "暴雨红色预警，停课"
    assert db.session.scalar(select(func.count()).where(Attendance.session_id == s3.id)) == 2  # kept
    assert person_hours(a.id, None).training_hours == 6  # s3 no longer counts
    assert person_hours(a.id, None).sessions_attended == 2
    assert person_hours(b.id, None).courses_completed == 1  # 2 of 2 scheduled sessions now
    assert_rollups_current([a.id, b.id])
    for p in (a, b):
        assert_ledger_agrees(p.id)
        [notice] = notices(p.id)
        assert notice.kind == "session.cancelled"
        assert "暴雨红色预警" in wording(notice) and crs.title in wording(notice)
    [entry] = audits("session.cancel")
    assert entry.after["reason"] == "暴雨红色预警，停课" and entry.after["told"] == 2


def test_restoring_a_cancelled_session_counts_it_again(w, three):
    _, (_, _, s3), (a, b) = three
    changes.cancel_session(session=s3, reason="停电", actor=w.coord)
    changes.restore_session(session=s3, actor=w.coord)
    assert s3.cancelled_at is None and s3.cancel_reason is None
    assert person_hours(a.id, None).training_hours == 9
    assert person_hours(b.id, None).courses_completed == 0
    assert_rollups_current([a.id, b.id])
    assert [n.kind for n in notices(a.id)] == ["session.cancelled", "session.restored"]
    assert audits("session.restore")[0].before == {"cancelled": True, "reason": "停电"}
    with pytest.raises(Conflict):
        changes.restore_session(session=s3, actor=w.coord)


def test_a_cancellation_needs_a_reason_and_happens_once(w, three):
    _, (s1, _, _), (a, _) = three
    for reason in ("", "   ", None, "长" * 256):
        with pytest.raises(Invalid):
            changes.cancel_session(session=s1, reason=reason, actor=w.coord)
    assert s1.cancelled_at is None and notices(a.id) == []
    changes.cancel_session(session=s1, reason="场地不可用", actor=w.coord)
    with pytest.raises(Conflict):
        changes.cancel_session(session=s1, reason="again", actor=w.coord)
    assert len(notices(a.id)) == 1


def test_no_attendance_is_taken_at_a_cancelled_session(w, three):
    crs, (_, _, s3), (a, b) = three
    changes.cancel_session(session=s3, reason="停课", actor=w.coord)
    with pytest.raises(Conflict):
        record_attendance(session=s3, person=b, status="present", actor=w.coord)
    with pytest.raises(Conflict):
        save_roster(session=s3, exceptions={}, actor=w.coord)
    now = s3.starts_at + timedelta(minutes=5)
    with pytest.raises(Forbidden):
        check_in(session=s3, person=b, token=make_token(s3.id, now), now=now)
    assert (
        db.session.scalar(select(Attendance.status).where(Attendance.session_id == s3.id, Attendance.person_id == b.id))
        == "absent"
    )


def test_rescheduling_moves_the_hours_and_tells_the_trainees(w, three):
    crs, (s1, s2, s3), (a, b) = three
    new_start = T0 + timedelta(days=40)  # from May into June
    changes.update_session(
        session=s3,
        data={"starts_at": new_start, "ends_at": new_start + timedelta(hours=2), "place": "湖墅街道社工站"},
        actor=w.coord,
    )
    assert s3.starts_at == new_start and s3.place == "湖墅街道社工站"
    assert_rollups_current([a.id, b.id])
    june = Period(new_start.replace(day=1, hour=0) - timedelta(hours=8), new_start + timedelta(days=25))
    assert person_hours(a.id, june).training_hours == 3
    [notice] = notices(b.id)
    assert notice.kind == "session.rescheduled" and "湖墅街道社工站" in wording(notice)
    [entry] = audits("session.update")
    assert set(entry.after) == {"starts_at", "ends_at", "place"}
    # changing only the credited hours tells nobody, but moves the hours
    changes.update_session(session=s1, data={"hours": Decimal("2.5")}, actor=w.coord)
    assert len(notices(b.id)) == 1
    assert person_hours(a.id, None).training_hours == Decimal("8.5")
    assert_rollups_current([a.id, b.id])


def test_a_session_edit_is_checked(w, three):
    _, (s1, _, _), _ = three
    with pytest.raises(Invalid) as bad:
        changes.update_session(session=s1, data={"ends_at": s1.starts_at - timedelta(hours=1)}, actor=w.coord)
    assert set(bad.value.errors) == {"ends_at"}
    changes.cancel_session(session=s1, reason="停课", actor=w.coord)
    with pytest.raises(Conflict):
        changes.update_session(session=s1, data={"place": "别处"}, actor=w.coord)


def test_a_course_with_attendance_is_closed_not_deleted(w, three):
    crs, _, (a, _) = three
    with pytest.raises(Conflict):
        changes.delete_course(course=crs, actor=w.coord)
    with pytest.raises(Conflict):
        changes.delete_program(program=crs.program, actor=w.coord)
    assert db.session.get(Course, crs.id) is not None

    changes.set_course_closed(course=crs, closed=True, actor=w.coord)
    newcomer = person(w.community, "周三")
    with pytest.raises(Conflict):
        enrol(course=crs, person=newcomer, actor=w.coord)
    with pytest.raises(Conflict):
        session(crs, 9)
    assert person_hours(a.id, None).training_hours == 9  # history kept
    changes.set_course_closed(course=crs, closed=False, actor=w.coord)
    enrol(course=crs, person=newcomer, actor=w.coord)
    assert [e.action for e in audits("course.close") + audits("course.reopen")] == ["course.close", "course.reopen"]


def test_a_closed_program_is_no_longer_offered_to_trainees(w):
    crs = course(program(w.district, year=2030))
    trainee = w.trainee_person
    assert crs in open_courses_for(trainee, 2029)
    changes.set_program_closed(program=crs.program, closed=True, actor=w.coord)
    assert crs not in open_courses_for(trainee, 2029)
    with pytest.raises(Conflict):
        enrol(course=crs, person=trainee, actor=None, self_service=True)


def test_a_course_nobody_attended_is_deleted_with_its_sessions_and_enrolments(w):
    crs = course(program(w.district))
    s1 = session(crs)
    enrol(course=crs, person=w.person, actor=w.coord)
    course_id, session_id = crs.id, s1.id
    changes.delete_course(course=crs, actor=w.coord)
    db.session.expire_all()
    assert db.session.get(Course, course_id) is None and db.session.get(CourseSession, session_id) is None
    assert db.session.scalar(select(func.count()).where(Enrolment.course_id == course_id)) == 0
    [entry] = audits("course.delete")
    assert entry.before["sessions"] == 1 and entry.before["enrolments"] == 1


def test_a_program_nobody_attended_is_deleted(w):
    prog = program(w.district)
    course(prog)
    course(prog, code="C2")
    program_id = prog.id
    changes.delete_program(program=prog, actor=w.coord)
    db.session.expire_all()
    assert db.session.get(Program, program_id) is None
    assert audits("program.delete")[0].before["courses"] == 2


def test_program_edits_keep_the_unit_and_are_checked(w):
    prog = program(w.district)
    changes.update_program(program=prog, data={"title": "2022年骨干社工研修班", "year": 2023}, actor=w.coord)
    assert (prog.title, prog.year, prog.unit_id) == ("2022年骨干社工研修班", 2023, w.district.id)
    assert audits("program.update")[0].after == {"title": "2022年骨干社工研修班", "year": "2023"}
    with pytest.raises(Invalid):
        changes.update_program(program=prog, data={"kind": "party"}, actor=w.coord)
    assert prog.kind == "camp"
