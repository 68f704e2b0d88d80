"""Read-only training queries for the pages and the API: programs in scope, rosters, grids, a trainee's courses."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Select, bindparam, case, exists, func, select
from sqlalchemy.orm import Bundle, contains_eager, joinedload, selectinload

from ..auth.permissions import MANAGE, TEACH, roles_for
from ..core.i18n import _
from ..core.statements import prepared
from ..coverage.models import Cohort
from ..extensions import db
from ..ledger.ce import ce_account
from ..ledger.queries import completes, course_progress, person_totals
from ..notices.services import notices_for
from ..org.models import OrgUnit
from ..org.queries import in_scope, subtree_ids, unit_in_scope, visible_units
from ..people.models import Person
from .models import (
    ATTENDED,
    SEATED,
    Assessment,
    AssessmentResult,
    Attendance,
    Course,
    CourseContent,
    CourseSession,
    Enrolment,
    Lesson,
    Program,
)

# Units offered in selects: down to streets and stations (deeper units are rare organisers).
OPTION_KINDS = ("province", "city", "district", "street", "centre", "station")


def _scope(viewer, permission: str):
    """WHERE clause: the programs held by units where ``viewer`` holds ``permission``."""
    return in_scope(viewer, Program.unit_id, roles_for(permission))


def programs_for(viewer, year: int | None = None, within: OrgUnit | None = None) -> Select:
    """Select the programs held by units ``viewer`` may see (of ``year``, under ``within``), newest first."""
    stmt = (
        select(Program)
        .options(selectinload(Program.unit))
        .where(_scope(viewer, TEACH))
        .order_by(Program.year.desc(), Program.id.desc())
    )
    if year:
        stmt = stmt.where(Program.year == year)
    if within is not None:
        stmt = stmt.where(Program.unit_id.in_(subtree_ids(within)))
    return stmt


def program_years(viewer) -> list[int]:
    """The years of the programs ``viewer`` may see, newest first."""
    stmt = select(Program.year).where(_scope(viewer, TEACH)).distinct().order_by(Program.year.desc())
    return list(db.session.scalars(stmt))


def program_list(viewer, year: int | None = None) -> list[Program]:
    """Return the programs ``viewer`` may see (of ``year``), with their units and courses."""
    return list(db.session.scalars(programs_for(viewer, year).options(selectinload(Program.courses))))


def visible_program(viewer, program_id: int, permission: str = TEACH) -> Program | None:
    """Return the program if its unit is one where ``viewer`` holds ``permission``."""
    return db.session.scalar(select(Program).where(Program.id == program_id, _scope(viewer, permission)))


def visible_course(viewer, course_id: int, permission: str = TEACH) -> Course | None:
    """Return the course if its program's unit is one where ``viewer`` holds ``permission``."""
    return db.session.scalar(select(Course).join(Program).where(Course.id == course_id, _scope(viewer, permission)))


def visible_assessment(viewer, assessment_id: int, permission: str = TEACH) -> Assessment | None:
    """Return the assessment if its course's unit is one where ``viewer`` holds ``permission``."""
    return db.session.scalar(
        select(Assessment)
        .join(Course, Course.id == Assessment.course_id)
        .join(Program)
        .where(Assessment.id == assessment_id, _scope(viewer, permission))
    )


def visible_session(viewer, session_id: int, permission: str = TEACH) -> CourseSession | None:
    """Return the session if its course's unit is one where ``viewer`` holds ``permission``."""
    return db.session.scalar(
        select(CourseSession)
        .join(Course)
        .join(Program)
        .where(CourseSession.id == session_id, _scope(viewer, permission))
    )


def courses_for(viewer, program_id: int | None = None) -> Select:
    """Select the courses of the programs ``viewer`` may see (of one program, if given), by id."""
    visible = select(Program.id).where(_scope(viewer, TEACH))
    stmt = select(Course).where(Course.program_id.in_(visible)).order_by(Course.id)
    if program_id is not None:
        stmt = stmt.where(Course.program_id == program_id)
    return stmt


def sessions_for(
    viewer, course_id: int | None = None, starts_from: datetime | None = None, starts_to: datetime | None = None
) -> Select:
    """Select the sessions of the courses ``viewer`` may see (of one course, starting in the times), by time."""
    visible = select(Program.id).where(_scope(viewer, TEACH))
    stmt = (
        select(CourseSession)
        .join(Course, Course.id == CourseSession.course_id)
        .where(Course.program_id.in_(visible))
        .order_by(CourseSession.starts_at, CourseSession.id)
    )
    if course_id is not None:
        stmt = stmt.where(CourseSession.course_id == course_id)
    if starts_from is not None:
        stmt = stmt.where(CourseSession.starts_at >= starts_from)
    if starts_to is not None:
        stmt = stmt.where(CourseSession.starts_at <= starts_to)
    return stmt


def enrolments_of(course: Course, status: str | None = None) -> Select:
    """Select a course's enrolments (of one status, if given): seats first, then the waitlist in order."""
    stmt = (
        select(Enrolment)
        .where(Enrolment.course_id == course.id)
        .order_by(Enrolment.status == "withdrawn", Enrolment.status == "waitlisted", Enrolment.waitlist_position)
        .order_by(Enrolment.id)
    )
    if status:
        stmt = stmt.where(Enrolment.status == status)
    return stmt


def attendance_of(session: CourseSession) -> Select:
    """Select the attendance marked at a session, by person."""
    return select(Attendance).where(Attendance.session_id == session.id).order_by(Attendance.person_id)


def enrolled_ids(course_id: int) -> set[int]:
    """Return the ids of the people holding a seat in a course."""
    return set(
        db.session.scalars(
            select(Enrolment.person_id).where(Enrolment.course_id == course_id, Enrolment.status.in_(SEATED))
        )
    )


def seated_person(session: CourseSession, person_id: int) -> Person | None:
    """Return the person if they hold a seat in the session's course."""
    return db.session.scalar(
        select(Person)
        .join(Enrolment, Enrolment.person_id == Person.id)
        .where(Person.id == person_id, Enrolment.course_id == session.course_id, Enrolment.status.in_(SEATED))
    )


def seats_by_digest(course_id: int, digests: set[str]) -> dict[str, int]:
    """Map the ID-number digests of people holding a seat in the course to their ids."""
    if not digests:
        return {}
    return dict(
        db.session.execute(
            select(Person.id_number_hash, Person.id)
            .join(Enrolment, Enrolment.person_id == Person.id)
            .where(Person.id_number_hash.in_(digests), Enrolment.course_id == course_id, Enrolment.status.in_(SEATED))
        ).all()
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
    """Return {course_id: number of scheduled sessions} (a cancelled session is not scheduled)."""
    if not course_ids:
        return {}
    return dict(
        db.session.execute(
            select(CourseSession.course_id, func.count())
            .where(CourseSession.course_id.in_(course_ids), CourseSession.cancelled_at.is_(None))
            .group_by(CourseSession.course_id)
        ).all()
    )


def program_page(viewer, program: Program) -> dict[str, object]:
    """Return what the program page shows: its courses' seats and sessions, and whether ``viewer`` may edit."""
    ids = [c.id for c in program.courses]
    return {
        "program": program,
        "counts": enrolment_counts(ids),
        "sessions": session_counts(ids),
        "can_edit": unit_in_scope(viewer, program.unit, roles_for(MANAGE)),
    }


def roster(course: Course) -> list[tuple[Enrolment, Person]]:
    """Return the course's enrolments (waitlist in order after the enrolled), with people."""
    return list(
        db.session.execute(
            select(Enrolment, Person)
            .join(Person, Person.id == Enrolment.person_id)
            .where(Enrolment.course_id == course.id)
            .options(joinedload(Person.unit))  # the roster shows each person's unit
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


def cohort_options(viewer) -> list[Cohort]:
    """Return the cohorts of the units ``viewer`` manages, offered for enrolling a whole cohort."""
    return list(
        db.session.scalars(
            select(Cohort)
            .where(in_scope(viewer, Cohort.unit_id, roles_for(MANAGE)))
            .order_by(Cohort.year.desc(), Cohort.name)
        )
    )


def visible_cohort(viewer, cohort_id: int) -> Cohort | None:
    """Return the cohort if it belongs to a unit ``viewer`` manages."""
    return db.session.scalar(
        select(Cohort).where(Cohort.id == cohort_id, in_scope(viewer, Cohort.unit_id, roles_for(MANAGE)))
    )


def course_page(viewer, course: Course) -> dict[str, object]:
    """Return what the course page shows: roster, attendance grid, progress, content, cohorts, edit right."""
    return {
        "course": course,
        "roster": roster(course),
        "grid": attendance_grid(course),
        "progress": course_progress(course),
        "content": content_for(course),
        "cohorts": cohort_options(viewer),
        "can_edit": unit_in_scope(viewer, course.program.unit, roles_for(MANAGE)),
    }


def session_roster(session: CourseSession) -> list[tuple[Person, Attendance | None]]:
    """Return the people holding a seat in the session's course, with their attendance if marked."""
    return list(
        db.session.execute(
            select(Person, Attendance)
            .join(Enrolment, Enrolment.person_id == Person.id)
            .outerjoin(Attendance, (Attendance.person_id == Person.id) & (Attendance.session_id == session.id))
            .where(Enrolment.course_id == session.course_id, Enrolment.status.in_(SEATED))
            .options(joinedload(Person.unit))  # the roster shows each person's unit
            .order_by(Person.name, Person.id)
        ).all()
    )


def checked_in_count(session: CourseSession) -> int:
    """Count attendance rows of a session that count as attended."""
    return db.session.scalar(
        select(func.count()).where(Attendance.session_id == session.id, Attendance.status.in_(("present", "late")))
    )


def attendance_count(session: CourseSession) -> int:
    """Count every attendance row of a session (any status)."""
    return db.session.scalar(select(func.count()).where(Attendance.session_id == session.id)) or 0


def deletion_consequences(courses: list[Course]) -> list[str]:
    """Say what deleting these courses removes (the confirmation page of a deletion)."""
    ids = [c.id for c in courses]
    sessions = db.session.scalar(select(func.count()).where(CourseSession.course_id.in_(ids)))
    enrolments = db.session.scalar(select(func.count()).select_from(Enrolment).where(Enrolment.course_id.in_(ids)))
    out = [
        _("%(n)d courses, %(s)d sessions and %(e)d enrolments will be removed.", n=len(ids), s=sessions, e=enrolments),
    ]
    assessments, sittings = db.session.execute(
        select(func.count(Assessment.id.distinct()), func.count(AssessmentResult.id))
        .select_from(Assessment)
        .outerjoin(AssessmentResult, AssessmentResult.assessment_id == Assessment.id)
        .where(Assessment.course_id.in_(ids))
    ).one()
    if assessments:
        out.append(_("%(a)d assessments and the %(s)d scores entered for them go too.", a=assessments, s=sittings))
    out.append(_("Nothing that counts is lost: nobody attended. This cannot be undone."))
    return out


def check_in_figures(session: CourseSession) -> dict[str, int]:
    """Return how many have checked in to the session and how many hold a seat in its course."""
    return {"checked_in": checked_in_count(session), "seats": len(enrolled_ids(session.course_id))}


def session_by_id(session_id: int) -> CourseSession | None:
    """Return a session by id (the check-in page: who may check in is the service's rule)."""
    return db.session.get(CourseSession, session_id)


def course_by_id(course_id: int) -> Course | None:
    """Return a course by id (a trainee's pages: who may see it is decided by the caller)."""
    return db.session.get(Course, course_id)


def holds_seat(course_id: int, person_id: int) -> bool:
    """Whether the person holds a seat (enrolled, completed or not) in the course."""
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    Enrolment.course_id == course_id, Enrolment.person_id == person_id, Enrolment.status.in_(SEATED)
                )
            )
        )
    )


def my_course(person: Person, course_id: int) -> Course | None:
    """Return the course if ``person`` holds a seat in it."""
    return db.session.scalar(
        select(Course)
        .join(Enrolment, Enrolment.course_id == Course.id)
        .where(Course.id == course_id, Enrolment.person_id == person.id, Enrolment.status.in_(SEATED))
    )


def _progress_counts(person_id):
    """The course's (``Course.id`` of the enclosing statement) scheduled sessions, and those of them
    ``person_id`` (a column or a bound parameter) attended, one row at most each: two scalar subqueries."""
    attended = Attendance.__table__.alias("mine")
    scheduled = (
        select(func.count())
        .where(CourseSession.course_id == Course.id, CourseSession.cancelled_at.is_(None))
        .scalar_subquery()
    )
    mine = (
        select(func.count())
        .select_from(attended)
        .join(CourseSession, CourseSession.id == attended.c.session_id)
        .where(
            CourseSession.course_id == Course.id,
            CourseSession.cancelled_at.is_(None),
            attended.c.person_id == person_id,
            attended.c.status.in_(ATTENDED),
        )
        .scalar_subquery()
    )
    return scheduled, mine


def _waitlist_place():
    """The place of the enclosing statement's waitlisted ``Enrolment`` in its course's queue (1 = next to get
    a seat), whatever the sequence numbers of those who left it."""
    queued = Enrolment.__table__.alias("queued")
    return (
        select(func.count())
        .where(
            queued.c.course_id == Enrolment.course_id,
            queued.c.status == "waitlisted",
            queued.c.waitlist_position <= Enrolment.waitlist_position,
        )
        .scalar_subquery()
    )


@prepared
def _my_courses_statement():
    """A person's enrolments with their courses and programs, and per row the figures the page shows beside
    it: the course's scheduled sessions, those of them the person attended, and, on a waitlist, the person's
    place in it."""
    return (
        select(
            # What the page reads of them, as plain rows: no entity to build and track for a read-only page.
            Bundle("enrolment", Enrolment.status, Enrolment.score, Enrolment.passed),
            Bundle("course", Course.id, Course.title, Course.assessed, Course.policy, Course.min_attendance),
            Bundle("program", Program.title),
            *_progress_counts(Enrolment.person_id),
            case((Enrolment.status == "waitlisted", _waitlist_place())),
        )
        .join(Course, Course.id == Enrolment.course_id)
        .join(Program, Program.id == Course.program_id)
        .where(Enrolment.person_id == bindparam("person_id"))
        .order_by(Program.year.desc(), Course.code)
    )


def my_courses(person: Person) -> tuple[list[tuple[Enrolment, Course, Program]], dict[int, dict], dict[int, int]]:
    """A trainee's enrolments (newest program first), their progress per course (as :func:`my_progress`) and
    their places on waitlists (as :func:`waitlist_ranks`): one statement."""
    enrolments, counts, ranks = [], {}, {}
    for enrolment, course, program, scheduled, mine, rank in db.session.execute(
        _my_courses_statement(), {"person_id": person.id}
    ):
        enrolments.append((enrolment, course, program))
        counts[course.id] = (int(scheduled), int(mine))
        if rank:
            ranks[course.id] = int(rank)
    return enrolments, _progress(counts, enrolments, list(counts)), ranks


@prepared
def _my_progress_statement():
    """Per course: its scheduled sessions, and those of them the person attended."""
    return select(Course.id, *_progress_counts(bindparam("person_id"))).where(
        Course.id.in_(bindparam("course_ids", expanding=True))
    )


def my_progress(person: Person, course_ids: list[int]) -> dict[int, dict]:
    """Return {course_id: sessions attended, sessions scheduled, completed} of one person, in two statements."""
    if not course_ids:
        return {}
    counts = {
        course_id: (int(scheduled), int(mine))
        for course_id, scheduled, mine in db.session.execute(
            _my_progress_statement(), {"person_id": person.id, "course_ids": list(course_ids)}
        )
    }
    enrolments = db.session.execute(
        select(Enrolment, Course)
        .join(Course, Course.id == Enrolment.course_id)
        .where(Enrolment.person_id == person.id, Enrolment.course_id.in_(course_ids))
    ).all()
    return _progress(counts, enrolments, course_ids)


def _progress(counts: dict[int, tuple[int, int]], enrolments, course_ids: list[int]) -> dict[int, dict]:
    """The progress per course of ``course_ids`` from its (scheduled, attended) counts and the person's
    (Enrolment, Course, …) rows: completion is decided by :func:`completes` (the rule of :func:`completions`,
    without running it again for one person)."""
    done = set()
    for enrolment, course, *_rest in enrolments:
        scheduled, mine = counts.get(course.id, (0, 0))
        if course.id in course_ids and completes(enrolment.status, enrolment.passed, course, mine, scheduled):
            done.add(course.id)
    return {
        cid: {"attended": counts.get(cid, (0, 0))[1], "scheduled": counts.get(cid, (0, 0))[0], "completed": cid in done}
        for cid in course_ids
    }


def my_course_page(person: Person, course: Course) -> dict[str, object]:
    """Return what a trainee's course page shows: the course, its content, and their progress."""
    return {"course": course, "content": content_for(course), "progress": my_progress(person, [course.id])[course.id]}


@prepared
def _upcoming_statement(limit: int):
    return (
        select(CourseSession)
        .join(Enrolment, Enrolment.course_id == CourseSession.course_id)
        .join(Course, Course.id == CourseSession.course_id)
        .options(contains_eager(CourseSession.course))
        .where(
            Enrolment.person_id == bindparam("person_id"),
            Enrolment.status == "enrolled",
            CourseSession.ends_at >= bindparam("now"),
        )
        .order_by(CourseSession.starts_at)
        .limit(limit)
    )


def upcoming_sessions(person: Person, now: datetime, limit: int = 10) -> list[CourseSession]:
    """Return the next sessions of the courses where the person holds a seat, with their courses.

    Cancelled sessions stay in the list (marked on the page), so a trainee sees that one is off.
    """
    return list(db.session.scalars(_upcoming_statement(limit), {"person_id": person.id, "now": now}))


@prepared
def _open_courses_statement():
    taken = select(Enrolment.course_id).where(
        Enrolment.person_id == bindparam("person_id"), Enrolment.status != "withdrawn"
    )
    return (
        select(Course)
        .join(Program, Program.id == Course.program_id)
        .join(OrgUnit, OrgUnit.id == Program.unit_id)
        .options(contains_eager(Course.program).contains_eager(Program.unit))
        .where(
            Program.unit_id.in_(bindparam("unit_ids", expanding=True)),
            Course.policy == "open",
            Course.closed_at.is_(None),
            Program.closed_at.is_(None),
            Program.year >= bindparam("year"),
            Course.id.not_in(taken),
        )
        .order_by(Program.year, Course.code)
    )


def open_courses_for(person: Person, year: int) -> list[Course]:
    """Return open-enrolment courses of programs held at or above the person's unit, with program and unit."""
    params = {"person_id": person.id, "unit_ids": list(person.unit.path_ids), "year": year}
    return list(db.session.scalars(_open_courses_statement(), params))


def trainee_page(person: Person, year: int, now: datetime, today: date) -> dict[str, object]:
    """Return what a trainee's page shows: courses and progress, coming sessions, open courses, hours, CE account.

    A fixed number of statements, however many courses the person has.
    """
    enrolments, progress, ranks = my_courses(person)
    hours, hours_all = person_totals(person.id, year)
    return {
        "person": person,
        "enrolments": enrolments,
        "progress": progress,
        "upcoming": upcoming_sessions(person, now),
        "open_courses": open_courses_for(person, today.year - 1),
        "hours": hours,
        "hours_all": hours_all,
        "ce": ce_account(person, today),
        "notices": notices_for(person.id),
        "ranks": ranks,
        "year": year,
    }


def content_for(course: Course) -> CourseContent | None:
    """Return the synced content of a course, if it names one."""
    if not course.content_slug:
        return None
    return db.session.scalar(select(CourseContent).where(CourseContent.slug == course.content_slug))


def content_options() -> list[CourseContent]:
    """Return every synced course content, by code (offered when a course is created)."""
    return list(db.session.scalars(select(CourseContent).order_by(CourseContent.code)))


def lesson_at(content: CourseContent, position: int) -> Lesson | None:
    """Return the lesson at ``position`` of a course content."""
    return db.session.scalar(select(Lesson).where(Lesson.content_id == content.id, Lesson.position == position))


def unit_options(viewer) -> list[OrgUnit]:
    """Return the units offered in selects: the viewer's units down to streets and stations."""
    return visible_units(viewer, kinds=OPTION_KINDS)


@prepared
def _waitlist_ranks_statement():
    return select(Enrolment.course_id, _waitlist_place()).where(
        Enrolment.person_id == bindparam("person_id"), Enrolment.status == "waitlisted"
    )


def waitlist_ranks(person: Person) -> dict[int, int]:
    """{course_id: the person's rank in its waitlist (1 = next to get a seat)}, in one statement."""
    return dict(db.session.execute(_waitlist_ranks_statement(), {"person_id": person.id}).all())


def waitlist_length(course_id: int) -> int:
    return db.session.scalar(
        select(func.count()).where(Enrolment.course_id == course_id, Enrolment.status == "waitlisted")
    )


def catalogue(person: Person, year: int) -> list[dict]:
    """The courses open to the person, with what one wants to know before enrolling (a fixed number of statements).

    Each entry: the course and program, first and last session, places and modes, seats left
    (None: no limit), how many wait, and the content's summary.
    """
    courses = open_courses_for(person, year)
    ids = [c.id for c in courses]
    if not ids:
        return []
    sessions: dict[int, list[CourseSession]] = {}
    for s in db.session.scalars(
        select(CourseSession)
        .where(CourseSession.course_id.in_(ids), CourseSession.cancelled_at.is_(None))
        .order_by(CourseSession.starts_at)
    ):
        sessions.setdefault(s.course_id, []).append(s)
    waiting = dict(
        db.session.execute(
            select(Enrolment.course_id, func.count())
            .where(Enrolment.course_id.in_(ids), Enrolment.status == "waitlisted")
            .group_by(Enrolment.course_id)
        ).all()
    )
    slugs = {c.content_slug for c in courses if c.content_slug}
    summaries = (
        dict(db.session.execute(select(CourseContent.slug, CourseContent.summary).where(CourseContent.slug.in_(slugs))))
        if slugs
        else {}
    )
    out = []
    for c in courses:
        mine = sessions.get(c.id, [])
        seats_left = None if c.capacity is None else max(c.capacity - c.seats_taken, 0)
        out.append(
            {
                "course": c,
                "sessions": mine,
                "first": mine[0].starts_at if mine else None,
                "last": mine[-1].starts_at if mine else None,
                "places": sorted({s.place for s in mine if s.place}),
                "modes": sorted({s.mode for s in mine}),
                "seats_left": seats_left,
                "waiting": waiting.get(c.id, 0),
                "full": seats_left == 0,
                "summary": summaries.get(c.content_slug) or c.program.audience,
            }
        )
    return out


def assessment_options(
    viewer, limit: int = 500, ids: list[int] | None = None, year: int | None = None
) -> list[tuple[Assessment, Course, Program]]:
    """The assessments of the programs ``viewer`` may see (of ``year``; any, without a viewer: of ``ids``), newest
    program first, each program's unit loaded (offered to credential rules)."""
    stmt = (
        select(Assessment, Course, Program)
        .join(Course, Course.id == Assessment.course_id)
        .join(Program, Program.id == Course.program_id)
        .options(selectinload(Program.unit))
        .order_by(Program.year.desc(), Program.id, Course.code, Assessment.position)
        .limit(limit)
    )
    stmt = stmt.where(_scope(viewer, TEACH)) if viewer is not None else stmt.where(Assessment.id.in_(ids or []))
    if year:
        stmt = stmt.where(Program.year == year)
    return list(db.session.execute(stmt).all())
