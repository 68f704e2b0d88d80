"""API endpoints of training: programs, courses, sessions, enrolments, attendance, hours."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from flask import abort, current_app

from ..auth.permissions import MANAGE, TEACH, can, roles_for
from ..core.access import found
from ..core.errors import problem
from ..core.i18n import _
from ..ledger.queries import Period, person_hours
from ..org.models import OrgUnit
from ..org.queries import unit_for_code
from ..people import queries as people_queries
from ..people.models import Person
from ..training import changes, queries, services
from ..training.models import SEATED, Course, CourseSession, Program
from . import schemas
from .auth import api_user
from .routes import bp, page_of


def _managers_only() -> None:
    if not can(api_user(), MANAGE):
        abort(403, description=_("Only coordinators and administrators do this."))


def _local(value: datetime) -> datetime:
    # Times without an offset are local time of the deployment (PRODUCT.md §3).
    if value.tzinfo is None:
        return value.replace(tzinfo=ZoneInfo(current_app.config["LMS_TIMEZONE"]))
    return value


@bp.post("/programs")
@bp.arguments(schemas.ProgramCreate)
@bp.response(201, schemas.Created)
def create_program(data):
    """Create a program held by a unit in the caller's scope."""
    _managers_only()
    unit = unit_for_code(api_user(), data.pop("unit_code"))
    if unit is None:
        return problem(422, _("Invalid input."), {"unit_code": [_("Unknown unit.")]})
    program = services.create_program(data=data, unit=unit, actor=api_user())
    return {"id": program.id}


@bp.post("/courses")
@bp.arguments(schemas.CourseCreate)
@bp.response(201, schemas.Created)
def create_course(data):
    """Add a course to a program."""
    _managers_only()
    program = queries.visible_program(api_user(), data.pop("program_id"), MANAGE)
    if program is None:
        return problem(422, _("Invalid input."), {"program_id": [_("Unknown program.")]})
    if data.get("min_attendance") is None:
        data.pop("min_attendance", None)
    course = services.create_course(program=program, data=data, actor=api_user())
    return {"id": course.id}


@bp.post("/sessions")
@bp.arguments(schemas.SessionCreate)
@bp.response(201, schemas.Created)
def create_session(data):
    """Schedule a session of a course."""
    _managers_only()
    course = queries.visible_course(api_user(), data.pop("course_id"), MANAGE)
    if course is None:
        return problem(422, _("Invalid input."), {"course_id": [_("Unknown course.")]})
    data["starts_at"], data["ends_at"] = _local(data["starts_at"]), _local(data["ends_at"])
    session = services.create_session(course=course, data=data, actor=api_user())
    return {"id": session.id}


@bp.patch("/programs/<id:program_id>")
@bp.arguments(schemas.ProgramUpdate)
@bp.response(200, schemas.ProgramSchema)
def update_program(data, program_id: int):
    """Correct a program, or close or reopen it (audited)."""
    program = found(queries.visible_program(api_user(), program_id, MANAGE))
    closed = data.pop("closed", None)
    if data:
        changes.update_program(program=program, data=data, actor=api_user())
    if closed is not None:
        changes.set_program_closed(program=program, closed=closed, actor=api_user())
    return program_json(program)


@bp.delete("/programs/<id:program_id>")
@bp.response(204)
def delete_program(program_id: int):
    """Delete a program nobody attended; 409 if someone did (close it instead)."""
    program = found(queries.visible_program(api_user(), program_id, MANAGE))
    changes.delete_program(program=program, actor=api_user())
    return ""


@bp.patch("/courses/<id:course_id>")
@bp.arguments(schemas.CourseUpdate)
@bp.response(200, schemas.CourseSchema)
def update_course(data, course_id: int):
    """Correct a course, or close or reopen it (audited; a new completion rule refreshes the hours)."""
    course = found(queries.visible_course(api_user(), course_id, MANAGE))
    closed = data.pop("closed", None)
    if data:
        changes.update_course(course=course, data=data, actor=api_user())
    if closed is not None:
        changes.set_course_closed(course=course, closed=closed, actor=api_user())
    return courses_json([course])[0]


@bp.delete("/courses/<id:course_id>")
@bp.response(204)
def delete_course(course_id: int):
    """Delete a course nobody attended, with its sessions and enrolments; 409 if someone did."""
    course = found(queries.visible_course(api_user(), course_id, MANAGE))
    changes.delete_course(course=course, actor=api_user())
    return ""


@bp.patch("/sessions/<id:session_id>")
@bp.arguments(schemas.SessionUpdate)
@bp.response(200, schemas.SessionSchema)
def update_session(data, session_id: int):
    """Reschedule or correct a session; the enrolled trainees are told of a new time or place."""
    session = found(queries.visible_session(api_user(), session_id, MANAGE))
    for key in ("starts_at", "ends_at"):
        if key in data:
            data[key] = _local(data[key])
    changes.update_session(session=session, data=data, actor=api_user())
    return session_json(session)


@bp.post("/sessions/<id:session_id>/cancel")
@bp.arguments(schemas.Cancellation)
@bp.response(200, schemas.SessionSchema)
def cancel_session(data, session_id: int):
    """Cancel a session: its attendance is kept but no longer counts; the trainees are told the reason."""
    session = found(queries.visible_session(api_user(), session_id, MANAGE))
    changes.cancel_session(session=session, reason=data["reason"], actor=api_user())
    return session_json(session)


@bp.post("/sessions/<id:session_id>/restore")
@bp.response(200, schemas.SessionSchema)
def restore_session(session_id: int):
    """Undo a cancellation: the session and its attendance count again."""
    session = found(queries.visible_session(api_user(), session_id, MANAGE))
    changes.restore_session(session=session, actor=api_user())
    return session_json(session)


def _person_in_scope(person_id: int) -> Person | None:
    return people_queries.person_for(api_user(), person_id)


@bp.post("/courses/<id:course_id>/enrolments")
@bp.arguments(schemas.EnrolmentCreate)
@bp.response(201, schemas.EnrolmentSchema)
def enrol(data, course_id: int):
    """Enrol a person: 201 with status enrolled or waitlisted; 409 if already enrolled."""
    course = found(queries.visible_course(api_user(), course_id, MANAGE))
    person = _person_in_scope(data["person_id"])
    if person is None:
        return problem(422, _("Invalid input."), {"person_id": [_("Unknown person.")]})
    enrolment = services.enrol(course=course, person=person, actor=api_user())
    return enrolment


@bp.delete("/courses/<id:course_id>/enrolments/<id:person_id>")
@bp.response(204)
def withdraw(course_id: int, person_id: int):
    """Withdraw a person; the first on the waitlist is promoted."""
    course = found(queries.visible_course(api_user(), course_id, MANAGE))
    person = _person_in_scope(person_id)
    if person is None:
        abort(404)
    services.withdraw(course=course, person=person, actor=api_user())
    return ""


@bp.put("/sessions/<id:session_id>/attendance/<id:person_id>")
@bp.arguments(schemas.AttendanceUpdate)
@bp.response(200, schemas.AttendanceSchema)
def mark_attendance(data, session_id: int, person_id: int):
    """Set one person's attendance at a session (idempotent)."""
    session = found(queries.visible_session(api_user(), session_id, TEACH))
    # An instructor marks the people of their course even outside their unit.
    person = people_queries.person_for(api_user(), person_id) or queries.seated_person(session, person_id)
    if person is None:
        abort(404)
    row = services.record_attendance(
        session=session, person=person, status=data["status"], reason=data["reason"], actor=api_user(), method="api"
    )
    return row


@bp.get("/people/<id:person_id>/hours")
@bp.arguments(schemas.HoursArgs, location="query")
@bp.response(200, schemas.HoursSchema)
def hours(args, person_id: int):
    """Training and supervision hours and courses completed, for a year or all time."""
    user = api_user()
    person = people_queries.person_for(user, person_id)
    if person is None and user.person_id != person_id:
        abort(404)
    year = args.get("year")
    ledger = person_hours(person_id, Period.year(year) if year else None)
    return {"person_id": person_id, "year": year, **ledger.as_dict()}


# --- read-back ---------------------------------------------------------------------------------------------------


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["LMS_TIMEZONE"])


def program_json(p: Program) -> dict:
    return {
        "id": p.id,
        "title": p.title,
        "kind": p.kind,
        "unit_code": p.unit.code,
        "year": p.year,
        "tier": p.tier,
        "starts_on": p.starts_on,
        "ends_on": p.ends_on,
        "audience": p.audience,
        "closed": p.closed_at is not None,
    }


def courses_json(courses: list[Course]) -> list[dict]:
    counts = queries.enrolment_counts([c.id for c in courses])
    return [
        {
            "id": c.id,
            "program_id": c.program_id,
            "code": c.code,
            "title": c.title,
            "hours": float(c.hours),
            "capacity": c.capacity,
            "policy": c.policy,
            "min_attendance": float(c.min_attendance),
            "pass_mark": c.pass_mark,
            "content_slug": c.content_slug,
            "enrolled": sum(counts[c.id].get(s, 0) for s in SEATED),
            "waitlisted": counts[c.id].get("waitlisted", 0),
            "closed": c.closed_at is not None,
        }
        for c in courses
    ]


def session_json(s: CourseSession) -> dict:
    return {
        "id": s.id,
        "course_id": s.course_id,
        "starts_at": s.starts_at.astimezone(_zone()),
        "ends_at": s.ends_at.astimezone(_zone()),
        "hours": float(s.hours),
        "mode": s.mode,
        "place": s.place,
        "cancelled": s.cancelled_at is not None,
        "cancel_reason": s.cancel_reason,
    }


def _unit_arg(code: str | None) -> OrgUnit | None:
    if not code:
        return None
    unit = unit_for_code(api_user(), code, roles_for(TEACH))
    if unit is None:
        abort(404, description=_("Unknown unit."))
    return unit


@bp.get("/programs")
@bp.arguments(schemas.ProgramArgs, location="query")
@bp.response(200, schemas.ProgramPage)
def list_programs(args):
    """Programs held by units in the caller's scope, newest first (filter by year and unit subtree)."""
    stmt = queries.programs_for(api_user(), args.get("year"), within=_unit_arg(args.get("unit")))
    result = page_of(stmt, args)
    result["items"] = [program_json(p) for p in result["items"]]
    return result


@bp.get("/programs/<id:program_id>")
@bp.response(200, schemas.ProgramDetail)
def get_program(program_id: int):
    """One program with its courses."""
    program = found(queries.visible_program(api_user(), program_id))
    return {**program_json(program), "courses": courses_json(program.courses)}


@bp.get("/courses")
@bp.arguments(schemas.CourseArgs, location="query")
@bp.response(200, schemas.CoursePage)
def list_courses(args):
    """Courses of programs in the caller's scope (filter by program)."""
    if args.get("program_id") is not None and queries.visible_program(api_user(), args["program_id"]) is None:
        abort(404, description=_("Unknown program."))  # like a unit filter: not an empty page
    result = page_of(queries.courses_for(api_user(), args.get("program_id")), args)
    result["items"] = courses_json(result["items"])
    return result


@bp.get("/courses/<id:course_id>")
@bp.response(200, schemas.CourseSchema)
def get_course(course_id: int):
    """One course, with its seat counts."""
    course = found(queries.visible_course(api_user(), course_id))
    return courses_json([course])[0]


@bp.get("/sessions")
@bp.arguments(schemas.SessionArgs, location="query")
@bp.response(200, schemas.SessionPage)
def list_sessions(args):
    """Sessions of courses in the caller's scope, in time order (filter by course and by day)."""
    if args.get("course_id") is not None and queries.visible_course(api_user(), args["course_id"]) is None:
        abort(404, description=_("Unknown course."))
    first, last = args.get("starts_from"), args.get("starts_to")
    stmt = queries.sessions_for(
        api_user(),
        args.get("course_id"),
        starts_from=datetime.combine(first, time.min, _zone()) if first else None,
        starts_to=datetime.combine(last, time.max, _zone()) if last else None,
    )
    result = page_of(stmt, args)
    result["items"] = [session_json(s) for s in result["items"]]
    return result


@bp.get("/sessions/<id:session_id>")
@bp.response(200, schemas.SessionSchema)
def get_session(session_id: int):
    """One session."""
    return session_json(found(queries.visible_session(api_user(), session_id)))


@bp.get("/courses/<id:course_id>/enrolments")
@bp.arguments(schemas.EnrolmentArgs, location="query")
@bp.response(200, schemas.EnrolmentPage)
def list_enrolments(args, course_id: int):
    """The course's enrolments: seats first, then the waitlist in order (filter by status)."""
    course = found(queries.visible_course(api_user(), course_id))
    return page_of(queries.enrolments_of(course, args.get("status")), args)


@bp.get("/sessions/<id:session_id>/attendance")
@bp.arguments(schemas.PageArgs, location="query")
@bp.response(200, schemas.AttendancePage)
def list_attendance(args, session_id: int):
    """The attendance marked at a session."""
    session = found(queries.visible_session(api_user(), session_id))
    return page_of(queries.attendance_of(session), args)


@bp.put("/sessions/<id:session_id>/attendance")
@bp.arguments(schemas.AttendanceBatch)
@bp.response(200, schemas.AttendancePage)
def mark_attendance_batch(data, session_id: int):
    """Set the attendance of many people at once: all are written, or none (each error names its item)."""
    session = found(queries.visible_session(api_user(), session_id, TEACH))
    rows = services.record_attendance_batch(session=session, items=data["items"], actor=api_user(), method="api")
    # Shaped like the session's attendance list; dumped before the commit expires every row.
    answer = schemas.AttendancePage().dump({"items": rows, "total": len(rows)})
    return answer
