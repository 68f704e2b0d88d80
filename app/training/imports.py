"""Import a session's attendance from a spreadsheet: every row or none."""

from __future__ import annotations

from ..audit.services import record_audit
from ..auth.permissions import TEACH
from ..core.db import utcnow
from ..core.i18n import _l
from ..core.tabular import ImportRejected, RowError, read_table
from ..extensions import db
from ..people.idnumber import InvalidIdNumber, normalise_id_number
from ..people.services import ID_REASONS, id_number_digest
from .models import ATTENDANCE_STATUSES, CourseSession
from .queries import seats_by_digest
from .services import attendance_row, check_not_cancelled, check_scope, write_attendance

ATTENDANCE_COLUMNS = {
    "id_number": ("id_number", "身份证号", "身份证号码"),
    "name": ("name", "姓名"),
    "status": ("status", "出勤", "出勤情况", "状态"),
    "reason": ("reason", "原因", "请假原因", "备注"),
}
ATTENDANCE_TEXT_ONLY = ("id_number",)  # a spreadsheet number has lost the ID number's last digits
STATUS_ZH = {
    "出席": "present",
    "到场": "present",
    "签到": "present",
    "迟到": "late",
    "请假": "excused",
    "缺席": "absent",
    "缺勤": "absent",
}


def import_attendance(*, session: CourseSession, filename: str, data: bytes, actor, max_rows: int) -> int:
    """Set attendance for the listed enrolled people; any bad row rejects the file. Returns rows written."""
    check_scope(actor, session.course.program.unit, TEACH)
    check_not_cancelled(session)
    rows = read_table(filename, data, ATTENDANCE_COLUMNS, ("id_number", "status"), max_rows, ATTENDANCE_TEXT_ONLY)
    errors: list[RowError] = []
    digests = _digests(rows, errors)
    seats = seats_by_digest(session.course_id, set(digests.values()))
    seen: dict[int, int] = {}
    values = []
    now = utcnow()
    for n, raw in rows:
        status, reason = _status(n, raw, errors)
        person_id = _seated_person(n, digests, seats, seen, errors)
        if person_id is not None:
            values.append(attendance_row(session, person_id, status, reason, "import", actor, now))
    if errors:
        raise ImportRejected(sorted(errors, key=lambda e: (e.row, e.column)))
    write_attendance(values, overwrite=True)
    record_audit(
        actor=actor,
        action="attendance.import",
        entity_type="course_session",
        entity_id=session.id,
        after={"file": filename, "rows": len(values)},
    )
    db.session.expire_all()
    return len(values)


def _digests(rows: list[tuple[int, dict]], errors: list[RowError]) -> dict[int, str]:
    """Return {row number: ID-number digest} of the rows with a valid ID number; note the others."""
    digests: dict[int, str] = {}
    for n, raw in rows:
        try:
            digests[n] = id_number_digest(normalise_id_number(raw["id_number"]))
        except InvalidIdNumber as exc:  # what is wrong with it, as the person form says
            errors.append(RowError(n, "id_number", _l("ID number %(reason)s.", reason=ID_REASONS[exc.reason])))
    return digests


def _status(n: int, raw: dict, errors: list[RowError]) -> tuple[str | None, str | None]:
    """Return the row's status (a code or its Chinese word) and trimmed reason; note what is wrong."""
    status = raw["status"] if raw["status"] in ATTENDANCE_STATUSES else STATUS_ZH.get(raw["status"])
    reason = (raw.get("reason") or "").strip()[:255] or None
    if status is None:
        errors.append(RowError(n, "status", _l("Unknown status %(value)s.", value=raw["status"] or "—")))
    elif status == "excused" and not reason:
        errors.append(RowError(n, "reason", _l("An excused absence needs a reason.")))
    return status, reason


def _seated_person(
    n: int, digests: dict[int, str], seats: dict[str, int], seen: dict[int, int], errors: list[RowError]
) -> int | None:
    """Return the id of the row's person if they hold a seat and were not listed before; note why not."""
    if n not in digests:
        return None  # the ID number itself was refused
    person_id = seats.get(digests[n])
    if person_id is None:
        errors.append(RowError(n, "id_number", _l("This person is not enrolled in the course.")))
        return None
    if person_id in seen:
        errors.append(RowError(n, "id_number", _l("Same person as row %(row)d.", row=seen[person_id])))
        return None
    seen[person_id] = n
    return person_id
