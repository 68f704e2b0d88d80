"""Import people from a spreadsheet: every row or none, with a report naming row and column."""

from __future__ import annotations

from sqlalchemy import insert, select

from ..audit.services import record_audit
from ..core.db import utcnow
from ..core.i18n import _l
from ..core.tabular import ImportRejected, RowError, TableError, read_table
from ..extensions import db
from ..org.models import OrgUnit
from ..org.queries import in_scope
from .models import Person
from .services import (
    ID_REFUSALS_EXHAUSTED,
    count_id_refusal,
    id_number_columns,
    id_number_digest,
    id_number_holders,
    may_check_id_numbers,
    validate_person_fields,
)

PEOPLE_COLUMNS = {
    "unit_code": ("unit_code", "单位编码", "单位代码", "所属单位编码"),
    "name": ("name", "姓名"),
    "id_number": ("id_number", "身份证号", "身份证号码", "公民身份号码"),
    "phone": ("phone", "手机号", "手机号码", "联系电话"),
    "category": ("category", "类别", "人员类别"),
    "level": ("level", "等级", "职业水平等级", "持证等级"),
    "certified_on": ("certified_on", "登记日期", "登记时间", "证书登记日期"),
}
# Read as typed text only: a spreadsheet number has lost digits (an 18-digit ID number) or leading zeros.
PEOPLE_TEXT_ONLY = ("id_number", "phone")


def import_people(*, filename: str, data: bytes, actor, max_rows: int) -> int:
    """Validate every row, then insert them all; raise :class:`ImportRejected` on any error.

    ``actor`` None means the command line (whole tree). Returns the number of people added.
    An ID number held by someone outside the actor's units refuses the whole file
    without naming a row, so a file tells no more than one number would (and
    counts as one refusal against ``LMS_ID_REFUSAL_LIMIT``).
    """
    if not may_check_id_numbers(actor):
        raise TableError(ID_REFUSALS_EXHAUSTED)
    rows = read_table(filename, data, PEOPLE_COLUMNS, ("unit_code", "name", "id_number"), max_rows, PEOPLE_TEXT_ONLY)
    codes = {r["unit_code"] for _, r in rows if r.get("unit_code")}
    unit_q = select(OrgUnit.code, OrgUnit.id).where(OrgUnit.code.in_(codes))
    if actor is not None:
        unit_q = unit_q.where(in_scope(actor, OrgUnit.id))
    units = dict(db.session.execute(unit_q).all())

    errors: list[RowError] = []
    clean_rows: list[tuple[int, dict]] = []
    seen: dict[str, int] = {}
    for n, raw in rows:
        clean, field_errors = validate_person_fields(raw, require_id=True)
        for field, message in field_errors.items():
            errors.append(RowError(n, field, message))
        unit_id = units.get(raw.get("unit_code", ""))
        if unit_id is None:
            errors.append(RowError(n, "unit_code", _l("Unknown unit code %(code)s.", code=raw.get("unit_code") or "—")))
        if "id_number" in clean:
            digest = id_number_digest(clean["id_number"])
            if digest in seen:
                errors.append(RowError(n, "id_number", _l("Same ID number as row %(row)d.", row=seen[digest])))
            else:
                seen[digest] = n
            clean["digest"] = digest
        clean["unit_id"] = unit_id
        clean_rows.append((n, clean))

    holders = id_number_holders(actor, seen)
    for digest, visible in holders.items():
        if visible:
            errors.append(RowError(seen[digest], "id_number", _l("A person with this ID number already exists.")))
    if errors:
        raise ImportRejected(sorted(errors, key=lambda e: (e.row, e.column)))
    if holders:  # held only by people the actor may not see
        count_id_refusal(actor)
        raise TableError(
            _l(
                "Some ID numbers in this file cannot be registered in your units, so nothing was imported. "
                "Ask an administrator to import the file."
            )
        )

    now = utcnow()
    values = [
        {
            "unit_id": c["unit_id"],
            "name": c["name"],
            "phone": c["phone"],
            **id_number_columns(c["id_number"]),
            "category": c["category"],
            "level": c["level"],
            "certified_on": c.get("certified_on"),
            "titles": [],
            "service_areas": [],
            "active": True,
            "created_at": now,
            "updated_at": now,
        }
        for _, c in clean_rows
    ]
    db.session.execute(insert(Person), values)
    record_audit(
        actor=actor,
        action="person.import",
        entity_type="person",
        entity_id=None,
        after={"file": filename, "rows": len(values)},
    )
    db.session.flush()
    return len(values)
