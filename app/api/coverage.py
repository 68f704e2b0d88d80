"""API endpoints of coverage: the report object and cohorts."""

from __future__ import annotations

from flask import abort

from ..auth.permissions import MANAGE, can
from ..core.access import found
from ..core.errors import problem
from ..core.i18n import _
from ..coverage import queries
from ..coverage.models import Cohort
from ..coverage.services import create_cohort
from ..org.queries import unit_for_code
from . import schemas
from .auth import api_user
from .routes import bp, page_of


@bp.get("/reports")
@bp.arguments(schemas.ReportArgs, location="query")
@bp.response(200, schemas.Report)
def report(args):
    """The bureau's figures and coverage for a unit's subtree and a year (PRODUCT.md §3)."""
    unit = unit_for_code(api_user(), args["unit"])
    if unit is None:
        abort(404, description=_("Unknown unit."))
    return queries.strip_ids(queries.unit_report(unit, args["year"]))


@bp.post("/cohorts")
@bp.arguments(schemas.CohortCreate)
@bp.response(201, schemas.CohortCreated)
def create(data):
    """Create a cohort with its targets; members are the listed people (and the category rule, if given)."""
    user = api_user()
    if not can(user, MANAGE):
        abort(403, description=_("Only coordinators and administrators create cohorts."))
    unit = unit_for_code(user, data.pop("unit_code"))
    if unit is None:
        return problem(422, _("Invalid input."), {"unit_code": [_("Unknown unit.")]})
    cohort = create_cohort(data=data, unit=unit, actor=user)
    return {"id": cohort.id, "members": queries.member_counts([cohort.id]).get(cohort.id, 0)}


def cohort_json(c: Cohort, members: int) -> dict:
    def num(value):
        return None if value is None else float(value)

    return {
        "id": c.id,
        "name": c.name,
        "unit_code": c.unit.code,
        "year": c.year,
        "category": c.category,
        "members": members,
        "min_training_hours": num(c.min_training_hours),
        "min_courses": c.min_courses,
        "program_ids": list(c.program_ids or []),
        "require_passing": c.require_passing,
        "min_supervision_hours": num(c.min_supervision_hours),
        "min_supervision_sessions": c.min_supervision_sessions,
        "training_target": float(c.training_target),
        "supervision_target": float(c.supervision_target),
        "frozen": c.frozen_at is not None,
    }


@bp.get("/cohorts")
@bp.arguments(schemas.CohortArgs, location="query")
@bp.response(200, schemas.CohortPage)
def list_cohorts(args):
    """Cohorts of units in the caller's scope (filter by unit subtree and year)."""
    user = api_user()
    within = None
    if args.get("unit"):
        within = unit_for_code(user, args["unit"])
        if within is None:
            abort(404, description=_("Unknown unit."))
    result = page_of(queries.cohorts_for(user, within, args.get("year")), args)
    counts = queries.member_counts([c.id for c in result["items"]])
    result["items"] = [cohort_json(c, counts.get(c.id, 0)) for c in result["items"]]
    return result


@bp.get("/cohorts/<id:cohort_id>")
@bp.response(200, schemas.CohortDetail)
def get_cohort(cohort_id: int):
    """One cohort with its members' ids."""
    cohort = found(queries.cohort_for(api_user(), cohort_id))
    ids = queries.member_ids(cohort)
    return {**cohort_json(cohort, len(ids)), "member_ids": ids}
