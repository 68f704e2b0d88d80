"""Training state changes: programs, courses, sessions, enrolment, attendance.

Services flush and never commit; they take ``actor`` explicitly and raise
:mod:`app.core.domain` errors that write nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError

from ..audit.services import record_audit
from ..auth.permissions import MANAGE, TEACH, roles_for
from ..core.db import upsert, utcnow
from ..core.domain import Conflict, Forbidden, Invalid, NotFound
from ..core.i18n import _l, ngettext
from ..core.numbers import parse_decimal
from ..core.ranges import FIRST_YEAR, LAST_YEAR
from ..core.urls import path_for
from ..coverage.models import Cohort
from ..coverage.queries import members_of
from ..coverage.standing import refresh_people as refresh_standings
from ..extensions import db
from ..ledger.queries import completions
from ..ledger.rollups import refresh_people
from ..notices.services import notify
from ..org.models import OrgUnit
from ..org.queries import unit_in_scope
from ..people.models import Person
from ..people.queries import people_query
from .checkin import code_is_good
from .models import (
    ATTENDANCE_STATUSES,
    DEFAULT_MIN_ATTENDANCE,
    MAX_ATTENDANCE_SHARE,
    MAX_CAPACITY,
    MAX_COURSE_HOURS,
    MAX_PASS_MARK,
    MAX_SESSION_HOURS,
    METHODS,
    MIN_ATTENDANCE_SHARE,
    MIN_HOURS,
    MODES,
    POLICIES,
    PROGRAM_KINDS,
    Attendance,
    Course,
    CourseSession,
    Enrolment,
    Program,
)
from .queries import enrolled_ids


def refresh_passing(course: Course, person_ids: list[int]) -> None:
    """A seat in a course with assessments came or went: a cohort requiring a pass may count these people
    differently (the ledger's other figures do not change until they attend or are graded)."""
    if person_ids and course.assessed and db.session.scalar(select(exists().where(Cohort.require_passing))):
        refresh_standings(person_ids)


def check_scope(actor, unit: OrgUnit, permission: str = MANAGE) -> None:
    """Raise :class:`NotFound` unless ``actor`` holds ``permission`` over ``unit`` (no actor: the system may)."""
    if actor is not None and not unit_in_scope(actor, unit, roles_for(permission)):
        raise NotFound(_l("Not found."))


def _hours(value, field: str, errors: dict, maximum: Decimal = MAX_COURSE_HOURS) -> Decimal | None:
    hours = parse_decimal(value, "0.1")  # the columns keep one decimal place
    if hours is None:
        errors[field] = _l("Hours must be a number.")
        return None
    if hours < MIN_HOURS or hours > maximum:
        errors[field] = _l("Hours must be from 0.1 to %(max)s, with one decimal place.", max=maximum)
        return None
    return hours


def program_values(data: dict) -> dict:
    """Check a program's fields; return them cleaned, or raise :class:`Invalid` naming each bad one."""
    errors: dict = {}
    title = (data.get("title") or "").strip()
    if not title or len(title) > 120:
        errors["title"] = _l("A title of 1 to 120 characters is required.")
    if data.get("kind") not in PROGRAM_KINDS:
        errors["kind"] = _l("Kind must be one of %(values)s.", values=", ".join(PROGRAM_KINDS))
    year = data.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or not FIRST_YEAR <= year <= LAST_YEAR:
        errors["year"] = _l("Year must be between %(first)d and %(last)d.", first=FIRST_YEAR, last=LAST_YEAR)
    starts_on, ends_on = data.get("starts_on"), data.get("ends_on")
    if starts_on and ends_on and ends_on < starts_on:
        errors["ends_on"] = _l("The end date is before the start date.")
    if errors:
        raise Invalid(_l("Invalid input."), errors)
    return {
        "title": title,
        "kind": data["kind"],
        "tier": (data.get("tier") or "").strip()[:16] or None,
        "year": year,
        "starts_on": starts_on,
        "ends_on": ends_on,
        "audience": (data.get("audience") or "").strip()[:255] or None,
    }


def create_program(*, data: dict, unit: OrgUnit, actor) -> Program:
    """Create a program held by ``unit`` (flushes)."""
    check_scope(actor, unit)
    values = program_values(data)
    program = Program(unit=unit, **values)
    db.session.add(program)
    db.session.flush()
    record_audit(
        actor=actor,
        action="program.create",
        entity_type="program",
        entity_id=program.id,
        after={"title": values["title"], "unit_id": unit.id, "year": values["year"]},
    )
    return program


def course_values(data: dict, program: Program, course_id: int | None = None) -> dict:
    """Check a course's fields (the code unique in its program, ``course_id`` aside); return them cleaned."""
    errors: dict = {}
    code = (data.get("code") or "").strip()
    title = (data.get("title") or "").strip()
    if not code or len(code) > 32:
        errors["code"] = _l("A code of 1 to 32 characters is required.")
    if not title or len(title) > 120:
        errors["title"] = _l("A title of 1 to 120 characters is required.")
    hours = _hours(data.get("hours"), "hours", errors)
    capacity = data.get("capacity")
    if capacity is not None and (
        not isinstance(capacity, int) or isinstance(capacity, bool) or not 1 <= capacity <= MAX_CAPACITY
    ):
        errors["capacity"] = _l("Capacity must be a whole number from 1, or empty for no limit.")
    policy = data.get("policy") or "open"
    if policy not in POLICIES:
        errors["policy"] = _l("Policy must be one of %(values)s.", values=", ".join(POLICIES))
    min_attendance = parse_decimal(data.get("min_attendance", DEFAULT_MIN_ATTENDANCE), "0.01")  # Numeric(3, 2)
    if min_attendance is None or not MIN_ATTENDANCE_SHARE <= min_attendance <= MAX_ATTENDANCE_SHARE:
        errors["min_attendance"] = _l("The minimum attended share must be from 0.01 to 1.")
        min_attendance = DEFAULT_MIN_ATTENDANCE
    pass_mark = data.get("pass_mark")
    if pass_mark is not None and (not isinstance(pass_mark, int) or not 0 <= pass_mark <= MAX_PASS_MARK):
        errors["pass_mark"] = _l("The pass mark must be from 0 to 100.")
    same_code = select(Course.id).where(Course.program_id == program.id, Course.code == code)
    if course_id is not None:
        same_code = same_code.where(Course.id != course_id)
    taken = "code" not in errors and db.session.scalar(same_code) is not None
    if errors:  # every problem at once: a code already used as well
        raise Invalid(_l("Invalid input."), {**errors, **({"code": _l("Already used.")} if taken else {})})
    if taken:
        raise Conflict(
            _l("This program already has a course with code %(code)s.", code=code), {"code": _l("Already used.")}
        )
    return {
        "code": code,
        "title": title,
        "hours": hours,
        "capacity": capacity,
        "policy": policy,
        "min_attendance": min_attendance,
        "pass_mark": pass_mark,
        "content_slug": data.get("content_slug") or None,
    }


def create_course(*, program: Program, data: dict, actor) -> Course:
    """Add a course to a program (flushes); a pass mark gives it a 结业考核 to score."""
    from .grading import ensure_final_assessment  # grading builds on these services

    check_scope(actor, program.unit)
    course = Course(program=program, **course_values(data, program))
    db.session.add(course)
    db.session.flush()
    record_audit(
        actor=actor,
        action="course.create",
        entity_type="course",
        entity_id=course.id,
        after={"code": course.code, "program_id": program.id},
    )
    ensure_final_assessment(course, actor)
    return course


def session_values(data: dict) -> dict:
    """Check a session's fields; return them cleaned, or raise :class:`Invalid` naming each bad one."""
    errors: dict = {}
    starts_at, ends_at = data.get("starts_at"), data.get("ends_at")
    if not isinstance(starts_at, datetime):
        errors["starts_at"] = _l("A start time is required.")
    if not isinstance(ends_at, datetime):
        errors["ends_at"] = _l("An end time is required.")
    if isinstance(starts_at, datetime) and isinstance(ends_at, datetime):
        if ends_at <= starts_at:
            errors["ends_at"] = _l("The end is not after the start.")
        elif ends_at - starts_at > timedelta(hours=24):
            errors["ends_at"] = _l("A session lasts at most 24 hours.")
    hours = _hours(data.get("hours"), "hours", errors, MAX_SESSION_HOURS)
    mode = data.get("mode") or "onsite"
    if mode not in MODES:
        errors["mode"] = _l("Mode must be one of %(values)s.", values=", ".join(MODES))
    if errors:
        raise Invalid(_l("Invalid input."), errors)
    return {
        "starts_at": starts_at,
        "ends_at": ends_at,
        "hours": hours,
        "mode": mode,
        "place": (data.get("place") or "").strip()[:120] or None,
    }


def create_session(*, course: Course, data: dict, actor) -> CourseSession:
    """Schedule a session of a course (flushes)."""
    check_scope(actor, course.program.unit)
    check_open(course)
    session = CourseSession(course=course, **session_values(data))
    db.session.add(session)
    db.session.flush()
    # One more scheduled session changes who has completed the course.
    refresh_people(enrolled_ids(course.id))
    record_audit(
        actor=actor,
        action="session.create",
        entity_type="course_session",
        entity_id=session.id,
        after={"course_id": course.id, "starts_at": session.starts_at.isoformat()},
    )
    return session


def check_open(course: Course) -> None:
    """Refuse to add to a closed course or a course of a closed program."""
    if course.closed_at is not None or course.program.closed_at is not None:
        raise Conflict(_l("This course is closed: reopen it first."))


def check_not_cancelled(session: CourseSession) -> None:
    """Refuse attendance at a cancelled session."""
    if session.cancelled_at is not None:
        raise Conflict(_l("This session is cancelled: no attendance is taken."))


def can_self_enrol(course: Course, person: Person) -> bool:
    """Return whether ``person`` may enrol themself: open courses of a unit above or at theirs."""
    return (
        course.policy == "open"
        and course.closed_at is None
        and course.program.closed_at is None
        and person.unit.is_within(course.program.unit)
        and person.active
    )


def enrol(*, course: Course, person: Person, actor, self_service: bool = False) -> Enrolment:
    """Enrol a person, or waitlist them when the course is full (flushes).

    The seat is taken with a conditional UPDATE, so concurrent enrolments can
    never exceed the capacity; the unique (course, person) key makes a second
    enrolment a :class:`Conflict`.
    """
    _check_enrol_allowed(course, person, actor, self_service)
    name = person.name
    existing = _locked_enrolment(course, person)
    if existing is not None and existing.status != "withdrawn":
        raise Conflict(_l("%(name)s is already enrolled in this course.", name=name))
    status, position = _seat_or_place(course)
    try:
        # The savepoint must begin before the row is added: begin_nested() first flushes
        # what is pending, and a key violation outside it would abort the whole transaction.
        with db.session.begin_nested():
            if existing is not None:  # re-enrolling after a withdrawal
                existing.status, existing.waitlist_position, existing.enrolled_at = status, position, utcnow()
                enrolment = existing
            else:
                enrolment = Enrolment(
                    course_id=course.id, person_id=person.id, status=status, waitlist_position=position
                )
                db.session.add(enrolment)
    except IntegrityError:  # a concurrent enrolment of this person won the race
        raise Conflict(_l("%(name)s is already enrolled in this course.", name=name)) from None
    db.session.expire(course, ["seats_taken", "waitlist_seq"])
    if existing is not None:
        refresh_people([person.id])  # earlier attendance may complete the course again
    elif status == "enrolled":
        refresh_passing(course, [person.id])
    _tell(course, person.id, f"enrolment.{status}", position=position)
    record_audit(
        actor=actor,
        action=f"enrolment.{status}",
        entity_type="enrolment",
        entity_id=enrolment.id,
        after={"course_id": course.id, "person_id": person.id, "position": position},
    )
    return enrolment


def _check_enrol_allowed(course: Course, person: Person, actor, self_service: bool) -> None:
    """Refuse a self-enrolment the course does not take, or a staff enrolment outside the actor's units."""
    check_open(course)
    if self_service:
        if not can_self_enrol(course, person):
            raise Forbidden(_l("This course does not take self-enrolment."))
        return
    check_scope(actor, course.program.unit)
    if actor is not None and not unit_in_scope(actor, person.unit):
        raise NotFound(_l("Not found."))


def _locked_enrolment(course: Course, person: Person, statuses: tuple[str, ...] | None = None) -> Enrolment | None:
    """Read the person's enrolment (in one of ``statuses``, if given), locked until the transaction ends.

    FOR UPDATE (PostgreSQL; SQLite transactions are serial anyway): a concurrent
    enrolment or withdrawal of this person waits here and then sees the new status.
    """
    stmt = select(Enrolment).where(Enrolment.course_id == course.id, Enrolment.person_id == person.id)
    if statuses is not None:
        stmt = stmt.where(Enrolment.status.in_(statuses))
    return db.session.scalar(stmt.with_for_update().execution_options(populate_existing=True))


def _take_seat(course: Course) -> bool:
    """Take a free seat of the course with one conditional UPDATE; return whether there was one."""
    return bool(
        db.session.execute(
            update(Course)
            .where(Course.id == course.id, (Course.capacity.is_(None)) | (Course.seats_taken < Course.capacity))
            .values(seats_taken=Course.seats_taken + 1)
        ).rowcount
    )


def _free_seat(course: Course) -> None:
    db.session.execute(update(Course).where(Course.id == course.id).values(seats_taken=Course.seats_taken - 1))


def _seat_or_place(course: Course) -> tuple[str, int | None]:
    """Return ("enrolled", None) with a seat taken, or ("waitlisted", the next place in the queue)."""
    if _take_seat(course):
        return "enrolled", None
    position = db.session.execute(
        update(Course)
        .where(Course.id == course.id)
        .values(waitlist_seq=Course.waitlist_seq + 1)
        .returning(Course.waitlist_seq)
    ).scalar_one()
    return "waitlisted", position


def enrol_many(*, course: Course, people: list[Person], actor) -> dict[str, int]:
    """Enrol many people in one action; already enrolled people are skipped. Returns counts."""
    counts = {"enrolled": 0, "waitlisted": 0, "skipped": 0}
    already = set(
        db.session.scalars(
            select(Enrolment.person_id).where(Enrolment.course_id == course.id, Enrolment.status != "withdrawn")
        )
    )
    for person in people:
        if person.id in already:
            counts["skipped"] += 1
            continue
        counts[enrol(course=course, person=person, actor=actor).status] += 1
    return counts


def enrol_unit(*, course: Course, unit: OrgUnit, actor, category: str | None = None) -> dict[str, int]:
    """Enrol the active people of ``unit``'s subtree (of ``category``, if given) whom ``actor`` manages."""
    check_scope(actor, course.program.unit)
    check_scope(actor, unit)
    people = db.session.scalars(people_query(actor, unit=unit, category=category or None, active=True)).all()
    return enrol_many(course=course, people=list(people), actor=actor)


def enrol_cohort(*, course: Course, cohort: Cohort, actor) -> dict[str, int]:
    """Enrol the active members of ``cohort`` whom ``actor`` manages, as the cohort's rule lists them today."""
    check_scope(actor, course.program.unit)
    check_scope(actor, cohort.unit)
    members = people_query(actor, active=True).where(Person.id.in_(members_of(cohort)))
    return enrol_many(course=course, people=list(db.session.scalars(members)), actor=actor)


def withdraw(*, course: Course, person: Person, actor, self_service: bool = False) -> Enrolment | None:
    """Withdraw a person; a freed seat goes at once to the first on the waitlist (flushes).

    Returns the promoted enrolment, if any.
    """
    if not self_service:
        check_scope(actor, course.program.unit)
    # Of two concurrent withdrawals of one person (a double click) the second
    # waits on the lock, no longer finds the row and frees no second seat.
    enrolment = _locked_enrolment(course, person, ("enrolled", "waitlisted"))
    if enrolment is None:
        raise NotFound(_l("%(name)s is not enrolled in this course.", name=person.name))
    if self_service and has_completed(course, person):
        # Withdrawing would silently take the completion (and its hours) away; a coordinator still can.
        raise Conflict(_l("You have completed this course: it stays on your record."))
    had_seat = enrolment.status == "enrolled"
    enrolment.status, enrolment.waitlist_position = "withdrawn", None
    db.session.flush()
    refresh_people([person.id])  # a withdrawn enrolment never completes
    if not self_service:
        _tell(course, person.id, "enrolment.withdrawn")
    record_audit(
        actor=actor,
        action="enrolment.withdraw",
        entity_type="enrolment",
        entity_id=enrolment.id,
        after={"course_id": course.id, "person_id": person.id},
    )
    if not had_seat:
        return None
    _free_seat(course)
    return _promote_first(course, actor)


@dataclass(frozen=True)
class CheckInWindow:
    state: str  # "open", "before" (opens at ``opens``), "after" (closed at ``closes``), "cancelled"
    opens: datetime
    closes: datetime


def check_in_window(session: CourseSession, now: datetime) -> CheckInWindow:
    """When a session takes QR check-ins: from LMS_CHECKIN_MARGIN_MINUTES before it starts to as long after
    it ends (never for a cancelled one), and where ``now`` stands."""
    margin = timedelta(minutes=current_app.config["LMS_CHECKIN_MARGIN_MINUTES"])
    opens, closes = session.starts_at - margin, session.ends_at + margin
    if session.cancelled_at is not None:
        state = "cancelled"
    else:
        state = "before" if now < opens else "after" if now > closes else "open"
    return CheckInWindow(state, opens, closes)


def _tell(course: Course, person_id: int, kind: str, **params) -> None:
    """Tell the person what became of their seat (written with the change; mailed after commit)."""
    seat = kind in ("enrolment.enrolled", "enrolment.promoted")
    notify(
        [person_id],
        kind,
        link=path_for("training.my_course", course_id=course.id) if seat else path_for("training.my"),
        course=course.title,
        **params,
    )


def has_completed(course: Course, person: Person) -> bool:
    """Whether the person's enrolment in the course has completed it (it counts on their record)."""
    done = completions(None, [person.id]).where(Enrolment.course_id == course.id)
    return db.session.execute(done.limit(1)).first() is not None


def _promote_first(course: Course, actor) -> Enrolment | None:
    waiting = db.session.scalars(
        select(Enrolment.id)
        .where(Enrolment.course_id == course.id, Enrolment.status == "waitlisted")
        .order_by(Enrolment.waitlist_position)
    ).all()
    for enrolment_id in waiting:
        if not _take_seat(course):
            return None
        # Only the request that flips this row promotes it.
        flipped = db.session.execute(
            update(Enrolment)
            .where(Enrolment.id == enrolment_id, Enrolment.status == "waitlisted")
            .values(status="enrolled", waitlist_position=None, updated_at=utcnow())
        ).rowcount
        if flipped:
            db.session.expire_all()
            promoted = db.session.get(Enrolment, enrolment_id)
            refresh_passing(course, [promoted.person_id])
            _tell(course, promoted.person_id, "enrolment.promoted")
            record_audit(
                actor=actor,
                action="enrolment.promote",
                entity_type="enrolment",
                entity_id=enrolment_id,
                after={"course_id": course.id, "person_id": promoted.person_id},
            )
            return promoted
        _free_seat(course)  # another request promoted this one first
    return None


def attendance_row(
    session: CourseSession, person_id: int, status: str, reason: str | None, method: str, actor, at: datetime
) -> dict:
    """Return one attendance row's values for :func:`write_attendance` (the reason trimmed to the column)."""
    return {
        "session_id": session.id,
        "person_id": person_id,
        "status": status,
        "reason": (reason or "").strip()[:255] or None,
        "method": method,
        "marked_by_id": getattr(actor, "id", None),
        "marked_at": at,
    }


def write_attendance(values: list[dict], *, overwrite: bool) -> int:
    """Insert attendance rows, updating or keeping existing (session, person) rows; return how many were written."""
    if not values:
        return 0
    stmt = upsert(db.session, Attendance).values(values)
    if overwrite:
        stmt = stmt.on_conflict_do_update(
            index_elements=["session_id", "person_id"],
            set_={k: stmt.excluded[k] for k in ("status", "reason", "method", "marked_by_id", "marked_at")},
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=["session_id", "person_id"])
    # RETURNING counts the rows really written on both databases (rowcount does not).
    written = len(db.session.execute(stmt.returning(Attendance.id)).all())
    if written:
        refresh_people({v["person_id"] for v in values})
    return written


def status_problems(status: str, reason: str | None) -> dict[str, object]:
    """What is wrong with an attendance status and its reason (field → message); empty if nothing."""
    if status not in ATTENDANCE_STATUSES:
        return {"status": _l("Status must be one of %(values)s.", values=", ".join(ATTENDANCE_STATUSES))}
    if status == "excused" and not (reason or "").strip():
        return {"reason": _l("An excused absence needs a reason.")}
    return {}


def _check_status(status: str, reason: str | None) -> None:
    problems = status_problems(status, reason)
    if problems:
        raise Invalid(_l("Invalid input."), problems)


def record_attendance(
    *, session: CourseSession, person: Person, status: str, actor, reason: str | None = None, method: str = "api"
) -> Attendance:
    """Set one person's attendance at a session; repeating it changes nothing (flushes)."""
    check_scope(actor, session.course.program.unit, TEACH)
    check_not_cancelled(session)
    _check_status(status, reason)
    if method not in METHODS:
        raise Invalid(_l("Invalid input."), {"method": _l("Unknown method.")})
    if person.id not in enrolled_ids(session.course_id):
        raise Invalid(
            _l("%(name)s is not enrolled in this course.", name=person.name), {"person_id": _l("Not enrolled.")}
        )
    before = db.session.scalar(
        select(Attendance).where(Attendance.session_id == session.id, Attendance.person_id == person.id)
    )
    old = (before.status, before.reason) if before else None
    reason = (reason or "").strip()[:255] or None
    write_attendance(
        [attendance_row(session, person.id, status, reason, method, actor, utcnow())],
        overwrite=True,
    )
    db.session.expire_all()
    row = db.session.scalar(
        select(Attendance).where(Attendance.session_id == session.id, Attendance.person_id == person.id)
    )
    if old != (status, reason):
        record_audit(
            actor=actor,
            action="attendance.mark",
            entity_type="attendance",
            entity_id=row.id,
            before={"status": old[0], "reason": old[1]} if old else None,
            after={"status": status, "reason": reason, "method": method},
        )
    return row


def record_attendance_batch(*, session: CourseSession, items: list[dict], actor, method: str = "api") -> list:
    """Set the attendance of many people at a session: every row is written or none (flushes).

    ``items`` are ``{"person_id", "status", "reason"}``. Every item is checked before anything is written,
    so one refusal names every error by item (``items.3.reason``). Rows that already say the same are left
    as they are (repeating a batch changes nothing); one statement writes the rest, the ledger is refreshed
    once and one audit entry lists what changed. Returns the rows in the order of ``items``.
    """
    check_scope(actor, session.course.program.unit, TEACH)
    check_not_cancelled(session)
    if method not in METHODS:
        raise Invalid(_l("Invalid input."), {"method": _l("Unknown method.")})
    enrolled = enrolled_ids(session.course_id)
    errors: dict = {}
    seen: set[int] = set()
    for i, item in enumerate(items):
        pid, status = item["person_id"], item["status"]
        if pid in seen:
            errors[f"items.{i}.person_id"] = _l("Listed twice.")
        elif pid not in enrolled:
            errors[f"items.{i}.person_id"] = _l("Not enrolled.")
        errors.update({f"items.{i}.{f}": m for f, m in status_problems(status, item.get("reason")).items()})
        seen.add(pid)
    if errors:
        raise Invalid(_l("Invalid input."), errors)

    def current() -> dict[int, Attendance]:
        rows = select(Attendance).where(Attendance.session_id == session.id, Attendance.person_id.in_(seen))
        return {a.person_id: a for a in db.session.scalars(rows)}

    before = {pid: (a.status, a.reason) for pid, a in current().items()}
    now = utcnow()
    values = []
    for item in items:
        reason = (item.get("reason") or "").strip()[:255] or None
        if before.get(item["person_id"]) != (item["status"], reason):
            values.append(attendance_row(session, item["person_id"], item["status"], reason, method, actor, now))
    write_attendance(values, overwrite=True)
    if values:
        changes = {
            str(v["person_id"]): {
                "before": list(before.get(v["person_id"]) or []) or None,
                "after": [v["status"], v["reason"]],
            }
            for v in values
        }
        record_audit(
            actor=actor,
            action="attendance.batch",
            entity_type="course_session",
            entity_id=session.id,
            after={"method": method, "changes": changes},
        )
    db.session.expire_all()
    rows = current()
    return [rows[item["person_id"]] for item in items]


def save_roster(*, session: CourseSession, exceptions: dict[int, tuple[str, str | None]], actor) -> int:
    """Mark every enrolled person present except the listed ones (person id → (status, reason)).

    One POST, one audit entry listing what changed. Returns the number of rows written.
    """
    check_scope(actor, session.course.program.unit, TEACH)
    check_not_cancelled(session)
    roster = enrolled_ids(session.course_id)
    unknown = set(exceptions) - roster
    if unknown:
        raise Invalid(
            _l("Invalid input."), {"people": _l("Not enrolled: %(ids)s", ids=", ".join(map(str, sorted(unknown))))}
        )
    errors: dict[str, object] = {}  # by person ("12.reason"): the roster marks each row, every row at once
    for pid, (status, reason) in sorted(exceptions.items()):
        errors.update({f"{pid}.{field}": message for field, message in status_problems(status, reason).items()})
    if errors:
        wrong = [int(key.split(".")[0]) for key in errors]
        names = dict(db.session.execute(select(Person.id, Person.name).where(Person.id.in_(wrong))).all())
        raise Invalid(
            ngettext(
                "Nothing was saved: %(num)d person needs correcting: %(names)s.",
                "Nothing was saved: %(num)d people need correcting: %(names)s.",
                len(wrong),
                names="、".join(names[pid] for pid in wrong),
            ),
            errors,
        )
    before = {
        a.person_id: a.status for a in db.session.scalars(select(Attendance).where(Attendance.session_id == session.id))
    }
    now = utcnow()
    rows = []
    for pid in sorted(roster):
        status, reason = exceptions.get(pid, ("present", None))
        rows.append(attendance_row(session, pid, status, reason, "roster", actor, now))
    write_attendance(rows, overwrite=True)
    changes = {
        str(r["person_id"]): [before.get(r["person_id"]), r["status"]]
        for r in rows
        if before.get(r["person_id"]) != r["status"]
    }
    record_audit(
        actor=actor,
        action="attendance.roster",
        entity_type="course_session",
        entity_id=session.id,
        after={"changes": changes},
    )
    db.session.expire_all()
    return len(rows)


def check_in(
    *,
    session: CourseSession,
    person: Person,
    token: str,
    browser: str | None = None,
    actor=None,
    ip: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Record a QR self check-in; return True if this call created the record.

    Only an enrolled person, only during the session (with the configured
    margin), only with a fresh token or the proof of a fresh scan made in the
    same ``browser``. Idempotent: the unique key plus insert-or-ignore make
    twenty simultaneous scans one record, and one audit entry.
    """
    now = now or utcnow()
    if session.cancelled_at is not None:
        raise Forbidden(_l("This session is cancelled: no attendance is taken."))
    if not code_is_good(session.id, token, now, browser):
        raise Forbidden(_l("This check-in code has expired. Scan the code on the screen again."))
    if check_in_window(session, now).state != "open":
        raise Forbidden(_l("Check-in is open only during the session."))
    if person.id not in enrolled_ids(session.course_id):
        raise Forbidden(_l("You are not enrolled in this course."))
    late = now > session.starts_at + timedelta(minutes=current_app.config["LMS_LATE_AFTER_MINUTES"])
    status = "late" if late else "present"
    created = write_attendance([attendance_row(session, person.id, status, None, "qr", None, now)], overwrite=False)
    if created:
        record_audit(
            actor=actor,
            action="attendance.qr",
            entity_type="course_session",
            entity_id=session.id,
            after={"person_id": person.id, "status": status, "method": "qr"},
            ip=ip,
        )
    return bool(created)
