"""Import org units from a spreadsheet (``code,name,kind,parent_code``): every row or none.

A centre, station or room may come without a code: it gets a generated one (shown as such), and a
row naming a unit of that kind and name already under the same parent is that unit. Every row keeps
to the kinds' parent rules (a room under a station, community or street; see ``services.PARENT_KINDS``).
"""

from __future__ import annotations

from sqlalchemy import func, or_, select

from ..audit.services import record_audit
from ..core.i18n import _l
from ..core.tabular import ImportRejected, RowError, read_table
from ..extensions import db
from .labels import KIND_LABELS
from .models import CODE_LENGTH, NAME_LENGTH, UNIT_KINDS, OrgUnit
from .queries import units_by_code
from .services import GENERATED_KINDS, PARENT_KINDS, create_unit, generated_code, kinds_named

UNIT_COLUMNS = {
    "code": ("code", "编码", "单位编码", "区划代码"),
    "name": ("name", "名称", "单位名称"),
    "kind": ("kind", "类型", "层级"),
    "parent_code": ("parent_code", "上级编码", "上级单位编码"),
}
KIND_ZH = {
    "省": "province",
    "市": "city",
    "区县": "district",
    "区": "district",
    "县": "district",
    "街道乡镇": "street",
    "街道": "street",
    "乡镇": "street",
    "社区村": "community",
    "社区": "community",
    "村": "community",
    "中心": "centre",
    "社工站": "station",
    "站": "station",
    "社工室": "room",
    "室": "room",
}


def import_units(*, filename: str, data: bytes, actor, max_rows: int) -> tuple[int, int]:
    """Create or rename units from a file, parents before children; return (created, updated)."""
    rows = read_table(filename, data, UNIT_COLUMNS, ("code", "name", "kind"), max_rows)
    file_codes = {r["code"] for _, r in rows if r["code"]}
    existing = units_by_code(file_codes | {r["parent_code"] for _, r in rows if r.get("parent_code")})
    plan, errors = _plan(rows, existing, file_codes)
    if errors:
        raise ImportRejected(sorted(errors, key=lambda e: (e.row, e.column)))
    created, updated = _apply(plan, existing)
    record_audit(
        actor=actor,
        action="unit.import",
        entity_type="org_unit",
        entity_id=None,
        after={"file": filename, "created": created, "updated": updated},
    )
    db.session.flush()
    return created, updated


def _plan(rows, existing: dict[str, OrgUnit], file_codes: set[str]) -> tuple[list[tuple[int, dict]], list[RowError]]:
    """Check each row and read it as a planned unit; return the plan and every row's errors."""
    errors: list[RowError] = []
    first_rows: dict[str, int] = {}
    plan: list[tuple[int, dict]] = []
    file_kinds = {r["code"]: _kind(r["kind"]) for _, r in rows if r["code"]}
    file_names = {r["code"]: r["name"] for _, r in rows if r["code"]}
    named: dict[tuple[str, str], int] = {}
    for n, r in rows:
        code, name, parent = r["code"], r["name"], r.get("parent_code") or ""
        kind = _kind(r["kind"])
        if code or kind not in GENERATED_KINDS or not parent:
            errors += _code_errors(n, code, first_rows)
        if not name:
            errors.append(RowError(n, "name", _l("Name is required.")))
        elif len(name) > NAME_LENGTH:
            errors.append(RowError(n, "name", _l("Name is longer than 120 characters.")))
        else:
            errors += _name_errors(n, {**r, "kind": kind}, named, existing, file_names)
        if kind is None:
            errors.append(RowError(n, "kind", _l("Unknown unit kind %(value)s.", value=r["kind"] or "—")))
        parent_problems = _parent_errors(n, code, parent, existing, file_codes)
        errors += parent_problems
        if kind is not None and not parent_problems:
            errors += _kind_errors(n, kind, parent, existing, file_kinds)
        plan.append((n, {"code": code, "name": name, "kind": kind, "parent_code": parent}))
    return plan, errors


def _name_errors(n: int, r: dict, named: dict, existing: dict[str, OrgUnit], file_names: dict[str, str]) -> list:
    """Refuse a second unit of one name under one parent: in the file, or beside a unit already there (unless
    the file renames that one, or it is the very unit a row without a code names by its name and kind)."""
    code, name, parent = r["code"], r["name"], r.get("parent_code") or ""
    key = (parent, name.lower())
    if key in named:
        return [RowError(n, "name", _l("Same name under the same parent as row %(row)d.", row=named[key]))]
    named[key] = n
    if parent and parent not in existing:
        return []  # a parent this file makes: its units are all in the file
    under = existing[parent] if parent else None
    siblings = db.session.scalars(
        select(OrgUnit).where(
            OrgUnit.parent_id == under.id if under is not None else OrgUnit.parent_id.is_(None),
            func.lower(OrgUnit.name) == name.lower(),
            or_(OrgUnit.code.is_(None), OrgUnit.code != code),
        )
    )
    for sibling in siblings:
        if sibling.code in file_names and file_names[sibling.code].lower() != name.lower():
            continue  # renamed by this file
        if not code and (sibling.name, sibling.kind) == (name, r["kind"]):
            continue  # the unit a row without a code names: it is found, not made again
        return [
            RowError(
                n,
                "name",
                _l(
                    "%(parent)s already has a unit named %(name)s (%(code)s).",
                    parent=under.name if under is not None else "—",
                    name=name,
                    code=sibling.code or "—",
                ),
            )
        ]
    return []


def _kind_errors(n: int, kind: str, parent: str, existing: dict[str, OrgUnit], file_kinds: dict) -> list:
    """Refuse a unit under a parent of a kind it may not sit under (services.PARENT_KINDS)."""
    parent_kind = (existing[parent].kind if parent in existing else file_kinds.get(parent)) if parent else None
    if parent_kind not in PARENT_KINDS[kind]:
        allowed = kinds_named(PARENT_KINDS[kind])
        return [
            RowError(n, "parent_code", _l("%(kind)s: only under %(kinds)s.", kind=KIND_LABELS[kind], kinds=allowed))
        ]
    return []


def _kind(value: str) -> str | None:
    return value if value in UNIT_KINDS else KIND_ZH.get(value)


def _code_errors(n: int, code: str, first_rows: dict[str, int]) -> list[RowError]:
    """Refuse a missing, long or repeated code; remember the first row of each code."""
    if not code:
        return [RowError(n, "code", _l("Code is required."))]
    if len(code) > CODE_LENGTH:
        return [RowError(n, "code", _l("Code is longer than 32 characters."))]
    if code in first_rows:
        return [RowError(n, "code", _l("Same code as row %(row)d.", row=first_rows[code]))]
    first_rows[code] = n
    return []


def _parent_errors(n: int, code: str, parent: str, existing: dict[str, OrgUnit], file_codes: set[str]) -> list:
    """Refuse an unknown parent, a unit its own parent, and a move of an existing unit to another parent."""
    errors = []
    if parent and parent not in existing and parent not in file_codes:
        errors.append(RowError(n, "parent_code", _l("Unknown parent code %(code)s.", code=parent)))
    if parent and parent == code:
        errors.append(RowError(n, "parent_code", _l("A unit cannot be its own parent.")))
    unit = existing.get(code)
    if unit is not None and (unit.parent.code if unit.parent else "") != parent:
        errors.append(RowError(n, "parent_code", _l("Unit %(code)s exists under another parent.", code=code)))
    return errors


def _apply(plan: list[tuple[int, dict]], existing: dict[str, OrgUnit]) -> tuple[int, int]:
    """Create or rename the planned units, parents first; return (created, updated)."""
    created = updated = 0
    pending = plan
    while pending:  # repeat passes over the rows whose parent is not placed yet
        rest = []
        for n, r in pending:
            parent = existing.get(r["parent_code"]) if r["parent_code"] else None
            if r["parent_code"] and parent is None:
                rest.append((n, r))
                continue
            if not r["code"]:  # a service unit without an official code: found by name, or made with a code
                if _child(parent, r["name"], r["kind"]) is None:
                    made = create_unit(
                        name=r["name"], kind=r["kind"], parent=parent, code=generated_code(r["kind"], parent)
                    )
                    made.code_generated = True
                    created += 1
                continue
            unit = existing.get(r["code"])
            if unit is None:
                existing[r["code"]] = create_unit(name=r["name"], kind=r["kind"], parent=parent, code=r["code"])
                created += 1
            elif (unit.name, unit.kind) != (r["name"], r["kind"]):
                unit.name, unit.kind = r["name"], r["kind"]
                updated += 1
        if len(rest) == len(pending):
            raise ImportRejected([RowError(n, "parent_code", _l("The parent codes form a cycle.")) for n, _ in rest])
        pending = rest
    return created, updated


def _child(parent: OrgUnit, name: str, kind: str) -> OrgUnit | None:
    return db.session.scalar(
        select(OrgUnit).where(OrgUnit.parent_id == parent.id, OrgUnit.name == name, OrgUnit.kind == kind).limit(1)
    )
