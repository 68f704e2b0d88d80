"""Programs, courses, sessions, enrolments and attendance."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    exists,
    false,
    select,
)
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from ..core.db import UTCDateTime, utcnow
from ..extensions import db
from ..org.models import OrgUnit
from ..people.models import Person

PROGRAM_KINDS = ("camp", "class", "workshop", "salon", "forum")
POLICIES = ("open", "coordinator", "cohort")
MODES = ("onsite", "online")
ENROLMENT_STATUSES = ("enrolled", "waitlisted", "withdrawn", "completed", "not_completed")
ATTENDANCE_STATUSES = ("present", "late", "excused", "absent")
ATTENDED = ("present", "late")  # what counts as attended (人次); excused never does
METHODS = ("roster", "qr", "import", "api")
SEATED = ("enrolled", "completed", "not_completed")  # enrolment statuses that hold a seat
TIERS = ("新任", "骨干", "领军")  # the levels a program or course content is aimed at
# Hours keep one decimal place (Numeric(6, 1) for a course, Numeric(4, 1) for a session).
MIN_HOURS = Decimal("0.1")
MAX_COURSE_HOURS = Decimal("200")
MAX_SESSION_HOURS = Decimal("24")
MAX_CAPACITY = 100_000
# The share of all scheduled sessions a trainee must attend, Numeric(3, 2).
MIN_ATTENDANCE_SHARE, MAX_ATTENDANCE_SHARE = Decimal("0.01"), Decimal("1")
DEFAULT_MIN_ATTENDANCE = Decimal("0.80")
MAX_PASS_MARK = 100  # a course's overall pass mark, on its weighted score from 0 to 100
# Assessments (结业考核 and the like): each has its own maximum and pass mark.
ASSESSMENT_KINDS = ("exam", "practical", "essay", "quiz")
RETAKE_RULES = ("best", "last")  # which sitting counts when a person sat an assessment more than once
RESULT_OUTCOMES = ("scored", "absent", "excused")  # absent counts as 0; excused leaves the assessment out
RESULT_SOURCES = ("roster", "import", "api", "quiz")
MAX_ASSESSMENT_SCORE = Decimal("1000")
MAX_WEIGHT = Decimal("100")
MAX_ATTEMPTS = 9


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Program(db.Model):
    """A training program (培训项目): a camp, class, workshop, salon or forum held by a unit in a year."""

    __tablename__ = "programs"
    __table_args__ = (
        CheckConstraint(_in("kind", PROGRAM_KINDS), name="kind"),
        Index("ix_programs_unit_year", "unit_id", "year"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))
    tier: Mapped[str | None] = mapped_column(String(16))
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    year: Mapped[int]
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    audience: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Closed: kept with its history, but no longer offered (a program with attendance is closed, never deleted).
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    unit: Mapped[OrgUnit] = relationship()
    courses: Mapped[list[Course]] = relationship(back_populates="program", order_by="Course.code")


class Course(db.Model):
    """A course of a program, with credit hours, capacity, enrolment policy and completion rule."""

    __tablename__ = "courses"
    __table_args__ = (
        UniqueConstraint("program_id", "code"),
        CheckConstraint(_in("policy", POLICIES), name="policy"),
        CheckConstraint("capacity IS NULL OR capacity > 0", name="capacity"),
        CheckConstraint("capacity IS NULL OR seats_taken <= capacity", name="seats"),
        CheckConstraint("min_attendance > 0 AND min_attendance <= 1", name="min_attendance"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(120))
    hours: Mapped[Decimal] = mapped_column(Numeric(6, 1))
    capacity: Mapped[int | None]
    # Seats taken, kept by a conditional UPDATE so that concurrent enrolments
    # can never exceed the capacity (on SQLite as on PostgreSQL).
    seats_taken: Mapped[int] = mapped_column(default=0)
    waitlist_seq: Mapped[int] = mapped_column(default=0)
    policy: Mapped[str] = mapped_column(String(16), default="open")
    # Completion: attended sessions / all scheduled sessions of the course.
    min_attendance: Mapped[Decimal] = mapped_column(Numeric(3, 2), default=DEFAULT_MIN_ATTENDANCE)
    pass_mark: Mapped[int | None]
    content_slug: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # no more enrolment; history kept

    program: Mapped[Program] = relationship(back_populates="courses")
    sessions: Mapped[list[CourseSession]] = relationship(back_populates="course", order_by="CourseSession.starts_at")


class CourseSession(db.Model):
    """One meeting of a course: time, place, mode and the hours it credits."""

    __tablename__ = "course_sessions"
    __table_args__ = (
        CheckConstraint(_in("mode", MODES), name="mode"),
        CheckConstraint("ends_at > starts_at", name="times"),
        CheckConstraint("hours > 0", name="hours"),
        # cancelled_at too: a report counts a subtree's sessions from the index alone
        Index("ix_course_sessions_course_start", "course_id", "starts_at", "cancelled_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    place: Mapped[str | None] = mapped_column(String(120))
    mode: Mapped[str] = mapped_column(String(8), default="onsite")
    hours: Mapped[Decimal] = mapped_column(Numeric(4, 1))
    # Cancelled: its attendance is kept but never counted, and it is not a scheduled session of the course.
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(String(255))

    course: Mapped[Course] = relationship(back_populates="sessions")

    @property
    def cancelled(self) -> bool:
        return self.cancelled_at is not None


class Enrolment(db.Model):
    __tablename__ = "enrolments"
    __table_args__ = (
        UniqueConstraint("course_id", "person_id"),
        CheckConstraint(_in("status", ENROLMENT_STATUSES), name="status"),
        Index("ix_enrolments_person", "person_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    status: Mapped[str] = mapped_column(String(16))
    waitlist_position: Mapped[int | None]
    # The course's weighted score (0-100, rounded) once every assessment counts a result; kept by
    # app.training.grading with ``passed``: every assessment passed, and the course's pass mark reached.
    score: Mapped[int | None]
    passed: Mapped[bool] = mapped_column(default=False, server_default=false())
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    course: Mapped[Course] = relationship()
    person: Mapped[Person] = relationship()


class Attendance(db.Model):
    """One person at one session — at most one row (a database constraint)."""

    __tablename__ = "attendance"
    __table_args__ = (
        UniqueConstraint("session_id", "person_id"),
        CheckConstraint(_in("status", ATTENDANCE_STATUSES), name="status"),
        CheckConstraint(_in("method", METHODS), name="method"),
        Index("ix_attendance_person_status", "person_id", "status", "session_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("course_sessions.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    status: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str | None] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(8))
    marked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    session: Mapped[CourseSession] = relationship()
    person: Mapped[Person] = relationship()


class CourseContent(db.Model):
    """A course's curriculum as loaded from ``course_content/<slug>/`` by ``lms content sync``."""

    __tablename__ = "course_contents"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    code: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(120))
    hours: Mapped[Decimal] = mapped_column(Numeric(6, 1))
    tier: Mapped[str | None] = mapped_column(String(16))
    summary: Mapped[str | None] = mapped_column(Text)
    audience: Mapped[str | None] = mapped_column(String(255))
    objectives: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The optional online quiz (quiz.yaml), answer key included: it never leaves the server before a submission.
    quiz: Mapped[dict | None] = mapped_column(JSON)
    checksum: Mapped[str] = mapped_column(String(64))
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    lessons: Mapped[list[Lesson]] = relationship(
        back_populates="content", order_by="Lesson.position", cascade="all, delete-orphan"
    )


class Lesson(db.Model):
    __tablename__ = "lessons"
    __table_args__ = (UniqueConstraint("content_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    content_id: Mapped[int] = mapped_column(ForeignKey("course_contents.id", ondelete="CASCADE"))
    position: Mapped[int]
    file: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(120))
    hours: Mapped[Decimal] = mapped_column(Numeric(4, 1))
    body_html: Mapped[str] = mapped_column(Text)  # sanitised when synced

    content: Mapped[CourseContent] = relationship(back_populates="lessons")


class LessonProgress(db.Model):
    """A lesson a person has done (marked, or read to the end), by its content and position.

    Keyed by position rather than the lesson's id: ``lms content sync`` replaces a content's lessons, and a
    person's progress stays with the lesson at the same place.
    """

    __tablename__ = "lesson_progress"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    content_id: Mapped[int] = mapped_column(ForeignKey("course_contents.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(primary_key=True)
    done_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EvaluationResponse(db.Model):
    """One anonymous answer to a course's training evaluation (培训满意度测评).

    Nothing here names its author: the id is random (no order to match with the receipts) and only the
    day is kept. Who has answered is in :class:`EvaluationReceipt`, which says nothing of the answer.
    """

    __tablename__ = "evaluation_responses"
    # SQLite keeps a table in rowid order, the order rows came in; without one, responses are kept in the
    # order of their random ids and receipts in person order, so neither file order matches the other.
    __table_args__ = {"sqlite_with_rowid": False}

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    questionnaire: Mapped[str] = mapped_column(String(32))
    answers: Mapped[dict] = mapped_column(JSON)
    submitted_on: Mapped[date] = mapped_column(Date)


class EvaluationReceipt(db.Model):
    """That a person has answered a course's evaluation (so they answer once), and nothing more."""

    __tablename__ = "evaluation_receipts"
    __table_args__ = {"sqlite_with_rowid": False}

    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)


QUIZ_STATES = ("open", "submitted", "graded")  # submitted: short answers wait for a coordinator


class QuizAttempt(db.Model):
    """One sitting of an online quiz: the order it was dealt in, the answers saved as they are given, and the
    points. Submitting (or running out of time) grades the rest; a sitting with short answers waits for a
    coordinator to grade them, then counts as the assessment's result of that sitting."""

    __tablename__ = "quiz_attempts"
    __table_args__ = (
        UniqueConstraint("assessment_id", "person_id", "sitting"),
        CheckConstraint(_in("state", QUIZ_STATES), name="state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    sitting: Mapped[int]
    # The quiz as it was when the sitting was dealt (key included): a later sync does not change a sitting.
    quiz: Mapped[dict] = mapped_column(JSON)
    order: Mapped[list] = mapped_column(JSON)  # [[question index, [option indices as shown]], …]
    answers: Mapped[dict] = mapped_column(JSON, default=dict)  # question index (text) → the answer given
    marks: Mapped[dict] = mapped_column(JSON, default=dict)  # question index (text) → points earned
    state: Mapped[str] = mapped_column(String(12), default="open")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    score: Mapped[Decimal | None] = mapped_column(Numeric(6, 1))

    assessment: Mapped[Assessment] = relationship()
    person: Mapped[Person] = relationship()


class Assessment(db.Model):
    """A graded part of a course (a written exam, a practical, a case report, an online quiz)."""

    __tablename__ = "assessments"
    __table_args__ = (
        UniqueConstraint("course_id", "title"),
        CheckConstraint(_in("kind", ASSESSMENT_KINDS), name="kind"),
        CheckConstraint(_in("retake_rule", RETAKE_RULES), name="retake_rule"),
        CheckConstraint("max_score > 0", name="max_score"),
        CheckConstraint("pass_mark >= 0 AND pass_mark <= max_score", name="pass_mark"),
        CheckConstraint("weight > 0", name="weight"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=1)
    title: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16), default="exam")
    max_score: Mapped[Decimal] = mapped_column(Numeric(6, 1))
    pass_mark: Mapped[Decimal] = mapped_column(Numeric(6, 1))
    weight: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("1"))
    retake_rule: Mapped[str] = mapped_column(String(8), default="best")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    course: Mapped[Course] = relationship()


class AssessmentResult(db.Model):
    """One sitting of an assessment by one person: a score, absent (counts as 0) or excused (with a reason)."""

    __tablename__ = "assessment_results"
    __table_args__ = (
        UniqueConstraint("assessment_id", "person_id", "attempt"),
        CheckConstraint(_in("outcome", RESULT_OUTCOMES), name="outcome"),
        CheckConstraint(_in("source", RESULT_SOURCES), name="source"),
        CheckConstraint("attempt >= 1", name="attempt"),
        CheckConstraint("(outcome = 'scored') = (score IS NOT NULL)", name="score_given"),
        CheckConstraint("score IS NULL OR score >= 0", name="score"),
        CheckConstraint("outcome <> 'excused' OR reason IS NOT NULL", name="excused_reason"),
        Index("ix_assessment_results_person", "person_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    attempt: Mapped[int] = mapped_column(default=1)
    outcome: Mapped[str] = mapped_column(String(8))
    score: Mapped[Decimal | None] = mapped_column(Numeric(6, 1))
    reason: Mapped[str | None] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(8))
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    assessment: Mapped[Assessment] = relationship()


# Whether a course has assessments (passing them is then part of completing it), loaded with the course.
Course.assessed = column_property(
    exists(select(Assessment.id).where(Assessment.course_id == Course.id).correlate_except(Assessment)),
    deferred=False,
)
