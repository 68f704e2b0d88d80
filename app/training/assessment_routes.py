"""Pages of a course's assessments: add, correct and delete them; enter each person's sittings."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from ..auth.current import current_user, permission_required
from ..auth.permissions import MANAGE, TEACH
from ..core.access import found
from ..core.db import utcnow
from ..core.domain import DomainError
from ..core.forms import ActionForm, UploadForm, show_refusal
from ..core.i18n import _
from ..core.uow import attempt
from ..jobs.imports import import_page
from . import grading, queries, quiz
from .forms import AssessmentForm
from .labels import ASSESSMENT_KIND_LABELS, OUTCOME_LABELS, RETAKE_LABELS
from .models import MAX_ATTEMPTS, RESULT_OUTCOMES
from .routes import bp
from .score_imports import import_scores

FIELDS = ("title", "kind", "max_score", "pass_mark", "weight", "retake_rule")


@bp.app_context_processor
def _labels():
    return {
        "ASSESSMENT_KIND_LABELS": ASSESSMENT_KIND_LABELS,
        "RETAKE_LABELS": RETAKE_LABELS,
        "OUTCOME_LABELS": OUTCOME_LABELS,
    }


@bp.route("/courses/<id:course_id>/assessments/new", methods=["GET", "POST"])
@permission_required(MANAGE)
def new_assessment(course_id: int):
    crs = found(queries.visible_course(current_user, course_id, MANAGE))
    form = AssessmentForm()
    if form.validate_on_submit():
        with attempt() as outcome:
            grading.create_assessment(course=crs, data={k: getattr(form, k).data for k in FIELDS}, actor=current_user)
        if outcome.ok:
            flash(_("Assessment added. Until scores are entered, nobody completes the course."), "success")
            return redirect(url_for("training.course", course_id=crs.id) + "#assessments")
        show_refusal(outcome.error, form)
    return render_template("lms/training/assessment_form.html", form=form, course=crs, assessment=None)


@bp.route("/assessments/<id:assessment_id>/edit", methods=["GET", "POST"])
@permission_required(MANAGE)
def edit_assessment(assessment_id: int):
    assessment = found(queries.visible_assessment(current_user, assessment_id, MANAGE))
    form = AssessmentForm(obj=assessment)
    if form.validate_on_submit():
        with attempt() as outcome:
            grading.update_assessment(
                assessment=assessment, data={k: getattr(form, k).data for k in FIELDS}, actor=current_user
            )
        if outcome.ok:
            flash(_("Saved. Everyone's course result was worked out again."), "success")
            return redirect(url_for("training.course", course_id=assessment.course_id) + "#assessments")
        show_refusal(outcome.error, form)
    return render_template(
        "lms/training/assessment_form.html", form=form, course=assessment.course, assessment=assessment
    )


@bp.route("/assessments/<id:assessment_id>/delete", methods=["GET", "POST"])
@permission_required(MANAGE)
def delete_assessment(assessment_id: int):
    assessment = found(queries.visible_assessment(current_user, assessment_id, MANAGE))
    course_id = assessment.course_id
    back = url_for("training.course", course_id=course_id) + "#assessments"
    form = ActionForm()
    if form.validate_on_submit():
        title = assessment.title
        with attempt() as outcome:
            grading.delete_assessment(assessment=assessment, actor=current_user)
        if outcome.ok:
            flash(_("Deleted %(title)s.", title=title), "success")
        else:
            flash(str(outcome.error.message), "error")
        return redirect(back)
    sittings, people = grading.result_count(assessment)
    consequences = [
        _("%(n)d sittings of %(people)d people are deleted with it.", n=sittings, people=people)
        if sittings
        else _("No score was entered for it yet."),
        _(
            "Everyone's course result is worked out again without it; a course left without assessments "
            "is completed by attendance alone."
        ),
    ]
    return render_template(
        "lms/core/confirm.html",
        form=form,
        title=_("Delete %(title)s?", title=assessment.title),
        consequences=consequences,
        button=_("Delete the assessment"),
        back=back,
        danger=True,
    )


def _sitting(rows) -> int:
    """The sitting the page shows: ?sitting=N, from 1 to one past the latest anyone sat."""
    latest = max((r.latest for r in rows), default=0)
    try:
        wanted = int(request.values.get("sitting", "1"))
    except ValueError:
        wanted = 1
    return max(1, min(wanted, latest + 1, MAX_ATTEMPTS))


def _posted(rows, sitting: int) -> tuple[list[grading.Entry], dict[int, dict]]:
    """The entries the roster form asks for, and what was typed per person (to show it again if refused).

    A typed score without an outcome is scored; a row left empty that had a sitting clears it.
    """
    entries, typed = [], {}
    for row in rows:
        pid = row.person.id
        outcome = request.form.get(f"outcome-{pid}", "")
        score = request.form.get(f"score-{pid}", "").strip()
        reason = request.form.get(f"reason-{pid}", "").strip()
        if f"outcome-{pid}" not in request.form and f"score-{pid}" not in request.form:
            continue  # a row the page did not offer for this sitting
        typed[pid] = {"outcome": outcome, "score": score, "reason": reason}
        if not outcome and score:
            outcome = "scored"
        if not outcome:
            if sitting in row.sittings:
                entries.append(grading.Entry(pid, sitting, None))
            continue
        entries.append(grading.Entry(pid, sitting, outcome, score or None, reason or None))
    return entries, typed


@bp.route("/assessments/<id:assessment_id>", methods=["GET", "POST"])
@permission_required(TEACH)
def assessment_roster(assessment_id: int):
    assessment = found(queries.visible_assessment(current_user, assessment_id))
    if assessment.kind == "quiz":
        quiz.finish_expired(assessment, utcnow())  # sittings whose time ran out count before the roster is read
    rows = grading.assessment_roster(assessment)
    sitting = _sitting(rows)
    form = ActionForm()
    typed, row_errors = None, {}
    if form.validate_on_submit():
        entries, typed = _posted(rows, sitting)
        with attempt() as outcome:
            written = grading.save_results(assessment=assessment, entries=entries, actor=current_user, source="roster")
        if outcome.ok:
            flash(_("Scores saved for %(count)d people.", count=len(written)), "success")
            return redirect(url_for("training.assessment_roster", assessment_id=assessment.id, sitting=sitting))
        row_errors = _row_errors(outcome.error)
        show_refusal(outcome.error)
    latest = max((r.latest for r in rows), default=0)
    return render_template(
        "lms/training/assessment.html",
        assessment=assessment,
        rows=rows,
        sitting=sitting,
        sittings=list(range(1, min(latest + 1, MAX_ATTEMPTS) + 1)),
        latest=latest,
        form=form,
        typed=typed,
        row_errors=row_errors,
        outcomes=RESULT_OUTCOMES,
        can_edit=queries.visible_assessment(current_user, assessment.id, MANAGE) is not None,
    )


def _row_errors(error: DomainError) -> dict[int, dict[str, str]]:
    """{person id: {field: message}} of a refusal keyed "<person id>.<field>"."""
    out: dict[int, dict[str, str]] = {}
    for key, message in error.errors.items():
        pid, _sep, name = str(key).partition(".")
        if pid.isdigit():
            out.setdefault(int(pid), {})[name] = str(message)
    return out


@bp.route("/assessments/<id:assessment_id>/import", methods=["GET", "POST"])
@permission_required(TEACH)
def assessment_import(assessment_id: int):
    assessment = found(queries.visible_assessment(current_user, assessment_id))
    form = UploadForm()
    errors = None
    if form.validate_on_submit():
        answer, errors = import_page(
            form,
            import_scores,
            kind="training.import_scores",
            actor=current_user,
            done=url_for("training.assessment_roster", assessment_id=assessment.id),
            said=lambda count: _("Scores imported for %(count)d people.", count=count),
            params={"assessment_id": assessment.id},
            assessment=assessment,
        )
        if answer is not None:
            return answer
    return render_template("lms/training/assessment_import.html", assessment=assessment, form=form, errors=errors)
