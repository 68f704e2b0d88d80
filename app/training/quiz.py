"""Online quizzes: an assessment of kind "quiz" on a course whose content has a ``quiz.yaml``.

A trainee holding a seat starts a sitting (up to the quiz's number of attempts); the questions are dealt
in a shuffled order, their options too, and one question is shown per page. Each answer is saved as it
is given, so a dropped connection loses nothing: the sitting resumes where it was. The answer key stays
on the server; a page shows a question's text and options only, in the order dealt. Submitting (or the
time limit passing: the next request of the sitting submits it) grades the choices — a choice question
earns its points when answered exactly — and a sitting with short answers waits for a coordinator to
grade them. A graded sitting becomes the assessment's result of that sitting (scaled to its maximum),
through :func:`app.training.grading.save_results`, so the retake rule and the course's completion apply.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select

from ..core.domain import Conflict, Invalid, NotFound
from ..core.i18n import _l
from ..extensions import db
from .grading import Entry, save_results
from .models import MAX_ATTEMPTS, Assessment, AssessmentResult, QuizAttempt
from .queries import content_for, holds_seat

MAX_SHORT = 2000


def quiz_of(assessment: Assessment) -> dict | None:
    """The quiz an assessment of kind "quiz" is taken with: its course's content's, if any."""
    if assessment.kind != "quiz":
        return None
    content = content_for(assessment.course)
    return content.quiz if content is not None else None


def total_points(quiz: dict) -> int:
    return sum(q["points"] for q in quiz["questions"])


def attempts_of(assessment: Assessment, person_id: int) -> list[QuizAttempt]:
    return list(
        db.session.scalars(
            select(QuizAttempt)
            .where(QuizAttempt.assessment_id == assessment.id, QuizAttempt.person_id == person_id)
            .order_by(QuizAttempt.sitting)
        )
    )


def is_seated(assessment: Assessment, person_id: int) -> bool:
    return holds_seat(assessment.course_id, person_id)


def start(*, assessment: Assessment, person_id: int, now: datetime, rng: random.Random | None = None) -> QuizAttempt:
    """Resume the person's open sitting (one whose time ran out is submitted and returned as it is), or deal a
    new one if attempts are left and no earlier sitting waits for grading (flushes)."""
    quiz = quiz_of(assessment)
    if quiz is None or not is_seated(assessment, person_id):
        raise NotFound(_l("Not found."))
    attempts = attempts_of(assessment, person_id)
    for attempt in attempts:
        if attempt.state == "open":
            finish_if_late(attempt, now)
            return attempt
    if any(a.state == "submitted" for a in attempts):
        raise Conflict(_l("Your last sitting waits for its short answers to be graded: retake it once they are."))
    if len(attempts) >= quiz["attempts"]:
        raise Conflict(_l("You have used all %(n)d attempts of this quiz.", n=quiz["attempts"]))
    latest_result = db.session.scalar(
        select(func.max(AssessmentResult.attempt)).where(
            AssessmentResult.assessment_id == assessment.id, AssessmentResult.person_id == person_id
        )
    )
    sitting = max(latest_result or 0, max((a.sitting for a in attempts), default=0)) + 1
    if sitting > MAX_ATTEMPTS:
        raise Conflict(_l("At most %(n)d sittings.", n=MAX_ATTEMPTS))
    rng = rng or random.SystemRandom()
    order = []
    for index, question in enumerate(quiz["questions"]):
        options = list(range(len(question.get("options", []))))
        if quiz["shuffle"]:
            rng.shuffle(options)
        order.append([index, options])
    if quiz["shuffle"]:
        rng.shuffle(order)
    minutes = quiz.get("time_limit_minutes")
    attempt = QuizAttempt(
        assessment_id=assessment.id,
        person_id=person_id,
        sitting=sitting,
        quiz=quiz,
        order=order,
        answers={},
        marks={},
        state="open",
        started_at=now,
        deadline_at=now + timedelta(minutes=minutes) if minutes else None,
    )
    db.session.add(attempt)
    db.session.flush()
    return attempt


def question_at(attempt: QuizAttempt, position: int) -> dict | None:
    """The question shown at ``position`` (from 1) as the page may show it: text, kind, options in the order
    dealt, and the answer saved so far (as shown positions) — never the key."""
    if not 1 <= position <= len(attempt.order):
        return None
    index, shown = attempt.order[position - 1]
    question = attempt.quiz["questions"][index]
    saved = attempt.answers.get(str(index))
    if question["kind"] in ("single", "multiple") and saved is not None:
        saved = sorted(shown.index(i) for i in saved if i in shown)
    return {
        "position": position,
        "kind": question["kind"],
        "text": question["text"],
        "points": question["points"],
        "options": [question["options"][i] for i in shown] if shown else [],
        "saved": saved,
    }


def unanswered(attempt: QuizAttempt) -> int:
    """How many of the sitting's questions have no answer saved (nothing chosen, or a blank short answer)."""
    return sum(attempt.answers.get(str(index)) in (None, [], "") for index, _shown in attempt.order)


def attempts_left(attempt: QuizAttempt) -> int:
    """How many more sittings of the quiz its person may start after this one."""
    return max(0, attempt.quiz["attempts"] - len(attempts_of(attempt.assessment, attempt.person_id)))


def finish_if_late(attempt: QuizAttempt, now: datetime) -> bool:
    """Submit an open sitting whose time is up, with the answers saved; return whether it was."""
    if attempt.state == "open" and attempt.deadline_at is not None and now >= attempt.deadline_at:
        submit(attempt, attempt.deadline_at)
        return True
    return False


def save_answer(attempt: QuizAttempt, position: int, values: list[str], now: datetime) -> None:
    """Keep the answer to the question at ``position``: ``values`` are the shown options chosen (positions from
    0), "true"/"false", or the text. An empty answer clears it. Refused once the sitting is over."""
    if finish_if_late(attempt, now):
        raise Conflict(_l("Time is up: the quiz was submitted with the answers saved."))
    if attempt.state != "open":
        raise Conflict(_l("This quiz has been submitted."))
    if not 1 <= position <= len(attempt.order):
        raise NotFound(_l("Not found."))
    index, shown = attempt.order[position - 1]
    question = attempt.quiz["questions"][index]
    values = [v for v in values if v not in ("", None)]
    answer: object = None
    kind = question["kind"]
    if kind in ("single", "multiple") and values:
        try:
            picked = sorted({int(v) for v in values})
        except ValueError:
            picked = [-1]
        if any(not 0 <= p < len(shown) for p in picked) or (kind == "single" and len(picked) > 1):
            raise Invalid(_l("Invalid input."), {"answer": _l("Choose among the options shown.")})
        answer = sorted(shown[p] for p in picked)
    elif kind == "truefalse" and values:
        if values[0] not in ("true", "false"):
            raise Invalid(_l("Invalid input."), {"answer": _l("Choose true or false.")})
        answer = values[0] == "true"
    elif kind == "short" and values:
        text = values[0].strip()
        if len(text) > MAX_SHORT:
            raise Invalid(_l("Invalid input."), {"answer": _l("At most %(n)d characters.", n=MAX_SHORT)})
        answer = text or None
    answers = dict(attempt.answers)
    if answer is None:
        answers.pop(str(index), None)
    else:
        answers[str(index)] = answer
    attempt.answers = answers
    db.session.flush()


def _right(question: dict, answer) -> bool:
    if answer is None:
        return False
    if question["kind"] == "truefalse":
        return answer is question["answer"]
    return sorted(answer) == question["answer"]


def submit(attempt: QuizAttempt, now: datetime) -> None:
    """Grade the choices; record the result now, or once a coordinator has graded the short answers."""
    if attempt.state != "open":
        raise Conflict(_l("This quiz has been submitted."))
    quiz = attempt.quiz
    marks = {}
    waiting = False
    for index, question in enumerate(quiz["questions"]):
        answer = attempt.answers.get(str(index))
        if question["kind"] == "short":
            if answer:
                waiting = True
            else:
                marks[str(index)] = 0  # nothing written: nothing to grade
        else:
            marks[str(index)] = question["points"] if _right(question, answer) else 0
    attempt.marks = marks
    attempt.submitted_at = now
    attempt.state = "submitted" if waiting else "graded"
    db.session.flush()
    if not waiting:
        _record(attempt, quiz, actor=None)


def finish_expired(assessment: Assessment, now: datetime) -> int:
    """Submit the assessment's open sittings whose time is up; return how many."""
    late = db.session.scalars(
        select(QuizAttempt).where(
            QuizAttempt.assessment_id == assessment.id,
            QuizAttempt.state == "open",
            QuizAttempt.deadline_at <= now,
        )
    ).all()
    for attempt in late:
        finish_if_late(attempt, now)
    return len(late)


def reveals(attempt: QuizAttempt) -> bool:
    """Whether the sitting's page may say which answers were right: only once no sitting is left to take."""
    if attempt.state == "open":
        return False
    taken = attempts_of(attempt.assessment, attempt.person_id)
    return len(taken) >= attempt.quiz["attempts"] and all(a.state != "open" for a in taken)


def awaiting(assessment: Assessment, now: datetime) -> list[QuizAttempt]:
    """The assessment's sittings whose short answers wait for a coordinator (sittings past time submitted)."""
    finish_expired(assessment, now)
    return list(
        db.session.scalars(
            select(QuizAttempt)
            .where(QuizAttempt.assessment_id == assessment.id, QuizAttempt.state == "submitted")
            .order_by(QuizAttempt.submitted_at, QuizAttempt.id)
        )
    )


def grade_short(*, attempt: QuizAttempt, marks: dict[int, object], actor) -> None:
    """A coordinator's points for a submitted sitting's short answers; then the sitting counts."""
    if attempt.state != "submitted":
        raise Conflict(_l("This sitting has no answers waiting to be graded."))
    quiz = attempt.quiz
    errors = {}
    given = dict(attempt.marks)
    for index, question in enumerate(quiz["questions"]):
        if question["kind"] != "short" or str(index) in given:
            continue
        try:
            points = int(str(marks.get(index, "")).strip())
        except ValueError:
            points = -1
        if not 0 <= points <= question["points"]:
            errors[str(index)] = _l("From 0 to %(n)d points.", n=question["points"])
        else:
            given[str(index)] = points
    if errors:
        raise Invalid(_l("Nothing was saved: correct the marked answers."), errors)
    attempt.marks = given
    attempt.state = "graded"
    db.session.flush()
    _record(attempt, quiz, actor)


def _record(attempt: QuizAttempt, quiz: dict, actor) -> None:
    """The sitting's points scaled to the assessment's maximum, as the assessment's next result: appended after
    whatever was entered, never over it. Someone who no longer holds a seat keeps the score on the sitting only."""
    assessment = attempt.assessment
    earned = sum(Decimal(v) for v in attempt.marks.values())
    score = (earned / total_points(quiz) * assessment.max_score).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    attempt.score = score
    db.session.flush()
    if not is_seated(assessment, attempt.person_id):
        return
    latest = db.session.scalar(
        select(func.max(AssessmentResult.attempt)).where(
            AssessmentResult.assessment_id == assessment.id, AssessmentResult.person_id == attempt.person_id
        )
    )
    sitting = (latest or 0) + 1
    if sitting > MAX_ATTEMPTS:
        return  # the roster holds every sitting there may be: the score stays on the quiz sitting
    save_results(
        assessment=assessment,
        entries=[Entry(attempt.person_id, sitting, "scored", score)],
        actor=actor,
        source="quiz",
    )
