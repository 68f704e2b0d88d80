"""State changes on the org tree."""

from __future__ import annotations

from ..extensions import db
from .models import UNIT_KINDS, OrgUnit


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
