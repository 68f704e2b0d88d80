"""Read-only queries over the org tree, and the one scoping helper every lookup uses."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, Select, false, or_, select, true

from ..extensions import db
from .models import OrgUnit

# Roles that see the people and records of their subtree.
STAFF_ROLES = ("admin", "coordinator")


def _under(path: str):
    # Paths hold only digits and slashes, so the pattern needs no escaping, and a
    # constant prefix lets both databases use the path index.
    return OrgUnit.path.like(path + "%")


def subtree_ids(root: OrgUnit) -> Select:
    """Select the ids of ``root`` and every unit below it (one indexed prefix match)."""
    return select(OrgUnit.id).where(_under(root.path))


def scope_roots(user, roles: Iterable[str] = STAFF_ROLES) -> list[OrgUnit] | None:
    """Return the units whose subtrees ``user`` may see, or ``None`` for the whole tree."""
    roles = tuple(roles)
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    if "admin" in roles and user.is_admin:
        return None
    return [a.unit for a in user.roles if a.role in roles]


def in_scope(user, unit_id_column, roles: Iterable[str] = STAFF_ROLES) -> ColumnElement[bool]:
    """Return a WHERE clause limiting ``unit_id_column`` to the units ``user`` may see."""
    roots = scope_roots(user, roles)
    if roots is None:
        return true()
    if not roots:
        return false()
    paths = or_(*(_under(r.path) for r in roots))
    return unit_id_column.in_(select(OrgUnit.id).where(paths))


def unit_in_scope(user, unit: OrgUnit, roles: Iterable[str] = STAFF_ROLES) -> bool:
    """Return whether ``unit`` lies within what ``user`` may see."""
    roots = scope_roots(user, roles)
    if roots is None:
        return True
    return any(unit.is_within(r) for r in roots)


def unit_by_code(code: str) -> OrgUnit | None:
    """Return the unit with this administrative code, if any."""
    return db.session.scalar(select(OrgUnit).where(OrgUnit.code == code))


def visible_units(user, roles: Iterable[str] = STAFF_ROLES) -> Select:
    """Select the units ``user`` may see, ordered by path (a depth-first walk)."""
    return select(OrgUnit).where(in_scope(user, OrgUnit.id, roles)).order_by(OrgUnit.path)


def children_of(unit: OrgUnit) -> list[OrgUnit]:
    """Return the direct children of ``unit``, by code then name."""
    return list(
        db.session.scalars(select(OrgUnit).where(OrgUnit.parent_id == unit.id).order_by(OrgUnit.code, OrgUnit.name))
    )


def ancestors_of(unit: OrgUnit) -> list[OrgUnit]:
    """Return the chain root → ``unit`` (one query, from the materialised path)."""
    ids = unit.path_ids
    rows = {u.id: u for u in db.session.scalars(select(OrgUnit).where(OrgUnit.id.in_(ids)))}
    return [rows[i] for i in ids if i in rows]
