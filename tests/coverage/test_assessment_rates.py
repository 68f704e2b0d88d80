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
from shegong_academy.coverage.services import create_cohort
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
