"""Training pages: programs, courses, sessions and rosters for staff; courses, lessons and check-in for trainees."""

from __future__ import annotations

import secrets
from datetime import datetime
from io import BytesIO
from zoneinfo import ZoneInfo

import segno
from flask import Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, url_for
from sqlalchemy import select
from wtforms import SelectChoice

from ..auth.current import current_user, login_required, permission_required
from ..auth.permissions import MANAGE, TEACH
from ..core.access import found
from ..core.db import utcnow
from ..core.domain import DomainError
from ..core.forms import ActionForm, UploadForm
from ..core.i18n import _
from ..core.routing import id_arg, year_arg
from ..core.uow import rollback
from ..core.uploads import run_upload_import
from ..core.urls import public_url
from ..extensions import db
from ..ledger.ce import ce_account
from ..ledger.queries import Period, course_progress, person_hours
from ..org.models import OrgUnit
from ..org.queries import unit_in_scope
from ..people.labels import CATEGORY_LABELS
from ..people.queries import people_query, person_for
from . import queries, services
from .checkin import PROOF_SECONDS, make_proof, make_token, seconds_left, token_is_fresh
from .forms import (
    ENROLMENT_LABELS,
    KIND_LABELS,
    MODE_LABELS,
    STATUS_LABELS,
    CourseForm,
    EnrolManyForm,
    EnrolOneForm,
    ProgramForm,
    SessionForm,
)
from .imports import import_attendance
from .models import Course, CourseContent, CourseSession, Lesson

bp = Blueprint("training", __name__)

STAFF = ("admin", "coordinator")
ATTENDANCE_STAFF = ("admin", "coordinator", "instructor")


@bp.app_context_processor
def _labels():
    return {
        "KIND_LABELS": KIND_LABELS,
        "MODE_LABELS": MODE_LABELS,
        "STATUS_LABELS": STATUS_LABELS,
        "ENROLMENT_LABELS": ENROLMENT_LABELS,
    }


def _local(value: datetime) -> datetime:
    return value.replace(tzinfo=ZoneInfo(current_app.config["LMS_TIMEZONE"]))


def _flash_error(exc: DomainError, form=None) -> None:
    rollback()
    unmarked = []  # messages about fields the page cannot mark: they go into the flash
    for field, message in exc.errors.items():
        if form is not None and hasattr(form, field):
            getattr(form, field).errors.append(str(message))
        else:
            unmarked.append(str(message))
    if not exc.errors:
        flash(str(exc.message), "error")
    elif unmarked:
        flash(" ".join(unmarked), "error")
    else:
        flash(_("Please correct the marked fields."), "error")


# ---------------------------------------------------------------- programs


@bp.get("/programs/")
@permission_required(TEACH)
def programs():
    year = request.args.get("year", type=year_arg)
    rows = db.session.scalars(queries.programs_for(current_user, year)).all()
    return render_template("lms/training/programs.html", programs=rows, year=year)


@bp.route("/programs/new", methods=["GET", "POST"])
@permission_required(MANAGE)
def new_program():
    form = ProgramForm()
    form.unit_id.choices = [SelectChoice(u.id, "　" * u.depth + u.name) for u in queries.unit_options(current_user)]
    if request.method == "GET":
        form.year.data = utcnow().year
    if form.validate_on_submit():
        unit = db.session.get(OrgUnit, form.unit_id.data)
        data = {k: getattr(form, k).data for k in ("title", "kind", "tier", "year", "starts_on", "ends_on", "audience")}
        try:
            program = services.create_program(data=data, unit=unit, actor=current_user)
        except DomainError as exc:
            _flash_error(exc, form)
        else:
            return redirect(url_for("training.program", program_id=program.id))
    return render_template("lms/training/program_form.html", form=form)


@bp.get("/programs/<id:program_id>")
@permission_required(TEACH)
def program(program_id: int):
    prog = found(queries.visible_program(current_user, program_id))
    ids = [c.id for c in prog.courses]
    return render_template(
        "lms/training/program.html",
        program=prog,
        counts=queries.enrolment_counts(ids),
        sessions=queries.session_counts(ids),
        can_edit=unit_in_scope(current_user, prog.unit),
    )


@bp.route("/programs/<id:program_id>/courses/new", methods=["GET", "POST"])
@permission_required(MANAGE)
def new_course(program_id: int):
    prog = found(queries.visible_program(current_user, program_id))
    if not unit_in_scope(current_user, prog.unit):
        abort(404)
    form = CourseForm()
    contents = db.session.scalars(select(CourseContent).order_by(CourseContent.code)).all()
    form.content_slug.choices = [SelectChoice("", "—")] + [
        SelectChoice(c.slug, f"{c.code} {c.title}") for c in contents
    ]
    if form.validate_on_submit():
        data = {
            k: getattr(form, k).data
            for k in ("code", "title", "hours", "capacity", "policy", "min_attendance", "pass_mark", "content_slug")
        }
        try:
            course = services.create_course(program=prog, data=data, actor=current_user)
        except DomainError as exc:
            _flash_error(exc, form)
        else:
            return redirect(url_for("training.course", course_id=course.id))
    return render_template("lms/training/course_form.html", form=form, program=prog)


# ---------------------------------------------------------------- courses


def _enrol_many_form() -> EnrolManyForm:
    form = EnrolManyForm(prefix="many")
    form.unit_id.choices = [SelectChoice(u.id, "　" * u.depth + u.name) for u in queries.unit_options(current_user)]
    form.category.choices = [SelectChoice("", _("All categories"))] + [
        SelectChoice(k, v) for k, v in CATEGORY_LABELS.items()
    ]
    return form


def _cohort_options():
    """Cohorts of the viewer's units, offered for enrolling a whole cohort."""
    from ..coverage.models import Cohort
    from ..org.queries import in_scope

    return db.session.scalars(
        select(Cohort).where(in_scope(current_user, Cohort.unit_id)).order_by(Cohort.year.desc(), Cohort.name)
    ).all()


@bp.get("/courses/<id:course_id>")
@permission_required(TEACH)
def course(course_id: int):
    crs = found(queries.visible_course(current_user, course_id))
    return render_template(
        "lms/training/course.html",
        course=crs,
        roster=queries.roster(crs),
        grid=queries.attendance_grid(crs),
        progress=course_progress(crs),
        content=queries.content_for(crs),
        session_form=SessionForm(prefix="session"),
        many_form=_enrol_many_form(),
        cohorts=_cohort_options(),
        one_form=EnrolOneForm(prefix="one"),
        action_form=ActionForm(),
        can_edit=unit_in_scope(current_user, crs.program.unit),
    )


@bp.post("/courses/<id:course_id>/sessions")
@permission_required(MANAGE)
def add_session(course_id: int):
    crs = found(queries.visible_course(current_user, course_id))
    form = SessionForm(prefix="session")
    if form.validate_on_submit():
        data = {
            "starts_at": _local(form.starts_at.data),
            "ends_at": _local(form.ends_at.data),
            "hours": form.hours.data,
            "mode": form.mode.data,
            "place": form.place.data,
        }
        try:
            services.create_session(course=crs, data=data, actor=current_user)
        except DomainError as exc:
            _flash_error(exc)
        else:
            flash(_("Session added."), "success")
    else:
        flash(
            _(
                "The session was not added: %(errors)s",
                errors="; ".join(f"{getattr(form, k).label.text}: {v[0]}" for k, v in form.errors.items()),
            ),
            "error",
        )
    return redirect(url_for("training.course", course_id=crs.id))


@bp.post("/courses/<id:course_id>/enrol")
@permission_required(MANAGE)
def enrol(course_id: int):
    crs = found(queries.visible_course(current_user, course_id))
    one = EnrolOneForm(prefix="one")
    many = _enrol_many_form()
    try:
        if "one-person_id" in request.form:
            if not one.validate_on_submit():
                abort(400)
            person = person_for(current_user, one.person_id.data)
            if person is None:
                flash(_("No person with number %(id)d among your units.", id=one.person_id.data), "error")
                return redirect(url_for("training.course", course_id=crs.id))
            result = services.enrol(course=crs, person=person, actor=current_user)
            flash(_("%(name)s: %(status)s.", name=person.name, status=ENROLMENT_LABELS[result.status]), "success")
        else:
            if not many.validate_on_submit():
                abort(400)
            cohort_id = request.form.get("many-cohort_id", type=id_arg)
            if cohort_id:
                from ..coverage.models import Cohort
                from ..coverage.queries import members_of
                from ..people.models import Person

                cohort = found(db.session.get(Cohort, cohort_id))
                if not unit_in_scope(current_user, cohort.unit):
                    abort(404)
                people = db.session.scalars(
                    people_query(current_user, active=True).where(Person.id.in_(members_of(cohort)))
                ).all()
            else:
                unit = found(db.session.get(OrgUnit, many.unit_id.data))
                if not unit_in_scope(current_user, unit):
                    abort(404)
                people = db.session.scalars(
                    people_query(current_user, unit=unit, category=many.category.data or None, active=True)
                ).all()
            counts = services.enrol_many(course=crs, people=people, actor=current_user)
            flash(
                _("Enrolled %(enrolled)d, waitlisted %(waitlisted)d, already enrolled %(skipped)d.", **counts),
                "success",
            )
    except DomainError as exc:
        _flash_error(exc)
    return redirect(url_for("training.course", course_id=crs.id))


@bp.post("/courses/<id:course_id>/withdraw/<id:person_id>")
@permission_required(MANAGE)
def withdraw(course_id: int, person_id: int):
    crs = found(queries.visible_course(current_user, course_id))
    person = found(person_for(current_user, person_id))
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        promoted = services.withdraw(course=crs, person=person, actor=current_user)
    except DomainError as exc:
        _flash_error(exc)
    else:
        flash(
            _("%(name)s withdrawn.", name=person.name)
            + (" " + _("The first on the waitlist now has the seat.") if promoted else ""),
            "success",
        )
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


@bp.route("/sessions/<id:session_id>", methods=["GET", "POST"])
@permission_required(TEACH)
def session_roster(session_id: int):
    sess = found(queries.visible_session(current_user, session_id))
    form = ActionForm()
    entered = None
    if form.validate_on_submit():
        posted = _roster_statuses()
        exceptions = {pid: (status, reason) for pid, (status, reason) in posted.items() if status != "present"}
        try:
            count = services.save_roster(session=sess, exceptions=exceptions, actor=current_user)
        except DomainError as exc:
            _flash_error(exc)
            entered = {pid: {"status": status, "reason": reason or ""} for pid, (status, reason) in posted.items()}
        else:
            flash(_("Attendance saved for %(count)d people.", count=count), "success")
            return redirect(url_for("training.session_roster", session_id=sess.id))
    return render_template(
        "lms/training/session.html", session=sess, rows=queries.session_roster(sess), form=form, entered=entered
    )


@bp.get("/sessions/<id:session_id>/qr")
@permission_required(TEACH)
def session_qr(session_id: int):
    sess = found(queries.visible_session(current_user, session_id))
    return render_template(
        "lms/training/qr.html",
        session=sess,
        checked_in=queries.checked_in_count(sess),
        seats=len(services.enrolled_ids(sess.course_id)),
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
        count = None
        try:
            count, errors = run_upload_import(form, import_attendance, actor=current_user, session=sess)
        except DomainError as exc:
            _flash_error(exc)
        if count is not None:
            flash(_("Attendance imported for %(count)d people.", count=count), "success")
            return redirect(url_for("training.session_roster", session_id=sess.id))
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
    today = now.astimezone(ZoneInfo(current_app.config["LMS_TIMEZONE"])).date()
    this_year = today.year
    year = request.args.get("year", this_year, type=year_arg)
    enrolments = queries.my_enrolments(person)
    progress = {}
    for _enrolment, crs, _prog in enrolments:
        progress[crs.id] = course_progress(crs).get(person.id, {})
    return render_template(
        "lms/training/my.html",
        person=person,
        enrolments=enrolments,
        progress=progress,
        upcoming=queries.upcoming_sessions(person, now),
        open_courses=queries.open_courses_for(person, this_year - 1),
        hours=person_hours(person.id, Period.year(year)),
        hours_all=person_hours(person.id, None),
        ce=ce_account(person, today),
        year=year,
        action_form=ActionForm(),
    )


def _my_course(course_id: int):
    person = _me()
    crs = found(db.session.get(Course, course_id))
    if person.id not in services.enrolled_ids(crs.id):
        abort(404)
    return person, crs


@bp.get("/my/courses/<id:course_id>")
@login_required
def my_course(course_id: int):
    person, crs = _my_course(course_id)
    return render_template(
        "lms/training/my_course.html",
        course=crs,
        content=queries.content_for(crs),
        progress=course_progress(crs).get(person.id, {}),
    )


@bp.get("/my/courses/<id:course_id>/lessons/<id:position>")
@login_required
def lesson(course_id: int, position: int):
    _person, crs = _my_course(course_id)
    content = found(queries.content_for(crs))
    item = found(db.session.scalar(select(Lesson).where(Lesson.content_id == content.id, Lesson.position == position)))
    return render_template("lms/training/lesson.html", course=crs, content=content, lesson=item)


@bp.post("/my/courses/<id:course_id>/enrol")
@login_required
def self_enrol(course_id: int):
    person = _me()
    crs = found(db.session.get(Course, course_id))
    if not ActionForm().validate_on_submit():
        abort(400)
    if not services.can_self_enrol(crs, person):
        abort(404)
    try:
        result = services.enrol(course=crs, person=person, actor=current_user, self_service=True)
    except DomainError as exc:
        _flash_error(exc)
    else:
        flash(
            _("You are enrolled in %(title)s.", title=crs.title)
            if result.status == "enrolled"
            else _("The course is full: you are number %(n)d on the waitlist.", n=result.waitlist_position),
            "success",
        )
    return redirect(url_for("training.my"))


@bp.post("/my/courses/<id:course_id>/withdraw")
@login_required
def self_withdraw(course_id: int):
    person = _me()
    crs = found(db.session.get(Course, course_id))
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        services.withdraw(course=crs, person=person, actor=current_user, self_service=True)
    except DomainError as exc:
        _flash_error(exc)
    else:
        flash(_("You have withdrawn from %(title)s.", title=crs.title), "success")
    return redirect(url_for("training.my"))


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
    sess = found(db.session.get(CourseSession, session_id))
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
        try:
            created = services.check_in(
                session=sess,
                person=person,
                token=token,
                browser=_browser_id(),
                actor=current_user,
                ip=request.remote_addr,
            )
        except DomainError as exc:
            rollback()
            return render_template(
                "lms/training/checkin.html", session=sess, token=token, form=form, error=str(exc.message)
            ), exc.status
        flash(_("Checked in. Welcome!") if created else _("You had already checked in."), "success")
        return redirect(url_for("training.my"))
    # GET only shows the confirmation; nothing is written.
    return render_template("lms/training/checkin.html", session=sess, token=token, form=form, error=None)
