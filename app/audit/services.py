"""Write the audit trail."""

from __future__ import annotations

from ..extensions import db
from .models import AuditEntry


def record_audit(
    *,
    actor,
    action: str,
    entity_type: str,
    entity_id: int | None,
    before: dict | None = None,
    after: dict | None = None,
    ip: str | None = None,
) -> AuditEntry:
    """Append one audit entry; ``actor`` is a User, or None for the command line."""
    entry = AuditEntry(
        actor_id=getattr(actor, "id", None),
        actor_name=getattr(actor, "username", None) or "system",
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        before=before,
        after=after,
        ip=ip,
    )
    db.session.add(entry)
    return entry


def changed_fields(before: dict, after: dict) -> tuple[dict, dict]:
    """Reduce two snapshots to the fields that differ."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}
