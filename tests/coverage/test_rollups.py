"""The monthly rollups the report reads stay current after every write path.

After each write, the stored PersonMonth rows equal a recomputation from the
base tables, and the live ledger (person_hours) says what the report reads.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from shegong_academy.auth.services import create_user
from shegong_academy.coverage.queries import unit_report
from shegong_academy.extensions import db
from shegong_academy.ledger.queries import Period, person_hours, person_totals
from shegong_academy.supervision.models import SupervisionCredit
from shegong_academy.supervision.services import respond_to_credit
from shegong_academy.training.checkin import make_token
from shegong_academy.training.imports import import_attendance
from shegong_academy.training.services import check_in, enrol, record_attendance, save_roster, withdraw
from tests.coverage import T0, assert_ledger_agrees, assert_rollups_current, course, program, session, supervise
from tests.coverage import supervisor_at as make_supervisor
from tests.factories import World, id_number, person


@pytest.fixture
def w(ctx):
    return World()


def check(w, people) -> None:
    ids = [p.id for p in people]
    assert_rollups_current(ids)
    for pid in ids:
        assert_ledger_agrees(pid)
        # the trainee page's figures, read from the rollups, are the live ledger's
        assert person_totals(pid, 2022) == (person_hours(pid, Period.year(2022)), person_hours(pid, None))
    # the report's person-times are the ledger's, summed over the subtree
    report = unit_report(w.district, 2022)
    ledgers = [person_hours(p.id, Period.year(2022)) for p in people]
    assert report["training_person_times"] == sum(h.sessions_attended for h in ledgers)
    assert report["supervision_person_times"] == sum(h.supervision_sessions for h in ledgers)
    assert report["people_trained"] == sum(1 for h in ledgers if h.sessions_attended)


def test_rollups_follow_every_write_path(w):
    numbers = [id_number() for _ in range(4)]
    people = [person(w.street if i % 2 else w.street2, f"学员{i}", id_number=numbers[i]) for i in range(4)]
    a, b, c, d = people
    crs = course(program(w.district), min_attendance="0.5")
    s1, s2, s3 = (session(crs, n) for n in range(3))
    for p in people:
        enrol(course=crs, person=p, actor=w.coord)
    check(w, people)

    record_attendance(session=s1, person=a, status="present", actor=w.coord)
    check(w, people)
    record_attendance(session=s1, person=a, status="excused", reason="病假", actor=w.coord)
    assert person_hours(a.id, None).training_hours == 0
    check(w, people)

    save_roster(session=s1, exceptions={d.id: ("absent", None)}, actor=w.coord)
    check(w, people)

    now = T0 + timedelta(days=1, minutes=15)  # s2, 15 minutes in: late
    assert check_in(session=s2, person=b, token=make_token(s2.id, now), now=now) is True
    check(w, people)
    assert person_hours(b.id, None).sessions_attended == 2

    csv = f"身份证号,姓名,出勤,原因\n{numbers[2]},学员2,迟到,\n{numbers[3]},学员3,请假,出差\n".encode()
    assert import_attendance(session=s3, filename="s3.csv", data=csv, actor=w.coord, max_rows=100) == 2
    check(w, people)
    assert person_hours(c.id, None).courses_completed == 1  # 2 of 3 sessions ≥ 50%

    withdraw(course=crs, person=c, actor=w.coord)
    check(w, people)
    assert person_hours(c.id, None).courses_completed == 0
    enrol(course=crs, person=c, actor=w.coord)  # re-enrolling: the earlier attendance completes it again
    check(w, people)
    assert person_hours(c.id, None).courses_completed == 1

    sup = make_supervisor(w.district)
    record = supervise(w.coord, sup, [a, b, c], 2)
    supervise(w.coord, sup, [d], "1.5")
    check(w, people)

    me = create_user(username="xueyuan0", password="correct-horse-battery", role="trainee", unit=a.unit, person=a)
    credit = db.session.scalar(
        select(SupervisionCredit).where(SupervisionCredit.record_id == record.id, SupervisionCredit.person_id == a.id)
    )
    respond_to_credit(credit=credit, actor=me, confirm=True)
    check(w, people)
    respond_to_credit(credit=credit, actor=me, confirm=False, reason="记录有误")
    check(w, people)
    assert person_hours(a.id, None).supervision_hours == 0


def test_rollups_follow_a_new_session_of_a_course(w):
    """Scheduling one more session changes who has completed the course (a share of *all* sessions)."""
    crs = course(program(w.district), min_attendance="0.5")
    s1 = session(crs)
    enrol(course=crs, person=w.person, actor=w.coord)
    record_attendance(session=s1, person=w.person, status="present", actor=w.coord)
    assert person_hours(w.person.id, None).courses_completed == 1
    session(crs, 1)
    session(crs, 2)  # now 1 of 3 sessions: not completed
    assert person_hours(w.person.id, None).courses_completed == 0
    assert_rollups_current([w.person.id])
