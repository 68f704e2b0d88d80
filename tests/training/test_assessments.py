"""Assessments (issue 17, item 1): the counting rules, completion, corrections, the roster page, the spreadsheet
import and the API. Pages speak English (Accept-Language: en) so their messages can be matched."""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape
from io import BytesIO
from types import SimpleNamespace

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from shegong_academy.audit.models import AuditEntry
from shegong_academy.core.domain import Conflict, Invalid, NotFound
from shegong_academy.extensions import db
from shegong_academy.ledger.models import PersonMonth
from shegong_academy.ledger.queries import completions
from shegong_academy.training import grading
from shegong_academy.training.changes import update_course
from shegong_academy.training.grading import Entry, counted, course_grade
from shegong_academy.training.models import Assessment, AssessmentResult, Enrolment
from shegong_academy.training.services import enrol, record_attendance, withdraw
from tests.factories import World, id_number, login, person
from tests.training.helpers import course, program, session


def sitting(attempt, outcome, score=None):
    return SimpleNamespace(attempt=attempt, outcome=outcome, score=None if score is None else Decimal(score))


def exam(rule="best", maximum="100", mark="60", weight="1", id=1):
    return SimpleNamespace(
        id=id, retake_rule=rule, max_score=Decimal(maximum), pass_mark=Decimal(mark), weight=Decimal(weight)
    )


# ---------------------------------------------------------------- the rules, pure


def test_the_best_sitting_counts_unless_the_last_one_is_asked_for():
    sittings = [sitting(1, "scored", "72"), sitting(2, "scored", "55")]
    assert counted(exam("best"), sittings) == grading.Counted("scored", Decimal("72"), 2, True)
    assert counted(exam("last"), sittings) == grading.Counted("scored", Decimal("55"), 2, False)
    # the order the rows come in does not matter
    assert counted(exam("last"), list(reversed(sittings))).score == Decimal("55")


def test_absent_counts_zero_and_excused_leaves_the_assessment_out():
    assert counted(exam(), [sitting(1, "absent")]) == grading.Counted("absent", Decimal(0), 1, False)
    assert counted(exam(), [sitting(1, "excused")]).excused
    # excused from the first sitting, then sat the retake: the retake counts
    assert counted(exam(), [sitting(1, "excused"), sitting(2, "scored", "61")]).score == Decimal("61")
    # absent at the retake does not take away the first sitting's pass under "best"; it does under "last"
    both = [sitting(1, "scored", "60"), sitting(2, "absent")]
    assert counted(exam("best"), both).passed and not counted(exam("last"), both).passed
    assert counted(exam(), []) == grading.Counted(None, None, 0, False)


def test_the_course_grade_weighs_each_assessment_and_needs_every_one_passed():
    course = SimpleNamespace(pass_mark=None)
    written, practical = (
        exam(id=1, maximum="100", mark="60", weight="3"),
        exam(id=2, maximum="20", mark="12", weight="1"),
    )
    both = [written, practical]
    # 3 × 80/100 + 1 × 15/20 = 3.15 of 4 → 78.75 → 79
    assert course_grade(course, both, {1: [sitting(1, "scored", "80")], 2: [sitting(1, "scored", "15")]}) == (79, True)
    # a high average does not make up for one assessment failed
    assert course_grade(course, both, {1: [sitting(1, "scored", "100")], 2: [sitting(1, "scored", "11")]}) == (
        89,  # 3 × 1 + 1 × 0.55 = 3.55 of 4
        False,
    )
    # one assessment not yet sat: no course score, not passed
    assert course_grade(course, both, {1: [sitting(1, "scored", "90")]}) == (None, False)
    # excused from the practical: the written exam alone decides
    assert course_grade(course, both, {1: [sitting(1, "scored", "60")], 2: [sitting(1, "excused")]}) == (60, True)
    # an overall pass mark on the weighted score, compared as shown (rounded half up)
    marked = SimpleNamespace(pass_mark=79)
    assert course_grade(marked, both, {1: [sitting(1, "scored", "80")], 2: [sitting(1, "scored", "15")]}) == (79, True)
    assert course_grade(marked, both, {1: [sitting(1, "scored", "80")], 2: [sitting(1, "scored", "14")]}) == (
        78,  # 77.5 rounds half up, and is still short of 79
        False,
    )
    # excused from everything: nothing to weigh; passed only without an overall mark
    everything = {1: [sitting(1, "excused")], 2: [sitting(1, "excused")]}
    assert course_grade(course, both, everything) == (None, True)
    assert course_grade(marked, both, everything) == (None, False)
    assert course_grade(course, [], {}) == (None, False)


# ---------------------------------------------------------------- completion through the ledger


@pytest.fixture
def graded(ctx):
    """A course of two sessions in 拱墅区 that 李四 attended fully, with a 结业考核 out of 100 (pass 60)."""
    w = World()
    crs = course(program(w.district), min_attendance="1")
    sessions = [session(crs, n) for n in range(2)]
    enrol(course=crs, person=w.person, actor=w.coord)
    enrol(course=crs, person=w.person2, actor=w.coord)
    for s in sessions:
        record_attendance(session=s, person=w.person, status="present", actor=w.coord)
    assessment = grading.create_assessment(course=crs, data={"title": "结业考核", "pass_mark": 60}, actor=w.coord)
    db.session.commit()
    return SimpleNamespace(w=w, course=crs, assessment=assessment)


def done(person_id) -> set[int]:
    return {cid for _pid, cid in db.session.execute(completions(None, [person_id]))}


def courses_completed(person_id) -> int:
    return db.session.scalar(
        select(func.coalesce(func.sum(PersonMonth.courses_completed), 0)).where(PersonMonth.person_id == person_id)
    )


def score(g, who, value, attempt=1, outcome="scored", reason=None, actor=None):
    return grading.save_results(
        assessment=g.assessment,
        entries=[Entry(who.id, attempt, outcome, value, reason)],
        actor=actor or g.w.coord,
        source="roster",
    )


def test_a_course_with_an_assessment_is_completed_only_by_passing_it(graded):
    g = graded
    assert done(g.w.person.id) == set() and courses_completed(g.w.person.id) == 0  # attended all, not assessed
    score(g, g.w.person, "58")
    assert done(g.w.person.id) == set()
    enrolment = db.session.scalar(select(Enrolment).where(Enrolment.person_id == g.w.person.id))
    assert (enrolment.score, enrolment.passed) == (58, False)
    score(g, g.w.person, "75", attempt=2)  # the retake passes: the best sitting counts
    assert done(g.w.person.id) == {g.course.id} and courses_completed(g.w.person.id) == 1
    assert (enrolment.score, enrolment.passed) == (75, True)
    # switching the assessment to "last sitting counts" with a failed last sitting takes the completion away
    score(g, g.w.person, "50", attempt=3)
    assert done(g.w.person.id) == {g.course.id}
    grading.update_assessment(assessment=g.assessment, data={"retake_rule": "last"}, actor=g.w.coord)
    assert done(g.w.person.id) == set() and courses_completed(g.w.person.id) == 0


def test_passing_without_the_attendance_completes_nothing(graded):
    g = graded  # 王五 attended nothing
    score(g, g.w.person2, "99")
    assert done(g.w.person2.id) == set()


def test_deleting_the_last_assessment_lets_attendance_alone_complete_the_course(graded):
    g = graded
    score(g, g.w.person, "40")
    assert done(g.w.person.id) == set()
    grading.delete_assessment(assessment=g.assessment, actor=g.w.coord)
    assert done(g.w.person.id) == {g.course.id}
    assert db.session.scalar(select(func.count()).select_from(AssessmentResult)) == 0
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "assessment.delete"))
    assert entry.before["sittings"] == 1 and entry.before["title"] == "结业考核"


def test_a_pass_mark_given_to_a_course_brings_a_final_assessment_to_score(ctx):
    """The defect of issue 17: a pass mark and no way to enter a score meant nobody could ever complete."""
    w = World()
    crs = course(program(w.district), pass_mark=60)
    s = session(crs)
    enrol(course=crs, person=w.person, actor=w.coord)
    record_attendance(session=s, person=w.person, status="present", actor=w.coord)
    (final,) = grading.assessments_of(crs.id)
    assert (final.title, final.max_score, final.pass_mark) == ("结业考核", Decimal("100.0"), Decimal("60.0"))
    assert done(w.person.id) == set()
    grading.save_results(
        assessment=final, entries=[Entry(w.person.id, 1, "scored", "60")], actor=w.coord, source="roster"
    )
    assert done(w.person.id) == {crs.id}
    # raising the course's overall pass mark grades everyone again
    update_course(course=crs, data={"pass_mark": 61}, actor=w.coord)
    assert done(w.person.id) == set()
    assert len(grading.assessments_of(crs.id)) == 1  # no second 结业考核
    # a course given a pass mark later gets its 结业考核 then
    other = course(crs.program, code="C2")
    assert grading.assessments_of(other.id) == []
    update_course(course=other, data={"pass_mark": 70}, actor=w.coord)
    assert [a.pass_mark for a in grading.assessments_of(other.id)] == [Decimal("70.0")]


# ---------------------------------------------------------------- refusals write nothing


def results() -> list[tuple]:
    return list(
        db.session.execute(
            select(
                AssessmentResult.person_id, AssessmentResult.attempt, AssessmentResult.outcome, AssessmentResult.score
            ).order_by(AssessmentResult.person_id, AssessmentResult.attempt)
        )
    )


@pytest.mark.parametrize(
    "entry,field,message",
    [
        (("p", 1, "scored", "100.1"), "score", "The score must be from 0 to 100."),
        (("p", 1, "scored", "-1"), "score", "The score must be from 0 to 100."),
        (("p", 1, "scored", "abc"), "score", "The score must be from 0 to 100."),
        (("p", 1, "scored", "NaN"), "score", "The score must be from 0 to 100."),
        (("p", 1, "scored", None), "score", "The score must be from 0 to 100."),
        (("p", 1, "absent", "50"), "score", "Absent and excused take no score."),
        (("p", 1, "excused", None), "reason", "Excusing someone needs a reason."),
        (("p", 1, "passed", None), "outcome", "Outcome must be one of scored, absent, excused."),
        (("p", 2, "scored", "70"), "attempt", "Sitting 1 comes next: record the sittings in order."),
        (("p", 1, None, None), "attempt", "Only a person's latest sitting can be cleared."),
        (("outsider", 1, "scored", "70"), "person_id", "Not enrolled in this course."),
    ],
)
def test_one_bad_entry_refuses_the_whole_batch(graded, entry, field, message):
    g = graded
    who, attempt, outcome, value = entry
    target = g.w.person2 if who == "p" else g.w.outsider
    good = Entry(g.w.person.id, 1, "scored", "88")
    with pytest.raises(Invalid) as refused:
        grading.save_results(
            assessment=g.assessment,
            entries=[good, Entry(target.id, attempt, outcome, value)],
            actor=g.w.coord,
            source="roster",
        )
    with force_locale("en"):
        assert {k: str(v) for k, v in refused.value.errors.items()} == {f"{target.id}.{field}": message}
    db.session.rollback()
    assert results() == []


def test_corrections_are_audited_and_only_the_latest_sitting_can_be_cleared(graded):
    g = graded
    score(g, g.w.person, "58")
    score(g, g.w.person, "66", attempt=2)
    score(g, g.w.person, "67", attempt=2)  # a correction of the retake
    score(g, g.w.person, "67", attempt=2)  # the same again: nothing to audit
    db.session.commit()
    with pytest.raises(Invalid):
        score(g, g.w.person, None, attempt=1, outcome=None)
    db.session.rollback()
    score(g, g.w.person, None, attempt=2, outcome=None)  # undo the retake
    assert results() == [(g.w.person.id, 1, "scored", Decimal("58.0"))]
    changes = [
        e.after["changes"]
        for e in db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "assessment.results").order_by(AuditEntry.id)
        )
    ]
    key1, key2 = f"{g.w.person.id}#1", f"{g.w.person.id}#2"
    assert changes == [
        {key1: [None, ["scored", "58.0", None]]},
        {key2: [None, ["scored", "66.0", None]]},
        {key2: [["scored", "66.0", None], ["scored", "67.0", None]]},
        {key2: [["scored", "67.0", None], None]},
    ]


def test_a_maximum_below_a_score_entered_is_refused(graded):
    g = graded
    score(g, g.w.person, "90")
    with pytest.raises(Conflict):
        grading.update_assessment(assessment=g.assessment, data={"max_score": 80, "pass_mark": 48}, actor=g.w.coord)
    db.session.rollback()
    assert db.session.get(Assessment, g.assessment.id).max_score == Decimal("100.0")


def test_another_district_cannot_touch_the_assessment(graded):
    g = graded
    with pytest.raises(NotFound):
        grading.save_results(
            assessment=g.assessment,
            entries=[Entry(g.w.person.id, 1, "scored", "90")],
            actor=g.w.coord_out,
            source="roster",
        )
    with pytest.raises(NotFound):
        grading.create_assessment(course=g.course, data={"title": "实务", "pass_mark": 6}, actor=g.w.coord_out)
    db.session.rollback()
    assert results() == []


@pytest.mark.parametrize(
    "data,errors",
    [
        ({"title": "", "pass_mark": 60}, {"title"}),
        ({"title": "结业考核", "pass_mark": 60}, {"title"}),  # the course has one already
        ({"title": "实务", "pass_mark": 120}, {"pass_mark"}),
        ({"title": "实务", "pass_mark": 6, "max_score": 0}, {"max_score"}),
        ({"title": "实务", "pass_mark": 6, "weight": 0}, {"weight"}),
        ({"title": "实务", "pass_mark": 6, "kind": "oral"}, {"kind"}),
        ({"title": "实务", "pass_mark": 6, "retake_rule": "first"}, {"retake_rule"}),
        ({"title": "实务", "pass_mark": "Infinity"}, {"pass_mark"}),
    ],
)
def test_assessment_fields_are_checked(graded, data, errors):
    with pytest.raises(Invalid) as refused:
        grading.create_assessment(course=graded.course, data=data, actor=graded.w.coord)
    assert set(refused.value.errors) == errors


# ---------------------------------------------------------------- pages


@pytest.fixture
def site(app):
    with app.app_context():
        w = World()
        crs = course(program(w.district))
        sess = session(crs)
        numbers = [id_number(500 + n) for n in range(3)]
        people = [person(w.street, name, id_number=n) for name, n in zip(("甲", "乙", "丙"), numbers, strict=True)]
        for p in people[:2]:
            enrol(course=crs, person=p, actor=w.coord)
            record_attendance(session=sess, person=p, status="present", actor=w.coord)
        a = grading.create_assessment(course=crs, data={"title": "结业考核", "pass_mark": 60}, actor=w.coord)
        db.session.commit()
        ids = SimpleNamespace(course=crs.id, assessment=a.id, people=[p.id for p in people], numbers=numbers)

    def client(username):
        c = app.test_client()
        c.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
        assert login(c, username).status_code == 302
        return c

    return SimpleNamespace(app=app, ids=ids, client=client)


def stored(site) -> dict[int, list]:
    with site.app.app_context():
        out: dict[int, list] = {}
        for r in db.session.scalars(select(AssessmentResult).order_by(AssessmentResult.attempt)):
            out.setdefault(r.person_id, []).append((r.outcome, r.score, r.reason, r.source))
        return out


def text_of(response) -> str:
    return unescape(re.sub(r"\s+", " ", response.get_data(as_text=True)))


def test_the_roster_saves_scores_and_a_bad_row_saves_nothing(site):
    c = site.client("coord")
    a, b, _c = site.ids.people
    url = f"/assessments/{site.ids.assessment}"
    page = text_of(c.get(url))
    assert "甲" in page and "乙" in page and "丙" not in page  # only the seated
    r = c.post(url, data={"sitting": 1, f"score-{a}": "150", f"score-{b}": "", f"outcome-{b}": "excused"})
    assert r.status_code == 200
    body = text_of(r)
    assert "The score must be from 0 to 100." in body and "Excusing someone needs a reason." in body
    assert 'value="150"' in body  # what was typed comes back
    assert stored(site) == {}
    r = c.post(url, data={"sitting": 1, f"score-{a}": "86.5", f"outcome-{b}": "absent", f"score-{b}": ""})
    assert r.status_code == 302
    assert stored(site) == {a: [("scored", Decimal("86.5"), None, "roster")], b: [("absent", None, None, "roster")]}
    # the retake tab: only 乙's row matters; 甲 left empty stays as is
    r = c.post(url + "?sitting=2", data={"sitting": 2, f"score-{b}": "71"})
    assert r.status_code == 302
    assert stored(site)[b][-1] == ("scored", Decimal("71.0"), None, "roster")
    course_page = text_of(c.get(f"/courses/{site.ids.course}"))
    assert "结业考核" in course_page and "2 / 2" in course_page  # assessed of seated


def test_the_roster_is_found_only_within_scope(site):
    url = f"/assessments/{site.ids.assessment}"
    assert site.client("coordout").get(url).status_code == 404
    assert site.client("trainee").get(url).status_code == 403
    assert site.client("admin").get(url).status_code == 200


def test_deleting_an_assessment_says_what_goes_with_it_and_asks_first(site):
    c = site.client("coord")
    a = site.ids.people[0]
    c.post(f"/assessments/{site.ids.assessment}", data={"sitting": 1, f"score-{a}": "70"})
    page = text_of(c.get(f"/assessments/{site.ids.assessment}/delete"))
    assert "1 sittings of 1 people are deleted with it." in page
    assert c.post(f"/assessments/{site.ids.assessment}/delete").status_code == 302
    with site.app.app_context():
        assert db.session.get(Assessment, site.ids.assessment) is None


def words(response) -> str:
    """The page's text without its tags, spaces collapsed."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))).strip()


def upload(client, assessment_id, text, encoding="utf-8", name="成绩.csv"):
    data = {"file": (BytesIO(text.encode(encoding)), name)}
    return client.post(f"/assessments/{assessment_id}/import", data=data, content_type="multipart/form-data")


def refused_rows(client, assessment_id, text) -> list[tuple[str, str, str]]:
    """Upload a GB18030 score file that is refused; return its report's (row, column, problem)."""
    r = upload(client, assessment_id, text, "gb18030")
    assert r.status_code == 200
    return re.findall(r"<tr><td>(\d+)</td><td>([^<]+)</td><td>(.*?)</td></tr>", r.get_data(as_text=True))


def test_import_scores_in_chinese_all_or_nothing(site):
    c = site.client("coord")
    a, b, stranger = site.ids.numbers
    bad = f"身份证号,成绩,原因\n{a},101,\n{b},免考,\n{stranger},80,\n{a},70,\n"
    report = refused_rows(c, site.ids.assessment, bad)
    assert [(row, col) for row, col, _msg in report] == [  # each column as the file heads it
        ("2", "成绩"),
        ("3", "原因"),
        ("4", "身份证号"),
        ("5", "身份证号"),
    ], report
    assert stored(site) == {}
    r = upload(c, site.ids.assessment, f"身份证号,成绩,原因,考试次数\n{a},缺考,,1\n{b},免考,病假,1\n", "gb18030")
    assert r.status_code == 302
    pa, pb, _pc = site.ids.people
    assert stored(site) == {pa: [("absent", None, None, "import")], pb: [("excused", None, "病假", "import")]}
    r = upload(c, site.ids.assessment, f"身份证号,成绩,考试次数\n{a},64,2\n")
    assert r.status_code == 302 and stored(site)[pa][-1] == ("scored", Decimal("64.0"), None, "import")
    # a sitting that only looks like a number (a superscript two, a full-width three) is a row error, not a crash
    r = upload(c, site.ids.assessment, f"身份证号,成绩,考试次数\n{a},70,²\n{a},70,３\n")
    assert r.status_code == 200 and "The sitting is a number" in r.get_data(as_text=True)


def test_a_score_import_reports_every_problem_of_a_row(site):
    """A row whose person cannot be recorded, or whose sitting is not a number, still has its score and reason
    checked: one report lists all of a row's problems, not only its first."""
    c = site.client("coord")
    a, b, stranger = site.ids.numbers
    bad = f"身份证号,成绩,原因,考试次数\n{stranger},150,,1\n{a},很好,,x\n{b},免考,,二\n"
    report = refused_rows(c, site.ids.assessment, bad)
    assert [(row, col) for row, col, _msg in report] == [
        ("2", "身份证号"),  # not enrolled, and …
        ("2", "成绩"),  # … out of range
        ("3", "成绩"),  # not a score, and …
        ("3", "考试次数"),  # … not a sitting
        ("4", "原因"),  # excused without a reason, and …
        ("4", "考试次数"),  # … not a sitting
    ], report
    assert stored(site) == {}


# ---------------------------------------------------------------- API


def api(site, role="coord"):
    from shegong_academy.auth.models import User
    from shegong_academy.auth.services import create_api_token

    with site.app.app_context():
        token = create_api_token(user=db.session.scalar(select(User).where(User.username == role)))
        db.session.commit()
    c = site.app.test_client()
    c.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return c


def test_the_api_records_a_sitting_and_refuses_bad_ones_with_field_errors(site):
    c = api(site)
    a, _b, stranger = site.ids.people
    url = f"/api/v1/assessments/{site.ids.assessment}/results/{a}"
    r = c.put(url, json={"score": 59})
    assert r.status_code == 200, r.json
    assert (r.json["counted_score"], r.json["passed"], r.json["course_passed"]) == (59.0, False, False)
    r = c.put(url, json={"sitting": 3, "score": 70})
    assert r.status_code == 422 and r.json["errors"] == {
        "sitting": ["Sitting 2 comes next: record the sittings in order."]
    }
    r = c.put(url, json={"sitting": 2, "score": 170})
    assert r.status_code == 422 and set(r.json["errors"]) == {"score"}
    r = c.put(url, json={"sitting": 2, "score": 77})
    assert r.json["course_score"] == 77 and r.json["course_passed"] is True
    assert c.put(f"/api/v1/assessments/{site.ids.assessment}/results/{stranger}", json={"score": 1}).status_code == 404
    listed = c.get(f"/api/v1/assessments/{site.ids.assessment}/results").json["items"]
    assert {i["person_id"]: len(i["sittings"]) for i in listed} == {a: 2, _b: 0}
    created = c.post(
        f"/api/v1/courses/{site.ids.course}/assessments",
        json={"title": "个案报告", "kind": "essay", "max_score": 20, "pass_mark": 12, "weight": 0.5},
    )
    assert created.status_code == 201 and created.json["weight"] == 0.5
    titles = [i["title"] for i in c.get(f"/api/v1/courses/{site.ids.course}/assessments").json["items"]]
    assert titles == ["结业考核", "个案报告"]
    # a new assessment nobody has sat: nobody passes the course any more
    items = c.get(f"/api/v1/assessments/{site.ids.assessment}/results").json["items"]
    assert [i["course_passed"] for i in items] == [False, False]
    assert api(site, "coordout").get(f"/api/v1/assessments/{site.ids.assessment}").status_code == 404


def test_withdrawn_people_cannot_be_scored(site):
    with site.app.app_context():
        from shegong_academy.people.models import Person
        from shegong_academy.training.models import Course

        withdraw(
            course=db.session.get(Course, site.ids.course),
            person=db.session.get(Person, site.ids.people[0]),
            actor=None,
        )
        db.session.commit()
    c = api(site)
    r = c.put(f"/api/v1/assessments/{site.ids.assessment}/results/{site.ids.people[0]}", json={"score": 80})
    assert r.status_code == 404


def test_the_record_and_the_trainees_pages_show_the_results(site):
    """The coordinator's view of a person, and the trainee's own course page and /my/, in Chinese."""
    from shegong_academy.auth.services import create_user
    from shegong_academy.people.models import Person

    a = site.ids.people[0]
    c = site.client("coord")
    c.post(f"/assessments/{site.ids.assessment}", data={"sitting": 1, f"score-{a}": "58"})
    c.post(f"/assessments/{site.ids.assessment}?sitting=2", data={"sitting": 2, f"score-{a}": "72.5"})
    with site.app.app_context():
        jia = db.session.get(Person, a)
        create_user(username="jia", password="jia-password-2026", role="trainee", unit=jia.unit, person=jia)
        db.session.commit()
    record = words(c.get(f"/people/{a}"))
    assert "结业考核: 72.5 / 100 Passed (2 sittings)" in record
    zh = site.client("coord")
    zh.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    assert "结业考核： 72.5 / 100 合格" in words(zh.get(f"/people/{a}"))  # a Chinese colon
    me = site.app.test_client()
    me.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    assert login(me, "jia", "jia-password-2026").status_code == 302
    mine = words(me.get(f"/my/courses/{site.ids.course}"))
    assert "我的成绩" in mine and "72.5 / 100 合格" in mine and "加权总评 73 分" in mine
    assert "73 分 合格" in words(me.get("/my/"))
