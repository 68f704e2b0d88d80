"""What time brings: the scheduler's run, which writes the reminders and digests that are due and delivers.

Run by Celery beat every ``LMS_NOTIFY_INTERVAL_SECONDS`` (``lms scheduler``), in embedded mode by the worker
on a timer, or once by ``lms notify run``: the same :func:`run` each time. Each reminder's key names its
occasion, so running twice (two schedulers, a restart) writes nothing twice, and what was missed while no
scheduler ran is written by the next run:

- tomorrow's sessions, to the people enrolled, from ``LMS_NOTIFY_HOUR`` (local) on the day before;
- supervision left unconfirmed: a reminder to the supervisee after 3 days, and to the coordinators of the
  record's unit (the nearest unit up with any) after 7;
- certificates expiring in 90, 30 and 7 days (the nearest threshold only, once each), and renewable ones;
- continuing-education hours at risk (``LMS_CE_RISK_MONTHS`` before the period ends), once per period;
- the weekly digest of each coordinator's cohorts, once per ISO week from Monday ``LMS_NOTIFY_HOUR``;
- the daily digest of whoever chose it, once a day from ``LMS_NOTIFY_HOUR``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select, update

from ..auth.models import RoleAssignment, User
from ..core.db import utcnow
from ..core.uow import transaction
from ..extensions import db
from ..org.models import OrgUnit
from .delivery import deliver, due_ids
from .models import DAILY_DIGEST, Notification
from .services import notify, notify_users, path_for

EXPIRY_DAYS = (7, 30, 90)
REMIND_AFTER = timedelta(days=3)
ESCALATE_AFTER = timedelta(days=7)
# Who the scheduler reads for: everyone (it writes to each reader only what is theirs).
EVERYONE = SimpleNamespace(is_authenticated=True, is_admin=True, roles=[])


def _tz() -> ZoneInfo:
    return ZoneInfo(current_app.config["LMS_TIMEZONE"])


def _local_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=_tz())


def _after_hour(now: datetime) -> bool:
    return now.astimezone(_tz()).hour >= current_app.config["LMS_NOTIFY_HOUR"]


def run(now: datetime | None = None) -> dict:
    """Write what is due now and deliver the mail waiting; return how many of each."""
    now = now or utcnow()
    written = {}
    for name, step in (
        ("session.tomorrow", sessions_tomorrow),
        ("supervision", unconfirmed_supervision),
        ("certificate", certificates_due),
        ("ce.at_risk", ce_at_risk),
        ("digest.weekly", weekly_digests),
        (DAILY_DIGEST, daily_digests),
    ):
        with transaction():
            written[name] = step(now)
    with transaction():
        ids = due_ids()
    return {"written": written, "mail": deliver(ids)}


def sessions_tomorrow(now: datetime) -> int:
    from ..training.models import Course, CourseSession, Enrolment

    if not _after_hour(now):
        return 0
    tomorrow = now.astimezone(_tz()).date() + timedelta(days=1)
    rows = db.session.execute(
        select(CourseSession, Course.title, Enrolment.person_id)
        .join(Course, Course.id == CourseSession.course_id)
        .join(Enrolment, (Enrolment.course_id == Course.id) & (Enrolment.status == "enrolled"))
        .where(
            CourseSession.starts_at >= _local_start(tomorrow),
            CourseSession.starts_at < _local_start(tomorrow + timedelta(days=1)),
            CourseSession.cancelled_at.is_(None),
        )
        .order_by(CourseSession.id)
    ).all()
    people: dict[int, list[int]] = defaultdict(list)
    sessions = {}
    for session, title, person_id in rows:
        people[session.id].append(person_id)
        sessions[session.id] = (session, title)
    told = 0
    for session_id, ids in people.items():
        session, title = sessions[session_id]
        told += notify(
            ids,
            "session.tomorrow",
            occasion=f"s{session.id}:{tomorrow.isoformat()}",
            link=path_for("training.my_course", course_id=session.course_id),
            course=title,
            starts_at=session.starts_at.isoformat(),
            ends_at=session.ends_at.isoformat(),
            place=session.place,
            mode=session.mode,
        )
    return told


def unconfirmed_supervision(now: datetime) -> int:
    from ..supervision.models import SupervisionCredit, SupervisionRecord

    rows = db.session.execute(
        select(SupervisionCredit, SupervisionRecord)
        .join(SupervisionRecord, SupervisionRecord.id == SupervisionCredit.record_id)
        .where(
            SupervisionCredit.status == "unconfirmed",
            SupervisionRecord.voided_at.is_(None),
            SupervisionRecord.created_at <= now - REMIND_AFTER,
        )
        .order_by(SupervisionCredit.id)
    ).all()
    told = 0
    coordinators = _Coordinators()
    for credit, record in rows:
        supervisor = record.supervisor.name
        told += notify(
            [credit.person_id],
            "supervision.reminder",
            occasion=f"credit{credit.id}",
            link=path_for("supervision.mine"),
            held_on=record.held_on.isoformat(),
            supervisor=supervisor,
            hours=str(credit.hours),
            topic=record.topic,
        )
        if record.created_at <= now - ESCALATE_AFTER:
            told += notify_users(
                coordinators.of(record.unit),
                "supervision.escalation",
                occasion=f"credit{credit.id}",
                link=path_for("supervision.detail", record_id=record.id),
                person=credit.person.name,
                held_on=record.held_on.isoformat(),
                supervisor=supervisor,
                days=(now - record.created_at).days,
            )
    return told


class _Coordinators:
    """The coordinators of the nearest unit up (the unit itself first) that has any, looked up once per unit."""

    def __init__(self):
        self.found: dict[int, list[int]] = {}

    def of(self, unit: OrgUnit) -> list[int]:
        if unit.id not in self.found:
            rows = db.session.execute(
                select(OrgUnit.path, RoleAssignment.user_id)
                .join(RoleAssignment, RoleAssignment.unit_id == OrgUnit.id)
                .join(User, User.id == RoleAssignment.user_id)
                .where(RoleAssignment.role == "coordinator", User.is_enabled.is_(True))
            ).all()
            above = [(path, uid) for path, uid in rows if unit.path.startswith(path)]
            nearest = max((len(p) for p, _u in above), default=None)
            self.found[unit.id] = sorted({uid for p, uid in above if len(p) == nearest})
        return self.found[unit.id]


def certificates_due(now: datetime) -> int:
    from ..credentials import renewal
    from ..credentials.models import Certificate

    today = now.astimezone(_tz()).date()
    horizon = _local_start(today + timedelta(days=max(EXPIRY_DAYS) + 1))
    window = max(current_app.config["LMS_RENEWAL_WINDOW_DAYS"], max(EXPIRY_DAYS))
    rows = db.session.scalars(
        select(Certificate)
        .where(
            Certificate.status == "valid",
            Certificate.superseded_by_id.is_(None),
            Certificate.replaced_at.is_(None),
            Certificate.expires_at.is_not(None),
            Certificate.expires_at >= now,
            Certificate.expires_at < max(horizon, now + timedelta(days=window)),
        )
        .order_by(Certificate.id)
    ).all()
    told = 0
    for cert in rows:
        expires_on = cert.expires_at.astimezone(_tz()).date()
        days = (expires_on - today).days
        link = path_for("credentials.mine")
        name = cert.credential.title
        threshold = next((d for d in EXPIRY_DAYS if days <= d), None)
        if threshold is not None:
            told += notify(
                [cert.person_id],
                "certificate.expiring",
                occasion=f"c{cert.id}:{threshold}",
                link=link,
                credential=name,
                expires_on=expires_on.isoformat(),
                days=days,
            )
        if renewal.is_due(cert, now) and renewal.has_rule(cert.credential) and renewal.check(cert, now).eligible:
            told += notify(
                [cert.person_id],
                "certificate.renewable",
                occasion=f"c{cert.id}",
                link=link,
                credential=name,
                expires_on=expires_on.isoformat(),
            )
    return told


def ce_at_risk(now: datetime) -> int:
    from ..ledger import ce

    if not _after_hour(now):
        return 0
    told = 0
    for row in ce.ce_at_risk(EVERYONE, now.astimezone(_tz()).date(), limit=100_000):
        told += notify(
            [row.person.id],
            "ce.at_risk",
            occasion=f"{row.period_end.isoformat()}",
            link=path_for("training.my_hours"),
            hours=str(row.hours),
            required=str(row.minimum),
            period_end=row.period_end.isoformat(),
        )
    return told


def weekly_digests(now: datetime) -> int:
    """Each coordinator's digest of the cohorts of their units, once a week."""
    from ..coverage.models import Cohort
    from ..coverage.queries import missing_page, unit_report
    from ..credentials.models import Certificate
    from ..people.models import Person
    from ..supervision.models import SupervisionCredit, SupervisionRecord
    from ..training.models import Course, CourseSession, Program

    local = now.astimezone(_tz())
    if not _after_hour(now) and local.weekday() == 0:
        return 0
    year, week, _day = local.isocalendar()
    told = 0
    assignments = db.session.execute(
        select(RoleAssignment.user_id, OrgUnit)
        .join(OrgUnit, OrgUnit.id == RoleAssignment.unit_id)
        .join(User, User.id == RoleAssignment.user_id)
        .where(RoleAssignment.role == "coordinator", User.is_enabled.is_(True))
        .order_by(RoleAssignment.user_id, OrgUnit.path)
    ).all()
    taken = set(
        db.session.scalars(select(Notification.key).where(Notification.key.like(f"digest.weekly:{year}W{week:02d}:%")))
    )
    for user_id, unit in assignments:
        if f"digest.weekly:{year}W{week:02d}:{unit.id}:u{user_id}" in taken:
            continue
        report = unit_report(unit, local.year)
        cohorts = []
        for row in report["cohorts"]:
            cohort = db.session.get(Cohort, row["id"])
            within = unit if cohort.unit_id != unit.id else None
            cohorts.append(
                {
                    "name": row["name"],
                    "training_rate": row["training_rate"],
                    "training_target": row["training_target"],
                    "supervision_rate": row["supervision_rate"],
                    "supervision_target": row["supervision_target"],
                    "missing": missing_page(cohort, within, 1, 1).total,
                }
            )
        subtree = OrgUnit.path.startswith(unit.path)
        sessions = db.session.scalar(
            select(func.count())
            .select_from(CourseSession)
            .join(Course, Course.id == CourseSession.course_id)
            .join(Program, Program.id == Course.program_id)
            .join(OrgUnit, OrgUnit.id == Program.unit_id)
            .where(
                subtree,
                CourseSession.cancelled_at.is_(None),
                CourseSession.starts_at >= now,
                CourseSession.starts_at < now + timedelta(days=7),
            )
        )
        unconfirmed = db.session.scalar(
            select(func.count())
            .select_from(SupervisionCredit)
            .join(SupervisionRecord, SupervisionRecord.id == SupervisionCredit.record_id)
            .join(OrgUnit, OrgUnit.id == SupervisionRecord.unit_id)
            .where(
                subtree,
                SupervisionCredit.status == "unconfirmed",
                SupervisionRecord.voided_at.is_(None),
                SupervisionRecord.created_at <= now - ESCALATE_AFTER,
            )
        )
        expiring = db.session.scalar(
            select(func.count())
            .select_from(Certificate)
            .join(Person, Person.id == Certificate.person_id)
            .join(OrgUnit, OrgUnit.id == Person.unit_id)
            .where(
                subtree,
                Certificate.status == "valid",
                Certificate.superseded_by_id.is_(None),
                Certificate.expires_at >= now,
                Certificate.expires_at < now + timedelta(days=30),
            )
        )
        told += notify_users(
            [user_id],
            "digest.weekly",
            occasion=f"{year}W{week:02d}:{unit.id}",
            link=path_for("coverage.dashboard", unit=unit.id),
            unit=unit.name,
            week=f"{year}-W{week:02d}",
            cohorts=cohorts,
            sessions=sessions,
            unconfirmed=unconfirmed,
            expiring=expiring,
        )
    return told


def daily_digests(now: datetime) -> int:
    """One mail a day gathering the held notifications of each reader who chose a digest."""
    if not _after_hour(now):
        return 0
    today = now.astimezone(_tz()).date().isoformat()
    held = db.session.execute(
        select(Notification.id, Notification.user_id, Notification.person_id)
        .where(Notification.mail_state == "held")
        .order_by(Notification.id)
    ).all()
    if not held:
        return 0
    accounts = dict(
        db.session.execute(
            select(User.person_id, User.id).where(User.person_id.in_({p for _i, _u, p in held if p is not None}))
        ).all()
    )
    by_user: dict[int, list[int]] = defaultdict(list)
    for nid, user_id, person_id in held:
        reader = user_id if user_id is not None else accounts.get(person_id)
        if reader is not None:
            by_user[reader].append(nid)
    told = 0
    for user_id, ids in by_user.items():
        new = notify_users([user_id], DAILY_DIGEST, occasion=today, link=path_for("notices.index"), ids=ids)
        if new:
            db.session.execute(
                update(Notification)
                .where(Notification.id.in_(ids), Notification.mail_state == "held")
                .values(mail_state="digested")
                .execution_options(synchronize_session=False)
            )
            # The digest is a mail, not something to read again in the app.
            db.session.execute(
                update(Notification)
                .where(Notification.key == f"{DAILY_DIGEST}:{today}:u{user_id}")
                .values(read_at=now)
                .execution_options(synchronize_session=False)
            )
        told += new
    return told
