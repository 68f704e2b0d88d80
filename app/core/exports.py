"""Write exports: one CSV writer (UTF-8 with a BOM) and one XLSX writer, both driven by typed columns.

A feature declares its columns (text, integer, decimal, percent, date,
datetime) beside its data and hands rows to :func:`download` (a web response)
or :func:`render` (bytes, for the CLI). The type of a cell comes from its
column's declaration, never from the header's wording. Text that a spreadsheet
would read as a formula is neutralised in both formats (OWASP "CSV Injection").
"""

from __future__ import annotations

import csv
import enum
import functools
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import quote

from flask import Response, current_app
from werkzeug.http import dump_options_header


class Kind(enum.Enum):
    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    PERCENT = "percent"  # a fraction (0.5); shown as 50.0%
    DATE = "date"
    DATETIME = "datetime"  # naive, already in local time


@dataclass(frozen=True)
class Column:
    header: str
    kind: Kind = Kind.TEXT
    places: int = 1  # digits after the point, for DECIMAL and PERCENT
    width: int | None = None  # XLSX column width, in characters


@dataclass
class Table:
    title: str  # the XLSX sheet's name
    columns: Sequence[Column]
    rows: Iterable[Sequence[object]]


FORMATS = ("csv", "xlsx")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

# Cells starting with these may be read as formulas: OWASP's list (= + - @ TAB CR,
# and LF) and the full-width ＝ ＋ － ＠ it adds "depending on locale/application",
# which Chinese input methods type by default. NUL and the other control
# characters XML cannot carry are dropped from text before this check.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_XLSX_TITLE = re.compile(r"[\\*?:/\[\]]")
_FILE_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')
_ASCII_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def neutralise(text: str) -> str:
    """Prefix a single quote to text a spreadsheet would evaluate as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


@functools.cache
def _illegal_characters() -> re.Pattern:
    # openpyxl is imported on first use only: it is slow to import, and most commands never export
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE


def _text(value: object) -> str:
    # str() renders lazy translations; openpyxl refuses the control characters XML
    # cannot carry, so both formats drop them (first, so they cannot hide a "=")
    return neutralise(_illegal_characters().sub("", str(value)))


def _number(value: object, column: Column) -> int | float | Decimal:
    # Numbers only: a string here would bypass neutralisation, a bool is no count
    ok = (int,) if column.kind is Kind.INTEGER else (int, float, Decimal)
    if isinstance(value, bool) or not isinstance(value, ok):
        raise TypeError(f"column {column.header!r} ({column.kind.value}) got {value!r}")
    return value


def _checked(value: object, column: Column) -> object:
    """Return the value as its column's kind holds it (None is an empty cell); refuse any other type."""
    if value is None:
        return None
    kind = column.kind
    if kind is Kind.TEXT:
        return _text(value)
    if kind is Kind.DATE:
        if isinstance(value, datetime) or not isinstance(value, date):
            raise TypeError(f"column {column.header!r} (date) got {value!r}")
        return value
    if kind is Kind.DATETIME:
        if not isinstance(value, datetime) or value.tzinfo is not None:
            raise TypeError(f"column {column.header!r} (naive local datetime) got {value!r}")
        return value
    return _number(value, column)


def _csv_text(value: object, column: Column) -> str:
    value = _checked(value, column)
    if value is None:
        return ""
    kind = column.kind
    if kind in (Kind.DECIMAL, Kind.PERCENT):
        # rounded half away from zero, as a spreadsheet shows the XLSX number
        number = Decimal(str(value)).scaleb(2 if kind is Kind.PERCENT else 0)
        text = str(number.quantize(Decimal(1).scaleb(-column.places), ROUND_HALF_UP))
        return text + "%" if kind is Kind.PERCENT else text
    if kind is Kind.DATETIME:
        return value.isoformat(sep=" ", timespec="minutes")
    if kind is Kind.DATE:
        return value.isoformat()
    return str(value)


def csv_bytes(table: Table) -> bytes:
    """Write the table as UTF-8 CSV with a BOM (so Excel and WPS read the Chinese)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_text(c.header) for c in table.columns])
    for row in table.rows:
        writer.writerow([_csv_text(v, c) for v, c in zip(row, table.columns, strict=True)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _number_format(column: Column) -> str | None:
    decimals = "." + "0" * column.places if column.places else ""
    return {
        Kind.INTEGER: "0",
        Kind.DECIMAL: "0" + decimals,
        Kind.PERCENT: "0" + decimals + "%",
        Kind.DATE: "yyyy-mm-dd",
        Kind.DATETIME: "yyyy-mm-dd hh:mm",
    }.get(column.kind)


def _sheet_title(title: str) -> str:
    # Excel refuses \ * ? : / [ ] in a sheet name, a leading or trailing quote, and more than 31 characters
    title = _XLSX_TITLE.sub("_", _illegal_characters().sub("", str(title))).strip("'")[:31].strip("'")
    return title or "Sheet1"


def xlsx_bytes(table: Table) -> bytes:
    """Write the table as an XLSX workbook: text as string cells, numbers, rates and dates as typed cells."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    columns = list(table.columns)
    # Check every value first: an error half-way would leave openpyxl's streaming sheet open
    values = [[_checked(v, c) for v, c in zip(row, columns, strict=True)] for row in table.rows]
    formats = [_number_format(c) for c in columns]
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_sheet_title(table.title))
    for index, column in enumerate(columns, start=1):
        if column.width:
            ws.column_dimensions[get_column_letter(index)].width = column.width
    bold = Font(bold=True)
    header = []
    for column in columns:
        cell = WriteOnlyCell(ws, value=_text(column.header))
        cell.data_type = "s"
        cell.font = bold
        header.append(cell)
    ws.append(header)
    for row in values:
        cells = []
        for value, column, number_format in zip(row, columns, formats, strict=True):
            if value is None:
                cells.append(None)
                continue
            cell = WriteOnlyCell(ws, value=value)
            if column.kind is Kind.TEXT:
                cell.data_type = "s"  # openpyxl makes any str starting with "=" a formula
            elif number_format:
                cell.number_format = number_format
            cells.append(cell)
        ws.append(cells)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def render(table: Table, fmt: str) -> bytes:
    """Write the table in ``fmt`` ("csv" or "xlsx")."""
    if fmt == "csv":
        return csv_bytes(table)
    if fmt == "xlsx":
        return xlsx_bytes(table)
    raise ValueError(f"unknown export format {fmt!r}")


def file_name(*parts: object, ext: str) -> str:
    """Join the parts into a file name, replacing the characters file systems refuse."""
    cleaned = (_FILE_NAME.sub("_", unicodedata.normalize("NFC", str(p))).strip(" .") for p in parts)
    text = "-".join(p for p in cleaned if p)
    return f"{text[:150] or 'export'}.{ext}"


def ascii_file_name(*parts: object, ext: str) -> str:
    """Join the parts into a plain-ASCII file name, the fallback for old clients."""
    text = "-".join(p for p in (_ASCII_NAME.sub("_", str(p)).strip("._") for p in parts) if p)
    return f"{text[:150] or 'export'}.{ext}"


def content_disposition(name: str, fallback: str) -> str:
    """Build an attachment header: the UTF-8 name as RFC 5987 ``filename*``, and an ASCII ``filename``."""
    options = {"filename": fallback}
    if name != fallback:
        options["filename*"] = "UTF-8''" + quote(name, safe="!#$&+-.^_`|~")
    return dump_options_header("attachment", options)


def download(table: Table, fmt: str, *, name: Sequence[object], fallback: Sequence[object]) -> Response:
    """Answer the table as a file to save, named by the parts of ``name`` (ASCII-only ``fallback``)."""
    # content_type, not mimetype: Flask would append a second "; charset=utf-8" to text/csv
    response = current_app.response_class(render(table, fmt), content_type=CONTENT_TYPES[fmt])
    response.headers["Content-Disposition"] = content_disposition(
        file_name(*name, ext=fmt), ascii_file_name(*fallback, ext=fmt)
    )
    return response
