"""Import people from a spreadsheet: every row or none, with a report naming row and column."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import insert, select

from ..audit.services import record_audit
from ..auth.permissions import MANAGE, roles_for
from ..core.db import utcnow
from ..core.i18n import _l
from ..core.tabular import ImportRejected, RowError, TableError, read_table
from ..coverage import standing
from ..extensions import db
from ..ledger import unit_figures
from ..org.models import OrgUnit
from ..org.queries import unit_ids_by_code
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
MANAGERS = roles_for(MANAGE)
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
    units = unit_ids_by_code({r["unit_code"] for _, r in rows if r.get("unit_code")}, actor, MANAGERS)
    clean_rows, first_rows, errors = _check_rows(rows, units)
    holders = id_number_holders(actor, first_rows)
    errors += [
        RowError(first_rows[digest], "id_number", _l("A person with this ID number already exists."))
        for digest, visible in holders.items()
        if visible
    ]
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
    added = _insert_people(clean_rows)
    record_audit(
        actor=actor,
        action="person.import",
        entity_type="person",
        entity_id=None,
        after={"file": filename, "rows": added},
    )
    db.session.flush()
    return added


def _check_rows(rows: list[tuple[int, dict]], units: dict[str, int]) -> tuple[list[dict], dict[str, int], list]:
    """Validate each row against the person rules and the units found.

    Returns the clean rows, the first row of each ID number (by its keyed hash) and the errors.
    """
    errors: list[RowError] = []
    clean_rows: list[dict] = []
    first_rows: dict[str, int] = {}
    for n, raw in rows:
        clean, field_errors = validate_person_fields(raw, require_id=True)
        errors += [RowError(n, field, message) for field, message in field_errors.items()]
        clean["unit_id"] = units.get(raw.get("unit_code", ""))
        if clean["unit_id"] is None:
            errors.append(RowError(n, "unit_code", _l("Unknown unit code %(code)s.", code=raw.get("unit_code") or "—")))
        if "id_number" in clean:
            digest = id_number_digest(clean["id_number"])
            if digest in first_rows:
                errors.append(RowError(n, "id_number", _l("Same ID number as row %(row)d.", row=first_rows[digest])))
            else:
                first_rows[digest] = n
        clean_rows.append(clean)
    return clean_rows, first_rows, errors


def _insert_people(clean_rows: list[dict]) -> int:
    """Insert the validated rows in one statement; return how many."""
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
        for c in clean_rows
    ]
    db.session.execute(insert(Person), values)
    # A bulk insert passes no session hook: the units' counts, and the rule cohorts above them, are told here.
    units = Counter(v["unit_id"] for v in values)
    unit_figures.add_people(units)
    standing.refresh_units(db.session.scalars(select(OrgUnit).where(OrgUnit.id.in_(units))).all())
    return len(values)
