"""The people list's export columns: the ID number only ever masked.

Headers are translated when the file is written, in the language of the page's user.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from ..core.exports import Column, Kind, Table
from ..core.i18n import _, _l
from ..org.models import OrgUnit
from .labels import CATEGORY_LABELS, LEVEL_LABELS
from .models import Person

# A request writes at most this many rows (an XLSX of 10,000 takes one to two seconds)
EXPORT_LIMIT = 10_000
COLUMNS = [
    Column(_l("Name"), width=12),
    Column(_l("Unit name"), width=18),
    Column(_l("Unit code"), width=14),
    Column(_l("ID number"), width=20),
    Column(_l("Mobile phone"), width=14),
    Column(_l("Worker category"), width=16),
    Column(_l("Level"), width=16),
    Column(_l("Registered on"), Kind.DATE, width=12),  # the form's and the import's word (登记日期)
    Column(_l("Status")),
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
    return Table(_l("People"), COLUMNS, rows)


def file_names(unit: OrgUnit | None, day: date) -> dict:
    """The export's file name parts and their ASCII fallback: the unit (else "all") and the day of the export."""
    code = (unit.code or unit.id) if unit else "all"
    return {"name": ("people", code, unit.name if unit else "", day.isoformat()), "fallback": ("people", code, day)}
