"""Group enrolment services (issue 13): ``enrol_unit`` and ``enrol_cohort``.

What they promise: the active people of a unit's subtree (of a category) or of a cohort, among those the
actor manages, are enrolled once each; people already enrolled or waitlisted are skipped and counted;
a full course waitlists the rest in order; a unit, cohort or course outside the actor's units is refused
(NotFound) and writes nothing; the return value counts enrolled, waitlisted and skipped people.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from shegong_academy.audit.models import AuditEntry
from shegong_academy.core.domain import NotFound
from shegong_academy.coverage.services import create_cohort
from shegong_academy.extensions import db
from shegong_academy.training.models import Course, Enrolment
from shegong_academy.training.services import enrol, enrol_cohort, enrol_unit, withdraw
from tests.factories import World, person
from tests.training.helpers import course, program

PSW = "project_social_worker"


@pytest.fixture
def w(ctx):
    return World()


def counts(enrolled: int = 0, waitlisted: int = 0, skipped: int = 0) -> dict[str, int]:
    return {"enrolled": enrolled, "waitlisted": waitlisted, "skipped": skipped}


def statuses(crs: Course) -> dict[int, str]:
    """Person id → enrolment status in the course, read back from the database."""
    rows = db.session.scalars(select(Enrolment).where(Enrolment.course_id == crs.id))
    return {e.person_id: e.status for e in rows}


def written() -> tuple[int, int]:
    """Enrolment rows and enrolment audit entries: a refusal must change neither."""
    return (
        db.session.scalar(select(func.count()).select_from(Enrolment)),
        db.session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action.like("enrolment.%"))),
    )


def listed_cohort(w, members, name="2022年转岗人员", unit=None, actor=None):
    return create_cohort(
        data={"name": name, "year": 2022, "member_ids": [p.id for p in members]},
        unit=unit or w.district,
        actor=actor or w.coord,
    )


# --- enrol_unit ------------------------------------------------------------------------------------------------


def test_enrol_unit_enrols_the_active_people_of_the_unit_subtree_with_chinese_names(w):
    crs = course(program(w.district))
    at_street = person(w.street, "欧阳娜娜")
    person(w.community, "离职的慕容复").active = False
    db.session.flush()
    result = enrol_unit(course=crs, unit=w.street, actor=w.coord)
    expected = {w.person.id, w.trainee_person.id, at_street.id}  # 李四, 钱七 (community), 欧阳娜娜 (the street)
    assert result == counts(enrolled=3)
    assert statuses(crs) == dict.fromkeys(expected, "enrolled")
    names = {e.person.name for e in db.session.scalars(select(Enrolment))}
    assert names == {"李四", "钱七", "欧阳娜娜"}  # not 王五 (another street), 赵六 (another district), the inactive
    # Each enrolment is audited, and the course's seat count follows.
    assert written() == (3, 3)
    assert db.session.get(Course, crs.id).seats_taken == 3


def test_enrol_unit_takes_only_the_category_asked_for_and_an_empty_category_means_all(w):
    crs = course(program(w.district))
    psw_here = person(w.community, "项目社工周九", category=PSW)
    assert enrol_unit(course=crs, unit=w.district, actor=w.coord, category=PSW) == counts(enrolled=2)
    assert set(statuses(crs)) == {w.person2.id, psw_here.id}
    # "" (the form's "all categories") is no filter: the others now, the two above counted as already enrolled.
    assert enrol_unit(course=crs, unit=w.district, actor=w.coord, category="") == counts(enrolled=2, skipped=2)
    assert set(statuses(crs)) == {w.person2.id, psw_here.id, w.person.id, w.trainee_person.id}


def test_enrol_unit_skips_people_already_enrolled_or_waitlisted_and_counts_them(w):
    crs = course(program(w.district), capacity=1)
    enrol(course=crs, person=w.person, actor=w.coord)  # takes the only seat
    assert enrol_unit(course=crs, unit=w.community, actor=w.coord) == counts(waitlisted=1, skipped=1)
    before = written()
    # Again: the enrolled 李四 and the waitlisted 钱七 are both skipped; nobody is enrolled or queued twice.
    assert enrol_unit(course=crs, unit=w.community, actor=w.coord) == counts(skipped=2)
    assert written() == before
    assert statuses(crs) == {w.person.id: "enrolled", w.trainee_person.id: "waitlisted"}
    assert db.session.get(Course, crs.id).waitlist_seq == 1


def test_enrol_unit_over_capacity_fills_the_seats_then_waitlists_the_rest_in_order(w):
    crs = course(program(w.district), capacity=2)
    for name in ("陈一", "陈二", "陈三"):
        person(w.community, name)
    result = enrol_unit(course=crs, unit=w.community, actor=w.coord)  # five people for two seats
    assert result == counts(enrolled=2, waitlisted=3)
    rows = db.session.scalars(select(Enrolment).where(Enrolment.course_id == crs.id)).all()
    assert sorted(e.status for e in rows) == ["enrolled"] * 2 + ["waitlisted"] * 3
    assert sorted(e.waitlist_position for e in rows if e.status == "waitlisted") == [1, 2, 3]
    assert db.session.get(Course, crs.id).seats_taken == 2


def test_enrol_unit_enrols_a_withdrawn_person_again_instead_of_skipping_them(w):
    crs = course(program(w.district))
    enrol(course=crs, person=w.person, actor=w.coord)
    withdraw(course=crs, person=w.person, actor=w.coord)
    assert enrol_unit(course=crs, unit=w.community, actor=w.coord) == counts(enrolled=2)
    assert statuses(crs) == {w.person.id: "enrolled", w.trainee_person.id: "enrolled"}
    assert db.session.scalar(select(func.count()).select_from(Enrolment)) == 2  # the old row reused, not a new one


def test_enrol_unit_refuses_a_unit_outside_the_actors_units_and_writes_nothing(w):
    district_course = course(program(w.district))
    with pytest.raises(NotFound):
        enrol_unit(course=district_course, unit=w.other, actor=w.coord)  # another district
    street_course = course(program(w.street))
    with pytest.raises(NotFound):
        enrol_unit(course=street_course, unit=w.street2, actor=w.street_coord)  # a street beside theirs
    with pytest.raises(NotFound):
        enrol_unit(course=street_course, unit=w.district, actor=w.street_coord)  # the district above theirs
    assert written() == (0, 0)


def test_enrol_unit_refuses_a_course_outside_the_actors_units_and_writes_nothing(w):
    crs = course(program(w.district))
    with pytest.raises(NotFound):
        enrol_unit(course=crs, unit=w.other, actor=w.coord_out)  # their own people, another district's course
    assert written() == (0, 0)


def test_enrol_unit_refuses_a_course_outside_the_actors_units_even_when_nobody_is_left_to_enrol(w):
    crs = course(program(w.district))
    enrol(course=crs, person=w.outsider, actor=w.admin)  # the only person of 西湖区's 北山街道
    with pytest.raises(NotFound):
        enrol_unit(course=crs, unit=w.other, actor=w.coord_out)


def test_an_administrator_enrols_a_unit_anywhere(w):
    crs = course(program(w.other))
    assert enrol_unit(course=crs, unit=w.other, actor=w.admin) == counts(enrolled=1)
    assert statuses(crs) == {w.outsider.id: "enrolled"}


# --- enrol_cohort ----------------------------------------------------------------------------------------------


def test_enrol_cohort_enrols_its_listed_members_only(w):
    crs = course(program(w.district))
    cohort = listed_cohort(w, [w.person, w.person2])
    assert enrol_cohort(course=crs, cohort=cohort, actor=w.coord) == counts(enrolled=2)
    assert statuses(crs) == {w.person.id: "enrolled", w.person2.id: "enrolled"}  # 钱七 is no member


def test_enrol_cohort_skips_members_already_enrolled_and_waitlists_past_capacity(w):
    crs = course(program(w.district), capacity=2)
    newcomer = person(w.street, "司马懿")
    enrol(course=crs, person=w.person, actor=w.coord)
    cohort = listed_cohort(w, [w.person, w.person2, newcomer])
    assert enrol_cohort(course=crs, cohort=cohort, actor=w.coord) == counts(enrolled=1, waitlisted=1, skipped=1)
    assert enrol_cohort(course=crs, cohort=cohort, actor=w.coord) == counts(skipped=3)
    assert sorted(statuses(crs).values()) == ["enrolled", "enrolled", "waitlisted"]


def test_enrol_cohort_follows_the_rule_as_it_stands_today_unless_frozen(w):
    live = create_cohort(data={"name": "项目社工", "year": 2022, "category": PSW}, unit=w.district, actor=w.coord)
    frozen = create_cohort(
        data={"name": "项目社工（冻结）", "year": 2022, "category": PSW}, unit=w.district, actor=w.coord, freeze=True
    )
    joined = person(w.community, "新到的诸葛亮", category=PSW)  # joins after both cohorts were made
    prog = program(w.district)
    live_course, frozen_course = course(prog, code="L"), course(prog, code="F")
    assert enrol_cohort(course=live_course, cohort=live, actor=w.coord) == counts(enrolled=2)
    assert set(statuses(live_course)) == {w.person2.id, joined.id}
    assert enrol_cohort(course=frozen_course, cohort=frozen, actor=w.coord) == counts(enrolled=1)
    assert set(statuses(frozen_course)) == {w.person2.id}


def test_enrol_cohort_leaves_out_inactive_members_without_counting_them(w):
    crs = course(program(w.district))
    cohort = listed_cohort(w, [w.person, w.trainee_person])
    w.trainee_person.active = False
    db.session.flush()
    assert enrol_cohort(course=crs, cohort=cohort, actor=w.coord) == counts(enrolled=1)
    assert set(statuses(crs)) == {w.person.id}


def test_enrol_cohort_leaves_out_members_outside_the_actors_units(w):
    crs = course(program(w.district))
    # An administrator's cohort on the district may list someone of another district.
    cohort = listed_cohort(w, [w.person, w.outsider], actor=w.admin)
    assert enrol_cohort(course=crs, cohort=cohort, actor=w.coord) == counts(enrolled=1)
    assert set(statuses(crs)) == {w.person.id}  # 赵六 is not the coordinator's to enrol
    # The administrator manages both: 赵六 now, 李四 already.
    assert enrol_cohort(course=crs, cohort=cohort, actor=w.admin) == counts(enrolled=1, skipped=1)
    assert set(statuses(crs)) == {w.person.id, w.outsider.id}


def test_enrol_cohort_refuses_a_cohort_of_a_unit_outside_the_actors_units_and_writes_nothing(w):
    cohort = listed_cohort(w, [w.person, w.trainee_person])  # on the district
    street_course = course(program(w.street))
    with pytest.raises(NotFound):
        # The street coordinator manages both members, but not the district the cohort belongs to.
        enrol_cohort(course=street_course, cohort=cohort, actor=w.street_coord)
    other_course = course(program(w.other))
    with pytest.raises(NotFound):
        enrol_cohort(course=other_course, cohort=cohort, actor=w.coord_out)
    assert written() == (0, 0)
