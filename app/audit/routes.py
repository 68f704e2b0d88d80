"""The audit viewer: who did what to which object and when, filtered, paged and exported."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from ..auth.current import current_user, permission_required
from ..auth.permissions import MANAGE
from ..core.db import utcnow
from ..core.exports import FORMATS as EXPORT_FORMATS
from ..core.exports import Column, Kind, Table, download
from ..core.i18n import _, _l
from ..core.routing import id_arg, requested_page
from ..extensions import db
from .labels import ACTIONS, action_label, change_text, object_label, recorded
from .queries import ENTITY_TYPES, AuditFilters, audit_query, entry_names

bp = Blueprint("audit", __name__, url_prefix="/audit")
EXPORT_LIMIT = 50_000
COLUMNS = [
    Column(_l("Time"), Kind.DATETIME, width=17),
    Column(_l("By"), width=14),
    Column(_l("Action"), width=22),
    Column(_l("Object"), width=18),
    Column(_l("Object number"), Kind.INTEGER, width=10),
    Column(_l("Change"), width=60),
    Column(_l("Address"), width=15),
    # what was written, for a machine: the action's code, and each side of the change as JSON
    Column(_l("Action code"), width=22),
    Column(_l("Before (as recorded)"), width=40),
    Column(_l("After (as recorded)"), width=40),
]


def _day(name: str) -> date | None:
    text = (request.args.get(name) or "").strip()
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _filters() -> AuditFilters:
    args = request.args
    kind = args.get("object") if args.get("object") in ENTITY_TYPES else None
    return AuditFilters(
        who=(args.get("who") or "").strip()[:64] or None,
        action=(args.get("action") or "").strip()[:48] or None,
        entity_type=kind,
        entity_id=args.get("id", type=id_arg),
        day_from=_day("from"),
        day_to=_day("to"),
    )


@bp.get("/")
@permission_required(MANAGE)
def index():
    filters = _filters()
    page = requested_page(audit_query(current_user, filters))
    return render_template(
        "lms/audit/index.html",
        page=page,
        filters=filters,
        entity_types=ENTITY_TYPES,
        actions=ACTIONS,
        formats=EXPORT_FORMATS,
        names=entry_names(current_user, page.items),
    )


@bp.get("/export.<fmt>")
@permission_required(MANAGE)
def export(fmt: str):
    if fmt not in EXPORT_FORMATS:
        abort(404)
    entries = db.session.scalars(audit_query(current_user, _filters()).limit(EXPORT_LIMIT + 1)).all()
    if len(entries) > EXPORT_LIMIT:
        flash(_("An export holds at most %(limit)s entries: narrow the filters.", limit=f"{EXPORT_LIMIT:,}"), "error")
        return redirect(url_for("audit.index", **request.args))
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(current_app.config["LMS_TIMEZONE"])
    names = entry_names(current_user, entries)
    rows = (
        [
            e.at.astimezone(tz).replace(tzinfo=None),
            e.actor_name,
            action_label(e.action),
            object_label(e.entity_type),
            e.entity_id,
            change_text(e, names),
            e.ip,
            e.action,
            recorded(e.before),
            recorded(e.after),
        ]
        for e in entries
    )
    day = utcnow().astimezone(tz).date().isoformat()
    return download(Table(_l("Audit"), COLUMNS, rows), fmt, name=("audit", day), fallback=("audit", day))
