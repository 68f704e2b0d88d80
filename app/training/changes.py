"""Day-two corrections of training: edit, reschedule, cancel and restore, close and reopen, delete.

History is never lost: a session is cancelled (its attendance kept, never
counted), a program or course with attendance is closed, not deleted (a
:class:`Conflict` says why). Every change is audited with the fields before
and after, refreshes the rollups of everyone whose hours or completions it
can move, in the same transaction, and tells the trainees a moved or
cancelled session concerns. Services flush and never commit.
"""

from __future__ import annotations

from sqlalchemy import delete, exists, select

from ..audit.services import changed_fields, record_audit
from ..core.db import utcnow
from ..core.domain import Conflict, Invalid
from ..core.i18n import _l
from ..core.urls import path_for
from ..coverage.standing import refresh_people as refresh_standings
from ..extensions import db
from ..ledger.rollups import refresh_people
from ..notices.services import notify
from . import grading
from .grading import ensure_final_assessment, regrade
from .models import (
    Assessment,
    AssessmentResult,
    Attendance,
    Course,
    CourseSession,
    Enrolment,
    EvaluationReceipt,
    EvaluationResponse,
    Program,
    QuizAttempt,
)
from .queries import enrolled_ids
from .services import check_scope, course_values, program_values, session_values

MAX_REASON = 255


def _snapshot(obj, fields) -> dict:
    out = {}
    for f in fields:
        value = getattr(obj, f)
        out[f] = value.isoformat() if hasattr(value, "isoformat") else (str(value) if value is not None else None)
    return out


def _audit_changes(actor, action: str, entity_type: str, obj, before: dict, fields) -> bool:
    """Audit the fields that changed; return whether any did."""
    old, new = changed_fields(before, _snapshot(obj, fields))
    if new:
        record_audit(actor=actor, action=action, entity_type=entity_type, entity_id=obj.id, before=old, after=new)
    return bool(new)


def _attendees(session_ids) -> set[int]:
    return set(db.session.scalars(select(Attendance.person_id).where(Attendance.session_id.in_(session_ids))))


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text or len(text) > MAX_REASON:
        raise Invalid(_l("Invalid input."), {"reason": _l("A reason of 1 to 255 characters is required.")})
    return text


# ---------------------------------------------------------------- programs

PROGRAM_FIELDS = ("title", "kind", "tier", "year", "starts_on", "ends_on", "audience")


def update_program(*, program: Program, data: dict, actor) -> Program:
    """Correct a program's fields (its unit stays); flushes."""
    check_scope(actor, program.unit)
    values = program_values({**_snapshot_raw(program, PROGRAM_FIELDS), **data})
    before = _snapshot(program, PROGRAM_FIELDS)
    for key, value in values.items():
        setattr(program, key, value)
    db.session.flush()
    _audit_changes(actor, "program.update", "program", program, before, PROGRAM_FIELDS)
    return program


def _snapshot_raw(obj, fields) -> dict:
    return {f: getattr(obj, f) for f in fields}


def _has_attendance(course_ids) -> bool:
    return bool(
        db.session.scalar(
            select(
                exists().where(Attendance.session_id == CourseSession.id).where(CourseSession.course_id.in_(course_ids))
            )
        )
    )


def _set_closed(obj, entity_type: str, closed: bool, actor):
    """Close (its history kept) or reopen a program or course; audited; nothing happens twice."""
    if (obj.closed_at is not None) == closed:
        return obj
    obj.closed_at = utcnow() if closed else None
    db.session.flush()
    record_audit(
        actor=actor,
        action=f"{entity_type}.{'close' if closed else 'reopen'}",
        entity_type=entity_type,
        entity_id=obj.id,
        after={"closed": closed},
    )
    return obj


def set_program_closed(*, program: Program, closed: bool, actor) -> Program:
    """Close a program (no more enrolment, its history kept) or reopen it."""
    check_scope(actor, program.unit)
    return _set_closed(program, "program", closed, actor)


def delete_program(*, program: Program, actor) -> None:
    """Delete a program that nobody attended; one with attendance can only be closed (:class:`Conflict`)."""
    check_scope(actor, program.unit)
    course_ids = [c.id for c in program.courses]
    if _has_attendance(course_ids):
        raise Conflict(_l("People attended sessions of this program: it can be closed, not deleted."))
    before = {"title": program.title, "unit_id": program.unit_id, "year": program.year, "courses": len(course_ids)}
    for course in list(program.courses):
        _remove_course(course)
    program_id = program.id
    db.session.delete(program)
    db.session.flush()
    record_audit(actor=actor, action="program.delete", entity_type="program", entity_id=program_id, before=before)


# ---------------------------------------------------------------- courses

COURSE_FIELDS = ("code", "title", "hours", "capacity", "policy", "min_attendance", "pass_mark", "content_slug")


def update_course(*, course: Course, data: dict, actor) -> Course:
    """Correct a course's fields; completion rules that change refresh the rollups of its trainees."""
    check_scope(actor, course.program.unit)
    values = course_values({**_snapshot_raw(course, COURSE_FIELDS), **data}, course.program, course.id)
    db.session.refresh(course, ["seats_taken"])
    if values["capacity"] is not None and values["capacity"] < course.seats_taken:
        raise Conflict(
            _l("%(n)d people hold a seat: the capacity cannot be lower.", n=course.seats_taken),
            {"capacity": _l("At least %(n)d.", n=course.seats_taken)},
        )
    before = _snapshot(course, COURSE_FIELDS)
    attendance_changed = values["min_attendance"] != course.min_attendance
    mark_changed = values["pass_mark"] != course.pass_mark
    for key, value in values.items():
        setattr(course, key, value)
    db.session.flush()
    if mark_changed and ensure_final_assessment(course, actor) is None:
        regrade(course)  # the overall pass mark decides who passed
    if attendance_changed:
        refresh_people(enrolled_ids(course.id))
    _audit_changes(actor, "course.update", "course", course, before, COURSE_FIELDS)
    return course


def set_course_closed(*, course: Course, closed: bool, actor) -> Course:
    """Close a course to enrolment and new sessions (everything recorded stays), or reopen it."""
    check_scope(actor, course.program.unit)
    return _set_closed(course, "course", closed, actor)


def _remove_course(course: Course) -> None:
    graded = grading.assessments_of(course.id)
    required = grading.credentials_requiring(graded)
    for assessment in graded:
        requiring = required.get(assessment.id)
        if requiring:
            raise Conflict(
                _l(
                    "%(credentials)s requires passing %(title)s of this course: change that credential's rule first.",
                    credentials="、".join(requiring),
                    title=assessment.title,
                )
            )
    seated = sorted(enrolled_ids(course.id)) if course.assessed else []
    session_ids = [s.id for s in course.sessions]
    if session_ids:
        db.session.execute(delete(CourseSession).where(CourseSession.id.in_(session_ids)))
    assessments = select(Assessment.id).where(Assessment.course_id == course.id)
    db.session.execute(delete(QuizAttempt).where(QuizAttempt.assessment_id.in_(assessments)))
    db.session.execute(delete(AssessmentResult).where(AssessmentResult.assessment_id.in_(assessments)))
    db.session.execute(delete(Assessment).where(Assessment.course_id == course.id))
    db.session.execute(delete(EvaluationResponse).where(EvaluationResponse.course_id == course.id))
    db.session.execute(delete(EvaluationReceipt).where(EvaluationReceipt.course_id == course.id))
    db.session.execute(delete(Enrolment).where(Enrolment.course_id == course.id))
    db.session.delete(course)
    db.session.flush()
    if seated:  # their seats in an assessed course are gone: cohorts requiring a pass count them again
        refresh_standings(seated)


def delete_course(*, course: Course, actor) -> None:
    """Delete a course nobody attended, with its sessions and enrolments; otherwise :class:`Conflict`."""
    check_scope(actor, course.program.unit)
    if _has_attendance([course.id]):
        raise Conflict(_l("People attended sessions of this course: it can be closed, not deleted."))
    before = {
        "code": course.code,
        "title": course.title,
        "program_id": course.program_id,
        "sessions": len(course.sessions),
        "enrolments": db.session.scalar(
            select(db.func.count()).select_from(Enrolment).where(Enrolment.course_id == course.id)
        ),
    }
    course_id = course.id
    _remove_course(course)
    db.session.flush()
    record_audit(actor=actor, action="course.delete", entity_type="course", entity_id=course_id, before=before)


# ---------------------------------------------------------------- sessions

SESSION_FIELDS = ("starts_at", "ends_at", "hours", "mode", "place")


def _told(session: CourseSession) -> set[int]:
    """Who is told about a session: the people holding a seat in its course."""
    return enrolled_ids(session.course_id)


def update_session(*, session: CourseSession, data: dict, actor) -> CourseSession:
    """Reschedule or correct a session; the trainees are told of a new time or place (flushes)."""
    check_scope(actor, session.course.program.unit)
    if session.cancelled_at is not None:
        raise Conflict(_l("This session is cancelled: restore it before changing it."))
    values = session_values({**_snapshot_raw(session, SESSION_FIELDS), **data})
    before = _snapshot(session, SESSION_FIELDS)
    old_start = session.starts_at
    moved = values["starts_at"] != session.starts_at or values["place"] != session.place
    for key, value in values.items():
        setattr(session, key, value)
    db.session.flush()
    if not _audit_changes(actor, "session.update", "course_session", session, before, SESSION_FIELDS):
        return session
    # New hours or a new month move the hours; a new last start moves the month a completion counts in.
    refresh_people(_attendees([session.id]) | enrolled_ids(session.course_id))
    if moved:
        notify(
            _told(session),
            "session.rescheduled",
            link=path_for("training.my_course", course_id=session.course_id),
            course=session.course.title,
            old_starts_at=old_start.isoformat(),
            starts_at=session.starts_at.isoformat(),
            place=session.place,
        )
    return session


def cancel_session(*, session: CourseSession, reason: str | None, actor) -> int:
    """Cancel a session: attendance kept but not counted, the trainees told. Returns how many were told."""
    check_scope(actor, session.course.program.unit)
    if session.cancelled_at is not None:
        raise Conflict(_l("This session is already cancelled."))
    text = _reason(reason)
    session.cancelled_at, session.cancel_reason = utcnow(), text
    db.session.flush()
    # One session fewer: the hours of who attended, and who has completed the course, change.
    refresh_people(_attendees([session.id]) | enrolled_ids(session.course_id))
    told = notify(
        _told(session),
        "session.cancelled",
        link=path_for("training.my"),
        course=session.course.title,
        starts_at=session.starts_at.isoformat(),
        reason=text,
    )
    record_audit(
        actor=actor,
        action="session.cancel",
        entity_type="course_session",
        entity_id=session.id,
        before={"cancelled": False},
        after={"cancelled": True, "reason": text, "told": told},
    )
    return told


def restore_session(*, session: CourseSession, actor) -> CourseSession:
    """Undo a cancellation: the session and its attendance count again, the trainees told."""
    check_scope(actor, session.course.program.unit)
    if session.cancelled_at is None:
        raise Conflict(_l("This session is not cancelled."))
    reason = session.cancel_reason
    session.cancelled_at, session.cancel_reason = None, None
    db.session.flush()
    refresh_people(_attendees([session.id]) | enrolled_ids(session.course_id))
    notify(
        _told(session),
        "session.restored",
        link=path_for("training.my_course", course_id=session.course_id),
        course=session.course.title,
        starts_at=session.starts_at.isoformat(),
    )
    record_audit(
        actor=actor,
        action="session.restore",
        entity_type="course_session",
        entity_id=session.id,
        before={"cancelled": True, "reason": reason},
        after={"cancelled": False},
    )
    return session
