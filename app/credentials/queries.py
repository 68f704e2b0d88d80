"""Read-only credential queries, scoped to the viewer."""

from __future__ import annotations

from collections.abc import Iterable

from flask_sqlalchemy.pagination import SelectPagination
from sqlalchemy import ColumnElement, Numeric, Select, and_, case, distinct, exists, func, literal, or_, select, true
from sqlalchemy.orm import aliased, selectinload

from ..core.db import utcnow
from ..extensions import db
from ..ledger.queries import Period, completions, year_hours_by_person
from ..org.queries import in_scope
from ..people.models import Person
from ..training.models import (
    ATTENDED,
    SEATED,
    Assessment,
    AssessmentResult,
    Attendance,
    Course,
    CourseSession,
    Enrolment,
    Program,
)
from .models import Certificate, CredentialType, compact_serial

HOURS = Numeric(10, 1)


def credentials_for(viewer) -> list[CredentialType]:
    """Credential types whose issuing unit lies within the viewer's units."""
    return list(
        db.session.scalars(
            select(CredentialType).where(in_scope(viewer, CredentialType.issuer_unit_id)).order_by(CredentialType.id)
        )
    )


def credential_for(viewer, credential_id: int) -> CredentialType | None:
    return db.session.scalar(
        select(CredentialType).where(
            CredentialType.id == credential_id, in_scope(viewer, CredentialType.issuer_unit_id)
        )
    )


def credential_by_name(name: str) -> CredentialType | None:
    return db.session.scalar(select(CredentialType).where(CredentialType.name == name))


def certificates_for(viewer, credential: CredentialType | None = None, q: str | None = None) -> Select:
    """Certificates of people the viewer may see (or their own), newest first."""
    own = Certificate.person_id == viewer.person_id if getattr(viewer, "person_id", None) else False
    stmt = (
        select(Certificate)
        .join(Person, Person.id == Certificate.person_id)
        .where(or_(in_scope(viewer, Person.unit_id), own))
    )
    if credential is not None:
        stmt = stmt.where(Certificate.credential_id == credential.id)
    if q:
        stmt = stmt.where(
            or_(Person.name.icontains(q, autoescape=True), Certificate.serial.icontains(q, autoescape=True))
        )
    return stmt.order_by(Certificate.id.desc())


def certificate_count(viewer, credential: CredentialType) -> int:
    """How many certificates of the credential the viewer may see."""
    return db.session.scalar(
        select(func.count()).select_from(certificates_for(viewer, credential).order_by(None).subquery())
    )


def certificate_for(viewer, certificate_id: int) -> Certificate | None:
    return db.session.scalar(certificates_for(viewer).where(Certificate.id == certificate_id))


def certificate_by_serial(viewer, serial: str) -> Certificate | None:
    """A certificate the viewer may see, by its serial (normalised: ``services.normalise_serial``), dashes or not."""
    return db.session.scalar(certificates_for(viewer).where(Certificate.serial_key == compact_serial(serial)).limit(1))


def verifies_valid() -> ColumnElement[bool]:
    """The certificates that verifying answers "valid" for, now (``services.verification_status`` in SQL): not
    revoked, not superseded by a reissue or a renewal, not expired."""
    now = utcnow()
    return and_(
        Certificate.status == "valid",
        Certificate.superseded_by_id.is_(None),
        or_(Certificate.expires_at.is_(None), Certificate.expires_at > now),
    )


def issued_counts(viewer, credential_ids: list[int]) -> dict[int, int]:
    """Per credential, its valid certificates among the people the viewer may see: not revoked, not replaced by
    a reissue or a renewal, not expired (what verifying them answers "valid" for)."""
    if not credential_ids:
        return {}
    stmt = (
        certificates_for(viewer)
        .where(Certificate.credential_id.in_(credential_ids), verifies_valid())
        .order_by(None)
        .with_only_columns(Certificate.credential_id, func.count())
        .group_by(Certificate.credential_id)
    )
    return dict(db.session.execute(stmt).all())


def credential_period(credential: CredentialType) -> Period | None:
    """The calendar year the credential's rule counts, or None for all time."""
    return Period.year(credential.period_year) if credential.period_year else None


def _candidate_filters(credential: CredentialType, viewer, people_ids, any_category: bool) -> list:
    filters = [Person.active.is_(True)]
    if viewer is not None:
        filters.append(in_scope(viewer, Person.unit_id))
    if credential.transition_from and not any_category:
        filters.append(Person.category == credential.transition_from)
    if isinstance(people_ids, Select):
        filters.append(Person.id.in_(people_ids.correlate(None)))
    elif people_ids is not None:
        filters.append(Person.id.in_(list(people_ids)))
    return filters


def holds_certificate(credential: CredentialType) -> ColumnElement[bool]:
    """Whether the person of the enclosing query holds a certificate (valid, not replaced), expired or not.

    A holder is not a candidate: an expired or expiring certificate is renewed (``renewal``), not issued anew.
    """
    return exists().where(
        Certificate.credential_id == credential.id,
        Certificate.person_id == Person.id,
        Certificate.status == "valid",
        Certificate.replaced_at.is_(None),
    )


def eligibility_rows(
    credential: CredentialType, viewer, *, people_ids: Select | Iterable[int] | None = None, any_category: bool = False
) -> Select:
    """Select (Person, training_hours, supervision_hours, programs_done, eligible) for every candidate.

    The whole rule is evaluated in SQL (aggregates over the ledger, the candidates
    given to them as a subquery), so a list of any length costs one statement.
    A transition credential concerns only people of its "from" category, unless ``any_category``.
    """
    filters = _candidate_filters(credential, viewer, people_ids, any_category)
    ids = select(Person.id).where(*filters).correlate(None)
    period = credential_period(credential)
    # The period is a calendar year or all time: the hours come from the monthly rollups.
    hours = year_hours_by_person(credential.period_year, ids).subquery()
    # Rounded to the tenth the columns hold: SQLite sums REALs (29 x 0.1 is not 2.9 there).
    training_hours = func.round(func.coalesce(hours.c.training_hours, 0), 1, type_=HOURS)
    supervision_hours = func.round(func.coalesce(hours.c.supervision_hours, 0), 1, type_=HOURS)
    conditions = []
    if credential.min_training_hours is not None:
        conditions.append(training_hours >= credential.min_training_hours)
    if credential.min_supervision_hours is not None:
        conditions.append(supervision_hours >= credential.min_supervision_hours)
    stmt = select(Person).outerjoin(hours, hours.c.person_id == Person.id)
    required = sorted(set(credential.required_program_ids or []))
    if required:
        # Only someone who attended a session of a required program can have completed one of its courses:
        # asking the (costly) completion rule about them alone gives the same answer.
        attendees = (
            select(Attendance.person_id)
            .join(CourseSession, CourseSession.id == Attendance.session_id)
            .join(Course, Course.id == CourseSession.course_id)
            .where(
                Course.program_id.in_(required),
                Attendance.status.in_(ATTENDED),
                CourseSession.cancelled_at.is_(None),
            )
        )
        finished = completions(period, ids.where(Person.id.in_(attendees))).subquery()
        done = (
            select(finished.c.person_id, func.count(distinct(Course.program_id)).label("programs"))
            .join(Course, Course.id == finished.c.course_id)
            .where(Course.program_id.in_(required))
            .group_by(finished.c.person_id)
            .subquery()
        )
        stmt = stmt.outerjoin(done, done.c.person_id == Person.id)
        programs_done = func.coalesce(done.c.programs, 0)
        conditions.append(programs_done >= len(required))
    else:
        programs_done = literal(0)
    tiers = sorted(set(credential.required_tiers or []))
    if tiers:
        # A completed course of a program of each required tier (the same shortcut: attendees only).
        tier_attendees = (
            select(Attendance.person_id)
            .join(CourseSession, CourseSession.id == Attendance.session_id)
            .join(Course, Course.id == CourseSession.course_id)
            .join(Program, Program.id == Course.program_id)
            .where(Program.tier.in_(tiers), Attendance.status.in_(ATTENDED), CourseSession.cancelled_at.is_(None))
        )
        finished_tiers = completions(period, ids.where(Person.id.in_(tier_attendees))).subquery()
        tier_done = (
            select(finished_tiers.c.person_id, func.count(distinct(Program.tier)).label("tiers"))
            .join(Course, Course.id == finished_tiers.c.course_id)
            .join(Program, Program.id == Course.program_id)
            .where(Program.tier.in_(tiers))
            .group_by(finished_tiers.c.person_id)
            .subquery()
        )
        stmt = stmt.outerjoin(tier_done, tier_done.c.person_id == Person.id)
        tiers_done = func.coalesce(tier_done.c.tiers, 0)
        conditions.append(tiers_done >= len(tiers))
    else:
        tiers_done = literal(0)
    assessments = sorted(set(credential.required_assessment_ids or []))
    if assessments:
        passing = assessments_passed(assessments, ids).subquery()
        stmt = stmt.outerjoin(passing, passing.c.person_id == Person.id)
        assessments_done = func.coalesce(passing.c.passed, 0)
        conditions.append(assessments_done >= len(assessments))
    else:
        assessments_done = literal(0)
    if credential.min_average_score is not None:
        scores = average_scores(credential, ids).subquery()
        stmt = stmt.outerjoin(scores, scores.c.person_id == Person.id)
        average = scores.c.average
        conditions.append(func.coalesce(average, -1) >= credential.min_average_score)
    else:
        average = literal(None)
    eligible = and_(*conditions) if conditions else true()
    return stmt.add_columns(
        training_hours.label("training_hours"),
        supervision_hours.label("supervision_hours"),
        programs_done.label("programs_done"),
        tiers_done.label("tiers_done"),
        assessments_done.label("assessments_done"),
        average.label("average_score"),
        case((eligible, 1), else_=0).label("eligible"),
    ).where(*filters)


def assessments_passed(assessment_ids: list[int], people: Select) -> Select:
    """Select (person_id, passed): how many of the assessments each person passed, by the rule of
    app.training.grading in SQL: under "best", a sitting not excused reaching the pass mark (absent counts
    0); under "last", the latest sitting does."""
    later = aliased(AssessmentResult)
    latest = ~exists().where(
        later.assessment_id == AssessmentResult.assessment_id,
        later.person_id == AssessmentResult.person_id,
        later.attempt > AssessmentResult.attempt,
    )
    return (
        select(AssessmentResult.person_id, func.count(distinct(AssessmentResult.assessment_id)).label("passed"))
        .join(Assessment, Assessment.id == AssessmentResult.assessment_id)
        .where(
            AssessmentResult.assessment_id.in_(assessment_ids),
            AssessmentResult.person_id.in_(people),
            AssessmentResult.outcome != "excused",
            func.coalesce(AssessmentResult.score, 0) >= Assessment.pass_mark,
            or_(Assessment.retake_rule == "best", latest),
        )
        .group_by(AssessmentResult.person_id)
    )


def average_scores(credential: CredentialType, people: Select) -> Select:
    """Select (person_id, average): the average course score (0-100, one decimal) of each person's courses
    with a score: of the required programs, or of every program (of the period's year, if the type has one)."""
    stmt = (
        select(Enrolment.person_id, func.round(func.avg(Enrolment.score), 1, type_=HOURS).label("average"))
        .join(Course, Course.id == Enrolment.course_id)
        .join(Program, Program.id == Course.program_id)
        .where(Enrolment.score.is_not(None), Enrolment.person_id.in_(people), Enrolment.status.in_(SEATED))
        .group_by(Enrolment.person_id)
    )
    if credential.required_program_ids:
        stmt = stmt.where(Program.id.in_(credential.required_program_ids))
    elif credential.period_year is not None:
        stmt = stmt.where(Program.year == credential.period_year)
    return stmt


def _listed(credential: CredentialType, viewer, people_ids=None) -> Select:
    """The candidates who do not hold the credential (an expired one included: that is renewed), with eligibility."""
    return eligibility_rows(credential, viewer, people_ids=people_ids).where(~holds_certificate(credential))


def eligibility_counts(credential: CredentialType, viewer) -> dict[str, int]:
    """How many candidates who do not hold the credential now qualify, and how many do not yet (one statement)."""
    rows = _listed(credential, viewer).subquery()
    eligible, waiting = db.session.execute(
        select(
            func.coalesce(func.sum(rows.c.eligible), 0), func.coalesce(func.sum(1 - rows.c.eligible), 0)
        ).select_from(rows)
    ).one()
    return {"eligible": int(eligible), "waiting": int(waiting)}


class EligibilityPage(SelectPagination):
    """One page of the candidates who qualify now (or do not yet), and both tabs' counts, from one statement.

    The rule is evaluated once for all of them: every candidate is ranked, those of the tab asked for first (by
    unit and name), and the counts are window sums over all of them, so the page's rows carry them. A page past
    the end of the tab still gets a row of the other tab, with the counts, unless it is past every candidate:
    only then are they counted by a statement of their own.
    """

    def _query_items(self) -> list[Person]:
        want = 1 if self._query_args["eligible"] else 0
        rows = db.session.execute(self._query_args["select"].limit(self.per_page).offset(self._query_offset)).all()
        if rows:
            self.counts = {"eligible": int(rows[0].n_eligible), "waiting": int(rows[0].n_all - rows[0].n_eligible)}
        else:
            self.counts = eligibility_counts(self._query_args["credential"], self._query_args["viewer"])
        return [row.Person for row in rows if row.eligible == want]

    def _query_count(self) -> int:
        return self.counts["eligible" if self._query_args["eligible"] else "waiting"]


def eligibility_page(
    credential: CredentialType, viewer, *, eligible: bool, page: int, per_page: int
) -> EligibilityPage:
    """One page of the people who qualify now (or do not yet) and do not hold the credential, by unit and name;
    ``.counts`` holds how many qualify and how many do not yet (the tabs'). See :class:`EligibilityPage`."""
    rows = _listed(credential, viewer).subquery()
    want = 1 if eligible else 0
    stmt = (
        select(
            Person,
            rows.c.eligible,
            func.sum(rows.c.eligible).over().label("n_eligible"),
            func.count().over().label("n_all"),
        )
        .join(rows, rows.c.id == Person.id)
        .order_by(case((rows.c.eligible == want, 0), else_=1), Person.unit_id, Person.name, Person.id)
    )
    return EligibilityPage(
        select=stmt,
        session=db.session,
        credential=credential,
        viewer=viewer,
        eligible=eligible,
        page=page,
        per_page=per_page,
        max_per_page=100,
        error_out=False,
    )


def eligible_ids(credential: CredentialType, viewer, people_ids: Select | Iterable[int] | None = None) -> list[int]:
    """The ids of every person who qualifies now and does not hold the credential (no limit), by unit and name."""
    rows = _listed(credential, viewer, people_ids).subquery()
    return list(
        db.session.scalars(
            select(rows.c.id).where(rows.c.eligible == 1).order_by(rows.c.unit_id, rows.c.name, rows.c.id)
        )
    )


def printable_ids(viewer, credential: CredentialType) -> list[int]:
    """The valid certificates of the credential that the viewer may see, oldest first (the print order)."""
    stmt = (
        certificates_for(viewer, credential)
        .where(verifies_valid())
        .order_by(None)
        .order_by(Certificate.id)
        .with_only_columns(Certificate.id)
    )
    return list(db.session.scalars(stmt))


def own_certificates(user) -> list[Certificate]:
    """The certificates the signed-in person holds, newest first."""
    stmt = select(Certificate).where(Certificate.person_id == user.person_id).order_by(Certificate.id.desc())
    return list(db.session.scalars(stmt))


def person_certificates(viewer, person_id: int) -> Select:
    """A person's certificates the viewer may see, newest first, with their credential loaded."""
    return (
        certificates_for(viewer).where(Certificate.person_id == person_id).options(selectinload(Certificate.credential))
    )
