"""API endpoints of coverage: the report object and cohorts."""

from __future__ import annotations

from flask import abort
from sqlalchemy import func, select

from app.api import schemas
from app.api.auth import api_user
from app.api.routes import bp
from app.core.errors import problem
from app.coverage.models import CohortMember
from app.coverage.queries import strip_ids, unit_report
from app.coverage.services import create_cohort
from app.extensions import db
from app.org.queries import unit_by_code, unit_in_scope


@bp.get("/reports")
@bp.arguments(schemas.ReportArgs, location="query")
@bp.response(200, schemas.Report)
def report(args):
    """The bureau's figures and coverage for a unit's subtree and a year (PRODUCT.md §3)."""
    unit = unit_by_code(args["unit"])
    if unit is None or not unit_in_scope(api_user(), unit):
        abort(404, description="Unknown unit.")
    return strip_ids(unit_report(unit, args["year"]))


@bp.post("/cohorts")
@bp.arguments(schemas.CohortCreate)
@bp.response(201, schemas.CohortCreated)
def create(data):
    """Create a cohort with its targets; members are the listed people (and the category rule, if given)."""
    user = api_user()
    if not user.has_role("admin", "coordinator"):
        abort(403, description="Only coordinators and administrators create cohorts.")
    unit = unit_by_code(data.pop("unit_code"))
    if unit is None or not unit_in_scope(user, unit):
        return problem(422, "Invalid input.", {"unit_code": ["Unknown unit."]})
    cohort = create_cohort(data=data, unit=unit, actor=user)
    db.session.commit()
    members = db.session.scalar(select(func.count()).where(CohortMember.cohort_id == cohort.id))
    return {"id": cohort.id, "members": members}
