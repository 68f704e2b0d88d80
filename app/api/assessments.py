"""API endpoints of assessments (a course's assessments, each person's sittings and result) and of a course's
training evaluation (aggregates only)."""

from __future__ import annotations

from flask import abort
from flask_babel import get_locale

from ..auth.permissions import MANAGE
from ..core.access import found
from ..core.domain import Invalid
from ..training import evaluation, grading, queries
from ..training.models import Assessment
from . import schemas
from .auth import api_user
from .routes import bp


def assessment_json(a: Assessment) -> dict:
    return {f: getattr(a, f) for f in ("id", "course_id", "position", *grading.FIELDS)}


@bp.get("/courses/<id:course_id>/assessments")
@bp.response(200, schemas.AssessmentList)
def list_assessments(course_id: int):
    """The assessments of a course, in order."""
    course = found(queries.visible_course(api_user(), course_id))
    return {"items": [assessment_json(a) for a in grading.assessments_of(course.id)]}


@bp.post("/courses/<id:course_id>/assessments")
@bp.arguments(schemas.AssessmentCreate)
@bp.response(201, schemas.AssessmentSchema)
def create_assessment(data, course_id: int):
    """Add an assessment: completing the course then needs passing it (everyone is graded again)."""
    course = found(queries.visible_course(api_user(), course_id, MANAGE))
    return assessment_json(grading.create_assessment(course=course, data=data, actor=api_user()))


@bp.get("/assessments/<id:assessment_id>")
@bp.response(200, schemas.AssessmentSchema)
def get_assessment(assessment_id: int):
    """One assessment."""
    return assessment_json(found(queries.visible_assessment(api_user(), assessment_id)))


@bp.patch("/assessments/<id:assessment_id>")
@bp.arguments(schemas.AssessmentUpdate)
@bp.response(200, schemas.AssessmentSchema)
def update_assessment(data, assessment_id: int):
    """Correct an assessment (audited; everyone is graded again). 409 for a maximum below a score entered."""
    a = found(queries.visible_assessment(api_user(), assessment_id, MANAGE))
    return assessment_json(grading.update_assessment(assessment=a, data=data, actor=api_user()))


@bp.delete("/assessments/<id:assessment_id>")
@bp.response(204)
def delete_assessment(assessment_id: int):
    """Delete an assessment with every sitting entered for it (audited with their number)."""
    a = found(queries.visible_assessment(api_user(), assessment_id, MANAGE))
    grading.delete_assessment(assessment=a, actor=api_user())
    return ""


def result_json(a: Assessment, row: grading.RosterRow) -> dict:
    return {
        "assessment_id": a.id,
        "person_id": row.person.id,
        "sittings": [
            {"sitting": n, "outcome": r.outcome, "score": r.score, "reason": r.reason, "source": r.source}
            for n, r in sorted(row.sittings.items())
        ],
        "counted_outcome": row.result.outcome,
        "counted_score": row.result.score,
        "passed": row.result.passed,
        "course_score": row.enrolment.score,
        "course_passed": row.enrolment.passed,
    }


@bp.get("/assessments/<id:assessment_id>/results")
@bp.response(200, schemas.ResultList)
def list_results(assessment_id: int):
    """Every seated person's sittings of the assessment, what counts, and their course result."""
    a = found(queries.visible_assessment(api_user(), assessment_id))
    return {"items": [result_json(a, row) for row in grading.assessment_roster(a)]}


@bp.put("/assessments/<id:assessment_id>/results/<id:person_id>")
@bp.arguments(schemas.ResultUpdate)
@bp.response(200, schemas.ResultSchema)
def record_result(data, assessment_id: int, person_id: int):
    """Record one sitting of one person (idempotent): a score, absent (counts 0) or excused (needs a reason).

    Sittings are recorded in order (the first, then retakes); ``outcome: null`` clears the latest one.
    """
    a = found(queries.visible_assessment(api_user(), assessment_id))
    entry = grading.Entry(person_id, data["sitting"], data["outcome"], data["score"], data["reason"])
    try:
        grading.save_results(assessment=a, entries=[entry], actor=api_user(), source="api")
    except Invalid as exc:
        if f"{person_id}.person_id" in exc.errors:
            abort(404)  # not a seat of this course: the same answer as a person the caller cannot see
        names = {"attempt": "sitting"}
        raise Invalid(
            exc.message, {names.get(k.partition(".")[2], k.partition(".")[2]): v for k, v in exc.errors.items()}
        ) from exc
    row = next(r for r in grading.assessment_roster(a) if r.person.id == person_id)
    return result_json(a, row)


@bp.get("/courses/<id:course_id>/evaluation")
@bp.response(200, schemas.EvaluationSchema)
def course_evaluation(course_id: int):
    """The course's training evaluation: how many answered and, once 5 have, each rating's average and
    distribution and the comments (sorted). Never a single response, never who answered what."""
    course = found(queries.visible_course(api_user(), course_id))
    found_results = evaluation.results(course)
    language = "en" if str(get_locale() or "").startswith("en") else "zh_CN"
    form = found_results.questionnaire
    return {
        "course_id": course.id,
        "questionnaire": form.key,
        "responses": found_results.responses,
        "seated": found_results.seated,
        "shown": found_results.shown,
        "ratings": [
            {"key": q.key, "question": q.wording(language), **found_results.ratings[q.key]}
            for q in form.ratings
            if found_results.shown
        ],
        "comments": [
            {"key": q.key, "question": q.wording(language), "comments": found_results.comments.get(q.key, [])}
            for q in form.texts
            if found_results.shown
        ],
    }
