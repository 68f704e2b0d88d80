"""API endpoints of supervision: record, list and read (never the confidential notes)."""

from __future__ import annotations

from flask import abort

from ..auth.permissions import SUPERVISE, can, roles_for
from ..core.domain import Invalid
from ..core.errors import problem
from ..core.i18n import _
from ..org.queries import unit_for_code
from ..supervision import queries, services
from ..supervision.models import SupervisionRecord
from . import schemas
from .auth import api_user
from .routes import bp, page_of


def record_json(record: SupervisionRecord) -> dict:
    """The record without its notes."""
    return {
        "id": record.id,
        "supervisor_id": record.supervisor_id,
        "format": record.format,
        "mode": record.mode,
        "kind": record.kind,
        "date": record.held_on,
        "hours": float(record.hours),
        "topic": record.topic,
        "credits": [{"person_id": c.person_id, "hours": float(c.hours), "status": c.status} for c in record.credits],
        "void": record.voided_at is not None,
        "void_reason": record.void_reason,
    }


@bp.post("/supervision")
@bp.arguments(schemas.SupervisionCreate)
@bp.response(201, schemas.SupervisionCreated)
def create_supervision(data):
    """Record a supervision session; each supervisee is credited its duration."""
    user = api_user()
    if not can(user, SUPERVISE):
        # Refused before any id is looked up: the answer must not tell which people exist.
        abort(403, description=_("Only supervisors and coordinators record supervision."))
    ids = data.pop("supervisee_ids")
    # Another district's people answer as unknown ids: the caller learns nothing about them, not even a name.
    people = queries.supervisees_by_id(user, ids)
    supervisor = queries.supervisor_for(user, data.pop("supervisor_id"), people.values())
    if set(ids) - set(people):
        return problem(422, _("Invalid input."), {"supervisee_ids": [_("Unknown person.")]})
    supervisees = [people[i] for i in ids]  # duplicates kept: the service refuses a supervisee listed twice
    data["held_on"] = data.pop("date")
    try:
        result = services.record_supervision(data=data, supervisor=supervisor, supervisees=supervisees, actor=user)
    except Invalid as exc:
        if "held_on" in exc.errors:  # the API calls the field "date"
            exc.errors["date"] = exc.errors.pop("held_on")
        raise
    return {"id": result.record.id, "warnings": [str(w) for w in result.warnings]}


@bp.get("/supervision")
@bp.arguments(schemas.SupervisionArgs, location="query")
@bp.response(200, schemas.SupervisionPage)
def list_supervision(args):
    """Supervision records touching the caller's units (without notes)."""
    user = api_user()
    unit = None
    if args.get("unit"):
        unit = unit_for_code(user, args["unit"], roles_for(SUPERVISE))
        if unit is None:
            abort(404, description=_("Unknown unit."))
    stmt = queries.records_with_credits(
        user,
        year=args.get("year"),
        format=args.get("format"),
        mode=args.get("mode"),
        supervisor_id=args.get("supervisor_id"),
        supervisee_id=args.get("supervisee_id"),
        status=args.get("status"),
        unit=unit,
    )
    result = page_of(stmt, args)
    result["items"] = [record_json(r) for r in result["items"]]
    return result


@bp.get("/supervision/<id:record_id>")
@bp.response(200, schemas.SupervisionSchema)
def get_supervision(record_id: int):
    """One supervision record (without notes)."""
    record = queries.record_for(api_user(), record_id)
    if record is None:
        abort(404)
    return record_json(record)


@bp.patch("/supervision/<id:record_id>")
@bp.arguments(schemas.SupervisionUpdate)
@bp.response(200, schemas.SupervisionSchema)
def correct_supervision(data, record_id: int):
    """The author corrects a record (audited); 403 for anyone else who may see it."""
    record = queries.record_for(api_user(), record_id)
    if record is None:
        abort(404)
    if "date" in data:
        data["held_on"] = data.pop("date")
    try:
        services.correct_record(record=record, data=data, actor=api_user())
    except Invalid as exc:
        if "held_on" in exc.errors:
            exc.errors["date"] = exc.errors.pop("held_on")
        raise
    return record_json(record)


@bp.post("/supervision/<id:record_id>/void")
@bp.arguments(schemas.Voiding)
@bp.response(200, schemas.SupervisionSchema)
def void_supervision(data, record_id: int):
    """Void a record with a reason (the author, or a coordinator of its unit): its credits stop counting."""
    record = queries.record_for(api_user(), record_id)
    if record is None:
        abort(404)
    services.void_record(record=record, reason=data["reason"], actor=api_user())
    return record_json(record)
