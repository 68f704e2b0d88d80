"""Import an assessment's scores from a spreadsheet: every row or none, with a report of every bad row."""

from __future__ import annotations

from ..auth.permissions import TEACH
from ..core.domain import Invalid
from ..core.i18n import _l
from ..core.tabular import ImportRejected, RowError, read_table
from ..extensions import db
from .grading import Entry, save_results, score_problems
from .imports import _digests, _seated_person
from .models import Assessment
from .queries import seats_by_digest
from .services import check_scope

SCORE_COLUMNS = {
    "id_number": ("id_number", "身份证号", "身份证号码"),
    "name": ("name", "姓名"),
    "score": ("score", "成绩", "分数", "得分"),
    "reason": ("reason", "原因", "备注"),
    "sitting": ("sitting", "attempt", "考试次数", "第几次"),
}
TEXT_ONLY = ("id_number",)
# What a score cell may say instead of a number.
OUTCOME_WORDS = {"absent": "absent", "缺考": "absent", "excused": "excused", "免考": "excused", "缓考": "excused"}


def import_scores(*, assessment: Assessment, filename: str, data: bytes, actor, max_rows: int) -> int:
    """Record the listed people's sittings (the first, unless a sitting column says otherwise).

    Any bad row rejects the file: an unknown ID number, someone not enrolled, a person listed twice, a
    score out of range, a sitting out of order, an excusal without a reason. Returns the rows imported.
    The rows are written before every row is known to be good: the caller's savepoint undoes them when
    the file is rejected (as every importer's is).
    """
    check_scope(actor, assessment.course.program.unit, TEACH)
    rows = read_table(filename, data, SCORE_COLUMNS, ("id_number", "score"), max_rows, TEXT_ONLY)
    errors: list[RowError] = []
    digests = _digests(rows, errors)
    seats = seats_by_digest(assessment.course_id, set(digests.values()))
    seen: dict[int, int] = {}
    entries: list[Entry] = []
    row_of: dict[int, int] = {}
    for n, raw in rows:
        person_id = _seated_person(n, digests, seats, seen, errors)
        entry = _entry(n, raw, person_id, assessment, errors)
        if entry is not None:
            entries.append(entry)
            row_of[entry.person_id] = n
    if entries:  # the service's own checks too, so that one report lists every bad row
        try:
            save_results(assessment=assessment, entries=entries, actor=actor, source="import")
        except Invalid as exc:  # its refusal names people: reported by their rows
            for key, message in exc.errors.items():
                pid, _sep, column = str(key).partition(".")
                n = row_of.get(int(pid)) if pid.isdigit() else None
                errors.append(RowError(n or 0, _column(column), message))
    if errors:
        raise ImportRejected(sorted(errors, key=lambda e: (e.row, e.column)))
    db.session.expire_all()
    return len(entries)


def _column(field: str) -> str:
    return {"attempt": "sitting", "outcome": "score", "person_id": "id_number"}.get(field, field)


def _entry(n: int, raw: dict, person_id: int | None, assessment: Assessment, errors: list[RowError]) -> Entry | None:
    """The row's sitting to record, or None; note every problem of the row, not only its first."""
    cell = (raw.get("score") or "").strip()
    reason = (raw.get("reason") or "").strip() or None
    sitting_text = (raw.get("sitting") or "").strip() or "1"
    sitting = int(sitting_text) if sitting_text.isdecimal() and sitting_text.isascii() else None
    if sitting is None:
        errors.append(RowError(n, "sitting", _l("The sitting is a number: 1 for the first, 2 for the first retake.")))
    if not cell:
        errors.append(RowError(n, "score", _l("A score, or 缺考 (absent) or 免考 (excused), is required.")))
        return None
    outcome = OUTCOME_WORDS.get(cell.lower())
    entry = Entry(person_id or 0, sitting or 1, outcome or "scored", None if outcome else cell, reason)
    if person_id is None or sitting is None:  # not for the service to check: its score and reason are, here
        for field, message in score_problems(entry, assessment).items():
            errors.append(RowError(n, _column(field), message))
        return None
    return entry
