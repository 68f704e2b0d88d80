"""Coverage with assessments (issue 17, item 6): a cohort whose "trained" counts completed courses of the camp
requires passing its 结业考核 (completing needs it), the kept standings follow every score entered, and the
dashboard shows how many members passed beside the attendance rates."""

from __future__ import annotations

import csv
import io
import re
from html import unescape

from flask_babel import force_locale
from sqlalchemy import select

from shegong_academy.core.exports import csv_bytes
from shegong_academy.coverage.exports import missing_table
from shegong_academy.coverage.models import CohortPerson
from shegong_academy.coverage.queries import assessment_rates, missing_page
from shegong_academy.coverage.services import create_cohort, update_cohort
from shegong_academy.extensions import db
from shegong_academy.org.queries import unit_by_code
from shegong_academy.training import grading
from shegong_academy.training.grading import Entry
from shegong_academy.training.services import enrol, record_attendance
from tests.coverage import course, program, session
from tests.factories import World, login, person


def trained(cohort) -> dict[int, bool]:
    return dict(
        db.session.execute(
            select(CohortPerson.person_id, CohortPerson.trained).where(CohortPerson.cohort_id == cohort.id)
        ).all()
    )


def test_trained_by_completing_the_camp_requires_passing_it_and_follows_each_score(ctx):
    w = World()
    camp = program(w.district)
    crs = course(camp)
    s = session(crs)
    people = [person(w.street, name) for name in ("甲", "乙", "丙")]
    for p in people:
        enrol(course=crs, person=p, actor=w.coord)
        record_attendance(session=s, person=p, status="present", actor=w.coord)
    cohort = create_cohort(
        data={
            "name": "2022年项目社工",
            "year": 2022,
            "member_ids": [p.id for p in people],
            "min_courses": 1,
            "program_ids": [camp.id],
        },
        unit=w.district,
        actor=w.coord,
    )
    a, b, c = (p.id for p in people)
    assert trained(cohort) == {a: True, b: True, c: True}  # attendance alone completes a course without assessment
    assert assessment_rates(cohort, w.district) == {"assessed": 0, "passed": 0}
    final = grading.create_assessment(course=crs, data={"title": "结业考核", "pass_mark": 60}, actor=w.coord)
    assert trained(cohort) == {a: False, b: False, c: False}  # now completing needs a pass
    assert assessment_rates(cohort, w.district) == {"assessed": 3, "passed": 0}
    grading.save_results(
        assessment=final,
        entries=[Entry(a, 1, "scored", 75), Entry(b, 1, "scored", 59), Entry(c, 1, "absent")],
        actor=w.coord,
        source="roster",
    )
    assert trained(cohort) == {a: True, b: False, c: False}
    assert assessment_rates(cohort, w.district) == {"assessed": 3, "passed": 1}
    grading.save_results(assessment=final, entries=[Entry(b, 2, "scored", 66)], actor=w.coord, source="roster")
    assert trained(cohort) == {a: True, b: True, c: False}
    assert assessment_rates(cohort, w.district) == {"assessed": 3, "passed": 2}
    # seen from a street with none of them: nobody assessed there
    assert assessment_rates(cohort, w.street2) == {"assessed": 0, "passed": 0}
    # who is missing says which course they have not passed, with the course score (none yet: absent counts 0)
    missing = {m.person.id: m.not_passed for m in missing_page(cohort, w.district, 1).items}
    assert missing == {a: [], b: [], c: [("社会工作专业理念与方法", 0)]}  # all three lack supervision
    with force_locale("zh_CN"):
        exported = csv_bytes(missing_table(missing_page(cohort, None, 1).items, "x")).decode("utf-8-sig")
    header, *rows = list(csv.reader(io.StringIO(exported)))
    column = header.index("未通过的考核")
    assert {row[0]: row[column] for row in rows} == {"甲": "", "乙": "", "丙": "社会工作专业理念与方法 0"}


def test_the_demo_dashboard_shows_that_all_69_passed(demo_app):
    with demo_app.app_context():
        gongshu = unit_by_code("330105").id
    client = demo_app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    assert login(client, "gongshu", "shegong-demo-2026").status_code == 302
    page = client.get(f"/coverage/?unit={gongshu}&year=2022")
    text = re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", page.get_data(as_text=True))))
    assert "考核合格 100.0%" in text and "69 名成员中有 69 人通过" in text


def test_a_cohort_that_requires_passing_counts_hours_and_a_pass(ctx):
    """Hours alone make 甲 and 乙 trained by a 3-hour rule; requiring a pass, only who passed the year's
    assessed courses is, and the month reached is kept only for them."""
    w = World()
    crs = course(program(w.district))
    s = session(crs)  # 3 hours
    a, b = person(w.street, "甲"), person(w.street, "乙")
    for p in (a, b):
        enrol(course=crs, person=p, actor=w.coord)
        record_attendance(session=s, person=p, status="present", actor=w.coord)
    final = grading.create_assessment(course=crs, data={"title": "结业考核", "pass_mark": 60}, actor=w.coord)
    grading.save_results(
        assessment=final,
        entries=[Entry(a.id, 1, "scored", 80), Entry(b.id, 1, "scored", 40)],
        actor=w.coord,
        source="roster",
    )
    data = {"name": "2022年持证", "year": 2022, "member_ids": [a.id, b.id], "min_training_hours": 3}
    hours_only = create_cohort(data=data, unit=w.district, actor=w.coord)
    passing = create_cohort(
        data={**data, "name": "2022年持证（须考核合格）", "require_passing": True}, unit=w.district, actor=w.coord
    )
    assert trained(hours_only) == {a.id: True, b.id: True}
    assert trained(passing) == {a.id: True, b.id: False}
    months = dict(
        db.session.execute(
            select(CohortPerson.person_id, CohortPerson.trained_month).where(CohortPerson.cohort_id == passing.id)
        ).all()
    )
    assert months == {a.id: 202205, b.id: None}
    grading.save_results(assessment=final, entries=[Entry(b.id, 2, "scored", 70)], actor=w.coord, source="roster")
    assert trained(passing) == {a.id: True, b.id: True}
    # taking the requirement off, from the cohort's edit form's service, recomputes at once
    update_cohort(cohort=passing, data={"require_passing": False}, actor=w.coord)
    assert passing.require_passing is False and trained(passing) == {a.id: True, b.id: True}


def test_a_new_seat_in_an_assessed_course_counts_at_once_for_a_cohort_requiring_a_pass(ctx):
    w = World()
    crs = course(program(w.district))
    grading.create_assessment(course=crs, data={"title": "结业考核", "pass_mark": 60}, actor=w.coord)
    other = course(crs.program, code="C2")
    s = session(other)  # hours from another course, without assessment
    a = person(w.street, "甲")
    enrol(course=other, person=a, actor=w.coord)
    record_attendance(session=s, person=a, status="present", actor=w.coord)
    cohort = create_cohort(
        data={"name": "须考核", "year": 2022, "member_ids": [a.id], "min_training_hours": 3, "require_passing": True},
        unit=w.district,
        actor=w.coord,
    )
    assert trained(cohort) == {a.id: True}  # no assessed course yet: nothing to pass
    enrol(course=crs, person=a, actor=w.coord)  # a seat in the assessed course, not yet passed
    assert trained(cohort) == {a.id: False}
    from shegong_academy.training.services import withdraw

    withdraw(course=crs, person=a, actor=w.coord)
    assert trained(cohort) == {a.id: True}
