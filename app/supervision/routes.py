"""Supervision pages: the supervisor's log, the supervisee's confirmations, the coordinator's list and exports."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from wtforms import SelectChoice

from ..auth.current import current_user, login_required, permission_required
from ..auth.permissions import SUPERVISE, roles_for
from ..core.access import found
from ..core.exports import FORMATS as EXPORT_FORMATS
from ..core.exports import download
from ..core.forms import ActionForm, check_also, show_refusal
from ..core.i18n import _
from ..core.ranges import FIRST_YEAR, LAST_YEAR
from ..core.routing import id_arg, page_arg, year_arg
from ..core.uow import attempt
from ..org.queries import scope_roots, unit_for, unit_names, visible_units
from . import queries, services
from .exports import file_names, records_table
from .forms import CorrectionForm, DisputeForm, SupervisionForm, VoidForm
from .labels import CREDIT_LABELS, FORMAT_LABELS, FUNCTION_LABELS, KIND_LABELS, MODE_LABELS
from .models import CREDIT_STATUSES, FORMATS, MODES

bp = Blueprint("supervision", __name__, url_prefix="/supervision")
SUPERVISORS = roles_for(SUPERVISE)
SUPERVISEES_LISTED = 3000  # people offered by the form at once; more: choose a unit first
UNIT_KINDS = ("province", "city", "district", "street", "centre", "station", "community")
# The SupervisionForm fields handed to services.record_supervision (the people go on their own).
RECORD_FIELDS = ("format", "mode", "kind", "held_on", "hours", "topic", "functions", "advice", "follow_up", "notes")


@bp.app_context_processor
def _labels():
    return {
        "SUP_FORMAT_LABELS": FORMAT_LABELS,
        "SUP_MODE_LABELS": MODE_LABELS,
        "SUP_KIND_LABELS": KIND_LABELS,
        "SUP_FUNCTION_LABELS": FUNCTION_LABELS,
        "CREDIT_LABELS": CREDIT_LABELS,
    }


def _filters():
    args = request.args
    unit = None
    if args.get("unit", type=id_arg):
        unit = found(unit_for(current_user, args.get("unit", type=id_arg), SUPERVISORS))
    return {
        "year": args.get("year", type=year_arg),
        "format": args.get("format") if args.get("format") in FORMATS else None,
        "mode": args.get("mode") if args.get("mode") in MODES else None,
        "supervisor_id": args.get("supervisor", type=id_arg),
        "status": args.get("status") if args.get("status") in CREDIT_STATUSES else None,
        "unit": unit,
    }


@bp.get("/")
@permission_required(SUPERVISE)
def index():
    filters = _filters()
    page = queries.record_page(
        current_user,
        page=request.args.get("page", 1, type=page_arg) or 1,
        per_page=current_app.config["LMS_PER_PAGE"],
        **filters,
    )
    return render_template(
        "lms/supervision/index.html",
        page=page,
        filters=filters,
        supervisors=queries.supervisors_seen(current_user),
        args=request.args,
        first_year=FIRST_YEAR,
        last_year=LAST_YEAR,
    )


@bp.get("/export.<fmt>")
@permission_required(SUPERVISE)
def export(fmt: str):
    if fmt not in EXPORT_FORMATS:
        abort(404)
    filters = _filters()
    records = queries.record_list(current_user, **filters)
    roots = scope_roots(current_user, SUPERVISORS)  # named after the unit asked for, else the viewer's one unit
    unit = filters["unit"] or (roots[0] if roots and len(roots) == 1 else None)
    return download(records_table(records), fmt, **file_names(unit, filters["year"]))


@bp.route("/new", methods=["GET", "POST"])
@permission_required(SUPERVISE)
def new():
    form = SupervisionForm()
    # A large district lists a unit of it at a time (the unit stays in the address the form posts to).
    unit = None
    if request.args.get("unit", type=id_arg):
        unit = found(unit_for(current_user, request.args.get("unit", type=id_arg), SUPERVISORS))
    options = queries.supervisee_options(current_user, limit=SUPERVISEES_LISTED + 1, unit=unit)
    truncated = len(options) > SUPERVISEES_LISTED
    # The form offers only whom the viewer may name, so a posted id is one of these (the form refuses others).
    supervisees = {p.id: p for p in options[:SUPERVISEES_LISTED]}
    supervisors = {p.id: p for p in services.supervisor_candidates(current_user)}
    # a person's unit with the unit above it: 杏花社区 is the name of a community in several streets
    above = unit_names(p.unit.parent_id for p in supervisees.values())
    form.supervisee_ids.choices = [
        SelectChoice(p.id, f"{p.name}（{' '.join(filter(None, [above.get(p.unit.parent_id), p.unit.name]))}）")
        for p in supervisees.values()
    ]
    form.supervisor_id.choices = [SelectChoice(p.id, p.name) for p in supervisors.values()]
    if form.validate_on_submit():
        # Keep the list as posted, duplicates included: the service refuses a supervisee listed twice.
        chosen = [supervisees[i] for i in form.supervisee_ids.data if i in supervisees]
        with attempt() as outcome:
            result = services.record_supervision(
                data={name: getattr(form, name).data for name in RECORD_FIELDS},
                supervisor=supervisors.get(form.supervisor_id.data),
                supervisees=chosen,
                actor=current_user,
            )
        if outcome.ok:
            for w in result.warnings:
                flash(str(w), "warning")
            flash(
                _(
                    "Supervision recorded: %(n)d supervisee(s) credited %(h)s hours each.",
                    n=len(chosen),
                    h=result.record.hours,
                ),
                "success",
            )
            return redirect(url_for("supervision.detail", record_id=result.record.id))
        for field, message in outcome.error.errors.items():
            if hasattr(form, field):
                getattr(form, field).errors.append(str(message))
        flash(str(outcome.error.message), "error")
    elif form.is_submitted():
        chosen = [supervisees[i] for i in form.supervisee_ids.data or [] if i in supervisees]
        check_also(
            form,
            lambda: services.check_record(
                {name: getattr(form, name).data for name in RECORD_FIELDS},
                supervisors.get(form.supervisor_id.data),
                chosen,
                current_user,
            ),
        )
    return render_template(
        "lms/supervision/new.html",
        form=form,
        warnings=[],
        unit=unit,
        units=visible_units(current_user, SUPERVISORS, kinds=UNIT_KINDS),
        truncated=truncated,
        listed=SUPERVISEES_LISTED,
    )


@bp.get("/<id:record_id>")
@permission_required(SUPERVISE)
def detail(record_id: int):
    record = found(queries.record_for(current_user, record_id))
    return render_template(
        "lms/supervision/detail.html",
        record=record,
        show_notes=queries.can_read_notes(current_user, record),
        notes=queries.notes_for(current_user, record),
        can_correct=services.is_author(current_user, record) and not record.voided,
        can_void=services.may_void(current_user, record) and not record.voided,
    )


CORRECTION_FIELDS = ("held_on", "mode", "kind", "hours", "topic", "functions", "advice", "follow_up")


@bp.route("/<id:record_id>/edit", methods=["GET", "POST"])
@permission_required(SUPERVISE)
def correct(record_id: int):
    record = found(queries.record_for(current_user, record_id))
    if not services.is_author(current_user, record):
        abort(403)
    form = CorrectionForm(obj=record)
    fields = CORRECTION_FIELDS
    if queries.can_read_notes(current_user, record):
        # a form sent without the field (opened before the notes were offered, a script) leaves them as they are
        fields = (*fields, "notes") if request.method == "GET" or "notes" in request.form else fields
        if request.method == "GET":
            form.notes.data = queries.notes_for(current_user, record)
    else:
        del form.notes
    if form.validate_on_submit():
        with attempt() as outcome:
            services.correct_record(record=record, data={k: getattr(form, k).data for k in fields}, actor=current_user)
        if outcome.ok:
            flash(_("Saved. Whoever must confirm the record again has been asked to."), "success")
            return redirect(url_for("supervision.detail", record_id=record.id))
        show_refusal(outcome.error, form)
    return render_template("lms/supervision/correct.html", form=form, record=record)


@bp.route("/<id:record_id>/void", methods=["GET", "POST"])
@permission_required(SUPERVISE)
def void(record_id: int):
    record = found(queries.record_for(current_user, record_id))
    if not services.may_void(current_user, record):
        abort(403)
    back = url_for("supervision.detail", record_id=record.id)
    form = VoidForm()
    if form.validate_on_submit():
        with attempt() as outcome:
            told = services.void_record(record=record, reason=form.reason.data, actor=current_user)
        if outcome.ok:
            flash(_("The record is void; %(n)d supervisees were told why.", n=told), "success")
            return redirect(back)
        if not outcome.error.errors:
            return render_template(
                "lms/core/confirm.html",
                form=None,
                title=_("This cannot be done"),
                consequences=[str(outcome.error.message)],
                back=back,
            ), 409
        form.reason.errors.append(str(next(iter(outcome.error.errors.values()))))
    return render_template(
        "lms/core/confirm.html",
        form=form,
        fields=[form.reason],
        title=_("Void the supervision record of %(date)s?", date=record.held_on.isoformat()),
        consequences=[
            _(
                "%(n)d supervisees lose %(h)s hours each; they are told, with your reason.",
                n=len(record.credits),
                h=record.hours,
            ),
            _("The record is kept, marked void, and cannot be corrected afterwards."),
        ],
        button=_("Void the record"),
        back=back,
        danger=True,
    )


@bp.get("/mine")
@login_required
def mine():
    if current_user.person is None:
        abort(404)
    return render_template(
        "lms/supervision/mine.html",
        credits=queries.my_credits(current_user.person),
        action_form=ActionForm(),
        dispute_form=DisputeForm(),
    )


@bp.post("/credits/<id:credit_id>/<any(confirm, dispute):verb>")
@login_required
def respond(credit_id: int, verb: str):
    credit = found(queries.credit_of(current_user.person_id, credit_id))
    form = DisputeForm() if verb == "dispute" else ActionForm()
    if verb == "confirm" and not form.validate_on_submit():
        abort(400)
    with attempt() as outcome:
        services.respond_to_credit(
            credit=credit, actor=current_user, confirm=verb == "confirm", reason=request.form.get("reason")
        )
    if outcome.ok:
        flash(_("Thank you: your answer is recorded."), "success")
    else:
        flash(str(outcome.error.message), "error")
    return redirect(url_for("supervision.mine"))
