"""Supervision pages: the supervisor's log, the supervisee's confirmations, the coordinator's list and exports."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload
from wtforms import SelectChoice

from ..auth.current import current_user, login_required, permission_required
from ..auth.permissions import SUPERVISE
from ..core.access import found
from ..core.domain import DomainError
from ..core.exports import FORMATS as EXPORT_FORMATS
from ..core.exports import download
from ..core.forms import ActionForm
from ..core.i18n import _
from ..core.routing import id_arg, year_arg
from ..core.uow import rollback
from ..extensions import db
from ..org.models import OrgUnit
from ..org.queries import scope_roots, unit_in_scope
from ..people.models import Person
from . import queries, services
from .exports import file_names, records_table
from .forms import (
    CREDIT_LABELS,
    FORMAT_LABELS,
    FUNCTION_LABELS,
    KIND_LABELS,
    MODE_LABELS,
    DisputeForm,
    SupervisionForm,
)
from .models import SupervisionCredit, SupervisionRecord

bp = Blueprint("supervision", __name__, url_prefix="/supervision")
VIEWERS = ("admin", "coordinator", "supervisor")


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
        unit = found(db.session.get(OrgUnit, args.get("unit", type=id_arg)))
        if not unit_in_scope(current_user, unit, VIEWERS):
            abort(404)
    return {
        "year": args.get("year", type=year_arg),
        "format": args.get("format") if args.get("format") in FORMAT_LABELS else None,
        "mode": args.get("mode") if args.get("mode") in MODE_LABELS else None,
        "supervisor_id": args.get("supervisor", type=id_arg),
        "status": args.get("status") if args.get("status") in CREDIT_LABELS else None,
        "unit": unit,
    }


@bp.get("/")
@permission_required(SUPERVISE)
def index():
    filters = _filters()
    records = db.session.scalars(queries.records_for(current_user, **filters).limit(500)).all()
    supervisors = db.session.scalars(
        select(Person).where(Person.id.in_({r.supervisor_id for r in records})).order_by(Person.name)
    ).all()
    return render_template(
        "lms/supervision/index.html", records=records, filters=filters, supervisors=supervisors, args=request.args
    )


@bp.get("/export.<fmt>")
@permission_required(SUPERVISE)
def export(fmt: str):
    if fmt not in EXPORT_FORMATS:
        abort(404)
    filters = _filters()
    records = db.session.scalars(
        queries.records_for(current_user, **filters).options(
            joinedload(SupervisionRecord.supervisor),
            selectinload(SupervisionRecord.credits).joinedload(SupervisionCredit.person),
        )
    ).all()
    roots = scope_roots(current_user, VIEWERS)  # named after the unit asked for, else the viewer's one unit
    unit = filters["unit"] or (roots[0] if roots and len(roots) == 1 else None)
    return download(records_table(records), fmt, **file_names(unit, filters["year"]))


@bp.route("/new", methods=["GET", "POST"])
@permission_required(SUPERVISE)
def new():
    form = SupervisionForm()
    options = queries.supervisee_options(current_user)
    form.supervisee_ids.choices = [SelectChoice(p.id, f"{p.name}（{p.unit.name}）") for p in options]
    if current_user.has_role("admin", "coordinator"):
        supervisors = (
            [p for p in options if services.holds_supervisor_assignment(p)]
            if len(options) < 200
            else _supervisors_in_scope()
        )
    else:
        supervisors = [current_user.person] if current_user.person else []
    form.supervisor_id.choices = [SelectChoice(p.id, p.name) for p in supervisors]
    warnings = []
    if form.validate_on_submit():
        supervisor = db.session.get(Person, form.supervisor_id.data)
        chosen = {p.id: p for p in db.session.scalars(select(Person).where(Person.id.in_(form.supervisee_ids.data)))}
        # Keep the list as posted, duplicates included: the service refuses a supervisee listed twice.
        supervisees = [chosen[i] for i in form.supervisee_ids.data if i in chosen]
        data = {
            k: getattr(form, k).data
            for k in (
                "format",
                "mode",
                "kind",
                "held_on",
                "hours",
                "topic",
                "functions",
                "advice",
                "follow_up",
                "notes",
            )
        }
        try:
            result = services.record_supervision(
                data=data, supervisor=supervisor, supervisees=list(supervisees), actor=current_user
            )
        except DomainError as exc:
            rollback()
            for field, message in exc.errors.items():
                if hasattr(form, field):
                    getattr(form, field).errors.append(str(message))
            flash(str(exc.message), "error")
        else:
            for w in result.warnings:
                flash(str(w), "warning")
            flash(
                _(
                    "Supervision recorded: %(n)d supervisee(s) credited %(h)s hours each.",
                    n=len(supervisees),
                    h=result.record.hours,
                ),
                "success",
            )
            return redirect(url_for("supervision.detail", record_id=result.record.id))
    return render_template("lms/supervision/new.html", form=form, warnings=warnings)


def _supervisors_in_scope() -> list[Person]:
    from ..auth.models import RoleAssignment, User
    from ..org.queries import in_scope

    return list(
        db.session.scalars(
            select(Person)
            .join(User, User.person_id == Person.id)
            .join(RoleAssignment, RoleAssignment.user_id == User.id)
            .where(RoleAssignment.role == "supervisor", in_scope(current_user, Person.unit_id, VIEWERS))
            .distinct()
            .order_by(Person.name)
        )
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
    credit = found(db.session.get(SupervisionCredit, credit_id))
    if current_user.person_id != credit.person_id:
        abort(404)
    form = DisputeForm() if verb == "dispute" else ActionForm()
    if verb == "confirm" and not form.validate_on_submit():
        abort(400)
    try:
        services.respond_to_credit(
            credit=credit, actor=current_user, confirm=verb == "confirm", reason=request.form.get("reason")
        )
    except DomainError as exc:
        rollback()
        flash(str(exc.message), "error")
    else:
        flash(_("Thank you: your answer is recorded."), "success")
    return redirect(url_for("supervision.mine"))
