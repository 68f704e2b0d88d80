"""API endpoints of coverage: the report object and cohorts."""

from __future__ import annotations

from flask import abort
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..core.errors import problem
from ..core.i18n import _
from ..coverage.models import Cohort, CohortMember
from ..coverage.queries import strip_ids, unit_report
from ..coverage.services import create_cohort
from ..extensions import db
from ..org.models import OrgUnit
from ..org.queries import in_scope, unit_by_code, unit_in_scope
from . import schemas
from .auth import api_user
from .routes import bp, page_of


@bp.get("/reports")
@bp.arguments(schemas.ReportArgs, location="query")
@bp.response(200, schemas.Report)
def report(args):
    """The bureau's figures and coverage for a unit's subtree and a year (PRODUCT.md §3)."""
    unit = unit_by_code(args["unit"])
    if unit is None or not unit_in_scope(api_user(), unit):
        abort(404, description=_("Unknown unit."))
    return strip_ids(unit_report(unit, args["year"]))


@bp.post("/cohorts")
@bp.arguments(schemas.CohortCreate)
@bp.response(201, schemas.CohortCreated)
def create(data):
    """Create a cohort with its targets; members are the listed people (and the category rule, if given)."""
    user = api_user()
    if not user.has_role("admin", "coordinator"):
        abort(403, description=_("Only coordinators and administrators create cohorts."))
    unit = unit_by_code(data.pop("unit_code"))
    if unit is None or not unit_in_scope(user, unit):
        return problem(422, _("Invalid input."), {"unit_code": [_("Unknown unit.")]})
    cohort = create_cohort(data=data, unit=unit, actor=user)
    members = db.session.scalar(select(func.count()).where(CohortMember.cohort_id == cohort.id))
    return {"id": cohort.id, "members": members}


def _member_counts(ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = db.session.execute(
        select(CohortMember.cohort_id, func.count())
        .where(CohortMember.cohort_id.in_(ids))
        .group_by(CohortMember.cohort_id)
    )
    return dict(rows.all())


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
    stmt = (
        select(Cohort)
        .join(OrgUnit, OrgUnit.id == Cohort.unit_id)
        .where(in_scope(user, Cohort.unit_id))
        .order_by(Cohort.year.desc(), OrgUnit.path, Cohort.id)
        .options(selectinload(Cohort.unit))
    )
    if args.get("unit"):
        unit = unit_by_code(args["unit"])
        if unit is None or not unit_in_scope(user, unit):
            abort(404, description=_("Unknown unit."))
        stmt = stmt.where(OrgUnit.path.startswith(unit.path))
    if args.get("year"):
        stmt = stmt.where(Cohort.year == args["year"])
    result = page_of(stmt, args)
    counts = _member_counts([c.id for c in result["items"]])
    result["items"] = [cohort_json(c, counts.get(c.id, 0)) for c in result["items"]]
    return result


@bp.get("/cohorts/<id:cohort_id>")
@bp.response(200, schemas.CohortDetail)
def get_cohort(cohort_id: int):
    """One cohort with its members' ids."""
    cohort = db.session.scalar(select(Cohort).where(Cohort.id == cohort_id, in_scope(api_user(), Cohort.unit_id)))
    if cohort is None:
        abort(404)
    ids = list(
        db.session.scalars(
            select(CohortMember.person_id).where(CohortMember.cohort_id == cohort.id).order_by(CohortMember.person_id)
        )
    )
    return {**cohort_json(cohort, len(ids)), "member_ids": ids}
