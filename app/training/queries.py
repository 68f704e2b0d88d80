"""Read-only training queries for the pages: programs in scope, rosters, grids, a trainee's courses."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, func, select

from ..extensions import db
from ..org.models import OrgUnit
from ..org.queries import in_scope
from ..people.models import Person
from .models import Attendance, Course, CourseContent, CourseSession, Enrolment, Program

TRAINING_STAFF = ("admin", "coordinator", "instructor")


def programs_for(viewer, year: int | None = None) -> Select:
    """Select the programs held by units ``viewer`` may see, newest first."""
    stmt = (
        select(Program)
        .where(in_scope(viewer, Program.unit_id, TRAINING_STAFF))
        .order_by(Program.year.desc(), Program.id.desc())
    )
    if year:
        stmt = stmt.where(Program.year == year)
    return stmt


def visible_program(viewer, program_id: int) -> Program | None:
    """Return the program if ``viewer`` may see it."""
    return db.session.scalar(
        select(Program).where(Program.id == program_id, in_scope(viewer, Program.unit_id, TRAINING_STAFF))
    )


def visible_course(viewer, course_id: int) -> Course | None:
    """Return the course if ``viewer`` may see its program."""
    return db.session.scalar(
        select(Course).join(Program).where(Course.id == course_id, in_scope(viewer, Program.unit_id, TRAINING_STAFF))
    )


def visible_session(viewer, session_id: int) -> CourseSession | None:
    """Return the session if ``viewer`` may see its course."""
    return db.session.scalar(
        select(CourseSession)
        .join(Course)
        .join(Program)
        .where(CourseSession.id == session_id, in_scope(viewer, Program.unit_id, TRAINING_STAFF))
    )


def enrolment_counts(course_ids: list[int]) -> dict[int, dict[str, int]]:
    """Return {course_id: {status: count}} in one query."""
    out: dict[int, dict[str, int]] = {cid: {} for cid in course_ids}
    if course_ids:
        rows = db.session.execute(
            select(Enrolment.course_id, Enrolment.status, func.count())
            .where(Enrolment.course_id.in_(course_ids))
            .group_by(Enrolment.course_id, Enrolment.status)
        )
        for cid, status, n in rows:
            out[cid][status] = n
    return out


def session_counts(course_ids: list[int]) -> dict[int, int]:
    """Return {course_id: number of scheduled sessions}."""
    if not course_ids:
        return {}
    return dict(
        db.session.execute(
            select(CourseSession.course_id, func.count())
            .where(CourseSession.course_id.in_(course_ids))
            .group_by(CourseSession.course_id)
        ).all()
    )


def roster(course: Course) -> list[tuple[Enrolment, Person]]:
    """Return the course's enrolments (waitlist in order after the enrolled), with people."""
    return list(
        db.session.execute(
            select(Enrolment, Person)
            .join(Person, Person.id == Enrolment.person_id)
            .where(Enrolment.course_id == course.id)
            .order_by(
                Enrolment.status == "withdrawn",
                Enrolment.status == "waitlisted",
                Enrolment.waitlist_position,
                Person.name,
            )
        ).all()
    )


def attendance_grid(course: Course) -> dict[tuple[int, int], Attendance]:
    """Return {(person_id, session_id): attendance} for every session of the course."""
    rows = db.session.scalars(
        select(Attendance)
        .join(CourseSession, CourseSession.id == Attendance.session_id)
        .where(CourseSession.course_id == course.id)
    )
    return {(a.person_id, a.session_id): a for a in rows}


def session_roster(session: CourseSession) -> list[tuple[Person, Attendance | None]]:
    """Return the people holding a seat in the session's course, with their attendance if marked."""
    return list(
        db.session.execute(
            select(Person, Attendance)
            .join(Enrolment, Enrolment.person_id == Person.id)
            .outerjoin(Attendance, (Attendance.person_id == Person.id) & (Attendance.session_id == session.id))
            .where(
                Enrolment.course_id == session.course_id,
                Enrolment.status.in_(("enrolled", "completed", "not_completed")),
            )
            .order_by(Person.name, Person.id)
        ).all()
    )


def checked_in_count(session: CourseSession) -> int:
    """Count attendance rows of a session that count as attended."""
    return db.session.scalar(
        select(func.count()).where(Attendance.session_id == session.id, Attendance.status.in_(("present", "late")))
    )


def my_enrolments(person: Person) -> list[tuple[Enrolment, Course, Program]]:
    """Return a trainee's enrolments, newest program first."""
    return list(
        db.session.execute(
            select(Enrolment, Course, Program)
            .join(Course, Course.id == Enrolment.course_id)
            .join(Program, Program.id == Course.program_id)
            .where(Enrolment.person_id == person.id)
            .order_by(Program.year.desc(), Course.code)
        ).all()
    )


def upcoming_sessions(person: Person, now: datetime, limit: int = 10) -> list[CourseSession]:
    """Return the next sessions of the courses where the person holds a seat."""
    return list(
        db.session.scalars(
            select(CourseSession)
            .join(Enrolment, Enrolment.course_id == CourseSession.course_id)
            .where(Enrolment.person_id == person.id, Enrolment.status == "enrolled", CourseSession.ends_at >= now)
            .order_by(CourseSession.starts_at)
            .limit(limit)
        )
    )


def open_courses_for(person: Person, year: int) -> list[Course]:
    """Return open-enrolment courses of programs held at or above the person's unit."""
    ancestor_ids = person.unit.path_ids
    taken = select(Enrolment.course_id).where(Enrolment.person_id == person.id, Enrolment.status != "withdrawn")
    return list(
        db.session.scalars(
            select(Course)
            .join(Program)
            .where(
                Program.unit_id.in_(ancestor_ids),
                Course.policy == "open",
                Program.year >= year,
                Course.id.not_in(taken),
            )
            .order_by(Program.year, Course.code)
        )
    )


def content_for(course: Course) -> CourseContent | None:
    """Return the synced content of a course, if it names one."""
    if not course.content_slug:
        return None
    return db.session.scalar(select(CourseContent).where(CourseContent.slug == course.content_slug))


def unit_options(viewer) -> list[OrgUnit]:
    """Units offered in selects: the viewer's units down to streets and stations."""
    return list(
        db.session.scalars(
            select(OrgUnit)
            .where(
                in_scope(viewer, OrgUnit.id),
                OrgUnit.kind.in_(("province", "city", "district", "street", "centre", "station")),
            )
            .order_by(OrgUnit.path)
        )
    )
