"""The people list's export columns: the ID number only ever masked."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from ..core.exports import Column, Kind, Table
from ..core.i18n import _
from ..org.models import OrgUnit
from .labels import CATEGORY_LABELS, LEVEL_LABELS
from .models import Person

# A request writes at most this many rows (an XLSX of 10,000 takes one to two seconds)
EXPORT_LIMIT = 10_000
COLUMNS = [
    Column("姓名", width=12),
    Column("单位", width=18),
    Column("单位编码", width=14),
    Column("身份证号", width=20),
    Column("手机号", width=14),
    Column("类别", width=16),
    Column("等级", width=16),
    Column("持证日期", Kind.DATE, width=12),
    Column("状态"),
]


def people_table(people: Iterable[Person]) -> Table:
    """The people as a table, their ID numbers masked (the list shows them so too)."""
    rows = (
        [
            p.name,
            p.unit.name,
            p.unit.code,
            p.id_number_masked,
            p.phone,
            CATEGORY_LABELS[p.category],
            LEVEL_LABELS[p.level],
            p.certified_on,
            _("Active") if p.active else _("Inactive"),
        ]
        for p in people
    )
    return Table("人员", COLUMNS, rows)


def file_names(unit: OrgUnit | None, day: date) -> dict:
    """The export's file name parts and their ASCII fallback: the unit (else "all") and the day of the export."""
    code = (unit.code or unit.id) if unit else "all"
    return {"name": ("people", code, unit.name if unit else "", day.isoformat()), "fallback": ("people", code, day)}
