"""Import a session's attendance from a spreadsheet: every row or none."""

from __future__ import annotations

from sqlalchemy import select

from ..audit.services import record_audit
from ..core.db import utcnow
from ..core.i18n import _l
from ..core.tabular import ImportRejected, RowError, read_table
from ..extensions import db
from ..people.idnumber import InvalidIdNumber, normalise_id_number
from ..people.models import Person
from ..people.services import id_number_digest
from .models import ATTENDANCE_STATUSES, CourseSession
from .services import _require_staff, _upsert_attendance, enrolled_ids

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
    _require_staff(actor, session.course.program.unit, ("admin", "coordinator", "instructor"))
    rows = read_table(filename, data, ATTENDANCE_COLUMNS, ("id_number", "status"), max_rows, ATTENDANCE_TEXT_ONLY)
    digests: dict[int, str] = {}
    errors: list[RowError] = []
    for n, raw in rows:
        try:
            digests[n] = id_number_digest(normalise_id_number(raw["id_number"]))
        except InvalidIdNumber:
            errors.append(RowError(n, "id_number", _l("Not a valid ID number.")))
    people = (
        dict(
            db.session.execute(
                select(Person.id_number_hash, Person.id).where(Person.id_number_hash.in_(set(digests.values())))
            ).all()
        )
        if digests
        else {}
    )
    seats = enrolled_ids(session.course_id)
    seen: dict[int, int] = {}
    values = []
    now = utcnow()
    for n, raw in rows:
        status = raw["status"] if raw["status"] in ATTENDANCE_STATUSES else STATUS_ZH.get(raw["status"])
        reason = (raw.get("reason") or "").strip()[:255] or None
        if status is None:
            errors.append(RowError(n, "status", _l("Unknown status %(value)s.", value=raw["status"] or "—")))
        elif status == "excused" and not reason:
            errors.append(RowError(n, "reason", _l("An excused absence needs a reason.")))
        if n not in digests:
            continue
        person_id = people.get(digests[n])
        if person_id is None or person_id not in seats:
            errors.append(RowError(n, "id_number", _l("This person is not enrolled in the course.")))
            continue
        if person_id in seen:
            errors.append(RowError(n, "id_number", _l("Same person as row %(row)d.", row=seen[person_id])))
            continue
        seen[person_id] = n
        values.append(
            {
                "session_id": session.id,
                "person_id": person_id,
                "status": status,
                "reason": reason,
                "method": "import",
                "marked_by_id": getattr(actor, "id", None),
                "marked_at": now,
            }
        )
    if errors:
        raise ImportRejected(sorted(errors, key=lambda e: (e.row, e.column)))
    _upsert_attendance(values, overwrite=True)
    record_audit(
        actor=actor,
        action="attendance.import",
        entity_type="course_session",
        entity_id=session.id,
        after={"file": filename, "rows": len(values)},
    )
    db.session.expire_all()
    return len(values)
