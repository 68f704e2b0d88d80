"""Training services: programs, courses, sessions, enrolment with waitlist, attendance, completion."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from shegong_academy.audit.models import AuditEntry
from shegong_academy.core.domain import Conflict, Forbidden, Invalid, NotFound
from shegong_academy.extensions import db
from shegong_academy.ledger.queries import Period, course_progress, person_hours
from shegong_academy.training.checkin import PROOF_SECONDS, make_proof, make_token
from shegong_academy.training.models import Attendance, Course, Enrolment
from shegong_academy.training.services import check_in, enrol, record_attendance, save_roster, withdraw
from tests.factories import World, forged, person
from tests.training.helpers import T0, course, program, session


@pytest.fixture
def w(ctx):
    return World()


def test_waitlist_in_order_and_promotion_on_withdrawal(w):
    crs = course(program(w.district), capacity=2)
    people = [person(w.community, f"学员{i}") for i in range(5)]
    statuses = [enrol(course=crs, person=p, actor=w.coord).status for p in people]
    assert statuses == ["enrolled", "enrolled", "waitlisted", "waitlisted", "waitlisted"]
    positions = [
        e.waitlist_position
        for e in db.session.scalars(select(Enrolment).where(Enrolment.status == "waitlisted").order_by(Enrolment.id))
    ]
    assert positions == [1, 2, 3]
    promoted = withdraw(course=crs, person=people[0], actor=w.coord)
    assert promoted.person_id == people[2].id and promoted.status == "enrolled"
    assert db.session.get(Course, crs.id).seats_taken == 2
    assert withdraw(course=crs, person=people[3], actor=w.coord) is None  # a waitlisted person leaving frees no seat
    assert withdraw(course=crs, person=people[1], actor=w.coord).person_id == people[4].id


def test_second_enrolment_is_a_conflict_and_re_enrolment_after_withdrawal_works(w):
    crs = course(program(w.district), capacity=3)
    enrol(course=crs, person=w.person, actor=w.coord)
    with pytest.raises(Conflict):
        enrol(course=crs, person=w.person, actor=w.coord)
    withdraw(course=crs, person=w.person, actor=w.coord)
    assert enrol(course=crs, person=w.person, actor=w.coord).status == "enrolled"
    assert db.session.get(Course, crs.id).seats_taken == 1


def test_scope_and_policy(w):
    crs = course(program(w.district), policy="coordinator")
    with pytest.raises(NotFound):
        enrol(course=crs, person=w.person, actor=w.coord_out)
    with pytest.raises(NotFound):
        enrol(course=crs, person=w.outsider, actor=w.coord)  # a person outside the coordinator's subtree
    with pytest.raises(Forbidden):
        enrol(course=crs, person=w.trainee_person, actor=w.trainee, self_service=True)
    open_course = course(program(w.district), code="C2")
    assert enrol(course=open_course, person=w.trainee_person, actor=w.trainee, self_service=True).status == "enrolled"
    other = course(program(w.other), code="C3")
    with pytest.raises(Forbidden):  # an open course of another district
        enrol(course=other, person=w.trainee_person, actor=w.trainee, self_service=True)


@pytest.mark.parametrize(
    "field,value",
    [
        ("hours", 0),
        ("hours", -1),
        ("hours", "abc"),
        ("hours", 1000),
        ("capacity", 0),
        ("policy", "lottery"),
        ("code", ""),
        ("min_attendance", 0),
        ("min_attendance", 2),
    ],
)
def test_course_validation_writes_nothing(w, field, value):
    prog = program(w.district)
    with pytest.raises(Invalid) as exc:
        course(prog, **{field: value})
    assert field in exc.value.errors
    assert db.session.scalar(select(func.count(Course.id))) == 0


def test_session_validation(w):
    crs = course(program(w.district))
    from shegong_academy.training.services import create_session

    with pytest.raises(Invalid) as exc:
        create_session(course=crs, data={"starts_at": T0, "ends_at": T0 - timedelta(hours=1), "hours": 2}, actor=None)
    assert "ends_at" in exc.value.errors
    with pytest.raises(Invalid):
        create_session(
            course=crs,
            data={"starts_at": T0, "ends_at": T0 + timedelta(hours=1), "hours": 2, "mode": "radio"},
            actor=None,
        )


def test_attendance_is_idempotent_and_excused_needs_a_reason(w):
    crs = course(program(w.district))
    s1 = session(crs)
    enrol(course=crs, person=w.person, actor=w.coord)
    record_attendance(session=s1, person=w.person, status="present", actor=w.coord)
    record_attendance(session=s1, person=w.person, status="present", actor=w.coord)
    assert db.session.scalar(select(func.count(Attendance.id))) == 1
    with pytest.raises(Invalid):
        record_attendance(session=s1, person=w.person, status="excused", actor=w.coord)
    with pytest.raises(Invalid):
        record_attendance(session=s1, person=w.person, status="asleep", actor=w.coord)
    record_attendance(session=s1, person=w.person, status="excused", reason="生病", actor=w.coord)
    assert db.session.scalar(select(Attendance)).status == "excused"
    with pytest.raises(Invalid):
        record_attendance(session=s1, person=w.person2, status="present", actor=w.coord)  # not enrolled


def test_roster_marks_everyone_present_but_the_exceptions(w):
    crs = course(program(w.district))
    s1 = session(crs)
    people = [w.person, w.person2, w.trainee_person]
    for p in people:
        enrol(course=crs, person=p, actor=w.coord)
    save_roster(
        session=s1,
        exceptions={w.person2.id: ("absent", None), w.trainee_person.id: ("excused", "家中有事")},
        actor=w.coord,
    )
    rows = {a.person_id: a.status for a in db.session.scalars(select(Attendance))}
    assert rows == {w.person.id: "present", w.person2.id: "absent", w.trainee_person.id: "excused"}
    save_roster(session=s1, exceptions={}, actor=w.coord)
    assert {a.status for a in db.session.scalars(select(Attendance))} == {"present"}
    with pytest.raises(Invalid):
        save_roster(session=s1, exceptions={w.outsider.id: ("absent", None)}, actor=w.coord)


def test_completion_counts_all_scheduled_sessions_and_never_excused(w):
    crs = course(program(w.district), min_attendance="0.75")
    sessions = [session(crs, n) for n in range(4)]
    for p in (w.person, w.person2):
        enrol(course=crs, person=p, actor=w.coord)
    for s in sessions[:3]:
        record_attendance(session=s, person=w.person, status="present", actor=w.coord)
    for s in sessions[:2]:
        record_attendance(session=s, person=w.person2, status="late", actor=w.coord)
    record_attendance(session=sessions[2], person=w.person2, status="excused", reason="病假", actor=w.coord)
    progress = course_progress(crs)
    assert progress[w.person.id] == {"attended": 3, "scheduled": 4, "completed": True}
    assert progress[w.person2.id] == {"attended": 2, "scheduled": 4, "completed": False}
    hours = person_hours(w.person2.id, Period.year(2022))
    assert hours.training_hours == Decimal("6.0") and hours.courses_completed == 0
    assert person_hours(w.person.id, Period.year(2022)).courses_completed == 1
    assert person_hours(w.person.id, Period.year(2021)).training_hours == 0


def test_withdrawn_enrolment_does_not_complete(w):
    crs = course(program(w.district), min_attendance="0.5")
    s1 = session(crs)
    enrol(course=crs, person=w.person, actor=w.coord)
    record_attendance(session=s1, person=w.person, status="present", actor=w.coord)
    assert person_hours(w.person.id, None).courses_completed == 1
    withdraw(course=crs, person=w.person, actor=w.coord)
    assert person_hours(w.person.id, None).courses_completed == 0


def test_a_trainee_cannot_withdraw_from_a_completed_course(w):
    crs = course(program(w.district), min_attendance="0.5")
    s1 = session(crs)
    enrol(course=crs, person=w.trainee_person, actor=w.coord)
    record_attendance(session=s1, person=w.trainee_person, status="present", actor=w.coord)
    with pytest.raises(Conflict):
        withdraw(course=crs, person=w.trainee_person, actor=w.trainee, self_service=True)
    assert person_hours(w.trainee_person.id, None).courses_completed == 1
    assert db.session.scalar(select(Enrolment.status).where(Enrolment.course_id == crs.id)) == "enrolled"
    # Not yet completed: a trainee may still withdraw.
    other = course(program(w.district), code="C2")
    session(other)
    enrol(course=other, person=w.trainee_person, actor=w.coord)
    withdraw(course=other, person=w.trainee_person, actor=w.trainee, self_service=True)


def test_qr_check_in(w, app):
    crs = course(program(w.district))
    s1 = session(crs)
    enrol(course=crs, person=w.person, actor=w.coord)
    now = T0 + timedelta(minutes=5)
    token = make_token(s1.id, now)
    assert check_in(session=s1, person=w.person, token=token, now=now) is True
    assert check_in(session=s1, person=w.person, token=token, now=now + timedelta(seconds=20)) is False
    assert db.session.scalar(select(func.count(Attendance.id))) == 1
    assert db.session.scalar(select(Attendance)).method == "qr"
    with pytest.raises(Forbidden):  # expired: two windows later
        check_in(session=s1, person=w.person, token=token, now=now + timedelta(seconds=75))
    with pytest.raises(Forbidden):  # forged
        check_in(session=s1, person=w.person, token=forged(token), now=now)
    with pytest.raises(Forbidden):  # another session's token
        s2 = session(crs, 1)
        check_in(session=s2, person=w.person, token=make_token(s1.id, now), now=now)
    with pytest.raises(Forbidden):  # not enrolled
        check_in(session=s1, person=w.person2, token=token, now=now)
    late = T0 + timedelta(hours=5)
    with pytest.raises(Forbidden):  # outside the session's window
        check_in(session=s1, person=w.person, token=make_token(s1.id, late), now=late)


def test_a_scan_proof_checks_in_only_from_the_browser_that_scanned(w, app):
    crs = course(program(w.district))
    s1 = session(crs)
    enrol(course=crs, person=w.trainee_person, actor=w.coord)
    scanned = T0 + timedelta(minutes=5)
    proof = make_proof(s1.id, scanned, "phone-of-the-trainee")
    for browser in (None, "", "phone-of-a-colleague"):
        with pytest.raises(Forbidden):
            check_in(session=s1, person=w.trainee_person, token=proof, browser=browser, now=scanned)
    with pytest.raises(Forbidden):  # ten minutes and a second after the scan
        check_in(
            session=s1,
            person=w.trainee_person,
            token=proof,
            browser="phone-of-the-trainee",
            now=scanned + timedelta(seconds=PROOF_SECONDS + 1),
        )
    assert db.session.scalar(select(func.count(Attendance.id))) == 0
    assert db.session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "attendance.qr")) == 0
    signed_in = scanned + timedelta(minutes=4)
    assert check_in(
        session=s1, person=w.trainee_person, token=proof, browser="phone-of-the-trainee", actor=w.trainee, now=signed_in
    )
    [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "attendance.qr"))
    assert (entry.actor_id, entry.entity_type, entry.entity_id) == (w.trainee.id, "course_session", s1.id)
    assert entry.after == {"person_id": w.trainee_person.id, "status": "present", "method": "qr"}
