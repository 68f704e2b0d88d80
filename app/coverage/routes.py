"""The coverage dashboard: rate against target per sub-unit, drill-down, who is missing, charts, exports."""

from __future__ import annotations

from types import SimpleNamespace

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from ..auth.current import current_user, permission_required
from ..auth.permissions import MANAGE
from ..core.access import found
from ..core.exports import FORMATS, download
from ..core.forms import ActionForm, show_refusal
from ..core.i18n import _
from ..core.routing import id_arg, page_arg, year_arg
from ..core.uow import attempt
from ..ledger.ce import SOURCE_LABELS, ce_at_risk, risk_horizon
from ..org.models import OrgUnit
from ..org.queries import ancestors_of, unit_for
from ..people.labels import CATEGORY_LABELS
from ..training.queries import unit_options
from . import queries
from .exports import missing_table, report_table
from .forms import CohortForm
from .services import create_cohort, freeze_cohort, update_cohort

bp = Blueprint("coverage", __name__, url_prefix="/coverage")
CE_LISTED = 500  # people on the continuing-education page


def _unit() -> OrgUnit:
    """The unit asked for (404 outside the viewer's scope), or the one the viewer's dashboard opens on."""
    unit_id = request.args.get("unit", type=id_arg)
    return found(unit_for(current_user, unit_id) if unit_id else queries.home_unit(current_user))


def _view() -> queries.CoverageView:
    return queries.coverage_view(
        _unit(), request.args.get("year", type=year_arg), request.args.get("cohort", type=id_arg)
    )


@bp.get("/")
@permission_required(MANAGE)
def dashboard():
    view = _view()
    cohort, unit = view.cohort, view.unit
    return render_template(
        "lms/coverage/dashboard.html",
        unit=unit,
        year=view.year,
        report=view.report,
        cohort=cohort,
        figures=view.figures,
        missing=queries.missing_page(cohort, unit, request.args.get("page", 1, type=page_arg) or 1) if cohort else None,
        progress=queries.cohort_progress(cohort, unit) if cohort else [],
        assessed=queries.assessment_rates(cohort, unit) if cohort else None,
        path=ancestors_of(unit),
    )


@bp.get("/ce")
@permission_required(MANAGE)
def ce_risk():
    unit_id = request.args.get("unit", type=id_arg)
    within = found(unit_for(current_user, unit_id)) if unit_id else None
    day = queries.today_local()
    return render_template(
        "lms/coverage/ce_risk.html",
        people=ce_at_risk(current_user, day, limit=CE_LISTED, within=within),
        within=within,
        today=day,
        horizon=risk_horizon(day),
        limit=CE_LISTED,
        counted=[SOURCE_LABELS[c] for c in current_app.config["LMS_CE_COUNTS"]],
        path=ancestors_of(within) if within else [],
    )


@bp.get("/export.<fmt>")
@permission_required(MANAGE)
def export(fmt: str):
    if fmt not in FORMATS:
        abort(404)
    view = _view()
    code = view.unit.code or view.unit.id
    return download(
        report_table(queries.strip_ids(view.report)),
        fmt,
        name=("coverage", code, view.unit.name, view.year),
        fallback=("coverage", code, view.year),
    )


@bp.get("/missing.csv")
@permission_required(MANAGE)
def missing_csv():
    view = _view()
    cohort = found(view.cohort)
    missing = queries.missing_people(cohort, within=view.unit, limit=100000)
    code = view.unit.code or view.unit.id
    return download(
        missing_table(missing, title=cohort.name),
        "csv",
        name=("missing", code, view.unit.name, view.year, cohort.name),
        fallback=("missing", code, view.year, f"cohort{cohort.id}"),
    )


@bp.route("/cohorts/new", methods=["GET", "POST"])
@permission_required(MANAGE)
def new_cohort():
    form = CohortForm()
    form.offer(unit_options(current_user), CATEGORY_LABELS)
    if request.method == "GET":
        form.year.data = queries.this_year()
    if form.validate_on_submit():
        unit = found(unit_for(current_user, form.unit_id.data))
        with attempt() as outcome:
            cohort = create_cohort(data=form.cohort_data(), unit=unit, actor=current_user, freeze=form.freeze.data)
        if outcome.ok:
            return redirect(url_for("coverage.dashboard", unit=unit.id, year=cohort.year, cohort=cohort.id))
        for field, message in outcome.error.errors.items():
            if hasattr(form, field):
                getattr(form, field).errors.append(str(message))
        flash(str(outcome.error.message), "error")
    return render_template("lms/coverage/cohort_form.html", form=form)


@bp.route("/cohorts/<id:cohort_id>/edit", methods=["GET", "POST"])
@permission_required(MANAGE)
def edit_cohort(cohort_id: int):
    cohort = found(queries.cohort_for(current_user, cohort_id))
    # The targets are shown (and, with nothing posted, kept) as percentages.
    shown = SimpleNamespace(
        name=cohort.name,
        category=cohort.category or "",
        min_training_hours=cohort.min_training_hours,
        min_supervision_hours=cohort.min_supervision_hours,
        training_target=cohort.training_target * 100,
        supervision_target=cohort.supervision_target * 100,
        require_passing=cohort.require_passing,
    )
    form = CohortForm(obj=shown)
    form.offer([cohort.unit], CATEGORY_LABELS)
    del form.unit_id, form.year, form.freeze  # a cohort stays on its unit and year; freezing has its own button
    if form.validate_on_submit():
        # Only what the page shows: a cohort of listed people stays one, whatever the category field says.
        keys = ["name", "min_training_hours", "min_supervision_hours", "training_target", "supervision_target"]
        keys.append("require_passing")  # a checkbox: unticked, it posts nothing and means no
        if cohort.include_rule and cohort.frozen_at is None:
            keys.append("category")
        data = {k: v for k, v in form.cohort_data().items() if k in keys}
        with attempt() as outcome:
            update_cohort(cohort=cohort, data=data, actor=current_user)
        if outcome.ok:
            flash(_("Saved."), "success")
            return redirect(url_for("coverage.dashboard", unit=cohort.unit_id, year=cohort.year, cohort=cohort.id))
        show_refusal(outcome.error, form)
    return render_template("lms/coverage/cohort_form.html", form=form, cohort=cohort)


@bp.post("/cohorts/<id:cohort_id>/freeze")
@permission_required(MANAGE)
def freeze(cohort_id: int):
    cohort = found(queries.cohort_for(current_user, cohort_id))
    if not ActionForm().validate_on_submit():
        abort(404)
    freeze_cohort(cohort=cohort, actor=current_user)
    flash(_("The member list is frozen: people moving units stay in the cohort."), "success")
    return redirect(url_for("coverage.dashboard", unit=cohort.unit_id, year=cohort.year, cohort=cohort.id))
