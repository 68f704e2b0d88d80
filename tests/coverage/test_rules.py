"""Coverage rules through the services: rates, who is missing and what they lack, and what never counts.

Excused absences, withdrawn enrolments, disputed supervision and inactive
people each have a test; so has the local-time year boundary.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shegong_academy.auth.services import create_user
from shegong_academy.coverage.models import Cohort
from shegong_academy.coverage.queries import members_of, missing_page, missing_people, unit_report
from shegong_academy.coverage.services import freeze_cohort, refresh_members
from shegong_academy.extensions import db
from shegong_academy.ledger.models import PersonMonth
from shegong_academy.ledger.queries import Period, person_hours
from shegong_academy.org.models import OrgUnit
from shegong_academy.supervision.models import SupervisionCredit
from shegong_academy.supervision.services import respond_to_credit
from shegong_academy.training.services import enrol, record_attendance, save_roster, withdraw
from tests.conftest import make_app
from tests.coverage import (
    assert_ledger_agrees,
    assert_rollups_current,
    cohort,
    course,
    program,
    session,
    supervise,
    supervisor_at,
)
from tests.factories import World, person


@pytest.fixture
def w(ctx):
    return World()


def cohort_figures(unit, cohort_id, year=2022, report=None):
    report = report or unit_report(unit, year)
    return next(c for c in report["cohorts"] if c["id"] == cohort_id)


def member_ids(c):
    """The cohort's members as the report counts them (the rule applied now, or the frozen list)."""
    return set(db.session.scalars(members_of(c)))


# --- 1. a cohort of 10: 7 trained, 5 supervised --------------------------------------------------------------


@pytest.fixture
def ten(w):
    """Ten people, five per street; 6 training hours and 2 supervision hours count.

    Training (two 3-hour sessions): p0–p6 attend both (p6 late once); p7 is absent
    from the second, p8 from both, p9 excused from the second. Supervision: a
    2-hour group session for p0, p2, p4, p7, p9; 1 hour one-to-one for p1.
    """
    people = [person(w.street if i < 5 else w.street2, f"学员{i}") for i in range(10)]
    crs = course(program(w.district))
    s1, s2 = session(crs, 0), session(crs, 1)
    for p in people:
        enrol(course=crs, person=p, actor=w.coord)
    save_roster(session=s1, exceptions={people[8].id: ("absent", None)}, actor=w.coord)
    save_roster(
        session=s2,
        exceptions={
            people[7].id: ("absent", None),
            people[8].id: ("absent", None),
            people[9].id: ("excused", "家中有事"),
        },
        actor=w.coord,
    )
    record_attendance(session=s2, person=people[6], status="late", actor=w.coord)
    sup = supervisor_at(w.district)
    supervise(w.coord, sup, [people[i] for i in (0, 2, 4, 7, 9)], 2)
    supervise(w.coord, sup, [people[1]], 1)
    c = cohort(w.district, w.coord, member_ids=[p.id for p in people], min_training_hours=6, min_supervision_hours=2)
    db.session.commit()
    return w, people, c


def test_ten_people_seven_trained_five_supervised(ten):
    w, people, c = ten
    report = unit_report(w.district, 2022)
    assert cohort_figures(w.district, c.id, report=report) == {
        "id": c.id,
        "name": "2022年项目社工转岗人员",
        "members": 10,
        "trained": 7,
        "supervised": 5,
        "training_rate": 0.7,
        "supervision_rate": 0.5,
        "training_target": 1.0,
        "supervision_target": 1.0,
    }
    by_street = {ch["unit"]["code"]: ch["cohorts"][0] for ch in report["children"]}
    # street 1: p0–p4 all trained, p0/p2/p4 supervised; street 2: p5, p6 trained, p7, p9 supervised
    assert (by_street["330105001"]["members"], by_street["330105001"]["trained"]) == (5, 5)
    assert by_street["330105001"]["supervised"] == 3 and by_street["330105001"]["supervision_rate"] == 0.6
    assert (by_street["330105002"]["trained"], by_street["330105002"]["supervised"]) == (2, 2)
    assert by_street["330105002"]["training_rate"] == 0.4
    # the bureau's figures: 2 sessions × 10 people − 4 not attended (absent ×3, excused ×1)
    assert report["training_person_times"] == 16 and report["course_sessions"] == 2
    assert report["supervision_person_times"] == 6 and report["supervision_sessions"] == 2
    assert report["people_trained"] == 9  # p8 attended nothing
    assert report["people_supervised"] == 6


def test_missing_people_lists_the_union_with_what_each_lacks(ten):
    w, people, c = ten
    missing = {m.person.id: m for m in missing_people(c)}
    expected = {  # person: (lacks training hours, lacks supervision hours)
        1: (None, Decimal(1)),
        3: (None, Decimal(2)),
        5: (None, Decimal(2)),
        6: (None, Decimal(2)),
        7: (Decimal(3), None),
        8: (Decimal(6), Decimal(2)),
        9: (Decimal(3), None),
    }
    assert set(missing) == {people[i].id for i in expected}  # 3 not trained ∪ 5 not supervised
    for i, (lacks_t, lacks_s) in expected.items():
        m = missing[people[i].id]
        assert (m.lacks_training, m.lacks_supervision) == (lacks_t, lacks_s), m.person.name
        assert m.training_hours == Decimal(6) - (lacks_t or 0)
        assert m.supervision_hours == Decimal(2) - (lacks_s or 0)
        assert m.lacks_courses is None and m.lacks_sessions is None
        assert m.unit_name == ("米市巷街道" if i < 5 else "湖墅街道")
    assert {m.person.id for m in missing_people(c, within=w.street)} == {people[i].id for i in (1, 3)}
    assert len(missing_people(c, limit=2)) == 2
    # Paged: the pages add up to the whole list, in order, each knowing the total.
    pages = [missing_page(c, None, n, per_page=3) for n in (1, 2, 3)]
    assert [m.person.id for page in pages for m in page.items] == [m.person.id for m in missing_people(c)]
    assert [len(p.items) for p in pages] == [3, 3, 1] and {p.total for p in pages} == {7}
    assert (pages[0].pages, pages[0].has_prev, pages[0].has_next, pages[2].has_next) == (3, False, True, False)
    beyond = missing_page(c, w.street, 5, per_page=3)
    assert beyond.items == [] and beyond.page == 5 and not beyond.has_next


def test_a_cohort_by_sessions_and_courses(ten):
    """Other rules: at least N supervision sessions; at least N completed courses."""
    w, people, _ = ten
    by_sessions = cohort(
        w.district, w.coord, name="督导次数", member_ids=[p.id for p in people], min_supervision_sessions=1
    )
    by_courses = cohort(
        w.district,
        w.coord,
        name="完成课程",
        member_ids=[p.id for p in people],
        min_courses=1,
        min_supervision_sessions=0,
    )
    report = unit_report(w.district, 2022)
    assert cohort_figures(w.district, by_sessions.id, report=report)["supervised"] == 6  # p1's hour counts too
    # completion needs 80% of 2 sessions: both attended (p0–p6)
    assert cohort_figures(w.district, by_courses.id, report=report)["trained"] == 7
    lacking = {m.person.id: m.lacks_courses for m in missing_people(by_courses)}
    assert lacking == {people[i].id: 1 for i in (7, 8, 9)}
    assert {m.person.id: m.lacks_sessions for m in missing_people(by_sessions)} == {
        people[i].id: 1 for i in (3, 5, 6, 8)
    }


def test_a_cohort_without_rules_lists_who_has_had_no_training_or_supervision(ten):
    """No minimums: trained = any session attended, supervised = any supervision; the list says which is missing."""
    w, people, _ = ten
    plain = cohort(w.district, w.coord, name="全员", member_ids=[p.id for p in people])
    missing = {m.person.id: (m.no_training, m.no_supervision) for m in missing_people(plain)}
    # p8 attended nothing; p3, p5, p6, p8 had no supervision
    assert missing == {
        people[3].id: (False, True),
        people[5].id: (False, True),
        people[6].id: (False, True),
        people[8].id: (True, True),
    }
    ruled = {m.person.id: (m.no_training, m.no_supervision) for m in missing_people(_)}
    assert set(ruled.values()) == {(False, False)}  # with minimums, the hours short say it instead


def test_rates_follow_the_target_and_an_empty_cohort_has_null_rates(w):
    c = cohort(w.district, w.coord, category="station_worker", training_target="0.8", supervision_target="0.9")
    figures = cohort_figures(w.district, c.id)
    assert figures["members"] == 0
    assert figures["training_rate"] is None and figures["supervision_rate"] is None
    assert (figures["training_target"], figures["supervision_target"]) == (0.8, 0.9)
    assert missing_people(c) == []


# --- 2. what never counts ------------------------------------------------------------------------------------


def test_excused_never_counts_as_hours_or_person_times(w):
    crs = course(program(w.district))
    sessions = [session(crs, n) for n in range(3)]
    enrol(course=crs, person=w.person, actor=w.coord)
    for s in sessions:
        record_attendance(session=s, person=w.person, status="excused", reason="病假", actor=w.coord)
    any_session = cohort(w.district, w.coord, name="参训即可", member_ids=[w.person.id])  # no rule: any attendance
    by_hours = cohort(w.district, w.coord, name="3学时", member_ids=[w.person.id], min_training_hours=3)
    report = unit_report(w.district, 2022)
    assert report["training_person_times"] == 0 and report["people_trained"] == 0
    assert report["course_sessions"] == 3
    assert cohort_figures(w.district, any_session.id, report=report)["trained"] == 0
    assert cohort_figures(w.district, by_hours.id, report=report)["trained"] == 0
    assert person_hours(w.person.id, Period.year(2022)).training_hours == 0
    assert [m.lacks_training for m in missing_people(by_hours)] == [Decimal(3)]
    # the same session marked late counts: person-times, hours and the rule
    record_attendance(session=sessions[0], person=w.person, status="late", actor=w.coord)
    report = unit_report(w.district, 2022)
    assert report["training_person_times"] == 1 and report["people_trained"] == 1
    assert cohort_figures(w.district, by_hours.id, report=report)["trained"] == 1
    assert cohort_figures(w.district, any_session.id, report=report)["trained"] == 1
    assert_rollups_current([w.person.id])
    assert_ledger_agrees(w.person.id)


@pytest.mark.parametrize("listed", [True, False], ids=["listed-programs", "any-program"])
def test_withdrawn_enrolment_never_completes_a_course(w, listed):
    prog = program(w.district)
    crs = course(prog, min_attendance="0.5")
    s1, _s2 = session(crs, 0), session(crs, 1)
    for p in (w.person, w.person2):
        enrol(course=crs, person=p, actor=w.coord)
        record_attendance(session=s1, person=p, status="present", actor=w.coord)
    extra = {"program_ids": [prog.id]} if listed else {}
    c = cohort(
        w.district, w.coord, member_ids=[w.person.id, w.person2.id], min_courses=1, min_supervision_sessions=0, **extra
    )
    assert cohort_figures(w.district, c.id)["trained"] == 2
    withdraw(course=crs, person=w.person, actor=w.coord)
    figures = cohort_figures(w.district, c.id)
    assert (figures["trained"], figures["training_rate"]) == (1, 0.5)
    assert [(m.person.id, m.lacks_courses) for m in missing_people(c)] == [(w.person.id, 1)]
    # their attended hours stay hours; only the completion goes
    assert person_hours(w.person.id, Period.year(2022)).training_hours == 3
    assert person_hours(w.person.id, Period.year(2022)).courses_completed == 0
    # re-enrolling brings the completion back (earlier attendance still there)
    enrol(course=crs, person=w.person, actor=w.coord)
    assert cohort_figures(w.district, c.id)["trained"] == 2
    assert_rollups_current([w.person.id, w.person2.id])


def test_completion_outside_the_listed_programs_does_not_count(w):
    listed, other = program(w.district), program(w.district, title="其他培训班")
    crs = course(other, code="X1", min_attendance="0.5")
    s = session(crs)
    enrol(course=crs, person=w.person, actor=w.coord)
    record_attendance(session=s, person=w.person, status="present", actor=w.coord)
    c = cohort(w.district, w.coord, member_ids=[w.person.id], min_courses=1, program_ids=[listed.id])
    assert cohort_figures(w.district, c.id)["trained"] == 0
    anywhere = cohort(w.district, w.coord, name="任意项目", member_ids=[w.person.id], min_courses=1)
    assert cohort_figures(w.district, anywhere.id)["trained"] == 1


@pytest.fixture
def disputed(w):
    """Three credits of 2 hours for w.person: one confirmed, one unconfirmed, one disputed."""
    sup = supervisor_at(w.district)
    me = create_user(
        username="lisi", password="correct-horse-battery", role="trainee", unit=w.community, person=w.person
    )
    records = [supervise(w.coord, sup, [w.person, w.person2], 2, topic=f"团体督导{i}") for i in range(3)]
    credit = {
        r.id: db.session.scalar(
            db.select(SupervisionCredit).where(
                SupervisionCredit.record_id == r.id, SupervisionCredit.person_id == w.person.id
            )
        )
        for r in records
    }
    respond_to_credit(credit=credit[records[0].id], actor=me, confirm=True)
    respond_to_credit(credit=credit[records[2].id], actor=me, confirm=False, reason="当天我不在场")
    c = cohort(w.district, w.coord, member_ids=[w.person.id], min_supervision_hours=4)
    strict = cohort(w.district, w.coord, name="六小时", member_ids=[w.person.id], min_supervision_hours=6)
    db.session.commit()
    return w, c, strict


def test_disputed_supervision_never_counts(disputed):
    w, c, strict = disputed
    hours = person_hours(w.person.id, Period.year(2022))
    assert (hours.supervision_hours, hours.supervision_sessions) == (4, 2)  # confirmed + unconfirmed
    report = unit_report(w.district, 2022)
    assert cohort_figures(w.district, c.id, report=report)["supervised"] == 1
    assert cohort_figures(w.district, strict.id, report=report)["supervised"] == 0
    assert [m.lacks_supervision for m in missing_people(strict)] == [Decimal(2)]
    # person-times: person2's 3 (all unconfirmed) + this person's 2 counted; sessions held: all 3
    assert report["supervision_person_times"] == 5 and report["supervision_sessions"] == 3
    month = db.session.get(PersonMonth, (w.person.id, 202206))
    assert month.supervision_hours_confirmed == 2 and month.supervision_hours_unconfirmed == 2
    assert_rollups_current([w.person.id, w.person2.id])
    assert_ledger_agrees(w.person.id)


def test_unconfirmed_supervision_counts_only_when_configured(disputed, db_url):
    w, c, _ = disputed
    district_id, person_id, cohort_id = w.district.id, w.person.id, c.id
    db.session.rollback()  # end this session's transaction: SQLite lets one writer begin at a time
    strict_app = make_app(db_url, LMS_COUNT_UNCONFIRMED_SUPERVISION=False)
    try:
        with strict_app.app_context():
            district = db.session.get(OrgUnit, district_id)
            hours = person_hours(person_id, Period.year(2022))
            assert (hours.supervision_hours, hours.supervision_sessions) == (2, 1)  # only the confirmed one
            report = unit_report(district, 2022)
            figures = cohort_figures(district, cohort_id, report=report)
            assert (figures["supervised"], figures["supervision_rate"]) == (0, 0.0)
            assert report["supervision_person_times"] == 1  # person2 confirmed nothing
            assert report["people_supervised"] == 1
            lacking = missing_people(db.session.get(Cohort, cohort_id))
            assert [(m.supervision_hours, m.lacks_supervision) for m in lacking] == [(Decimal(2), Decimal(2))]
            assert_ledger_agrees(person_id)
    finally:
        with strict_app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_inactive_people_are_not_counted_nor_added_by_a_rule(w):
    crs = course(program(w.district))
    s = session(crs)
    enrol(course=crs, person=w.person2, actor=w.coord)
    record_attendance(session=s, person=w.person2, status="present", actor=w.coord)
    before = unit_report(w.district, 2022)
    w.person2.active = False  # 王五, the district's only project social worker, leaves
    db.session.flush()
    report = unit_report(w.district, 2022)
    assert report["people"] == before["people"] - 1 == 2
    # what they did this year still happened: person-times stay
    assert report["training_person_times"] == before["training_person_times"] == 1
    c = cohort(w.district, w.coord, name="项目社工", category="project_social_worker")
    assert member_ids(c) == set()
    everyone = cohort(w.district, w.coord, name="全体", category=None, include_rule=True)
    assert member_ids(everyone) == {w.person.id, w.trainee_person.id}


def test_an_unfrozen_cohort_follows_its_rule(w):
    """Until frozen, members are the rule applied now: joiners count, leavers and movers stop counting."""
    workers = [person(w.street2, f"社工{i}", category="project_social_worker") for i in range(3)]
    c = cohort(
        w.district,
        w.coord,
        category="project_social_worker",
        member_ids=[w.person.id],  # a community worker added by name
        excluded_ids=[workers[2].id],
        min_training_hours=3,
    )
    expected = {w.person.id, w.person2.id, workers[0].id, workers[1].id}
    assert member_ids(c) == expected
    assert cohort_figures(w.district, c.id)["members"] == 4
    workers[0].active = False  # leaves the service
    workers[1].unit = w.other_street  # moves to 西湖区
    newcomer = person(w.street, "新来的", category="project_social_worker")
    db.session.flush()
    report = unit_report(w.district, 2022)
    figures = cohort_figures(w.district, c.id, report=report)
    assert figures["members"] == 3  # 王五, the newcomer and the one added by name
    assert member_ids(c) == {w.person2.id, newcomer.id, w.person.id}
    assert {ch["unit"]["code"]: ch["cohorts"][0]["members"] for ch in report["children"]} == {
        "330105001": 2,
        "330105002": 1,
    }
    assert {m.person.id for m in missing_people(c)} == {w.person.id, w.person2.id, newcomer.id}
    # freezing fixes the list as it stands now; later changes no longer move it
    freeze_cohort(cohort=c, actor=w.coord)
    newcomer.active = False
    person(w.street, "又来的", category="project_social_worker")
    db.session.flush()
    assert cohort_figures(w.district, c.id)["members"] == 3
    assert {m.person.id for m in missing_people(c)} == {w.person.id, w.person2.id, newcomer.id}


def test_a_frozen_cohort_keeps_members_who_leave_or_move(w):
    """Frozen members stay countable: deactivated, or moved to another district after freezing."""
    workers = [person(w.street2, f"社工{i}", category="project_social_worker") for i in range(3)]
    crs = course(program(w.district))
    s = session(crs)
    for p in workers:
        enrol(course=crs, person=p, actor=w.coord)
    save_roster(session=s, exceptions={}, actor=w.coord)
    c = cohort(w.district, w.coord, category="project_social_worker", min_training_hours=3, min_supervision_sessions=0)
    assert member_ids(c) == {w.person2.id} | {p.id for p in workers}
    freeze_cohort(cohort=c, actor=w.coord)
    leaver, mover = workers[0], workers[1]
    leaver.active = False
    mover.unit = w.other_street  # to 西湖区, after freezing
    newcomer = person(w.street, "新来的", category="project_social_worker")
    db.session.flush()
    assert refresh_members(c) == 4  # frozen: the rule is not applied again
    assert member_ids(c) == {w.person2.id} | {p.id for p in workers}
    assert newcomer.id not in member_ids(c)
    report = unit_report(w.district, 2022)
    figures = cohort_figures(w.district, c.id, report=report)
    assert (figures["members"], figures["trained"], figures["training_rate"]) == (4, 3, 0.75)
    # the children break the cohort down by current unit: the mover is in none of them
    by_street = {ch["unit"]["code"]: ch["cohorts"][0]["members"] for ch in report["children"]}
    assert by_street == {"330105001": 0, "330105002": 3}
    # the other district's report does not carry 拱墅区's cohort, but counts the mover's attendance now
    other = unit_report(w.other, 2022)
    assert other["cohorts"] == [] and other["training_person_times"] == 1
    assert report["training_person_times"] == 2  # the leaver's attendance stays in 拱墅区
    # the mover, lacking nothing, is not missing; person2 (no training) is
    assert [m.person.id for m in missing_people(c)] == [w.person2.id]


# --- 8. the year is a local year -----------------------------------------------------------------------------


def test_year_boundaries_are_local_time(w):
    crs = course(program(w.district), hours=2)
    late_2022 = datetime(2022, 12, 31, 15, 30, tzinfo=UTC)  # 23:30 on 31 December in Shanghai
    early_2023 = datetime(2022, 12, 31, 16, 30, tzinfo=UTC)  # 00:30 on 1 January 2023 in Shanghai
    s_2022 = session(crs, hours=1, start=late_2022)
    s_2023 = session(crs, hours=2, start=early_2023)
    enrol(course=crs, person=w.person, actor=w.coord)
    save_roster(session=s_2022, exceptions={}, actor=w.coord)
    save_roster(session=s_2023, exceptions={}, actor=w.coord)
    only_training = {"member_ids": [w.person.id], "min_supervision_sessions": 0}
    c22 = cohort(w.district, w.coord, name="2022", min_training_hours=1, **only_training)
    c23 = cohort(w.district, w.coord, name="2023", year=2023, min_training_hours="1.5", **only_training)
    r22, r23 = unit_report(w.district, 2022), unit_report(w.district, 2023)
    assert (r22["course_sessions"], r22["training_person_times"]) == (1, 1)
    assert (r23["course_sessions"], r23["training_person_times"]) == (1, 1)
    assert cohort_figures(w.district, c22.id, report=r22)["trained"] == 1
    assert cohort_figures(w.district, c23.id, 2023, report=r23)["trained"] == 1
    assert person_hours(w.person.id, Period.year(2022)).training_hours == 1
    assert person_hours(w.person.id, Period.year(2023)).training_hours == 2
    months = {m.month: m.training_hours for m in db.session.scalars(db.select(PersonMonth))}
    assert months == {202212: 1, 202301: 2}
    assert missing_people(c22) == [] and missing_people(c23) == []
    # a 2-session course whose last session starts in local 2023 completes in 2023
    assert person_hours(w.person.id, Period.year(2023)).courses_completed == 1
    assert person_hours(w.person.id, Period.year(2022)).courses_completed == 0
    assert_ledger_agrees(w.person.id, 2022)
    assert_ledger_agrees(w.person.id, 2023)
    assert early_2023 - late_2022 == timedelta(hours=1)
