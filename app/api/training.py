"""API endpoints of training: programs, courses, sessions, enrolments, attendance, hours."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import abort, current_app

from app.api import schemas
from app.api.auth import api_user
from app.api.routes import bp
from app.core.errors import problem
from app.extensions import db
from app.ledger.queries import Period, person_hours
from app.org.queries import unit_by_code, unit_in_scope
from app.people import queries as people_queries
from app.people.models import Person
from app.training import services
from app.training.models import Course, CourseSession, Program

STAFF = ("admin", "coordinator")


def _staff_only() -> None:
    if not api_user().has_role(*STAFF):
        abort(403, description="Only coordinators and administrators do this.")


def _visible(model, object_id: int, unit_of, roles=STAFF):
    """Load an object whose unit the caller may see, else 404."""
    obj = db.session.get(model, object_id)
    if obj is None or not unit_in_scope(api_user(), unit_of(obj), roles):
        abort(404)
    return obj


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
    _staff_only()
    unit = unit_by_code(data.pop("unit_code"))
    if unit is None or not unit_in_scope(api_user(), unit):
        return problem(422, "Invalid input.", {"unit_code": ["Unknown unit."]})
    program = services.create_program(data=data, unit=unit, actor=api_user())
    db.session.commit()
    return {"id": program.id}


@bp.post("/courses")
@bp.arguments(schemas.CourseCreate)
@bp.response(201, schemas.Created)
def create_course(data):
    """Add a course to a program."""
    _staff_only()
    program = db.session.get(Program, data.pop("program_id"))
    if program is None or not unit_in_scope(api_user(), program.unit):
        return problem(422, "Invalid input.", {"program_id": ["Unknown program."]})
    if data.get("min_attendance") is None:
        data.pop("min_attendance", None)
    course = services.create_course(program=program, data=data, actor=api_user())
    db.session.commit()
    return {"id": course.id}


@bp.post("/sessions")
@bp.arguments(schemas.SessionCreate)
@bp.response(201, schemas.Created)
def create_session(data):
    """Schedule a session of a course."""
    _staff_only()
    course = db.session.get(Course, data.pop("course_id"))
    if course is None or not unit_in_scope(api_user(), course.program.unit):
        return problem(422, "Invalid input.", {"course_id": ["Unknown course."]})
    data["starts_at"], data["ends_at"] = _local(data["starts_at"]), _local(data["ends_at"])
    session = services.create_session(course=course, data=data, actor=api_user())
    db.session.commit()
    return {"id": session.id}


def _person_in_scope(person_id: int) -> Person | None:
    return people_queries.person_for(api_user(), person_id)


@bp.post("/courses/<int:course_id>/enrolments")
@bp.arguments(schemas.EnrolmentCreate)
@bp.response(201, schemas.EnrolmentSchema)
def enrol(data, course_id: int):
    """Enrol a person: 201 with status enrolled or waitlisted; 409 if already enrolled."""
    course = _visible(Course, course_id, lambda c: c.program.unit)
    person = _person_in_scope(data["person_id"])
    if person is None:
        return problem(422, "Invalid input.", {"person_id": ["Unknown person."]})
    enrolment = services.enrol(course=course, person=person, actor=api_user())
    db.session.commit()
    return enrolment


@bp.delete("/courses/<int:course_id>/enrolments/<int:person_id>")
@bp.response(204)
def withdraw(course_id: int, person_id: int):
    """Withdraw a person; the first on the waitlist is promoted."""
    course = _visible(Course, course_id, lambda c: c.program.unit)
    person = _person_in_scope(person_id)
    if person is None:
        abort(404)
    services.withdraw(course=course, person=person, actor=api_user())
    db.session.commit()
    return ""


@bp.put("/sessions/<int:session_id>/attendance/<int:person_id>")
@bp.arguments(schemas.AttendanceUpdate)
@bp.response(200, schemas.AttendanceSchema)
def mark_attendance(data, session_id: int, person_id: int):
    """Set one person's attendance at a session (idempotent)."""
    session = _visible(
        CourseSession, session_id, lambda s: s.course.program.unit, ("admin", "coordinator", "instructor")
    )
    person = people_queries.person_for(api_user(), person_id) or _enrolled_person(session, person_id)
    if person is None:
        abort(404)
    row = services.record_attendance(
        session=session, person=person, status=data["status"], reason=data["reason"], actor=api_user(), method="api"
    )
    db.session.commit()
    return row


def _enrolled_person(session: CourseSession, person_id: int) -> Person | None:
    # An instructor marks the people of their course even outside their unit.
    if person_id in services.enrolled_ids(session.course_id):
        return db.session.get(Person, person_id)
    return None


@bp.get("/people/<int:person_id>/hours")
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
