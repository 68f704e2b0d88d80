"""Training pages: programs, courses, sessions and rosters for staff; courses, lessons and check-in for trainees."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from io import BytesIO
from zoneinfo import ZoneInfo

import segno
from flask import Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, url_for
from sqlalchemy import select
from wtforms import SelectChoice

from ..auth.current import current_user, login_required, permission_required
from ..auth.permissions import MANAGE, TEACH, can
from ..core.access import found
from ..core.db import utcnow
from ..core.domain import Conflict, DomainError
from ..core.forms import ActionForm, UploadForm, ask_first, check_also, choices, confirmed, show_refusal
from ..core.i18n import _
from ..core.ranges import FIRST_YEAR, LAST_YEAR
from ..core.routing import id_arg, year_arg
from ..core.templating import local_time
from ..core.uow import attempt
from ..core.urls import public_url
from ..credentials.services import verification_status
from ..extensions import db
from ..jobs.imports import import_page
from ..notices.services import mark_read
from ..notices.wording import subject
from ..org.queries import unit_for
from ..people.labels import CATEGORY_LABELS
from ..people.models import CATEGORIES
from ..people.picker import picked_person
from ..people.queries import person_for
from ..people.record import hours_statement, person_record
from . import changes, evaluation, grading, progress, queries, quiz, services
from .calendar import calendar_token, feed, reset_calendar, user_for_token
from .checkin import PROOF_SECONDS, make_proof, make_token, seconds_left, token_is_fresh
from .forms import CourseForm, EnrolManyForm, EnrolOneForm, ProgramForm, ReasonForm, SessionForm
from .imports import import_attendance
from .labels import ENROLMENT_LABELS, KIND_LABELS, MODE_LABELS, STATUS_LABELS, TIER_LABELS
from .models import Course, CourseSession, Enrolment

bp = Blueprint("training", __name__)

PROGRAM_FIELDS = changes.PROGRAM_FIELDS  # what a program's and a course's forms edit, as the services correct it
COURSE_FIELDS = changes.COURSE_FIELDS


@bp.app_context_processor
def _labels():
    return {
        "KIND_LABELS": KIND_LABELS,
        "MODE_LABELS": MODE_LABELS,
        "STATUS_LABELS": STATUS_LABELS,
        "ENROLMENT_LABELS": ENROLMENT_LABELS,
        "TIER_LABELS": TIER_LABELS,
        "notice_text": subject,
    }


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["LMS_TIMEZONE"])


def _local(value: datetime) -> datetime:
    return value.replace(tzinfo=_zone())


def _unit_choices() -> list[SelectChoice]:
    return [SelectChoice(u.id, "　" * u.depth + u.name) for u in queries.unit_options(current_user)]


# ---------------------------------------------------------------- programs


@bp.get("/programs/")
@permission_required(TEACH)
def programs():
    year = request.args.get("year", type=year_arg)
    return render_template(
        "lms/training/programs.html",
        programs=queries.program_list(current_user, year),
        year=year,
        years=(FIRST_YEAR, LAST_YEAR),
        can_manage=can(current_user, MANAGE),
    )


@bp.route("/programs/new", methods=["GET", "POST"])
@permission_required(MANAGE)
def new_program():
    form = ProgramForm()
    form.unit_id.choices = _unit_choices()
    if request.method == "GET":
        form.year.data = utcnow().year
    if form.validate_on_submit():
        unit = found(unit_for(current_user, form.unit_id.data))
        with attempt() as outcome:
            data = {k: getattr(form, k).data for k in PROGRAM_FIELDS}
            program = services.create_program(data=data, unit=unit, actor=current_user)
        if outcome.ok:
            return redirect(url_for("training.program", program_id=program.id))
        show_refusal(outcome.error, form)
    return render_template("lms/training/program_form.html", form=form)


@bp.get("/programs/<id:program_id>")
@permission_required(TEACH)
def program(program_id: int):
    prog = found(queries.visible_program(current_user, program_id))
    return render_template("lms/training/program.html", **queries.program_page(current_user, prog))


@bp.route("/programs/<id:program_id>/edit", methods=["GET", "POST"])
@permission_required(MANAGE)
def edit_program(program_id: int):
    prog = found(queries.visible_program(current_user, program_id, MANAGE))
    form = ProgramForm(obj=prog)
    del form.unit_id  # a program stays with its unit
    if form.validate_on_submit():
        with attempt() as outcome:
            changes.update_program(
                program=prog, data={k: getattr(form, k).data for k in PROGRAM_FIELDS}, actor=current_user
            )
        if outcome.ok:
            flash(_("Saved."), "success")
            return redirect(url_for("training.program", program_id=prog.id))
        show_refusal(outcome.error, form)
    return render_template("lms/training/program_form.html", form=form, program=prog)


@bp.post("/programs/<id:program_id>/<any(close, reopen):verb>")
@permission_required(MANAGE)
def close_program(program_id: int, verb: str):
    prog = found(queries.visible_program(current_user, program_id, MANAGE))
    if ActionForm().validate_on_submit():
        changes.set_program_closed(program=prog, closed=verb == "close", actor=current_user)
        flash(_("The program is closed.") if verb == "close" else _("The program is open again."), "success")
    return redirect(url_for("training.program", program_id=prog.id))


@bp.route("/programs/<id:program_id>/delete", methods=["GET", "POST"])
@permission_required(MANAGE)
def delete_program(program_id: int):
    prog = found(queries.visible_program(current_user, program_id, MANAGE))
    form = ActionForm()
    if form.validate_on_submit():
        title = prog.title
        with attempt() as outcome:
            changes.delete_program(program=prog, actor=current_user)
        if outcome.ok:
            flash(_("Deleted %(title)s.", title=title), "success")
            return redirect(url_for("training.programs"))
        return _refused(outcome.error, url_for("training.program", program_id=prog.id))
    return render_template(
        "lms/core/confirm.html",
        form=form,
        title=_("Delete %(title)s?", title=prog.title),
        consequences=queries.deletion_consequences(prog.courses),
        button=_("Delete the program"),
        back=url_for("training.program", program_id=prog.id),
        danger=True,
    )


def _refused(error: DomainError, back: str):
    """Answer a refused change from a confirmation page: 409 with the reason, nothing changed."""
    return (
        render_template(
            "lms/core/confirm.html",
            form=None,
            title=_("This cannot be done"),
            consequences=[str(error.message)],
            back=back,
        ),
        409 if isinstance(error, Conflict) else 422,
    )


@bp.route("/programs/<id:program_id>/courses/new", methods=["GET", "POST"])
@permission_required(MANAGE)
def new_course(program_id: int):
    prog = found(queries.visible_program(current_user, program_id, MANAGE))
    form = CourseForm()
    form.content_slug.choices = [SelectChoice("", "—")] + [
        SelectChoice(c.slug, f"{c.code} {c.title}") for c in queries.content_options()
    ]
    if form.validate_on_submit():
        with attempt() as outcome:
            data = _course_data(form)
            course = services.create_course(program=prog, data=data, actor=current_user)
        if outcome.ok:
            return redirect(url_for("training.course", course_id=course.id))
        show_refusal(outcome.error, form)
    elif form.is_submitted():
        check_also(form, lambda: services.course_values(_course_data(form), prog))
    return render_template("lms/training/course_form.html", form=form, program=prog)


# ---------------------------------------------------------------- courses


def _course_data(form: CourseForm) -> dict:
    """The course form's fields as the services take them: the attended share from the form's percent."""
    data = {k: getattr(form, k).data for k in COURSE_FIELDS}
    if data["min_attendance"] is not None:
        data["min_attendance"] = data["min_attendance"] / 100
    return data


def _enrol_many_form() -> EnrolManyForm:
    form = EnrolManyForm(prefix="many")
    form.unit_id.choices = _unit_choices()
    form.category.choices = [SelectChoice("", _("All categories"))] + choices(CATEGORIES, CATEGORY_LABELS)
    return form


@bp.get("/courses/<id:course_id>")
@permission_required(TEACH)
def course(course_id: int):
    crs = found(queries.visible_course(current_user, course_id))
    return _course_page(crs)


def _course_page(crs: Course, session_form: SessionForm | None = None):
    """The course's page; with ``session_form``, the add-a-session form as it was sent, open, with its errors."""
    page = queries.course_page(current_user, crs)
    now = utcnow()
    return render_template(
        "lms/training/course.html",
        # sessions whose check-in is over: their attendance is taken on the roster, no QR code offered
        check_in_over={s.id for s in crs.sessions if services.check_in_window(s, now).state == "after"},
        session_form=session_form or SessionForm(prefix="session"),
        session_form_open=session_form is not None,
        many_form=_enrol_many_form(),
        one_form=EnrolOneForm(prefix="one"),
        action_form=ActionForm(),
        lessons_done=_lessons_done(crs, page["content"]),
        **page,
        **_assessments(crs),
    )


def _lessons_done(crs: Course, content) -> dict[int, int]:
    if content is None:
        return {}
    return progress.done_counts(content, queries.enrolled_ids(crs.id))


def _assessments(crs: Course) -> dict:
    assessments = grading.assessments_of(crs.id)
    seated = len(queries.enrolled_ids(crs.id)) if assessments else 0
    return {"assessments": assessments, "assessment_figures": grading.assessment_figures(assessments, seated)}


def _content_choices() -> list[SelectChoice]:
    return [SelectChoice("", "—")] + [SelectChoice(c.slug, f"{c.code} {c.title}") for c in queries.content_options()]


@bp.route("/courses/<id:course_id>/edit", methods=["GET", "POST"])
@permission_required(MANAGE)
def edit_course(course_id: int):
    crs = found(queries.visible_course(current_user, course_id, MANAGE))
    form = CourseForm(obj=crs)
    if not form.is_submitted():
        form.min_attendance.data = crs.min_attendance * 100  # the share, in percent as the form takes it
    form.content_slug.choices = _content_choices()
    if form.validate_on_submit():
        with attempt() as outcome:
            data = _course_data(form)
            changes.update_course(course=crs, data=data, actor=current_user)
        if outcome.ok:
            flash(_("Saved."), "success")
            return redirect(url_for("training.course", course_id=crs.id))
        show_refusal(outcome.error, form)
    elif form.is_submitted():
        data = _course_data(form)
        check_also(form, lambda: services.course_values(data, crs.program, crs.id))
    return render_template("lms/training/course_form.html", form=form, program=crs.program, course=crs)


@bp.post("/courses/<id:course_id>/<any(close, reopen):verb>")
@permission_required(MANAGE)
def close_course(course_id: int, verb: str):
    crs = found(queries.visible_course(current_user, course_id, MANAGE))
    if ActionForm().validate_on_submit():
        changes.set_course_closed(course=crs, closed=verb == "close", actor=current_user)
        flash(_("The course is closed.") if verb == "close" else _("The course is open again."), "success")
    return redirect(url_for("training.course", course_id=crs.id))


@bp.route("/courses/<id:course_id>/delete", methods=["GET", "POST"])
@permission_required(MANAGE)
def delete_course(course_id: int):
    crs = found(queries.visible_course(current_user, course_id, MANAGE))
    form = ActionForm()
    program_id = crs.program_id
    if form.validate_on_submit():
        title = crs.title
        with attempt() as outcome:
            changes.delete_course(course=crs, actor=current_user)
        if outcome.ok:
            flash(_("Deleted %(title)s.", title=title), "success")
            return redirect(url_for("training.program", program_id=program_id))
        return _refused(outcome.error, url_for("training.course", course_id=crs.id))
    return render_template(
        "lms/core/confirm.html",
        form=form,
        title=_("Delete %(title)s?", title=crs.title),
        consequences=queries.deletion_consequences([crs]),
        button=_("Delete the course"),
        back=url_for("training.course", course_id=crs.id),
        danger=True,
    )


@bp.post("/courses/<id:course_id>/sessions")
@permission_required(MANAGE)
def add_session(course_id: int):
    crs = found(queries.visible_course(current_user, course_id))
    form = SessionForm(prefix="session")
    if not form.validate_on_submit():
        flash(_("The session was not added: please correct the marked fields."), "error")
        return _course_page(crs, form), 422
    data = {
        "starts_at": _local(form.starts_at.data),
        "ends_at": _local(form.ends_at.data),
        "hours": form.hours.data,
        "mode": form.mode.data,
        "place": form.place.data,
    }
    with attempt() as outcome:
        services.create_session(course=crs, data=data, actor=current_user)
    if outcome.ok:
        flash(_("Session added."), "success")
        return redirect(url_for("training.course", course_id=crs.id))
    show_refusal(outcome.error, form)
    return _course_page(crs, form), 422


@bp.post("/courses/<id:course_id>/enrol")
@permission_required(MANAGE)
def enrol(course_id: int):
    crs = found(queries.visible_course(current_user, course_id))
    if "one-person_id" in request.form or "one-person_id-q" in request.form:
        _enrol_one(crs)
    else:
        _enrol_group(crs)
    return redirect(url_for("training.course", course_id=crs.id))


def _enrol_one(crs: Course) -> None:
    """Enrol the person chosen by search (or, without script, by what was typed), and say how it went."""
    form = EnrolOneForm(prefix="one")
    if not form.validate_on_submit():
        abort(400)
    person = picked_person(current_user, form.person_id)
    if person is None:
        flash(" ".join(str(e) for e in form.person_id.errors) or _("Choose a person."), "error")
        return
    with attempt() as outcome:
        result = services.enrol(course=crs, person=person, actor=current_user)
    if outcome.ok:
        flash(_("%(name)s: %(status)s.", name=person.name, status=ENROLMENT_LABELS[result.status]), "success")
    else:
        show_refusal(outcome.error)


def _enrol_group(crs: Course) -> None:
    """Enrol a whole cohort, or the people of a unit (of a category), and say how many."""
    form = _enrol_many_form()
    if not form.validate_on_submit():
        abort(400)
    cohort_id = request.form.get("many-cohort_id", type=id_arg)
    cohort = found(queries.visible_cohort(current_user, cohort_id)) if cohort_id else None
    unit = None if cohort else found(unit_for(current_user, form.unit_id.data))
    with attempt() as outcome:
        if cohort is not None:
            counts = services.enrol_cohort(course=crs, cohort=cohort, actor=current_user)
        else:
            counts = services.enrol_unit(course=crs, unit=unit, category=form.category.data, actor=current_user)
    if outcome.ok:
        flash(_("Enrolled %(enrolled)d, waitlisted %(waitlisted)d, already enrolled %(skipped)d.", **counts), "success")
    else:
        show_refusal(outcome.error)


@bp.post("/courses/<id:course_id>/withdraw/<id:person_id>")
@permission_required(MANAGE)
def withdraw(course_id: int, person_id: int):
    crs = found(queries.visible_course(current_user, course_id))
    person = found(person_for(current_user, person_id))
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    if not confirmed() and services.has_completed(crs, person):
        # Withdrawing takes a completion off someone's record: say so and ask first.
        return ask_first(
            title=_("Withdraw %(name)s from %(course)s?", name=person.name, course=crs.title),
            consequences=[
                _(
                    "%(name)s has completed this course: withdrawing takes the completion off their record.",
                    name=person.name,
                ),
                _("Their attendance and its hours stay recorded; enrolling them again gives the completion back."),
            ],
            button=_("Withdraw"),
            back=url_for("training.course", course_id=crs.id),
            danger=True,
        )
    with attempt() as outcome:
        promoted = services.withdraw(course=crs, person=person, actor=current_user)
    if outcome.ok:
        flash(
            _("%(name)s withdrawn.", name=person.name)
            + (" " + _("The first on the waitlist now has the seat.") if promoted else ""),
            "success",
        )
    else:
        show_refusal(outcome.error)
    return redirect(url_for("training.course", course_id=crs.id))


# ---------------------------------------------------------------- sessions


def _roster_statuses() -> dict[int, tuple[str, str | None]]:
    """The roster form's person id → (status, reason); fields named for no possible person are ignored."""
    posted = {}
    for key, status in request.form.items():
        if key.startswith("status-"):
            try:
                pid = id_arg(key[7:])
            except ValueError:
                continue
            posted[pid] = (status, request.form.get(f"reason-{key[7:]}"))
    return posted


def _row_errors(error) -> dict[int, str]:
    """A roster refusal's errors by person ("12.reason" → {12: message}); empty if it names no person."""
    found = {}
    for key, message in (getattr(error, "errors", None) or {}).items():
        pid, _dot, _field = str(key).partition(".")
        if pid.isdigit():
            found[int(pid)] = str(message)
    return found


@bp.route("/sessions/<id:session_id>", methods=["GET", "POST"])
@permission_required(TEACH)
def session_roster(session_id: int):
    sess = found(queries.visible_session(current_user, session_id))
    form = ActionForm()
    entered, row_errors = None, {}
    if form.validate_on_submit():
        posted = _roster_statuses()
        exceptions = {pid: (status, reason) for pid, (status, reason) in posted.items() if status != "present"}
        with attempt() as outcome:
            count = services.save_roster(session=sess, exceptions=exceptions, actor=current_user)
        if outcome.ok:
            flash(_("Attendance saved for %(count)d people.", count=count), "success")
            return redirect(url_for("training.session_roster", session_id=sess.id))
        row_errors = _row_errors(outcome.error)
        if row_errors:  # each on its person's row, the names in the message above
            flash(str(outcome.error.message), "error")
        else:
            show_refusal(outcome.error)
        entered = {pid: {"status": status, "reason": reason or ""} for pid, (status, reason) in posted.items()}
    return render_template(
        "lms/training/session.html",
        session=sess,
        rows=queries.session_roster(sess),
        form=form,
        entered=entered,
        row_errors=row_errors,
        check_in=services.check_in_window(sess, utcnow()),
        **queries.check_in_figures(sess),
    )


@bp.route("/sessions/<id:session_id>/edit", methods=["GET", "POST"])
@permission_required(MANAGE)
def edit_session(session_id: int):
    sess = found(queries.visible_session(current_user, session_id, MANAGE))
    form = SessionForm(obj=sess)
    if request.method == "GET":
        form.starts_at.data = sess.starts_at.astimezone(_zone()).replace(tzinfo=None)
        form.ends_at.data = sess.ends_at.astimezone(_zone()).replace(tzinfo=None)
    if form.validate_on_submit():
        data = {
            "starts_at": _local(form.starts_at.data),
            "ends_at": _local(form.ends_at.data),
            "hours": form.hours.data,
            "mode": form.mode.data,
            "place": form.place.data,
        }
        with attempt() as outcome:
            changes.update_session(session=sess, data=data, actor=current_user)
        if outcome.ok:
            flash(_("Saved. The enrolled trainees are told of a new time or place."), "success")
            return redirect(url_for("training.course", course_id=sess.course_id))
        show_refusal(outcome.error, form)
    return render_template(
        "lms/training/session_form.html", form=form, session=sess, told=len(queries.enrolled_ids(sess.course_id))
    )


@bp.route("/sessions/<id:session_id>/cancel", methods=["GET", "POST"])
@permission_required(MANAGE)
def cancel_session(session_id: int):
    sess = found(queries.visible_session(current_user, session_id, MANAGE))
    form = ReasonForm()
    if form.validate_on_submit():
        with attempt() as outcome:
            told = changes.cancel_session(session=sess, reason=form.reason.data, actor=current_user)
        if outcome.ok:
            flash(_("The session is cancelled; %(n)d trainees were told.", n=told), "success")
            return redirect(url_for("training.course", course_id=sess.course_id))
        if isinstance(outcome.error, Conflict):
            return _refused(outcome.error, url_for("training.course", course_id=sess.course_id))
        show_refusal(outcome.error, form)
    figures = queries.check_in_figures(sess)
    return render_template(
        "lms/core/confirm.html",
        form=form,
        fields=[form.reason],
        title=_("Cancel the session of %(when)s?", when=local_time(sess.starts_at)),
        consequences=[
            _("%(n)d enrolled trainees will be told, with your reason.", n=figures["seats"]),
            _(
                "%(n)d attendance records are kept but no longer count; the course has one session fewer.",
                n=queries.attendance_count(sess),
            ),
            _("You can restore the session later."),
        ],
        button=_("Cancel the session"),
        back=url_for("training.course", course_id=sess.course_id),
        danger=True,
    )


@bp.post("/sessions/<id:session_id>/restore")
@permission_required(MANAGE)
def restore_session(session_id: int):
    sess = found(queries.visible_session(current_user, session_id, MANAGE))
    if ActionForm().validate_on_submit():
        with attempt() as outcome:
            changes.restore_session(session=sess, actor=current_user)
        if outcome.ok:
            flash(_("The session is restored; its attendance counts again."), "success")
        else:
            show_refusal(outcome.error)
    return redirect(url_for("training.course", course_id=sess.course_id))


@bp.get("/sessions/<id:session_id>/qr")
@permission_required(TEACH)
def session_qr(session_id: int):
    sess = found(queries.visible_session(current_user, session_id))
    return render_template(
        "lms/training/qr.html",
        session=sess,
        check_in=services.check_in_window(sess, utcnow()),
        **queries.check_in_figures(sess),
    )


@bp.get("/sessions/<id:session_id>/qr.svg")
@permission_required(TEACH)
def session_qr_svg(session_id: int):
    sess = found(queries.visible_session(current_user, session_id))
    now = utcnow()
    url = public_url("training.checkin", session_id=sess.id, t=make_token(sess.id, now))
    out = BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=10, border=2, dark="#1f2933")
    response = current_app.response_class(out.getvalue(), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Refresh-After"] = str(seconds_left(now))
    return response


@bp.route("/sessions/<id:session_id>/import", methods=["GET", "POST"])
@permission_required(TEACH)
def session_import(session_id: int):
    sess = found(queries.visible_session(current_user, session_id))
    form = UploadForm()
    errors = None
    if form.validate_on_submit():
        answer, errors = import_page(
            form,
            import_attendance,
            kind="training.import_attendance",
            actor=current_user,
            done=url_for("training.session_roster", session_id=sess.id),
            said=lambda count: _("Attendance imported for %(count)d people.", count=count),
            params={"session_id": sess.id},
            session=sess,
        )
        if answer is not None:
            return answer
    return render_template("lms/training/session_import.html", session=sess, form=form, errors=errors)


# ---------------------------------------------------------------- trainees


def _me():
    if current_user.person is None:
        abort(404)
    return current_user.person


@bp.get("/my/")
@login_required
def my():
    person = _me()
    now = utcnow()
    today = now.astimezone(_zone()).date()
    year = request.args.get("year", today.year, type=year_arg)
    return render_template("lms/training/my.html", **queries.trainee_page(person, year, now, today))


@bp.get("/my/catalogue")
@login_required
def catalogue():
    person = _me()
    today = utcnow().astimezone(_zone()).date()
    return render_template(
        "lms/training/catalogue.html", entries=queries.catalogue(person, today.year - 1), action_form=ActionForm()
    )


@bp.get("/my/record")
@login_required
def my_record():
    person = _me()
    return render_template(
        "lms/training/my_record.html",
        years=person_record(person, utcnow().astimezone(_zone()).year),
        status_of=verification_status,
    )


@bp.get("/my/hours")
@login_required
def my_hours():
    """A printable statement of one's training and supervision hours (学时证明) for a chosen period."""
    person = _me()
    today = utcnow().astimezone(_zone()).date()
    error = None
    try:
        first = date.fromisoformat(request.args.get("from") or f"{today.year}-01-01")
        last = date.fromisoformat(request.args.get("to") or today.isoformat())
    except ValueError:
        error = _("Enter both dates as year-month-day, such as %(day)s.", day=today.isoformat())
    else:
        if first.year < FIRST_YEAR or last.year > LAST_YEAR:
            error = _("Choose dates from %(first)d to %(last)d.", first=FIRST_YEAR, last=LAST_YEAR)
        elif last < first:
            error = _("Choose a period whose end is not before its start.")
    if error:
        first, last = date(today.year, 1, 1), today
    rows, totals = hours_statement(person, first, last)
    return render_template(
        "lms/training/my_hours.html",
        person=person,
        rows=rows,
        totals=totals,
        first=first,
        last=last,
        today=today,
        error=error,
    )


@bp.route("/my/calendar", methods=["GET", "POST"])
@login_required
def my_calendar():
    """The private address of one's calendar feed; posting makes a new one (the old stops working)."""
    _me()
    form = ActionForm()
    if form.validate_on_submit():
        reset_calendar(current_user)
        flash(_("A new calendar address is made: the old one no longer works."), "success")
        return redirect(url_for("training.my_calendar"))
    token = calendar_token(current_user)
    return render_template(
        "lms/training/my_calendar.html",
        feed_url=public_url("training.calendar_feed", token=token),
        form=form,
    )


@bp.get("/calendar/<string(maxlength=64):token>.ics")
def calendar_feed(token: str):
    """A trainee's sessions for their calendar app (no sign-in: the address is the key)."""
    user = user_for_token(token)
    if user is None:
        abort(404)
    body = feed(user.person, _("Shegong Academy"))
    response = make_response(body)
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


@bp.get("/sessions/<id:session_id>/live.json")
@permission_required(TEACH)
def session_live(session_id: int):
    """What the projector and the roster show while the session runs: the count, and each person's mark."""
    sess = found(queries.visible_session(current_user, session_id))
    figures = queries.check_in_figures(sess)
    marks = {
        str(a.person_id): {"status": a.status, "method": a.method}
        for a in db.session.scalars(queries.attendance_of(sess))
    }
    return {**figures, "marks": marks}, 200, {"Cache-Control": "no-store"}


@bp.post("/my/notices/read")
@login_required
def read_notices():
    _me()  # the trainee's own page: 404 for an account without a person
    if ActionForm().validate_on_submit():
        mark_read(current_user)
    return redirect(url_for("training.my"))


def _my_course(course_id: int):
    """The signed-in trainee and the course, if they hold a seat in it (else 404)."""
    person = _me()
    return person, found(queries.my_course(person, course_id))


@bp.get("/my/courses/<id:course_id>")
@login_required
def my_course(course_id: int):
    person, crs = _my_course(course_id)
    return render_my_course(person, crs)


def render_my_course(person, crs, *, survey_answers: dict | None = None, survey_errors: dict | None = None):
    """The trainee's course page; after a refused evaluation, with the answers given and what each one lacks."""
    page = queries.my_course_page(person, crs)
    results = grading.results_of_person(person.id, [crs.id]).get(crs.id, [])
    return render_template(
        "lms/training/my_course.html",
        quizzes=_quizzes(person, [a for a, _r in results]),
        survey=evaluation.questionnaire(),
        survey_open=evaluation.is_open(crs, utcnow()),
        survey_answers=survey_answers or {},
        survey_errors=survey_errors or {},
        answered=evaluation.has_answered(crs, person.id),
        action_form=ActionForm(),
        done=progress.lessons_done(person.id, page["content"]) if page["content"] else set(),
        results=results,
        enrolment=db.session.scalar(
            select(Enrolment).where(Enrolment.person_id == person.id, Enrolment.course_id == crs.id)
        ),
        **page,
    )


def _quizzes(person, assessments) -> dict[int, dict]:
    """{assessment id: {"title", "allowed", "used", "open", …}} of the course's online quizzes, for the trainee's
    page (the quiz's own title, which its pages carry, beside the assessment's)."""
    out = {}
    for a in assessments:
        found_quiz = quiz.quiz_of(a)
        if found_quiz is None:
            continue
        quiz.finish_expired(a, utcnow())
        attempts = quiz.attempts_of(a, person.id)
        out[a.id] = {
            "title": found_quiz["title"],
            "allowed": found_quiz["attempts"],
            "used": len(attempts),
            "open": next((t for t in attempts if t.state == "open"), None),
            "grading": any(t.state == "submitted" for t in attempts),  # short answers wait for a coordinator
            "minutes": found_quiz.get("time_limit_minutes"),
            "questions": len(found_quiz["questions"]),
        }
    return out


@bp.get("/my/courses/<id:course_id>/lessons/<id:position>")
@login_required
def lesson(course_id: int, position: int):
    person, crs = _my_course(course_id)
    content = found(queries.content_for(crs))
    item = found(queries.lesson_at(content, position))
    return render_template(
        "lms/training/lesson.html",
        course=crs,
        content=content,
        lesson=item,
        done=position in progress.lessons_done(person.id, content),
        action_form=ActionForm(),
    )


@bp.post("/my/courses/<id:course_id>/lessons/<id:position>/done")
@login_required
def lesson_done(course_id: int, position: int):
    """Mark a lesson done (``done=1``, the default) or not (``done=0``); a script's request gets 204."""
    person, crs = _my_course(course_id)
    content = found(queries.content_for(crs))
    item = found(queries.lesson_at(content, position))
    if not ActionForm().validate_on_submit():
        abort(400)
    done = request.form.get("done", "1") != "0"
    progress.mark_lesson(person_id=person.id, lesson=item, done=done)
    if request.headers.get("X-Requested-With") == "fetch":
        return "", 204
    flash(_("Marked as done.") if done else _("No longer marked as done."), "success")
    return redirect(url_for("training.lesson", course_id=crs.id, position=position))


@bp.post("/my/courses/<id:course_id>/enrol")
@login_required
def self_enrol(course_id: int):
    person = _me()
    crs = found(queries.course_by_id(course_id))
    if not ActionForm().validate_on_submit():
        abort(400)
    if not services.can_self_enrol(crs, person):
        abort(404)
    with attempt() as outcome:
        result = services.enrol(course=crs, person=person, actor=current_user, self_service=True)
    if not outcome.ok:
        show_refusal(outcome.error)
    elif result.status == "enrolled":
        flash(_("You are enrolled in %(title)s.", title=crs.title), "success")
    else:
        rank = queries.waitlist_ranks(person).get(crs.id, 1)
        flash(_("The course is full: you are number %(n)d on the waitlist.", n=rank), "success")
    return redirect(url_for("training.my"))


@bp.post("/my/courses/<id:course_id>/withdraw")
@login_required
def self_withdraw(course_id: int):
    person = _me()
    crs = found(queries.course_by_id(course_id))
    if not ActionForm().validate_on_submit():
        abort(400)
    held = db.session.scalar(
        select(Enrolment.status).where(Enrolment.course_id == crs.id, Enrolment.person_id == person.id)
    )
    if held in ("enrolled", "waitlisted") and not confirmed():
        return _confirm_self_withdrawal(crs, held)
    with attempt() as outcome:
        services.withdraw(course=crs, person=person, actor=current_user, self_service=True)
    if outcome.ok:
        flash(_("You have withdrawn from %(title)s.", title=crs.title), "success")
    else:
        show_refusal(outcome.error)
    return redirect(url_for("training.my"))


def _confirm_self_withdrawal(crs: Course, held: str):
    """Ask a trainee before they give up their seat (or their place in the queue): it goes to someone else."""
    if held == "enrolled":
        consequences = [_("You leave %(title)s; its sessions leave your calendar.", title=crs.title)]
        if crs.capacity is not None:
            consequences.append(
                _("Your seat goes to the next person on the waitlist. Enrolling again may put you on the waitlist.")
            )
    else:
        consequences = [
            _("You leave the waitlist of %(title)s. Joining it again puts you at its end.", title=crs.title)
        ]
    return ask_first(
        title=_("Withdraw from %(title)s?", title=crs.title),
        consequences=consequences,
        button=_("Withdraw"),
        back=url_for("training.my"),
        danger=True,
    )


# The browser that scanned a code keeps a random id in a cookie of the check-in page, and
# the scan's proof is bound to it: a link forwarded to a colleague's phone is refused there.
# Not the Flask session: signing in starts a fresh one (no fixation), and the scan comes first.
BROWSER_COOKIE = "lms_checkin_browser"


def _browser_id() -> str | None:
    browser = request.cookies.get(BROWSER_COOKIE, "")
    return browser if 16 <= len(browser) <= 64 else None


def _keep_browser_id(response, sess: CourseSession, browser: str):
    response.set_cookie(
        BROWSER_COOKIE,
        browser,
        max_age=PROOF_SECONDS,
        path=url_for("training.checkin", session_id=sess.id),
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )
    return response


@bp.route("/checkin/<id:session_id>", methods=["GET", "POST"])
def checkin(session_id: int):
    sess = found(queries.session_by_id(session_id))
    token = request.values.get("t", "")
    now = utcnow()
    # Scanning a fresh code (the GET) yields a proof of the scan that lasts long
    # enough to sign in on a phone; a photo of the code still expires in a minute.
    if request.method == "GET" and token_is_fresh(sess.id, token, now):
        browser = _browser_id() or secrets.token_urlsafe(24)
        token = make_proof(sess.id, now, browser)
        return _keep_browser_id(make_response(_checkin_page(sess, token)), sess, browser)
    return _checkin_page(sess, token)


def _checkin_page(sess: CourseSession, token: str):
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=url_for("training.checkin", session_id=sess.id, t=token)))
    person = _me()
    form = ActionForm()
    if form.validate_on_submit():
        with attempt() as outcome:
            created = services.check_in(
                session=sess,
                person=person,
                token=token,
                browser=_browser_id(),
                actor=current_user,
                ip=request.remote_addr,
            )
        if not outcome.ok:
            return render_template(
                "lms/training/checkin.html", session=sess, token=token, form=form, error=str(outcome.error.message)
            ), outcome.error.status
        flash(_("Checked in. Welcome!") if created else _("You had already checked in."), "success")
        return redirect(url_for("training.my"))
    # GET only shows the confirmation; nothing is written.
    return render_template("lms/training/checkin.html", session=sess, token=token, form=form, error=None)


from . import assessment_routes, evaluation_routes, quiz_routes  # noqa: E402,F401  (more pages, on this blueprint)
