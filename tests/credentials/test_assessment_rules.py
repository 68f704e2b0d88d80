"""Credential rules on assessments (issue 17, item 5): passing named assessments and a minimum average score,
the same answer from the SQL that lists and issues in bulk and from the explanation of each person, in Chinese."""

from __future__ import annotations

from decimal import Decimal

import pytest
from flask_babel import force_locale

from shegong_academy.core.domain import Conflict, Invalid
from shegong_academy.credentials import types
from shegong_academy.credentials.queries import eligible_ids
from shegong_academy.credentials.services import eligibility
from shegong_academy.extensions import db
from shegong_academy.training import grading
from shegong_academy.training.grading import Entry
from shegong_academy.training.services import enrol, record_attendance
from tests.conftest import use_storage
from tests.factories import World, person
from tests.training.helpers import course, program, session

DATA = {
    "name": "psw",
    "title": "项目社工转岗证书",
    "design": "transition-zh",
    "issuer_name": "杭州市拱墅区民政局",
    "issuer_code": "GSMZ",
    "transition_from": "community_worker",
    "transition_to": "project_social_worker",
}


@pytest.fixture
def camp(ctx, tmp_path):
    """A camp course with a 结业考核 (best sitting) and a 个案报告 (last sitting), and four trainees."""
    use_storage(ctx, tmp_path / "store")
    w = World()
    crs = course(program(w.district), code="PSW")
    s = session(crs)
    people = {name: person(w.street, name) for name in ("赵一", "钱二", "孙三", "周五")}
    for p in people.values():
        enrol(course=crs, person=p, actor=w.coord)
        record_attendance(session=s, person=p, status="present", actor=w.coord)
    exam = grading.create_assessment(course=crs, data={"title": "结业考核", "pass_mark": 60}, actor=w.coord)
    report = grading.create_assessment(
        course=crs,
        data={"title": "个案报告", "kind": "essay", "max_score": 20, "pass_mark": 12, "retake_rule": "last"},
        actor=w.coord,
    )

    def sit(assessment, who, n, outcome, value=None, reason=None):
        entry = Entry(people[who].id, n, outcome, value, reason)
        grading.save_results(assessment=assessment, entries=[entry], actor=w.coord, source="roster")

    sit(exam, "赵一", 1, "scored", 88)
    sit(report, "赵一", 1, "scored", 16)
    sit(exam, "钱二", 1, "scored", 58)  # fails the exam
    sit(report, "钱二", 1, "scored", 19)
    sit(exam, "孙三", 1, "scored", 52)
    sit(exam, "孙三", 2, "scored", 71)  # passes at the retake (best)
    sit(report, "孙三", 1, "scored", 14)
    sit(report, "孙三", 2, "scored", 10)  # but the last report counts, and fails
    sit(exam, "周五", 1, "absent")
    return w, people, exam, report


def explained(cred, w) -> dict[str, list[str]]:
    with force_locale("zh_CN"):
        return {
            i.person.name: [str(m) for m in i.missing]
            for i in eligibility(cred, w.coord)
            if i.person.name in "赵一钱二孙三周五"
        }


def test_required_assessments_name_the_score_and_the_pass_mark(camp):
    w, people, exam, report = camp
    cred = types.create_type(
        data={**DATA, "required_assessment_ids": [exam.id, report.id]}, issuer_unit=w.district, seal=None, actor=w.coord
    )
    assert explained(cred, w) == {
        "赵一": [],
        "钱二": ["结业考核 58 分，合格线 60 分"],
        "孙三": ["个案报告 10 分，合格线 12 分"],
        "周五": ["结业考核：缺考，合格线 60 分", "个案报告：尚未考核"],
    }
    # the SQL that lists and issues in bulk agrees with the explanation
    assert eligible_ids(cred, w.coord) == [people["赵一"].id]


def test_a_minimum_average_of_the_course_scores(camp):
    w, people, exam, report = camp
    # course scores, weights 1 and 1: 赵一 (88 + 80) / 2 = 84; 钱二 (58 + 95) / 2 = 76.5 → 77 (not passed, but
    # scored); 孙三 (71 + 50) / 2 = 60.5 → 61; 周五 has no course score (the report was never sat)
    cred = types.create_type(data={**DATA, "min_average_score": "77"}, issuer_unit=w.district, seal=None, actor=w.coord)
    assert explained(cred, w) == {
        "赵一": [],
        "钱二": [],
        "孙三": ["平均成绩 61 分，须达 77 分"],
        "周五": ["尚无课程成绩（平均成绩须达 77 分）"],
    }
    assert sorted(eligible_ids(cred, w.coord)) == sorted([people["赵一"].id, people["钱二"].id])


def test_the_rule_takes_only_assessments_the_coordinator_sees_and_keeps_them_from_deletion(camp):
    w, _people, exam, _report = camp
    with pytest.raises(Invalid) as refused:
        types.create_type(
            data={**DATA, "required_assessment_ids": [exam.id]}, issuer_unit=w.other, seal=None, actor=w.coord_out
        )
    assert set(refused.value.errors) == {"required_assessment_ids"}
    with pytest.raises(Invalid) as refused:
        types.create_type(data={**DATA, "min_average_score": "101"}, issuer_unit=w.district, seal=None, actor=w.coord)
    assert set(refused.value.errors) == {"min_average_score"}
    cred = types.create_type(
        data={**DATA, "required_assessment_ids": [exam.id], "min_average_score": "60"},
        issuer_unit=w.district,
        seal=None,
        actor=w.coord,
    )
    assert (cred.required_assessment_ids, cred.min_average_score) == ([exam.id], Decimal("60.0"))
    db.session.commit()
    with pytest.raises(Conflict) as kept:
        grading.delete_assessment(assessment=exam, actor=w.coord)
    with force_locale("zh_CN"):
        assert "项目社工转岗证书" in str(kept.value.message)
    db.session.rollback()
    assert grading.assessments_of(exam.course_id)[0].id == exam.id
    # nor does deleting its course take it away (a course nobody attended can be deleted)
    from shegong_academy.training.changes import delete_course
    from shegong_academy.training.models import Attendance

    db.session.execute(Attendance.__table__.delete())
    with pytest.raises(Conflict):
        delete_course(course=exam.course, actor=w.coord)
    db.session.rollback()
    assert grading.assessments_of(exam.course_id)


def test_an_editor_keeps_what_the_rule_requires_beyond_their_programs_but_adds_nothing_from_there(camp):
    """An administrator's rule names an assessment of 西湖区; 拱墅区's coordinator, who issues the credential,
    corrects its title: the requirement stays. Adding another assessment of 西湖区 is refused."""
    w, _people, exam, _report = camp
    elsewhere = course(program(w.other), code="XH")
    theirs = grading.create_assessment(course=elsewhere, data={"title": "西湖区结业考核", "pass_mark": 60}, actor=None)
    another = grading.create_assessment(course=elsewhere, data={"title": "西湖区实务", "pass_mark": 6}, actor=None)
    cred = types.create_type(
        data={**DATA, "required_assessment_ids": [exam.id, theirs.id], "required_program_ids": [elsewhere.program_id]},
        issuer_unit=w.district,
        seal=None,
        actor=None,
    )
    types.update_type(credential=cred, data={"title": "项目社工转岗证书（2026）"}, seal=None, actor=w.coord)
    assert sorted(cred.required_assessment_ids) == sorted([exam.id, theirs.id])
    assert cred.required_program_ids == [elsewhere.program_id]
    with pytest.raises(Invalid) as refused:
        types.update_type(
            credential=cred,
            data={"required_assessment_ids": [exam.id, theirs.id, another.id]},
            seal=None,
            actor=w.coord,
        )
    assert set(refused.value.errors) == {"required_assessment_ids"}


def test_the_edit_form_offers_what_the_rule_requires_even_beyond_the_editors_list(app, tmp_path):
    from tests.factories import login

    with app.app_context():
        use_storage(app, tmp_path / "store")
        w = World()
        exam = grading.create_assessment(
            course=course(program(w.other), code="XH"), data={"title": "西湖区结业考核", "pass_mark": 60}, actor=None
        )
        cred = types.create_type(
            data={**DATA, "required_assessment_ids": [exam.id]}, issuer_unit=w.district, seal=None, actor=None
        )
        db.session.commit()
        cred_id, exam_id = cred.id, exam.id
    c = app.test_client()
    assert login(c, "coord").status_code == 302
    page = c.get(f"/credentials/{cred_id}/edit").get_data(as_text=True)
    assert f'<option selected value="{exam_id}">' in page  # chosen, though 西湖区 is not the editor's
