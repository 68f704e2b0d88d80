"""Import org units from a spreadsheet (``code,name,kind,parent_code``): every row or none."""

from __future__ import annotations

from sqlalchemy import select

from ..audit.services import record_audit
from ..core.i18n import _l
from ..core.tabular import ImportRejected, RowError, read_table
from ..extensions import db
from .models import UNIT_KINDS, OrgUnit
from .services import create_unit

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
    file_codes = {r["code"] for _, r in rows}
    parent_codes = {r.get("parent_code") for _, r in rows if r.get("parent_code")}
    existing = {
        u.code: u for u in db.session.scalars(select(OrgUnit).where(OrgUnit.code.in_(file_codes | parent_codes)))
    }

    errors: list[RowError] = []
    seen: dict[str, int] = {}
    plan: list[tuple[int, dict]] = []
    for n, r in rows:
        code, name = r["code"], r["name"]
        kind = r["kind"] if r["kind"] in UNIT_KINDS else KIND_ZH.get(r["kind"])
        if not code:
            errors.append(RowError(n, "code", _l("Code is required.")))
        elif len(code) > 32:
            errors.append(RowError(n, "code", _l("Code is longer than 32 characters.")))
        elif code in seen:
            errors.append(RowError(n, "code", _l("Same code as row %(row)d.", row=seen[code])))
        else:
            seen[code] = n
        if not name:
            errors.append(RowError(n, "name", _l("Name is required.")))
        elif len(name) > 120:
            errors.append(RowError(n, "name", _l("Name is longer than 120 characters.")))
        if kind is None:
            errors.append(RowError(n, "kind", _l("Unknown unit kind %(value)s.", value=r["kind"] or "—")))
        parent = r.get("parent_code") or ""
        if parent and parent not in existing and parent not in file_codes:
            errors.append(RowError(n, "parent_code", _l("Unknown parent code %(code)s.", code=parent)))
        if parent and parent == code:
            errors.append(RowError(n, "parent_code", _l("A unit cannot be its own parent.")))
        unit = existing.get(code)
        if unit is not None:
            current_parent = unit.parent.code if unit.parent else ""
            if current_parent != parent:
                errors.append(RowError(n, "parent_code", _l("Unit %(code)s exists under another parent.", code=code)))
        plan.append((n, {"code": code, "name": name, "kind": kind, "parent_code": parent}))
    if errors:
        raise ImportRejected(sorted(errors, key=lambda e: (e.row, e.column)))

    # Parents first: repeat passes over the rows whose parent is not placed yet.
    created = updated = 0
    pending = plan
    while pending:
        rest = []
        for n, r in pending:
            parent = existing.get(r["parent_code"]) if r["parent_code"] else None
            if r["parent_code"] and parent is None:
                rest.append((n, r))
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
    record_audit(
        actor=actor,
        action="unit.import",
        entity_type="org_unit",
        entity_id=None,
        after={"file": filename, "created": created, "updated": updated},
    )
    db.session.flush()
    return created, updated
