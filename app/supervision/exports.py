"""The supervision export's columns: one row per record, never the confidential notes.

Headers are translated when the file is written, in the language of the page's user.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..core.exports import Column, Kind, Table
from ..core.i18n import _l
from ..org.models import OrgUnit
from .labels import CREDIT_LABELS, FORMAT_LABELS, KIND_LABELS, MODE_LABELS
from .models import SupervisionRecord

COLUMNS = [
    Column(_l("Date"), Kind.DATE, width=12),
    Column(_l("Supervised by"), width=12),
    Column(_l("Session format")),
    Column(_l("Mode")),
    Column(_l("Supervision kind")),
    Column(_l("Length (hours)"), Kind.DECIMAL),
    Column(_l("Topic"), width=30),
    Column(_l("Supervisees"), width=24),
    Column(_l("Confirmation status"), width=30),
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
            str(_l("Void: %(reason)s", reason=r.void_reason))
            if r.voided
            else "、".join(f"{c.person.name}:{CREDIT_LABELS[c.status]}" for c in r.credits),
        ]
        for r in records
    )
    return Table(_l("Supervision records"), COLUMNS, rows)


def file_names(unit: OrgUnit | None, year: int | None) -> dict:
    """The export's file name parts and their ASCII fallback: the unit and the year, else "all"."""
    code = (unit.code or unit.id) if unit else "all"
    return {
        "name": ("supervision", code, unit.name if unit else "", year or "all"),
        "fallback": ("supervision", code, year or "all"),
    }
