"""Pages of online quizzes: a trainee's sitting, one question per page, and a coordinator's grading of short answers."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from ..auth.current import current_user, login_required, permission_required
from ..auth.permissions import TEACH
from ..core.access import found
from ..core.db import utcnow
from ..core.forms import ActionForm, ask_first, confirmed, show_refusal
from ..core.i18n import _, ngettext
from ..core.uow import attempt as attempting
from ..extensions import db
from . import queries, quiz
from .models import Assessment, QuizAttempt
from .routes import _me, bp


def _mine(attempt_id: int) -> QuizAttempt:
    """The signed-in trainee's own sitting (anyone else's is 404)."""
    person = _me()
    sitting = db.session.get(QuizAttempt, attempt_id)
    if sitting is None or sitting.person_id != person.id:
        abort(404)
    return sitting


@bp.post("/my/assessments/<id:assessment_id>/quiz")
@login_required
def start_quiz(assessment_id: int):
    person = _me()
    assessment = found(db.session.get(Assessment, assessment_id))
    found_quiz = quiz.quiz_of(assessment)
    if found_quiz is None or not quiz.is_seated(assessment, person.id):
        abort(404)  # not a quiz, or not one of the person's courses: the same answer
    if not ActionForm().validate_on_submit():
        abort(400)
    attempts = quiz.attempts_of(assessment, person.id)
    startable = len(attempts) < found_quiz["attempts"] and all(a.state not in ("open", "submitted") for a in attempts)
    if found_quiz.get("time_limit_minutes") and startable and not confirmed():
        return _confirm_timed_start(assessment, found_quiz, used=len(attempts))
    with attempting() as outcome:
        sitting = quiz.start(assessment=assessment, person_id=person.id, now=utcnow())
    if not outcome.ok:
        show_refusal(outcome.error)
        return redirect(url_for("training.my_course", course_id=assessment.course_id))
    if sitting.state != "open":  # its time ran out: it was submitted with the answers saved
        flash(_("Time is up: the quiz was submitted with the answers saved."), "error")
        return redirect(url_for("training.quiz_sitting", attempt_id=sitting.id))
    unanswered = [n for n, (index, _o) in enumerate(sitting.order, start=1) if str(index) not in sitting.answers]
    return redirect(url_for("training.quiz_question", attempt_id=sitting.id, position=(unanswered or [1])[0]))


def _confirm_timed_start(assessment: Assessment, found_quiz: dict, used: int):
    """Ask before a timed sitting starts: its clock runs from now, whether the page stays open or not."""
    minutes, allowed = found_quiz["time_limit_minutes"], found_quiz["attempts"]
    return ask_first(
        title=_("Start %(title)s now?", title=found_quiz["title"]),
        consequences=[
            ngettext(
                "You have %(num)d minute from now. The time keeps running if you leave the page; when it is up, "
                "the answers saved so far are submitted.",
                "You have %(num)d minutes from now. The time keeps running if you leave the page; when it is up, "
                "the answers saved so far are submitted.",
                minutes,
            ),
            _("This is attempt %(n)d of %(allowed)d.", n=used + 1, allowed=allowed),
        ],
        button=_("Start the quiz"),
        back=url_for("training.my_course", course_id=assessment.course_id),
    )


def _time_left(sitting: QuizAttempt) -> int | None:
    """Whole minutes left (rounded up), or None without a time limit."""
    if sitting.deadline_at is None:
        return None
    seconds = (sitting.deadline_at - utcnow()).total_seconds()
    return max(0, -int(-seconds // 60))


@bp.route("/my/quiz/<id:attempt_id>/<id:position>", methods=["GET", "POST"])
@login_required
def quiz_question(attempt_id: int, position: int):
    sitting = _mine(attempt_id)
    if quiz.finish_if_late(sitting, utcnow()):
        flash(_("Time is up: the quiz was submitted with the answers saved."), "error")
        return redirect(url_for("training.quiz_sitting", attempt_id=sitting.id))
    if sitting.state != "open":
        return redirect(url_for("training.quiz_sitting", attempt_id=sitting.id))
    form = ActionForm()
    if form.validate_on_submit():
        with attempting() as outcome:
            quiz.save_answer(sitting, position, request.form.getlist("answer"), utcnow())
        if not outcome.ok:
            show_refusal(outcome.error)
            if sitting.state != "open":
                return redirect(url_for("training.quiz_sitting", attempt_id=sitting.id))
        else:
            go = request.form.get("go", "next")
            if go == "prev" and position > 1:
                return redirect(url_for("training.quiz_question", attempt_id=sitting.id, position=position - 1))
            if go == "next" and position < len(sitting.order):
                return redirect(url_for("training.quiz_question", attempt_id=sitting.id, position=position + 1))
            return redirect(url_for("training.quiz_sitting", attempt_id=sitting.id))
    question = found(quiz.question_at(sitting, position))
    return render_template(
        "lms/training/quiz_question.html",
        sitting=sitting,
        question=question,
        count=len(sitting.order),
        title=sitting.quiz["title"],
        minutes_left=_time_left(sitting),
        form=form,
    )


@bp.get("/my/quiz/<id:attempt_id>")
@login_required
def quiz_sitting(attempt_id: int):
    """An open sitting's overview (what is answered, time left, submit); a submitted one's result."""
    sitting = _mine(attempt_id)
    quiz.finish_if_late(sitting, utcnow())
    questions = [quiz.question_at(sitting, n) for n in range(1, len(sitting.order) + 1)]
    return render_template(
        "lms/training/quiz_sitting.html",
        sitting=sitting,
        questions=questions,
        indices=[index for index, _o in sitting.order],
        title=sitting.quiz["title"],
        total=quiz.total_points(sitting.quiz),
        reveal=quiz.reveals(sitting),
        minutes_left=_time_left(sitting),
        form=ActionForm(),
    )


@bp.post("/my/quiz/<id:attempt_id>/submit")
@login_required
def submit_quiz(attempt_id: int):
    sitting = _mine(attempt_id)
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    late = quiz.finish_if_late(sitting, utcnow())
    missing = quiz.unanswered(sitting) if sitting.state == "open" and not late else 0
    if missing and not confirmed():
        # Questions left without an answer: say what submitting now costs, and ask first.
        left = quiz.attempts_left(sitting)
        return ask_first(
            title=_("Submit with questions unanswered?"),
            consequences=[
                ngettext(
                    "%(num)d question has no answer: it scores nothing.",
                    "%(num)d questions have no answer: they score nothing.",
                    missing,
                ),
                _("Once submitted, answers cannot be changed.")
                + " "
                + ngettext(
                    "After this sitting you may take the quiz %(num)d more time.",
                    "After this sitting you may take the quiz %(num)d more times.",
                    left,
                )
                if left
                else _("Once submitted, answers cannot be changed, and this is your last sitting of the quiz."),
            ],
            button=_("Submit the quiz"),
            back=url_for("training.quiz_sitting", attempt_id=sitting.id),
            danger=True,
        )
    if not late:
        with attempting() as outcome:
            quiz.submit(sitting, utcnow())
        if not outcome.ok:
            show_refusal(outcome.error)
        elif sitting.state == "graded":
            flash(_("Submitted. Your score is %(score)s.", score=sitting.score), "success")
        else:
            flash(_("Submitted. Your short answers will be graded by the organiser."), "success")
    return redirect(url_for("training.quiz_sitting", attempt_id=sitting.id))


@bp.route("/assessments/<id:assessment_id>/quiz", methods=["GET", "POST"])
@permission_required(TEACH)
def grade_quiz(assessment_id: int):
    assessment = found(queries.visible_assessment(current_user, assessment_id))
    form = ActionForm()
    if form.validate_on_submit():
        sitting = db.session.get(QuizAttempt, request.form.get("attempt", type=int) or 0)
        if sitting is None or sitting.assessment_id != assessment.id:
            abort(404)
        questions = sitting.quiz["questions"]
        marks = {i: request.form.get(f"mark-{i}", "") for i, q in enumerate(questions) if q["kind"] == "short"}
        with attempting() as outcome:
            quiz.grade_short(attempt=sitting, marks=marks, actor=current_user)
        if outcome.ok:
            flash(_("Graded: the sitting counts with %(score)s.", score=sitting.score), "success")
            return redirect(url_for("training.grade_quiz", assessment_id=assessment.id))
        show_refusal(outcome.error)
    return render_template(
        "lms/training/quiz_grading.html",
        assessment=assessment,
        is_quiz=assessment.kind == "quiz",
        waiting=quiz.awaiting(assessment, utcnow()),
        form=form,
    )
