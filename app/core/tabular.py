"""Read uploaded spreadsheets: CSV (UTF-8 with or without BOM, GB18030/GBK) and XLSX.

Used by every import; returns plain rows keyed by canonical column names, with
the spreadsheet row number (header = row 1) kept for error reports.
"""

from __future__ import annotations

import csv
import io
import zipfile
import zlib
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

# What openpyxl raises on a damaged workbook, while opening it or reading a sheet
# (a broken sheet XML raises a ParseError, a SyntaxError, only while iterating).
_XLSX_ERRORS = (
    InvalidFileException,
    zipfile.BadZipFile,
    zlib.error,
    KeyError,
    IndexError,
    OSError,
    ValueError,
    SyntaxError,
)


class TableError(ValueError):
    """The file as a whole cannot be read; ``message`` says why."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


@dataclass
class RowError:
    row: int
    column: str
    message: object  # a lazy string, rendered in the reader's language

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "message": str(self.message)}

    def __str__(self) -> str:
        return f"row {self.row}, {self.column}: {self.message}"


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise TableError(_l("The file is neither UTF-8 nor GB18030 text.")) from None


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a code typed into Excel comes back as 330105.0
    return str(value).strip()


def _raw_rows(filename: str, data: bytes) -> list[list[str]]:
    if filename.lower().endswith((".xlsx", ".xlsm")):
        try:
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except _XLSX_ERRORS:
            raise TableError(_l("The file is not a readable XLSX workbook.")) from None
        try:
            ws = wb.worksheets[0]
            return [[_cell(v) for v in row] for row in ws.iter_rows(values_only=True)]
        except _XLSX_ERRORS:
            raise TableError(_l("The file is not a readable XLSX workbook.")) from None
        finally:
            wb.close()
    if filename.lower().endswith((".csv", ".txt")):
        text = _decode(data)
        if "\x00" in text:
            raise TableError(_l("The file contains binary data; save it as CSV or XLSX."))
        try:
            return [[c.strip() for c in row] for row in csv.reader(io.StringIO(text))]
        except csv.Error:
            raise TableError(_l("The CSV file is malformed.")) from None
    raise TableError(_l("Unsupported file type: upload a .csv or .xlsx file."))


def read_table(
    filename: str, data: bytes, columns: dict[str, tuple[str, ...]], required: tuple[str, ...], max_rows: int
) -> list[tuple[int, dict[str, str]]]:
    """Return ``(row_number, {column: value})`` for every non-blank data row.

    ``columns`` maps each canonical column to the header spellings accepted
    (English and Chinese). Missing required columns or too many rows reject
    the whole file.
    """
    rows = _raw_rows(filename, data)
    first = 0  # blank rows above the header still count in the row numbers
    while first < len(rows) and not any(rows[first]):
        first += 1
    if first == len(rows):
        raise TableError(_l("The file is empty."))
    header = [h.strip().lower() for h in rows[first]]
    index: dict[str, int] = {}
    for canonical, spellings in columns.items():
        for i, h in enumerate(header):
            if h in {s.lower() for s in spellings}:
                index[canonical] = i
                break
    missing = [c for c in required if c not in index]
    if missing:
        raise TableError(_l("Missing columns: %(columns)s", columns=", ".join(missing)))
    out = []
    for n, raw in enumerate(rows[first + 1 :], start=first + 2):
        if not any(raw):
            continue
        out.append((n, {c: (raw[i] if i < len(raw) else "") for c, i in index.items()}))
        if len(out) > max_rows:
            raise TableError(_l("Too many rows: at most %(max)d per file.", max=max_rows))
    if not out:
        raise TableError(_l("The file has a header but no data rows."))
    return out


class ImportRejected(ValueError):
    """A whole file was refused; ``errors`` lists every row error (nothing was written)."""

    def __init__(self, errors: list[RowError]):
        super().__init__(f"{len(errors)} error(s)")
        self.errors = errors
