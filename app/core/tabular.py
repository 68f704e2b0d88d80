"""Read uploaded spreadsheets: CSV (UTF-8 with or without BOM, GB18030/GBK) and XLSX.

Used by every import; returns plain rows keyed by canonical column names, with
the spreadsheet row number (header = row 1) kept for error reports.

Every read is bounded, whatever the file claims: a workbook's ZIP directory
(member sizes, total, compression ratio, number of members) and the shape of
its XML (declared dimension, rows, shared strings, elements openpyxl would keep
in memory) are checked in a streaming pass before openpyxl opens it; rows are
then read one at a time (openpyxl's read-only mode), never past
``max_rows`` + 1 data rows, never past ``MAX_COLUMNS`` columns, and the whole
read stops at a deadline (``LMS_IMPORT_READ_SECONDS`` of processor time).
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import time
import zipfile
import zlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from xml.parsers import expat

from flask import current_app, has_app_context

from .i18n import _l

# What zipfile and openpyxl raise on a damaged workbook, while opening it or reading a sheet
# (a broken sheet XML raises a ParseError, a SyntaxError, only while iterating); openpyxl's
# own InvalidFileException is added where openpyxl is imported (on first use: it is slow to import).
_XLSX_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    KeyError,
    IndexError,
    OSError,
    ValueError,
    SyntaxError,
)

# Real imports have fewer than 20 columns and a few MB of XML; these bounds leave
# room for them and keep a hostile file within about 150 MB and a few seconds.
MAX_COLUMNS = 64
MAX_CELL_CHARS = 1000
SPARE_ROWS = 1000  # blank rows (above the header, between rows) read beyond max_rows + 1
READ_SECONDS = 4  # default of LMS_IMPORT_READ_SECONDS
XLSX_MAX_MEMBERS = 500
XLSX_MAX_PART_BYTES = 32 * 1024 * 1024  # one member, uncompressed
XLSX_MAX_TOTAL_BYTES = 64 * 1024 * 1024  # all members, uncompressed
XLSX_MAX_RATIO = 100  # uncompressed : compressed, for members above XLSX_RATIO_FROM_BYTES
XLSX_RATIO_FROM_BYTES = 1024 * 1024
# openpyxl clears each row and shared string once read, but keeps every other
# element it parses (a few hundred bytes each) until the part is done.
XML_MAX_LOOSE_ELEMENTS = 100_000  # outside rows and shared strings, all parts together
XML_MAX_RECORD_ELEMENTS = 1_000  # inside one row or one shared string
XML_MAX_SHARED_STRINGS = 300_000
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_CELL_REF = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d{1,7})$")

UNREADABLE = _l("The file is not a readable XLSX workbook.")


class TableError(ValueError):
    """The file as a whole cannot be read; ``message`` says why."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


# The columns of the file read last in this context as its header writes them ({"id_number": "身份证号"}):
# set by read_table, so that the row errors an importer finds after reading name a column as the file does.
_WRITTEN: ContextVar[dict[str, str] | None] = ContextVar("lms_import_headers", default=None)
# The headers of that file's columns holding data that the import does not read (状态, 备注): the page, the
# job and the command say so, so that a misspelt column is not mistaken for imported data.
_UNREAD: ContextVar[tuple[str, ...]] = ContextVar("lms_import_unread", default=())


# A column of row numbers holds nothing to import: not worth a word.
ROW_NUMBER_HEADERS = frozenset({"序号", "no.", "#"})


def unread_columns() -> tuple[str, ...]:
    """The headers, as written, of the columns holding data that the file read last in this context has and
    the import left out (a column it does not know, or a second spelling of one it read)."""
    return _UNREAD.get()


def forget_columns() -> None:
    """Before an import: no earlier file's columns are told of after it, whatever the importer reads."""
    _UNREAD.set(())


UNREAD_NAMED = 10  # columns named at most, each cut to UNREAD_CHARS: the message travels in the session cookie
UNREAD_CHARS = 40


def unread_message(columns) -> str:
    """What to tell the importer about the columns not read."""
    columns = list(columns)
    named = [c if len(c) <= UNREAD_CHARS else c[: UNREAD_CHARS - 1] + "…" for c in columns[:UNREAD_NAMED]]
    if len(columns) > UNREAD_NAMED:
        named.append("…")
    return str(
        _l(
            "These columns were not read: %(columns)s. If they hold data to import, name them as the "
            "instructions do and upload the file again.",
            columns="、".join(named),
        )
    )


@dataclass
class RowError:
    row: int
    column: str  # the canonical name (id_number), what programs read
    message: object  # a lazy string, rendered in the reader's language
    header: str = ""  # the column as the file's header writes it (身份证号), what people read

    def __post_init__(self):
        if not self.header:
            self.header = (_WRITTEN.get() or {}).get(self.column, self.column)

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "header": self.header, "message": str(self.message)}

    def __str__(self) -> str:
        return f"row {self.row}, {self.column}: {self.message}"


class ImportRejected(ValueError):
    """A whole file was refused; ``errors`` lists every row error (nothing was written)."""

    def __init__(self, errors: list[RowError]):
        super().__init__(f"{len(errors)} error(s)")
        self.errors = errors


def _too_big(detail: str) -> TableError:
    return TableError(
        _l(
            "The workbook unpacks to far more data than an import needs (%(detail)s), so it was not read. "
            "Copy the data into a new workbook, or save it as CSV, and upload that.",
            detail=detail,
        )
    )


def _past_row(row_limit: int, max_rows: int) -> TableError:
    return TableError(
        _l(
            "The sheet runs past row %(last)d, but an import takes at most %(max)d rows of data. If the rows "
            "below your data are empty, delete them (or copy the data into a new workbook); otherwise split "
            "the file.",
            last=row_limit,
            max=max_rows,
        )
    )


class _TooSlow(Exception):
    """The read passed its deadline (deliberately not one of the errors openpyxl or zipfile catch)."""


class _Deadline:
    """A budget of processor time for this thread: what the read itself costs, however busy the machine."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.end = time.thread_time() + seconds

    def check(self) -> None:
        if time.thread_time() > self.end:
            raise _TooSlow


class _DeadlineFile(io.BytesIO):
    """The uploaded bytes, refusing to be read past the deadline: bounds the time openpyxl spends in one part."""

    def __init__(self, data: bytes, deadline: _Deadline):
        super().__init__(data)
        self._deadline = deadline

    def read(self, size: int | None = -1) -> bytes:
        self._deadline.check()
        return super().read(size)


def _read_seconds() -> float:
    if has_app_context():
        return current_app.config.get("LMS_IMPORT_READ_SECONDS", READ_SECONDS)
    return READ_SECONDS


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.0f} MB"


def _cell_position(ref: str) -> tuple[int, int] | None:
    """``(column, row)`` of a reference such as ``XFD1048576``, or None if it is not one."""
    match = _CELL_REF.match(ref.strip())
    if match is None:
        return None
    column = 0
    for ch in match.group(1).upper():
        column = column * 26 + ord(ch) - 64
    return column, int(match.group(2))


# --- XLSX: checks before openpyxl opens the workbook --------------------------------


class _XmlBudget:
    """What the XML parts of one workbook may hold; shared by all its parts."""

    def __init__(self, max_rows: int, row_limit: int):
        self.max_rows = max_rows
        self.row_limit = row_limit
        self.loose = 0
        self.shared_strings = 0


def _check_dimension(attrs: dict, budget: _XmlBudget) -> None:
    """Refuse a sheet whose declared range reaches beyond the columns or rows an import reads."""
    corner = _cell_position(attrs.get("ref", "").rpartition(":")[2])
    if corner is not None and (corner[0] > MAX_COLUMNS or corner[1] > budget.row_limit):
        raise TableError(
            _l(
                "The sheet declares the range %(range)s, but an import reads at most %(rows)d rows of "
                "data and %(columns)d columns. Delete the empty rows and columns around your data (or "
                "copy the data into a new workbook) and upload again.",
                range=attrs.get("ref", "")[:40],
                rows=budget.max_rows,
                columns=MAX_COLUMNS,
            )
        )


def _no_dtd(*args) -> None:
    """Refuse a document type declaration: OOXML never has one, it is only there to define entities."""
    raise TableError(UNREADABLE)


def _feed(parser, archive: zipfile.ZipFile, info: zipfile.ZipInfo, deadline: _Deadline) -> None:
    """Stream one member through ``parser`` in chunks, on the deadline; stop quietly where it is not XML."""
    with archive.open(info) as member:
        try:
            while chunk := member.read(64 * 1024):
                deadline.check()
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
        except expat.ExpatError:
            return


def _scan_part(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: _XmlBudget, deadline: _Deadline) -> None:
    """Stream one member through expat, keeping only counters; refuse what would swell openpyxl's memory.

    A member that is not XML (an image) stops the scan at its first bytes: openpyxl
    never parses it, or fails at the same byte (it uses the same expat parser).
    """
    parser = expat.ParserCreate(namespace_separator=" ")
    depth = 0
    record_depth = 0  # depth of the row or shared string being read, 0 outside one
    record_elements = 0
    rows = 0

    def refuse(detail: str):
        raise _too_big(f"{info.filename}: {detail}")

    def start(name: str, attrs: dict) -> None:
        nonlocal depth, record_depth, record_elements, rows
        depth += 1
        if record_depth:
            record_elements += 1
            if record_elements > XML_MAX_RECORD_ELEMENTS:
                refuse(f"> {XML_MAX_RECORD_ELEMENTS} elements in one row or string")
            return
        ns, _sep, local = name.rpartition(" ")
        if ns == _MAIN_NS and local == "row":
            record_depth, record_elements = depth, 0
            rows += 1
            number = attrs.get("r", "")
            if rows > budget.row_limit or (number.isdigit() and int(number) > budget.row_limit):
                raise _past_row(budget.row_limit, budget.max_rows)
            return
        if ns == _MAIN_NS and local == "si":
            record_depth, record_elements = depth, 0
            budget.shared_strings += 1
            if budget.shared_strings > XML_MAX_SHARED_STRINGS:
                refuse(f"> {XML_MAX_SHARED_STRINGS} shared strings")
            return
        budget.loose += 1
        if budget.loose > XML_MAX_LOOSE_ELEMENTS:
            refuse(f"> {XML_MAX_LOOSE_ELEMENTS} XML elements")
        if ns == _MAIN_NS and local == "dimension":
            _check_dimension(attrs, budget)

    def end(name: str) -> None:
        nonlocal depth, record_depth
        if depth == record_depth:
            record_depth = 0
        depth -= 1

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartDoctypeDeclHandler = _no_dtd
    _feed(parser, archive, info, deadline)


def _check_workbook(data: bytes, max_rows: int, row_limit: int, deadline: _Deadline) -> None:
    """Refuse a workbook whose ZIP directory or XML would take more memory or time than an import may."""
    try:
        archive = zipfile.ZipFile(_DeadlineFile(data, deadline))
    except _XLSX_ERRORS:
        raise TableError(UNREADABLE) from None
    with archive:
        members = archive.infolist()
        if len(members) > XLSX_MAX_MEMBERS:
            raise _too_big(f"{len(members)} parts")
        total = 0
        for info in members:
            if info.flag_bits & 0x1:
                raise TableError(_l("The workbook is encrypted: save it without a password and upload it again."))
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise TableError(UNREADABLE)
            # zipfile stops every member at its declared size, so these figures bound what is unpacked.
            if info.file_size > XLSX_MAX_PART_BYTES:
                raise _too_big(f"{info.filename}: {_mb(info.file_size)}")
            if info.file_size > XLSX_RATIO_FROM_BYTES and info.file_size > XLSX_MAX_RATIO * max(info.compress_size, 1):
                ratio = info.file_size // max(info.compress_size, 1)
                raise _too_big(f"{info.filename}: {_mb(info.file_size)}, {ratio}:1")
            total += info.file_size
        if total > XLSX_MAX_TOTAL_BYTES:
            raise _too_big(_mb(total))
        budget = _XmlBudget(max_rows, row_limit)
        try:
            for info in members:
                if not info.is_dir():
                    _scan_part(archive, info, budget, deadline)
        except _XLSX_ERRORS as exc:
            if isinstance(exc, TableError):
                raise
            raise TableError(UNREADABLE) from None


def _xlsx_rows(data: bytes, max_rows: int, row_limit: int, deadline: _Deadline) -> Iterator[tuple]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    errors = (InvalidFileException, *_XLSX_ERRORS)
    _check_workbook(data, max_rows, row_limit, deadline)
    try:
        wb = load_workbook(_DeadlineFile(data, deadline), read_only=True, data_only=True)
    except errors:
        raise TableError(UNREADABLE) from None
    try:
        # One column more than allowed, to see data there; openpyxl drops the cells beyond.
        yield from wb.worksheets[0].iter_rows(max_row=row_limit, max_col=MAX_COLUMNS + 1, values_only=True)
    except errors as exc:
        if isinstance(exc, TableError):
            raise
        raise TableError(UNREADABLE) from None
    finally:
        wb.close()


# --- CSV -----------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise TableError(_l("The file is neither UTF-8 nor GB18030 text.")) from None


def _csv_rows(data: bytes) -> Iterator[list[str]]:
    text = _decode(data)
    if "\x00" in text:
        raise TableError(_l("The file contains binary data; save it as CSV or XLSX."))
    try:
        yield from csv.reader(io.StringIO(text))
    except csv.Error:
        raise TableError(_l("The CSV file is malformed.")) from None


def _too_slow(deadline: _Deadline) -> TableError:
    return TableError(
        _l(
            "The file took too long to read (more than %(seconds)d seconds), so nothing was imported. "
            "Split it into smaller files and upload them one by one.",
            seconds=deadline.seconds,
        )
    )


def check_file(filename: str, data: bytes, max_rows: int) -> None:
    """The whole-file checks that read no rows: the type, and a workbook's parts and XML (milliseconds).

    A request runs them before it hands a large file to a job, so a refused file is said on the form.
    """
    name = filename.lower()
    if name.endswith((".csv", ".txt")):
        return
    if not name.endswith((".xlsx", ".xlsm")):
        raise TableError(_l("Unsupported file type: upload a .csv or .xlsx file."))
    deadline = _Deadline(_read_seconds())
    try:
        _check_workbook(data, max_rows, max_rows + 1 + SPARE_ROWS, deadline)
    except _TooSlow:
        raise _too_slow(deadline) from None


def _raw_rows(filename: str, data: bytes, max_rows: int, row_limit: int, deadline: _Deadline) -> Iterator:
    name = filename.lower()
    if name.endswith((".xlsx", ".xlsm")):
        return _xlsx_rows(data, max_rows, row_limit, deadline)
    if name.endswith((".csv", ".txt")):
        return _csv_rows(data)
    raise TableError(_l("Unsupported file type: upload a .csv or .xlsx file."))


# --- rows to records -----------------------------------------------------------------


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and (value == "" or value.isspace()))


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Cells:
    """Turn cell values into stripped text, each distinct text once (a shared string may fill every row)."""

    def __init__(self):
        self._seen: dict[str, str] = {}

    def text(self, value, row: int) -> str:
        if value is None:
            return ""
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # a code typed into Excel comes back as 330105.0
        if not isinstance(value, str):
            value = str(value)
        if len(value) > MAX_CELL_CHARS:
            raise TableError(_l("Row %(row)d has a cell longer than %(max)d characters.", row=row, max=MAX_CELL_CHARS))
        stripped = self._seen.get(value)
        if stripped is None:
            stripped = self._seen[value] = value.strip()
        return stripped


def read_table(
    filename: str,
    data: bytes,
    columns: dict[str, tuple[str, ...]],
    required: tuple[str, ...],
    max_rows: int,
    text_only: tuple[str, ...] = (),
) -> list[tuple[int, dict[str, str]]]:
    """Return ``(row_number, {column: value})`` for every non-blank data row.

    ``columns`` maps each canonical column to the header spellings accepted
    (English and Chinese). Missing required columns, too many rows or columns,
    or a file that would take too long to read reject the whole file. A number
    in a ``text_only`` column (an ID number a spreadsheet has already rounded)
    is a row error: nothing is ever read from it.
    """
    _WRITTEN.set({})
    _UNREAD.set(())
    deadline = _Deadline(_read_seconds())
    row_limit = max_rows + 1 + SPARE_ROWS
    try:
        with contextlib.closing(_raw_rows(filename, data, max_rows, row_limit, deadline)) as rows:
            return _records(rows, columns, required, max_rows, row_limit, text_only, deadline)
    except _TooSlow:
        raise _too_slow(deadline) from None


def _check_width(raw, n: int) -> None:
    """Refuse a row with data beyond column MAX_COLUMNS."""
    if len(raw) > MAX_COLUMNS and not all(_blank(v) for v in raw[MAX_COLUMNS:]):
        raise TableError(
            _l(
                "Row %(row)d has data beyond column %(max)d: an import reads at most %(max)d columns. "
                "Delete the extra columns and upload again.",
                row=n,
                max=MAX_COLUMNS,
            )
        )


def _header_index(raw, n: int, columns, required, cells: _Cells) -> tuple[dict[str, int], dict[str, str]]:
    """Find each column in the header row: its position and its header as written; refuse missing required ones."""
    header = [cells.text(v, n).lower() for v in raw]
    index: dict[str, int] = {}
    headers: dict[str, str] = {}
    for canonical, spellings in columns.items():
        accepted = {s.lower() for s in spellings}
        for i, h in enumerate(header):
            if h in accepted:
                index[canonical] = i
                headers[canonical] = cells.text(raw[i], n)
                break
    missing = [c for c in required if c not in index]
    if missing:
        named = ", ".join(_header_names(c, columns[c]) for c in missing)
        raise TableError(_l("Missing columns: %(columns)s", columns=named))
    return index, headers


def _header_names(canonical: str, spellings: tuple[str, ...]) -> str:
    """A missing column as the import instructions write its header: the Chinese one, then the English one
    (身份证号 (id_number)); the English one alone where there is no other."""
    chinese = next((s for s in spellings if not s.isascii()), None)
    return f"{chinese} ({canonical})" if chinese else canonical


def _stored_as_number(n: int, canonical: str, header: str) -> RowError:
    """The row error for a number in a text-only column (the spreadsheet may already have changed it)."""
    return RowError(
        n,
        canonical,
        _l(
            "%(column)s is stored as a number in the spreadsheet, which keeps only 15 digits and "
            "drops leading zeros, so the value may already be changed. Format the column as Text, "
            "enter the values again from the original records, and upload again.",
            column=header,
        ),
    )


def _record(raw, n: int, index, headers, text_only, cells: _Cells, numbers: list[RowError]) -> dict[str, str]:
    """One data row's values by column; a number in a text-only column is left blank and added to ``numbers``."""
    record: dict[str, str] = {}
    for canonical, i in index.items():
        value = raw[i] if i < len(raw) else None
        if canonical in text_only and _is_number(value):
            numbers.append(_stored_as_number(n, canonical, headers[canonical]))
            record[canonical] = ""
        else:
            record[canonical] = cells.text(value, n)
    return record


def _records(rows, columns, required, max_rows, row_limit, text_only, deadline) -> list[tuple[int, dict[str, str]]]:
    """Read the header, then each non-blank data row as ``(row_number, record)``; refuse the file as read_table says."""
    cells = _Cells()
    index: dict[str, int] | None = None
    headers: dict[str, str] = {}
    out: list[tuple[int, dict[str, str]]] = []
    numbers: list[RowError] = []
    unread: dict[int, str] = {}  # position → header of the columns not read that no row has filled yet
    filled: list[str] = []  # the headers of those a row has filled, in the order found
    for n, raw in enumerate(rows, start=1):
        if n > row_limit:
            raise _past_row(row_limit, max_rows)
        if n % 256 == 0:
            deadline.check()
        _check_width(raw, n)
        if all(_blank(v) for v in raw):
            continue  # blank rows (above the header too) still count in the row numbers
        if index is None:
            index, headers = _header_index(raw, n, columns, required, cells)
            _WRITTEN.set(headers)
            read = set(index.values())
            unread = {i: cells.text(v, n) for i, v in enumerate(raw) if i not in read and not _blank(v)}
            unread = {i: h for i, h in unread.items() if h.lower() not in ROW_NUMBER_HEADERS}
            continue
        for i in [i for i in unread if i < len(raw) and not _blank(raw[i])]:
            filled.append(unread.pop(i))  # data the import leaves out: worth a word
        out.append((n, _record(raw, n, index, headers, text_only, cells, numbers)))
        if len(out) > max_rows:
            raise TableError(_l("Too many rows: at most %(max)d per file.", max=max_rows))
    if index is None:
        raise TableError(_l("The file is empty."))
    if not out:
        raise TableError(_l("The file has a header but no data rows."))
    if numbers:
        raise ImportRejected(numbers)
    _UNREAD.set(tuple(filled))
    return out
