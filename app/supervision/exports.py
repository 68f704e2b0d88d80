"""The supervision export's columns: one row per record, never the confidential notes."""

from __future__ import annotations

from collections.abc import Iterable

from ..core.exports import Column, Kind, Table
from ..org.models import OrgUnit
from .forms import CREDIT_LABELS, FORMAT_LABELS, KIND_LABELS, MODE_LABELS
from .models import SupervisionRecord

COLUMNS = [
    Column("日期", Kind.DATE, width=12),
    Column("督导", width=12),
    Column("形式"),
    Column("方式"),
    Column("类别"),
    Column("时长(小时)", Kind.DECIMAL),
    Column("主题", width=30),
    Column("被督导人", width=24),
    Column("确认状态", width=30),
]


def records_table(records: Iterable[SupervisionRecord]) -> Table:
    """The records as a table (notes, advice and follow-up stay out)."""
    rows = (
        [
            r.held_on,
            r.supervisor.name,
            FORMAT_LABELS[r.format],
            MODE_LABELS[r.mode],
            KIND_LABELS[r.kind],
            r.hours,
            r.topic,
            "、".join(c.person.name for c in r.credits),
            "、".join(f"{c.person.name}:{CREDIT_LABELS[c.status]}" for c in r.credits),
        ]
        for r in records
    )
    return Table("督导记录", COLUMNS, rows)


def file_names(unit: OrgUnit | None, year: int | None) -> dict:
    """The export's file name parts and their ASCII fallback: the unit and the year, else "all"."""
    code = (unit.code or unit.id) if unit else "all"
    return {
        "name": ("supervision", code, unit.name if unit else "", year or "all"),
        "fallback": ("supervision", code, year or "all"),
    }
