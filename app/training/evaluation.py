"""Training evaluation (培训满意度测评): an anonymous questionnaire per course.

Questionnaires are data (``questionnaires/<key>.yaml``: ratings from 1 to 5 and free text, worded in
Chinese and English). A person holding a seat answers a course's evaluation once, after its first
session has begun. The answer and the fact of answering are written apart: the answer
(:class:`EvaluationResponse`) has a random id and only the day; the receipt
(:class:`EvaluationReceipt`) names the person and nothing of the answer (on SQLite neither table keeps
rows in the order they came in). What this does not prevent: PostgreSQL marks both rows with the same
transaction id, and someone who reads the results just before and just after a known person answers
can tell that answer apart — the results are the organisers', the database is the administrator's.
Nothing is audited, no page, export or API answer shows a single response with anything that could
name its author, and no result is shown for a course until :data:`MIN_RESPONSES` have answered (fewer
could be told apart).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib.resources import files

from sqlalchemy import exists, func, select

from ..core.domain import Conflict, Invalid, NotFound
from ..core.i18n import _l
from ..extensions import db
from .models import SEATED, Course, CourseSession, Enrolment, EvaluationReceipt, EvaluationResponse
from .queries import holds_seat

MIN_RESPONSES = 5
MAX_TEXT = 1000
RATINGS = (1, 2, 3, 4, 5)
DEFAULT = "default"


@dataclass(frozen=True)
class Question:
    key: str
    kind: str  # rating | text
    text: dict  # language → wording

    def wording(self, language: str) -> str:
        return self.text.get(language) or self.text["zh_CN"]


@dataclass(frozen=True)
class Questionnaire:
    key: str
    title: dict
    questions: tuple[Question, ...]

    def heading(self, language: str) -> str:
        return self.title.get(language) or self.title["zh_CN"]

    @property
    def ratings(self) -> tuple[Question, ...]:
        return tuple(q for q in self.questions if q.kind == "rating")

    @property
    def texts(self) -> tuple[Question, ...]:
        return tuple(q for q in self.questions if q.kind == "text")


@cache
def questionnaire(key: str = DEFAULT) -> Questionnaire:
    """Load a questionnaire shipped with the academy (checked once)."""
    import yaml  # only a page with a questionnaire reads one: the command line starts without it

    data = yaml.safe_load(files(__package__).joinpath("questionnaires", f"{key}.yaml").read_text("utf-8"))
    questions = tuple(Question(q["key"], q["kind"], dict(q["text"])) for q in data["questions"])
    if {q.kind for q in questions} - {"rating", "text"} or len({q.key for q in questions}) != len(questions):
        raise ValueError(f"questionnaire {key}: kinds are rating or text, keys are distinct")
    return Questionnaire(data["key"], dict(data["title"]), questions)


def is_open(course: Course, now: datetime) -> bool:
    """The evaluation opens when the course's first session (not cancelled) has begun."""
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    CourseSession.course_id == course.id,
                    CourseSession.cancelled_at.is_(None),
                    CourseSession.starts_at <= now,
                )
            )
        )
    )


def has_answered(course: Course, person_id: int) -> bool:
    return db.session.get(EvaluationReceipt, (course.id, person_id)) is not None


def respond(*, course: Course, person_id: int, answers: dict, now: datetime, today: date) -> None:
    """Record a person's anonymous answer (every rating 1-5, texts optional); once per person and course."""
    if not holds_seat(course.id, person_id):
        raise NotFound(_l("Not found."))
    if not is_open(course, now):
        raise Conflict(_l("The evaluation opens when the course's first session begins."))
    if has_answered(course, person_id):
        raise Conflict(_l("You have already answered this evaluation. Thank you."))
    form = questionnaire()
    clean: dict[str, object] = {}
    errors: dict[str, object] = {}
    for q in form.ratings:
        value = answers.get(q.key)
        try:
            rating = int(value)
        except (TypeError, ValueError):
            rating = None
        if rating not in RATINGS:
            errors[q.key] = _l("Choose from 1 to 5.")
        else:
            clean[q.key] = rating
    for q in form.texts:
        text = (answers.get(q.key) or "").strip()
        if len(text) > MAX_TEXT:
            errors[q.key] = _l("At most %(n)d characters.", n=MAX_TEXT)
        elif text:
            clean[q.key] = text
    if errors:
        raise Invalid(_l("Invalid input."), errors)
    db.session.add(EvaluationReceipt(course_id=course.id, person_id=person_id))
    db.session.add(
        EvaluationResponse(
            id=secrets.token_hex(16), course_id=course.id, questionnaire=form.key, answers=clean, submitted_on=today
        )
    )
    db.session.flush()


@dataclass
class Results:
    """A course's evaluation results: nothing but the count until enough people have answered."""

    questionnaire: Questionnaire
    responses: int
    seated: int
    ratings: dict  # key → {"average": float, "counts": {1: n, …, 5: n}, "answered": n}
    comments: dict  # key → [text, …] (sorted: the order answers came in says nothing)

    @property
    def shown(self) -> bool:
        return self.responses >= MIN_RESPONSES


def results(course: Course) -> Results:
    """Aggregate the course's answers (two statements); empty unless :data:`MIN_RESPONSES` answered."""
    form = questionnaire()
    seated = db.session.scalar(
        select(func.count()).where(Enrolment.course_id == course.id, Enrolment.status.in_(SEATED))
    )
    answers = list(
        db.session.scalars(select(EvaluationResponse.answers).where(EvaluationResponse.course_id == course.id))
    )
    if len(answers) < MIN_RESPONSES:
        return Results(form, len(answers), seated, {}, {})
    ratings = {}
    for q in form.ratings:
        values = [a[q.key] for a in answers if isinstance(a.get(q.key), int)]
        counts = {r: values.count(r) for r in RATINGS}
        ratings[q.key] = {
            "average": round(sum(values) / len(values), 2) if values else None,
            "counts": counts,
            "answered": len(values),
        }
    comments = {q.key: sorted(a[q.key] for a in answers if a.get(q.key)) for q in form.texts}
    return Results(form, len(answers), seated, ratings, comments)
