"""Pages of the training evaluation: the trainee's questionnaire, the coordinator's results and exports."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from ..auth.current import current_user, login_required, permission_required
from ..auth.permissions import TEACH
from ..core.access import found
from ..core.db import utcnow
from ..core.domain import Conflict, Invalid
from ..core.exports import FORMATS, Column, Kind, Table, download
from ..core.forms import ActionForm, show_refusal
from ..core.i18n import _, _l
from ..core.templating import page_context
from ..core.uow import attempt
from . import evaluation, queries
from .routes import _my_course, _zone, bp, render_my_course


@bp.post("/my/courses/<id:course_id>/evaluation")
@login_required
def answer_evaluation(course_id: int):
    person, crs = _my_course(course_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    answers = {k[2:]: v for k, v in request.form.items() if k.startswith("q-")}
    now = utcnow()
    with attempt() as outcome:
        evaluation.respond(
            course=crs, person_id=person.id, answers=answers, now=now, today=now.astimezone(_zone()).date()
        )
    if outcome.ok:
        flash(_("Thank you: your answer was recorded without your name."), "success")
    elif isinstance(outcome.error, Invalid):  # the page again, with the answers given and what each one lacks
        flash(_("Please answer the marked questions; your other answers are kept below."), "error")
        return render_my_course(person, crs, survey_answers=answers, survey_errors=outcome.error.errors), 422
    else:
        show_refusal(outcome.error)
    return redirect(url_for("training.my_course", course_id=crs.id) + "#evaluation")


@bp.get("/courses/<id:course_id>/evaluation")
@permission_required(TEACH)
def evaluation_results(course_id: int):
    crs = found(queries.visible_course(current_user, course_id))
    return render_template(
        "lms/training/evaluation.html",
        course=crs,
        results=evaluation.results(crs),
        minimum=evaluation.MIN_RESPONSES,
        language=page_context()["lang"],
    )


COLUMNS = [
    Column(_l("Question"), width=36),
    Column(_l("Answers"), Kind.INTEGER),
    Column(_l("Average"), Kind.DECIMAL, places=2),
    *(Column(str(r), Kind.INTEGER) for r in evaluation.RATINGS),
    Column(_l("Comment"), width=60),
]


@bp.get("/courses/<id:course_id>/evaluation.<fmt>")
@permission_required(TEACH)
def evaluation_export(course_id: int, fmt: str):
    if fmt not in FORMATS:
        abort(404)
    crs = found(queries.visible_course(current_user, course_id))
    found_results = evaluation.results(crs)
    if not found_results.shown:
        raise Conflict(_l("Results are shown once %(n)d people have answered.", n=evaluation.MIN_RESPONSES))
    language = page_context()["lang"]
    rows = []
    for q in found_results.questionnaire.ratings:
        figures = found_results.ratings[q.key]
        counts = [figures["counts"][r] for r in evaluation.RATINGS]
        rows.append([q.wording(language), figures["answered"], figures["average"], *counts, None])
    for q in found_results.questionnaire.texts:
        for text in found_results.comments.get(q.key, []):
            rows.append([q.wording(language), None, None, *(None for _r in evaluation.RATINGS), text])
    table = Table(found_results.questionnaire.heading(language)[:31], COLUMNS, rows)
    return download(table, fmt, name=("evaluation", crs.code, crs.title), fallback=("evaluation", crs.code))
