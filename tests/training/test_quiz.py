"""Online quizzes (issue 17, item 2): quiz.yaml checked on sync; a sitting dealt in a shuffled order, saved as it
goes and resumed after an interruption; the answer key in no page before submission; the time limit; the
attempts; short answers graded by a coordinator; the result counted as the assessment's sitting."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from shegong_academy.core.db import utcnow
from shegong_academy.core.domain import Conflict, Invalid
from shegong_academy.extensions import db
from shegong_academy.training import grading, quiz
from shegong_academy.training.content import ContentRejected, sync_content
from shegong_academy.training.models import Assessment, AssessmentResult, CourseContent, QuizAttempt
from shegong_academy.training.services import enrol
from tests.factories import World, login
from tests.training.helpers import course, program

NOW = datetime(2022, 6, 1, 2, 0, tzinfo=UTC)
COURSE_YAML = "code: Q1\ntitle: 测验课\nhours: 1\nlessons:\n  - file: 01.md\n    title: 一\n    hours: 1\n"
QUIZ_YAML = """title: 随堂测验
time_limit_minutes: 10
attempts: 2
shuffle: true
questions:
  - kind: single
    text: 单选题：哪一项是正确答案？
    options: [选项甲, 选项乙, 选项丙]
    answer: 2
    points: 10
  - kind: multiple
    text: 多选题：选出正确的两项
    options: [选项丁, 选项戊, 选项己]
    answer: [1, 3]
    points: 10
  - kind: truefalse
    text: 判断题：这句话是对的
    answer: true
    points: 10
"""
START = {"confirmed": "1"}  # the quiz has a time limit: its start is asked first
SHORT = "  - kind: short\n    text: 简答题：请简述\n    points: 20\n"


def write_content(root: Path, quiz_yaml: str | None = QUIZ_YAML) -> Path:
    folder = root / "quizzed"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "course.yaml").write_text(COURSE_YAML, encoding="utf-8")
    (folder / "01.md").write_text("# 一\n", encoding="utf-8")
    if quiz_yaml is not None:
        (folder / "quiz.yaml").write_text(quiz_yaml, encoding="utf-8")
    return root


@pytest.mark.parametrize(
    "yaml_text,expected",
    [
        (QUIZ_YAML.replace("answer: 2", "answer: 4"), "quizzed/quiz.yaml: questions[1].answer: an option number"),
        (QUIZ_YAML.replace("answer: [1, 3]", "answer: 3"), "questions[2].answer: a list of option numbers"),
        (QUIZ_YAML.replace("answer: true", "answer: 是"), "questions[3].answer: true or false"),
        (QUIZ_YAML.replace("kind: single", "kind: essay"), "questions[1]: a mapping whose kind is one of"),
        (QUIZ_YAML.replace("attempts: 2", "attempts: 0"), "attempts: a whole number from 1 to 9"),
        (QUIZ_YAML + SHORT.replace("points: 20", "points: 20\n    answer: 标准答案"), "graded by a coordinator"),
        ("title: 空\nquestions: []\n", "questions: a list of 1 to 100 questions"),
    ],
)
def test_a_bad_quiz_file_is_refused_by_file_and_field_and_nothing_is_synced(ctx, tmp_path, yaml_text, expected):
    with pytest.raises(ContentRejected) as refused:
        sync_content(write_content(tmp_path, yaml_text))
    assert any(expected in str(e) for e in refused.value.errors), [str(e) for e in refused.value.errors]
    assert db.session.scalar(select(CourseContent.id)) is None


@pytest.fixture
def quizzed(ctx, tmp_path):
    """A course with the quiz content, 李四 holding a seat, and an assessment taken by the quiz."""
    sync_content(write_content(tmp_path, QUIZ_YAML + SHORT))
    w = World()
    crs = course(program(w.district), content_slug="quizzed")
    enrol(course=crs, person=w.person, actor=w.coord)
    enrol(course=crs, person=w.trainee_person, actor=w.coord)
    assessment = grading.create_assessment(
        course=crs, data={"title": "在线测验", "kind": "quiz", "pass_mark": 60, "max_score": 100}, actor=w.coord
    )
    db.session.commit()
    return SimpleNamespace(w=w, course=crs, assessment=assessment, root=tmp_path)


def answer_all_rightly(sitting, now):
    """Answer every question right, by what each page shows (as a trainee would)."""
    right = {"单选题：哪一项是正确答案？": ["选项乙"], "多选题：选出正确的两项": ["选项丁", "选项己"]}
    for n in range(1, len(sitting.order) + 1):
        q = quiz.question_at(sitting, n)
        if q["kind"] in ("single", "multiple"):
            values = [str(q["options"].index(text)) for text in right[q["text"]]]
        elif q["kind"] == "truefalse":
            values = ["true"]
        else:
            values = ["识别风险、评估可能性与影响、制定应对措施、持续监测"]
        quiz.save_answer(sitting, n, values, now)


def test_a_sitting_interrupted_resumes_with_its_answers_and_counts_once_graded(quizzed):
    q = quizzed
    pid, aid = q.w.person.id, q.assessment.id
    sitting = quiz.start(assessment=q.assessment, person_id=pid, now=NOW, rng=random.Random(3))
    assert [index for index, _o in sitting.order] != [0, 1, 2, 3]  # dealt in a shuffled order
    quiz.save_answer(sitting, 1, ["0"], NOW)
    db.session.commit()  # the connection drops here
    sid = sitting.id
    db.session.expunge_all()
    assessment = db.session.get(Assessment, aid)
    again = quiz.start(assessment=assessment, person_id=pid, now=NOW + timedelta(minutes=3))
    assert again.id == sid and again.answers  # the answer saved before the drop is there
    answer_all_rightly(again, NOW + timedelta(minutes=4))
    quiz.submit(again, NOW + timedelta(minutes=5))
    assert again.state == "submitted"  # the short answer waits for a coordinator
    assert db.session.scalar(select(AssessmentResult.id)) is None
    with pytest.raises(Invalid) as refused:
        quiz.grade_short(attempt=again, marks={3: 21}, actor=None)
    assert set(refused.value.errors) == {"3"}
    quiz.grade_short(attempt=again, marks={3: 14}, actor=None)
    assert again.state == "graded" and again.score == Decimal("88.0")  # (30 + 14) of 50 points, out of 100
    result = db.session.scalar(select(AssessmentResult))
    assert (result.attempt, result.outcome, result.score, result.source) == (1, "scored", Decimal("88.0"), "quiz")


def test_the_time_limit_submits_the_answers_saved_and_the_attempts_run_out(quizzed):
    q = quizzed
    sitting = quiz.start(assessment=q.assessment, person_id=q.w.trainee_person.id, now=NOW)
    first = next(n for n in range(1, 5) if quiz.question_at(sitting, n)["kind"] == "truefalse")
    quiz.save_answer(sitting, first, ["true"], NOW + timedelta(minutes=1))
    with pytest.raises(Conflict):
        quiz.save_answer(sitting, 1, ["0"], NOW + timedelta(minutes=10))
    assert sitting.state == "graded" and sitting.submitted_at == NOW + timedelta(minutes=10)
    assert sitting.score == Decimal("20.0")  # only the true-or-false answer (10 of 50 points); the short one empty
    second = quiz.start(assessment=q.assessment, person_id=q.w.trainee_person.id, now=NOW + timedelta(hours=1))
    assert second.sitting == 2
    quiz.submit(second, NOW + timedelta(hours=1, minutes=1))
    with pytest.raises(Conflict):
        quiz.start(assessment=q.assessment, person_id=q.w.trainee_person.id, now=NOW + timedelta(hours=2))
    sittings = [r.attempt for r in db.session.scalars(select(AssessmentResult).order_by(AssessmentResult.attempt))]
    assert sittings == [1, 2]


def test_only_a_course_whose_content_has_a_quiz_takes_a_quiz_assessment(quizzed):
    other = course(quizzed.course.program, code="NOQ")
    with pytest.raises(Invalid) as refused:
        grading.create_assessment(course=other, data={"title": "测验", "kind": "quiz", "pass_mark": 6}, actor=None)
    assert set(refused.value.errors) == {"kind"}


def strip_token(html: str) -> str:
    """The page without its CSRF tokens, whose signature carries the second it was made (the forms' fields and
    the top bar's language switch spell the attributes in either order)."""
    html = re.sub(r'name="csrf_token" type="hidden" value="[^"]*"', "", html)
    return re.sub(r'type="hidden" name="csrf_token" value="[^"]*"', "", html)


def test_no_page_before_submission_holds_the_answer_key(app, tmp_path):
    """Every page of an open sitting is the same whatever the key says: the key cannot be in it."""
    with app.app_context():
        sync_content(write_content(tmp_path, QUIZ_YAML))
        w = World()
        crs = course(program(w.district), content_slug="quizzed")
        enrol(course=crs, person=w.trainee_person, actor=w.coord)
        assessment = grading.create_assessment(
            course=crs, data={"title": "在线测验", "kind": "quiz", "pass_mark": 60}, actor=w.coord
        )
        db.session.commit()
        course_id, assessment_id = crs.id, assessment.id
    c = app.test_client()
    c.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    assert login(c, "trainee").status_code == 302
    assert "参加在线测验" in c.get(f"/my/courses/{course_id}").get_data(as_text=True)
    asked = c.post(f"/my/assessments/{assessment_id}/quiz")  # a timed quiz: asked first, nothing dealt yet
    text = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "现在开始“随堂测验”？" in text and "您有 10 分钟" in text
    assert "这是第 1 次作答（共 2 次）。" in text and 'name="confirmed" value="1"' in text
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(QuizAttempt)) == 0
    started = c.post(f"/my/assessments/{assessment_id}/quiz", data=START)
    assert started.status_code == 302
    assert c.post(f"/my/assessments/{assessment_id}/quiz").status_code == 302  # continuing is not asked again
    sitting_id = int(re.search(r"/my/quiz/(\d+)/", started.location)[1])
    paths = [f"/my/quiz/{sitting_id}/{n}" for n in (1, 2, 3)] + [f"/my/quiz/{sitting_id}"]

    def pages() -> list[str]:
        out = []
        for path in paths:
            r = c.get(path)
            assert r.status_code == 200, path
            out.append(strip_token(r.get_data(as_text=True)))
        return out

    before = pages()
    with app.app_context():  # the same quiz with every answer changed
        content = db.session.scalar(select(CourseContent))
        changed = dict(content.quiz)
        changed["questions"] = [
            {**question, "answer": {"single": [0], "multiple": [1, 2], "truefalse": False}[question["kind"]]}
            for question in content.quiz["questions"]
        ]
        content.quiz = changed
        db.session.commit()
    assert pages() == before
    assert not any("data-answer" in page or "data-correct" in page for page in before)
    # another trainee's sitting, or none, is not found
    other = app.test_client()
    assert login(other, "coord").status_code == 302
    assert other.get(paths[0]).status_code == 404
    with app.app_context():
        assert db.session.get(QuizAttempt, sitting_id).state == "open"


def test_a_sitting_waiting_for_grading_holds_the_retake_and_results_never_overwrite(quizzed):
    """A retake waits until the short answers are graded, and a quiz's result follows whatever the roster holds."""
    q = quizzed
    pid = q.w.person.id
    first = quiz.start(assessment=q.assessment, person_id=pid, now=NOW)
    answer_all_rightly(first, NOW)
    quiz.submit(first, NOW + timedelta(minutes=1))
    with pytest.raises(Conflict):
        quiz.start(assessment=q.assessment, person_id=pid, now=NOW + timedelta(minutes=2))
    # meanwhile the coordinator enters a sitting on the roster (an exam on paper, say)
    grading.save_results(
        assessment=q.assessment, entries=[grading.Entry(pid, 1, "scored", "55")], actor=q.w.coord, source="roster"
    )
    quiz.grade_short(attempt=first, marks={3: 20}, actor=q.w.coord)
    rows = db.session.scalars(select(AssessmentResult).order_by(AssessmentResult.attempt)).all()
    assert [(r.attempt, r.score, r.source) for r in rows] == [
        (1, Decimal("55.0"), "roster"),
        (2, Decimal("100.0"), "quiz"),
    ]


def test_time_up_submits_the_sitting_rather_than_dealing_another(quizzed):
    q = quizzed
    pid = q.w.trainee_person.id
    first = quiz.start(assessment=q.assessment, person_id=pid, now=NOW)
    again = quiz.start(assessment=q.assessment, person_id=pid, now=NOW + timedelta(minutes=30))
    assert again.id == first.id and again.state == "graded"  # nothing written, no short answer to grade
    assert len(quiz.attempts_of(q.assessment, pid)) == 1  # no attempt spent without asking


def test_a_withdrawn_trainees_late_sitting_closes_without_a_result(quizzed):
    from shegong_academy.training.services import withdraw

    q = quizzed
    sitting = quiz.start(assessment=q.assessment, person_id=q.w.person.id, now=NOW)
    withdraw(course=q.course, person=q.w.person, actor=q.w.coord)
    assert quiz.awaiting(q.assessment, NOW + timedelta(hours=1)) == []  # no error for the coordinator's page
    assert sitting.state == "graded" and db.session.scalar(select(AssessmentResult.id)) is None


def test_a_sitting_keeps_the_quiz_it_was_dealt_when_the_content_changes(quizzed):
    q = quizzed
    sitting = quiz.start(assessment=q.assessment, person_id=q.w.person.id, now=NOW)
    shorter = QUIZ_YAML.split("  - kind: multiple")[0]  # one question left
    sync_content(write_content(q.root, shorter))
    assert len(quiz.quiz_of(q.assessment)["questions"]) == 1
    assert [quiz.question_at(sitting, n)["kind"] for n in range(1, 5)]  # every page of the sitting still reads
    answer_all_rightly(sitting, NOW)
    quiz.submit(sitting, NOW + timedelta(minutes=1))
    assert sitting.state == "submitted" and sitting.marks == {"0": 10, "1": 10, "2": 10}


def _trainee_with_a_quiz(app, tmp_path, quiz_yaml=QUIZ_YAML):
    """The trainee, signed in (English), enrolled in a course whose quiz (by default two attempts, three
    questions, no short answer) is an assessment; returns their client and the assessment's id."""
    with app.app_context():
        sync_content(write_content(tmp_path, quiz_yaml))
        w = World()
        crs = course(program(w.district), content_slug="quizzed")
        enrol(course=crs, person=w.trainee_person, actor=w.coord)
        assessment = grading.create_assessment(
            course=crs, data={"title": "在线测验", "kind": "quiz", "pass_mark": 60}, actor=w.coord
        )
        db.session.commit()
        assessment_id = assessment.id
    c = app.test_client()
    c.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert login(c, "trainee").status_code == 302
    return c, assessment_id


def _answered_and_submitted(app, c, assessment_id) -> str:
    """Start a sitting as the trainee, answer every question, submit it; return the sitting's URL."""
    sitting_url = c.post(f"/my/assessments/{assessment_id}/quiz", data=START).location.rsplit("/", 1)[0]
    with app.app_context():
        answer_all_rightly(db.session.get(QuizAttempt, int(sitting_url.rsplit("/", 1)[1])), utcnow())
        db.session.commit()
    assert c.post(sitting_url + "/submit").status_code == 302
    return sitting_url


def test_which_answers_were_right_shows_only_when_no_sitting_is_left(app, tmp_path):
    c, assessment_id = _trainee_with_a_quiz(app, tmp_path)
    for n in (1, 2):
        sitting_url = c.post(f"/my/assessments/{assessment_id}/quiz", data=START).location.rsplit("/", 1)[0]
        assert c.post(sitting_url + "/submit", data={"confirmed": "1"}).status_code == 302  # nothing answered
        page = c.get(sitting_url).get_data(as_text=True)
        assert ("Wrong" in page) is (n == 2), n  # the first result holds back which answers were right
    refused = c.post(f"/my/assessments/{assessment_id}/quiz")  # not asked "attempt 3 of 2?": refused at once
    assert refused.status_code == 302
    assert "You have used all 2 attempts of this quiz." in c.get(refused.location).get_data(as_text=True)


def test_submitting_with_questions_unanswered_asks_first_and_says_what_it_costs(app, tmp_path):
    """A sitting with questions left unanswered is not submitted by the button alone: the page says how many
    score nothing and how many sittings remain, and asks; nothing changes until it is confirmed. A sitting
    with every question answered is submitted at once."""
    c, assessment_id = _trainee_with_a_quiz(app, tmp_path)
    sitting_url = c.post(f"/my/assessments/{assessment_id}/quiz", data=START).location.rsplit("/", 1)[0]
    sitting_id = int(sitting_url.rsplit("/", 1)[1])

    def state():
        with app.app_context():
            return db.session.get(QuizAttempt, sitting_id).state

    asked = c.post(sitting_url + "/submit")
    assert asked.status_code == 200 and state() == "open"
    text = asked.get_data(as_text=True)
    assert "3 questions have no answer: they score nothing." in text
    assert "After this sitting you may take the quiz 1 more time." in text
    assert 'name="confirmed" value="1"' in text
    assert c.post(sitting_url + "/submit", data={"confirmed": "1"}).status_code == 302 and state() != "open"
    # the second and last sitting, every question answered: submitted at once
    second_url = _answered_and_submitted(app, c, assessment_id)
    with app.app_context():
        assert db.session.get(QuizAttempt, int(second_url.rsplit("/", 1)[1])).state != "open"


def test_the_course_page_and_the_quiz_pages_name_both_the_assessment_and_the_quiz(app, tmp_path):
    """The course page lists the assessment (在线测验) and offers its quiz under the quiz's own title (随堂测验),
    which the quiz's pages carry; their breadcrumbs name the assessment, so the two names meet on every page."""
    c, assessment_id = _trainee_with_a_quiz(app, tmp_path)
    with app.app_context():
        course_id = db.session.get(Assessment, assessment_id).course_id
    course_page = c.get(f"/my/courses/{course_id}").get_data(as_text=True)
    row = course_page.split('class="quiz-row"', 1)[1].split("</tr>", 1)[0]
    assert "随堂测验" in row and "3 questions" in row
    sitting_url = c.post(f"/my/assessments/{assessment_id}/quiz", data=START).location.rsplit("/", 1)[0]
    for page in (c.get(sitting_url), c.get(sitting_url + "/1")):
        text = page.get_data(as_text=True)
        crumbs = text.split('class="crumbs"', 1)[1].split("</nav>", 1)[0]
        assert "在线测验" in crumbs, crumbs
        assert "<h1>随堂测验" in text or "随堂测验" in crumbs


def test_a_sitting_awaiting_grading_says_so_on_the_course_page(app, tmp_path):
    """Submitted with a short answer, the quiz has no result yet: the course page says it awaits grading, not
    "not yet", and offers no retake (which would be refused) until it is graded."""
    c, assessment_id = _trainee_with_a_quiz(app, tmp_path, QUIZ_YAML + SHORT)
    with app.app_context():
        course_id = db.session.get(Assessment, assessment_id).course_id
    sitting_url = _answered_and_submitted(app, c, assessment_id)
    page = c.get(f"/my/courses/{course_id}").get_data(as_text=True)
    results = page.split("My results", 1)[1].split("</table>", 1)[0]
    assert "To be graded" in results and "not yet" not in results
    assert "Your short answers wait for a coordinator to grade them" in results
    assert "Take the online quiz" not in results
    with app.app_context():
        sitting = db.session.get(QuizAttempt, int(sitting_url.rsplit("/", 1)[1]))
        quiz.grade_short(attempt=sitting, marks={3: 20}, actor=None)
        db.session.commit()
    results = c.get(f"/my/courses/{course_id}").get_data(as_text=True).split("My results", 1)[1]
    results = results.split("</table>", 1)[0]
    assert "To be graded" not in results and "100 / 100" in results and "Take the online quiz" in results
