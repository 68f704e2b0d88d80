"""The coverage dashboard: rate against target per sub-unit, drill-down, who is missing, charts, exports."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from wtforms import SelectChoice

from ..auth.current import current_user, permission_required
from ..auth.permissions import MANAGE
from ..core.access import found
from ..core.db import utcnow
from ..core.domain import DomainError
from ..core.exports import FORMATS, download
from ..core.i18n import _
from ..core.routing import id_arg, year_arg
from ..core.uow import rollback
from ..extensions import db
from ..ledger.ce import SOURCE_LABELS, ce_at_risk, risk_horizon
from ..org.models import OrgUnit
from ..org.queries import ancestors_of, scope_roots, unit_in_scope
from ..people.labels import CATEGORY_LABELS
from . import queries
from .exports import missing_table, report_table
from .forms import CohortForm
from .models import Cohort
from .services import create_cohort, freeze_cohort

bp = Blueprint("coverage", __name__, url_prefix="/coverage")
STAFF = ("admin", "coordinator")


def _this_year() -> int:
    return utcnow().astimezone(ZoneInfo(current_app.config["LMS_TIMEZONE"])).year


def _unit() -> OrgUnit:
    unit_id = request.args.get("unit", type=id_arg)
    if unit_id:
        unit = found(db.session.get(OrgUnit, unit_id))
        if not unit_in_scope(current_user, unit):
            abort(404)
        return unit
    roots = scope_roots(current_user)
    if roots is None:  # an administrator: the first root
        return found(db.session.scalar(select(OrgUnit).where(OrgUnit.parent_id.is_(None)).order_by(OrgUnit.code)))
    return roots[0]


def _context():
    unit = _unit()
    year = request.args.get("year", type=year_arg)
    if not year or not 2000 <= year <= 2100:
        year = queries.busiest_year(unit, _this_year())
    inherited = queries.cohorts_above(unit, year)
    report = queries.unit_report(unit, year, inherited=inherited)
    cohort = None
    cohort_id = request.args.get("cohort", type=id_arg)
    ids = [c["id"] for c in report["cohorts"]]
    if cohort_id in ids:
        cohort = db.session.get(Cohort, cohort_id)
    elif ids:
        cohort = db.session.get(Cohort, ids[0])
    return unit, year, report, cohort


@bp.get("/")
@permission_required(MANAGE)
def dashboard():
    unit, year, report, cohort = _context()
    missing = queries.missing_people(cohort, within=unit, limit=300) if cohort else []
    progress = (
        queries.monthly_progress(cohort, within=unit if cohort and cohort.unit_id != unit.id else None)
        if cohort
        else []
    )
    figures = next((c for c in report["cohorts"] if cohort and c["id"] == cohort.id), None)
    return render_template(
        "lms/coverage/dashboard.html",
        unit=unit,
        year=year,
        report=report,
        cohort=cohort,
        figures=figures,
        missing=missing,
        progress=progress,
        path=ancestors_of(unit),
    )


@bp.get("/ce")
@permission_required(MANAGE)
def ce_risk():
    within = None
    unit_id = request.args.get("unit", type=id_arg)
    if unit_id:
        within = found(db.session.get(OrgUnit, unit_id))
        if not unit_in_scope(current_user, within):
            abort(404)
    day = queries.today_local()
    limit = 500
    people = ce_at_risk(current_user, day, limit=limit, within=within)
    return render_template(
        "lms/coverage/ce_risk.html",
        people=people,
        within=within,
        today=day,
        horizon=risk_horizon(day),
        limit=limit,
        counted=[SOURCE_LABELS[c] for c in current_app.config["LMS_CE_COUNTS"]],
        path=ancestors_of(within) if within else [],
    )


@bp.get("/export.<fmt>")
@permission_required(MANAGE)
def export(fmt: str):
    if fmt not in FORMATS:
        abort(404)
    unit, year, report, _cohort = _context()
    code = unit.code or unit.id
    return download(
        report_table(queries.strip_ids(report)),
        fmt,
        name=("coverage", code, unit.name, year),
        fallback=("coverage", code, year),
    )


@bp.get("/missing.csv")
@permission_required(MANAGE)
def missing_csv():
    unit, year, _report, cohort = _context()
    if cohort is None:
        abort(404)
    missing = queries.missing_people(cohort, within=unit, limit=100000)
    code = unit.code or unit.id
    return download(
        missing_table(missing, title=cohort.name),
        "csv",
        name=("missing", code, unit.name, year, cohort.name),
        fallback=("missing", code, year, f"cohort{cohort.id}"),
    )


@bp.route("/cohorts/new", methods=["GET", "POST"])
@permission_required(MANAGE)
def new_cohort():
    form = CohortForm()
    from ..training.queries import unit_options

    form.unit_id.choices = [SelectChoice(u.id, "　" * u.depth + u.name) for u in unit_options(current_user)]
    form.category.choices = [SelectChoice("", _("Everyone"))] + [SelectChoice(k, v) for k, v in CATEGORY_LABELS.items()]
    if request.method == "GET":
        form.year.data = _this_year()
    if form.validate_on_submit():
        unit = found(db.session.get(OrgUnit, form.unit_id.data))
        data = {
            "name": form.name.data,
            "year": form.year.data,
            "include_rule": True,
            "category": form.category.data or None,
            "member_ids": [],
            "min_training_hours": form.min_training_hours.data,
            "min_supervision_hours": form.min_supervision_hours.data,
            "training_target": form.training_target.data,
            "supervision_target": form.supervision_target.data,
        }
        try:
            cohort = create_cohort(data=data, unit=unit, actor=current_user)
        except DomainError as exc:
            rollback()
            for field, message in exc.errors.items():
                if hasattr(form, field):
                    getattr(form, field).errors.append(str(message))
            flash(str(exc.message), "error")
        else:
            if form.freeze.data:
                freeze_cohort(cohort=cohort, actor=current_user)
            return redirect(url_for("coverage.dashboard", unit=unit.id, year=cohort.year, cohort=cohort.id))
    return render_template("lms/coverage/cohort_form.html", form=form)


@bp.post("/cohorts/<id:cohort_id>/freeze")
@permission_required(MANAGE)
def freeze(cohort_id: int):
    from ..core.forms import ActionForm

    cohort = found(db.session.get(Cohort, cohort_id))
    if not unit_in_scope(current_user, cohort.unit) or not ActionForm().validate_on_submit():
        abort(404)
    freeze_cohort(cohort=cohort, actor=current_user)
    flash(_("The member list is frozen: people moving units stay in the cohort."), "success")
    return redirect(url_for("coverage.dashboard", unit=cohort.unit_id, year=cohort.year, cohort=cohort.id))
