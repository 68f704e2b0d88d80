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
from sqlalchemy.orm import aliased, joinedload

from ..auth.models import RoleAssignment, User
from ..core.db import utcnow
from ..core.uow import transaction
from ..core.urls import path_for
from ..extensions import db
from ..org.models import OrgUnit
from .delivery import deliver, due_ids
from .models import DAILY_DIGEST, Notification
from .services import notification_key, notify, notify_users, taken_keys

EXPIRY_DAYS = (7, 30, 90)
MISSING_NAMED = 10  # names of the missing people a coordinator's digest shows in the app
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
    from ..people.models import Person
    from ..supervision.models import SupervisionCredit, SupervisionRecord

    supervisee, supervisor = aliased(Person), aliased(Person)
    rows = db.session.execute(
        select(SupervisionCredit, SupervisionRecord, supervisee.name, supervisor.name, OrgUnit.path)
        .join(SupervisionRecord, SupervisionRecord.id == SupervisionCredit.record_id)
        .join(supervisee, supervisee.id == SupervisionCredit.person_id)
        .join(supervisor, supervisor.id == SupervisionRecord.supervisor_id)
        .join(OrgUnit, OrgUnit.id == SupervisionRecord.unit_id)
        .where(
            SupervisionCredit.status == "unconfirmed",
            SupervisionRecord.voided_at.is_(None),
            SupervisionRecord.created_at <= now - REMIND_AFTER,
        )
        .order_by(SupervisionCredit.id)
    ).all()
    coordinators = _Coordinators()
    escalated = {
        credit.id: coordinators.of(unit_path)
        for credit, record, _name, _supervisor, unit_path in rows
        if record.created_at <= now - ESCALATE_AFTER
    }
    # What is told already is most of what each run reads: those keys are looked up at once, not written again.
    taken = taken_keys(
        [notification_key("supervision.reminder", f"credit{c.id}", person_id=c.person_id) for c, *_rest in rows]
        + [
            notification_key("supervision.escalation", f"credit{credit_id}", user_id=user_id)
            for credit_id, users in escalated.items()
            for user_id in users
        ]
    )
    told = 0
    for credit, record, person_name, supervisor_name, _path in rows:
        occasion = f"credit{credit.id}"
        facts = {"held_on": record.held_on.isoformat(), "supervisor": supervisor_name}
        if notification_key("supervision.reminder", occasion, person_id=credit.person_id) not in taken:
            told += notify(
                [credit.person_id],
                "supervision.reminder",
                occasion=occasion,
                link=path_for("supervision.mine"),
                hours=str(credit.hours),
                topic=record.topic,
                **facts,
            )
        untold = [
            user_id
            for user_id in escalated.get(credit.id, ())
            if notification_key("supervision.escalation", occasion, user_id=user_id) not in taken
        ]
        if untold:
            told += notify_users(
                untold,
                "supervision.escalation",
                occasion=occasion,
                link=path_for("supervision.detail", record_id=record.id),
                person=person_name,
                days=(now - record.created_at).days,
                **facts,
            )
    return told


def _coordinator_assignments():
    """(unit path, account) of every enabled coordinator's assignment."""
    return (
        select(OrgUnit.path, RoleAssignment.user_id)
        .join(RoleAssignment, RoleAssignment.unit_id == OrgUnit.id)
        .join(User, User.id == RoleAssignment.user_id)
        .where(RoleAssignment.role == "coordinator", User.is_enabled.is_(True))
    )


def _nearest(assigned, unit_path: str) -> list[int]:
    """Of (unit path, account) pairs, the accounts of the nearest unit up from ``unit_path`` that has any."""
    above = [(path, uid) for path, uid in assigned if unit_path.startswith(path)]
    nearest = max((len(p) for p, _u in above), default=None)
    return sorted({uid for p, uid in above if len(p) == nearest})


class _Coordinators:
    """The coordinators of the nearest unit up (the unit itself first) that has any: every coordinator's unit
    is read once per run, and each unit's answer kept."""

    def __init__(self):
        self.assigned: list[tuple[str, int]] | None = None
        self.found: dict[str, list[int]] = {}

    def of(self, unit_path: str) -> list[int]:
        if self.assigned is None:
            self.assigned = db.session.execute(_coordinator_assignments()).all()
        if unit_path not in self.found:
            self.found[unit_path] = _nearest(self.assigned, unit_path)
        return self.found[unit_path]


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
        .options(joinedload(Certificate.credential))
        .order_by(Certificate.id)
    ).all()
    due = []  # (kind, occasion, certificate, days left or None)
    for cert in rows:
        days = (cert.expires_at.astimezone(_tz()).date() - today).days
        threshold = next((d for d in EXPIRY_DAYS if days <= d), None)
        if threshold is not None:
            due.append(("certificate.expiring", f"c{cert.id}:{threshold}", cert, days))
        if renewal.is_due(cert, now) and renewal.has_rule(cert.credential):
            due.append(("certificate.renewable", f"c{cert.id}", cert, None))
    taken = taken_keys([notification_key(k, o, person_id=c.person_id) for k, o, c, _d in due])
    due = [d for d in due if notification_key(d[0], d[1], person_id=d[2].person_id) not in taken]
    # The renewal rule is only checked until the holder is told, for all of them at once.
    checks = renewal.check_many((c for k, _o, c, _d in due if k == "certificate.renewable"), now)
    told = 0
    for kind, occasion, cert, days in due:
        if kind == "certificate.renewable" and not checks[cert.id].eligible:
            continue
        told += notify(
            [cert.person_id],
            kind,
            occasion=occasion,
            link=path_for("credentials.mine"),
            credential=cert.credential.title,
            expires_on=cert.expires_at.astimezone(_tz()).date().isoformat(),
            **({"days": days} if days is not None else {}),
        )
    return told


def ce_at_risk(now: datetime) -> int:
    from ..ledger import ce

    if not _after_hour(now):
        return 0
    rows = ce.ce_at_risk(EVERYONE, now.astimezone(_tz()).date(), limit=100_000)
    taken = taken_keys([notification_key("ce.at_risk", r.period_end.isoformat(), person_id=r.person.id) for r in rows])
    told = 0
    for row in rows:
        occasion = row.period_end.isoformat()
        if notification_key("ce.at_risk", occasion, person_id=row.person.id) in taken:
            continue
        told += notify(
            [row.person.id],
            "ce.at_risk",
            occasion=occasion,
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
    occasion = f"{year}W{week:02d}"
    taken = taken_keys(
        [notification_key("digest.weekly", f"{occasion}:{unit.id}", user_id=uid) for uid, unit in assignments]
    )
    for user_id, unit in assignments:
        if notification_key("digest.weekly", f"{occasion}:{unit.id}", user_id=user_id) in taken:
            continue  # this week's is written: the report is not built again
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
                    **_missing(missing_page(cohort, within, 1, MISSING_NAMED)),
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
            occasion=f"{occasion}:{unit.id}",
            link=path_for("coverage.dashboard", unit=unit.id),
            unit=unit.name,
            week=f"{year}-W{week:02d}",
            cohorts=cohorts,
            sessions=sessions,
            unconfirmed=unconfirmed,
            expiring=expiring,
        )
    return told


def _missing(page) -> dict:
    """How many of a cohort are missing, and the first few names (shown in the app, never mailed)."""
    return {"missing": page.total, "missing_names": [m.person.name for m in page.items]}


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
        if new:  # (the digest itself is a mail only: the notification centre does not list it)
            db.session.execute(
                update(Notification)
                .where(Notification.id.in_(ids), Notification.mail_state == "held")
                .values(mail_state="digested")
                .execution_options(synchronize_session=False)
            )
        told += new
    return told
