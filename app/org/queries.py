"""Read-only queries over the org tree, and the one scoping helper every lookup uses."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, Select, false, or_, select, true

from ..auth.permissions import MANAGE, STAFF, roles_for
from ..extensions import db
from .models import OrgUnit

# Without ``roles``, scope is where the user manages (people and records of their subtree).
MANAGERS = roles_for(MANAGE)


def _under(path: str):
    # Paths hold only digits and slashes, so the pattern needs no escaping, and a
    # constant prefix lets both databases use the path index.
    return OrgUnit.path.like(path + "%")


def subtree_ids(root: OrgUnit) -> Select:
    """Select the ids of ``root`` and every unit below it (one indexed prefix match)."""
    return select(OrgUnit.id).where(_under(root.path))


def scope_roots(user, roles: Iterable[str] = MANAGERS) -> list[OrgUnit] | None:
    """Return the units whose subtrees ``user`` may see, or ``None`` for the whole tree."""
    roles = tuple(roles)
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    if "admin" in roles and user.is_admin:
        return None
    return [a.unit for a in user.roles if a.role in roles]


def in_scope(user, unit_id_column, roles: Iterable[str] = MANAGERS) -> ColumnElement[bool]:
    """Return a WHERE clause limiting ``unit_id_column`` to the units ``user`` may see."""
    roots = scope_roots(user, roles)
    if roots is None:
        return true()
    if not roots:
        return false()
    paths = or_(*(_under(r.path) for r in roots))
    return unit_id_column.in_(select(OrgUnit.id).where(paths))


def unit_in_scope(user, unit: OrgUnit, roles: Iterable[str] = MANAGERS) -> bool:
    """Return whether ``unit`` lies within what ``user`` may see."""
    roots = scope_roots(user, roles)
    if roots is None:
        return True
    return any(unit.is_within(r) for r in roots)


def unit_by_code(code: str) -> OrgUnit | None:
    """Return the unit with this administrative code, if any."""
    return db.session.scalar(select(OrgUnit).where(OrgUnit.code == code))


def unit_for(user, unit_id: int, roles: Iterable[str] = MANAGERS) -> OrgUnit | None:
    """Return the unit if ``user`` may see it, else None (the caller answers 404)."""
    return db.session.scalar(select(OrgUnit).where(OrgUnit.id == unit_id, in_scope(user, OrgUnit.id, roles)))


def unit_for_code(user, code: str, roles: Iterable[str] = MANAGERS) -> OrgUnit | None:
    """Return the unit with this code if ``user`` may see it, else None, like an unknown code."""
    return db.session.scalar(select(OrgUnit).where(OrgUnit.code == code, in_scope(user, OrgUnit.id, roles)))


def units_by_code(codes: Iterable[str]) -> dict[str, OrgUnit]:
    """Map each of ``codes`` that exists to its unit (the whole tree: imports by an administrator)."""
    codes = set(codes)
    if not codes:
        return {}
    return {u.code: u for u in db.session.scalars(select(OrgUnit).where(OrgUnit.code.in_(codes)))}


def unit_ids_by_code(codes: Iterable[str], user=None, roles: Iterable[str] = MANAGERS) -> dict[str, int]:
    """Map each of ``codes`` to its unit's id, among the units ``user`` may see (None: the command line, every unit)."""
    stmt = select(OrgUnit.code, OrgUnit.id).where(OrgUnit.code.in_(set(codes)))
    if user is not None:
        stmt = stmt.where(in_scope(user, OrgUnit.id, roles))
    return dict(db.session.execute(stmt).all())


def visible_units(user, roles: Iterable[str] = MANAGERS, kinds: Iterable[str] | None = None) -> list[OrgUnit]:
    """Return the units ``user`` may see (of ``kinds``, if given), ordered by path (a depth-first walk)."""
    stmt = select(OrgUnit).where(in_scope(user, OrgUnit.id, roles)).order_by(OrgUnit.path)
    if kinds is not None:
        stmt = stmt.where(OrgUnit.kind.in_(tuple(kinds)))
    return list(db.session.scalars(stmt))


def tree_roots(user, roles: Iterable[str] = MANAGERS) -> list[OrgUnit]:
    """Return the units ``user``'s tree starts from: their own, or every root for the whole tree."""
    roots = scope_roots(user, roles)
    if roots is not None:
        return roots
    return list(db.session.scalars(select(OrgUnit).where(OrgUnit.parent_id.is_(None)).order_by(OrgUnit.code)))


def children_of(unit: OrgUnit) -> list[OrgUnit]:
    """Return the direct children of ``unit``, by code then name."""
    return list(
        db.session.scalars(select(OrgUnit).where(OrgUnit.parent_id == unit.id).order_by(OrgUnit.code, OrgUnit.name))
    )


def unit_names(ids: Iterable[int | None]) -> dict[int, str]:
    """The names of these units (one statement), by id."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(db.session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(wanted))).all())


def ancestors_of(unit: OrgUnit) -> list[OrgUnit]:
    """Return the chain root → ``unit`` (one query, from the materialised path)."""
    ids = unit.path_ids
    rows = {u.id: u for u in db.session.scalars(select(OrgUnit).where(OrgUnit.id.in_(ids)))}
    return [rows[i] for i in ids if i in rows]


def units_seen(user, code: str | None = None) -> Select:
    """The units any of ``user``'s staff roles lets them see, in tree order (the API's unit list)."""
    stmt = select(OrgUnit).where(in_scope(user, OrgUnit.id, roles_for(STAFF))).order_by(OrgUnit.path)
    return stmt.where(OrgUnit.code == code) if code else stmt
