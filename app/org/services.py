"""State changes on the org tree."""

from __future__ import annotations

from sqlalchemy import String, func, literal, select, update

from ..audit.services import record_audit
from ..core.db import utcnow
from ..core.domain import Conflict, Forbidden, Invalid, NotFound
from ..core.i18n import _l
from ..coverage import standing
from ..extensions import db
from ..people.models import Person
from .labels import KIND_LABELS
from .models import CODE_LENGTH, NAME_LENGTH, UNIT_KINDS, OrgUnit
from .queries import scope_roots, subtree_ids, unit_in_scope


class UnitError(ValueError):
    """A unit could not be created as asked."""


def create_unit(*, name: str, kind: str, parent: OrgUnit | None, code: str | None = None) -> OrgUnit:
    """Add a unit under ``parent`` and give it its materialised path (flushes, no commit)."""
    if kind not in UNIT_KINDS:
        raise UnitError(f"unknown unit kind {kind!r}")
    unit = OrgUnit(name=name, kind=kind, parent=parent, code=code or None, path="", depth=0)
    db.session.add(unit)
    db.session.flush()  # the id is part of the path
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    unit.depth = (parent.depth + 1) if parent else 0
    db.session.flush()
    return unit


# ---------------------------------------------------------------- managing units from the browser

# The kinds a unit of each kind may sit under (None: at the top of the tree).
PARENT_KINDS: dict[str, tuple[str | None, ...]] = {
    "province": (None,),
    "city": ("province",),
    "district": ("city",),
    "street": ("district",),
    "community": ("street",),
    "centre": ("city", "district"),
    "station": ("district", "street", "centre"),
    "room": ("street", "community", "station"),
}


def kinds_named(kinds) -> str:
    """The kinds as the pages name them (None: the top of the tree)."""
    return "、".join(str(KIND_LABELS[k]) if k else str(_l("the top of the tree")) for k in kinds)


# Service units often have no official code: one is made for them, and shown as made.
GENERATED_KINDS = ("centre", "station", "room")


def _managed(actor, unit: OrgUnit | None) -> bool:
    if actor is None or actor.is_admin:
        return True
    return unit is not None and unit_in_scope(actor, unit)


def is_scope_root(actor, unit: OrgUnit) -> bool:
    """Whether ``unit`` is one the actor manages from (only an administrator moves or closes it)."""
    roots = scope_roots(actor) if actor is not None else None
    return roots is not None and any(r.id == unit.id for r in roots)


def _check_parent(kind: str, parent: OrgUnit | None) -> None:
    allowed = PARENT_KINDS[kind]
    if (parent.kind if parent else None) not in allowed:
        names = kinds_named(allowed)
        raise Invalid(
            _l("Invalid input."),
            {"parent_id": _l("%(kind)s: only under %(kinds)s.", kind=KIND_LABELS[kind], kinds=names)},
        )


def _check_code(code: str | None, unit_id: int | None = None) -> str | None:
    code = (code or "").strip() or None
    if code is None:
        return None
    if len(code) > CODE_LENGTH or not code.replace("-", "").isalnum():
        raise Invalid(_l("Invalid input."), {"code": _l("Letters, digits and hyphens, at most %(n)d.", n=CODE_LENGTH)})
    same = select(OrgUnit.id).where(OrgUnit.code == code)
    if unit_id is not None:
        same = same.where(OrgUnit.id != unit_id)
    if db.session.scalar(same):
        raise Conflict(_l("Another unit has the code %(code)s.", code=code), {"code": _l("Taken: choose another.")})
    return code


def _check_name_free(name: str, parent: OrgUnit | None, unit_id: int | None = None, field: str = "name") -> None:
    """Refuse a name a sibling already has: two 杏花社区 under one street could not be told apart in a list, an
    import or a person's history."""
    same = select(OrgUnit.id).where(
        func.lower(OrgUnit.name) == name.lower(),
        OrgUnit.parent_id == parent.id if parent is not None else OrgUnit.parent_id.is_(None),
    )
    if unit_id is not None:
        same = same.where(OrgUnit.id != unit_id)
    if db.session.scalar(same.limit(1)):
        where = parent.name if parent is not None else _l("the top of the tree")
        message = _l("%(parent)s already has a unit named %(name)s.", parent=where, name=name)
        raise Conflict(message, {field: message})


def generated_code(kind: str, parent: OrgUnit) -> str:
    """A code for a unit without an official one: the parent's, the kind's letter and a number (“…-S03”)."""
    base = parent.code or f"U{parent.id}"
    letter = {"centre": "C", "station": "S", "room": "R"}.get(kind, "X")
    taken = set(db.session.scalars(select(OrgUnit.code).where(OrgUnit.code.like(f"{base}-{letter}%"))))
    n = 1
    while f"{base}-{letter}{n:02d}" in taken:
        n += 1
    return f"{base}-{letter}{n:02d}"


def add_unit(*, name: str, kind: str, parent: OrgUnit | None, code: str | None, actor) -> OrgUnit:
    """Create a unit under a parent of the actor's units, by the kinds' rules (audited; flushes)."""
    name = (name or "").strip()
    if not name or len(name) > NAME_LENGTH:
        raise Invalid(_l("Invalid input."), {"name": _l("A name of 1 to %(n)d characters is required.", n=NAME_LENGTH)})
    if kind not in UNIT_KINDS:
        raise Invalid(_l("Invalid input."), {"kind": _l("Unknown kind.")})
    if parent is None and actor is not None and not actor.is_admin:
        raise Forbidden(_l("Only an administrator adds a unit at the top of the tree."))
    if parent is not None and not _managed(actor, parent):
        raise NotFound(_l("Not found."))
    _check_parent(kind, parent)
    _check_name_free(name, parent)
    code = _check_code(code)
    made = False
    if code is None and kind in GENERATED_KINDS and parent is not None:
        code, made = generated_code(kind, parent), True
    unit = create_unit(name=name, kind=kind, parent=parent, code=code)
    unit.code_generated = made
    db.session.flush()
    record_audit(
        actor=actor,
        action="unit.create",
        entity_type="org_unit",
        entity_id=unit.id,
        after={"name": name, "kind": kind, "parent_id": getattr(parent, "id", None), "code": code, "generated": made},
    )
    return unit


def rename_unit(*, unit: OrgUnit, name: str, code: str | None, actor) -> OrgUnit:
    """Correct a unit's name or code (a generated code stays until a real one is given)."""
    if not _managed(actor, unit):
        raise NotFound(_l("Not found."))
    name = (name or "").strip()
    if not name or len(name) > NAME_LENGTH:
        raise Invalid(_l("Invalid input."), {"name": _l("A name of 1 to %(n)d characters is required.", n=NAME_LENGTH)})
    if name != unit.name:
        _check_name_free(name, unit.parent, unit.id)
    new_code = _check_code(code, unit.id)
    before = {"name": unit.name, "code": unit.code}
    unit.name = name
    if new_code is not None and new_code != unit.code:
        unit.code, unit.code_generated = new_code, False
    elif new_code is None and not unit.code_generated:
        unit.code = None
    db.session.flush()
    after = {"name": unit.name, "code": unit.code}
    if after != before:
        record_audit(
            actor=actor, action="unit.rename", entity_type="org_unit", entity_id=unit.id, before=before, after=after
        )
    return unit


def move_unit(*, unit: OrgUnit, parent: OrgUnit, actor) -> OrgUnit:
    """Put a unit (and everything under it) under another parent of the actor's units (audited)."""
    if not _managed(actor, unit) or not _managed(actor, parent):
        raise NotFound(_l("Not found."))
    if actor is not None and not actor.is_admin and is_scope_root(actor, unit):
        raise Forbidden(_l("You cannot move the unit you manage from: ask an administrator."))
    if parent.is_within(unit):
        raise Invalid(_l("Invalid input."), {"parent_id": _l("A unit cannot move under itself.")})
    _check_parent(unit.kind, parent)
    if parent.id != unit.parent_id:
        _check_name_free(unit.name, parent, unit.id, field="parent_id")
    old_prefix, old_parent = unit.path, unit.parent_id
    new_prefix = f"{parent.path}{unit.id}/"
    delta = parent.depth + 1 - unit.depth
    db.session.execute(
        update(OrgUnit)
        .where(OrgUnit.path.startswith(old_prefix, autoescape=True))
        .values(
            path=literal(new_prefix, String) + func.substr(OrgUnit.path, len(old_prefix) + 1),
            depth=OrgUnit.depth + delta,
        )
        .execution_options(synchronize_session=False)
    )
    unit.parent_id = parent.id
    db.session.flush()
    db.session.expire_all()
    # The rule cohorts above the old and the new place lose and gain the unit's people.
    standing.refresh_units([u for u in (db.session.get(OrgUnit, old_parent or 0), parent) if u is not None])
    record_audit(
        actor=actor,
        action="unit.move",
        entity_type="org_unit",
        entity_id=unit.id,
        before={"parent_id": old_parent},
        after={"parent_id": parent.id},
    )
    return db.session.get(OrgUnit, unit.id)


def set_unit_closed(*, unit: OrgUnit, closed: bool, actor) -> OrgUnit:
    """Close a unit nobody active works in any more (its history stays), or reopen it."""
    if not _managed(actor, unit):
        raise NotFound(_l("Not found."))
    if actor is not None and not actor.is_admin and is_scope_root(actor, unit):
        raise Forbidden(_l("You cannot close the unit you manage from: ask an administrator."))
    if (unit.closed_at is not None) == closed:
        return unit
    if closed:
        active = db.session.scalar(
            select(func.count()).where(Person.unit_id.in_(subtree_ids(unit)), Person.active.is_(True))
        )
        if active:
            raise Conflict(
                _l("%(n)d active people work in this unit or below: move or deactivate them first.", n=active)
            )
    unit.closed_at = utcnow() if closed else None
    db.session.flush()
    record_audit(
        actor=actor,
        action="unit.close" if closed else "unit.reopen",
        entity_type="org_unit",
        entity_id=unit.id,
        after={"closed": closed},
    )
    return unit
