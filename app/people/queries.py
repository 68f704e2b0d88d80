"""Read-only queries on people, always limited to what the viewer may see."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import contains_eager

from ..audit.models import AuditEntry
from ..extensions import db
from ..org.models import OrgUnit
from ..org.queries import in_scope, subtree_ids
from .models import Person


def people_query(
    viewer,
    *,
    unit: OrgUnit | None = None,
    category: str | None = None,
    level: str | None = None,
    q: str | None = None,
    active: bool | None = None,
) -> Select:
    """Select the people ``viewer`` may see, filtered, ordered by unit path then name."""
    stmt = (
        select(Person)
        .join(OrgUnit, Person.unit_id == OrgUnit.id)
        .options(contains_eager(Person.unit))  # the join already reads the unit: no query per row
        .where(in_scope(viewer, Person.unit_id))
        .order_by(OrgUnit.path, Person.name, Person.id)
    )
    if unit is not None:
        stmt = stmt.where(Person.unit_id.in_(subtree_ids(unit)))
    if category:
        stmt = stmt.where(Person.category == category)
    if level:
        stmt = stmt.where(Person.level == level)
    if q:
        stmt = stmt.where(Person.name.contains(q.strip(), autoescape=True))
    if active is not None:
        stmt = stmt.where(Person.active == active)
    return stmt


def person_for(viewer, person_id: int) -> Person | None:
    """Return the person if ``viewer`` may see them, else None (the caller answers 404)."""
    return db.session.scalar(select(Person).where(Person.id == person_id, in_scope(viewer, Person.unit_id)))


def person_history(person: Person, limit: int = 50) -> list[AuditEntry]:
    """Return the audit entries about one person, newest first."""
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity_type == "person", AuditEntry.entity_id == person.id)
            .order_by(AuditEntry.id.desc())
            .limit(limit)
        )
    )
