"""Renewing a certificate that expires: when its holder may, what they must have done since, and who is due.

A certificate with a validity can be renewed from ``LMS_RENEWAL_WINDOW_DAYS`` (90) before it
expires (at most half its validity before), and at any time after. The credential type's renewal
rule says what renewing asks: continuing-education hours earned since the certificate was issued
(training and supervision, counted as the continuing-education account counts them,
``LMS_CE_COUNTS``) and/or a passing re-assessment entered after it was issued. A type without a
renewal rule asks its own rule again.

Renewing issues a new certificate (a new serial, valid for the type's validity from the day of
renewal) that supersedes the old one: the old one then verifies as "superseded by …", and its bit
is set in the issuer's status list. An expired certificate nobody renewed verifies as "expired"
with its end date.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Select, case, func, select

from ..core.db import utcnow
from ..core.i18n import _l
from ..core.numbers import points
from ..extensions import db
from ..org.queries import in_scope
from ..people.models import Person
from ..supervision.models import SupervisionCredit, SupervisionRecord
from ..training.models import Assessment, AssessmentResult, Attendance, CourseSession
from .models import Certificate, CredentialType

CHUNK = 500  # certificates asked about per statement: each brings a bound value or two


def window(credential: CredentialType) -> timedelta:
    """How long before expiry renewing opens: the setting, but at most half the validity (a certificate valid
    for two months is not due the day it is issued)."""
    configured = timedelta(days=current_app.config["LMS_RENEWAL_WINDOW_DAYS"])
    if not credential.validity_months:
        return configured
    return min(configured, timedelta(days=round(30.44 * credential.validity_months / 2)))


def has_rule(credential: CredentialType) -> bool:
    """Whether the type says what renewing asks (else renewing asks its own rule again)."""
    return credential.renewal_min_hours is not None or bool(credential.renewal_assessment_ids)


def opens_on(certificate: Certificate) -> datetime | None:
    """From when the certificate can be renewed (None: it never expires)."""
    return certificate.expires_at - window(certificate.credential) if certificate.expires_at is not None else None


def is_due(certificate: Certificate, now: datetime | None = None) -> bool:
    """Whether the certificate is held (valid, not replaced) and expires within the window, or has expired."""
    now = now or utcnow()
    return (
        certificate.status == "valid"
        and certificate.replaced_at is None
        and certificate.superseded_by_id is None
        and certificate.expires_at is not None
        and now >= certificate.expires_at - window(certificate.credential)
    )


@dataclass
class RenewalCheck:
    """What renewing a certificate asks of its holder, and what they still lack."""

    certificate: Certificate
    hours: Decimal | None = None  # continuing-education hours since issue (when the rule counts them)
    missing: list = field(default_factory=list)  # lazy messages

    @property
    def eligible(self) -> bool:
        return not self.missing


def _local_day(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(current_app.config["LMS_TIMEZONE"])).date().isoformat()


def check(certificate: Certificate, now: datetime | None = None) -> RenewalCheck:
    """Whether the holder meets the renewal rule now, and what they lack."""
    return check_many([certificate], now)[certificate.id]


def check_many(certificates: Iterable[Certificate], now: datetime | None = None) -> dict[int, RenewalCheck]:
    """:func:`check` of each certificate, by id, in a fixed number of statements however many there are (the
    renewal tab's page of holders, a holder's own certificates): each certificate's hours and re-assessments
    are counted from its own issue."""
    now = now or utcnow()
    certificates = list(certificates)
    if len(certificates) > CHUNK:  # the notifications' scheduler asks about a whole city's
        results: dict[int, RenewalCheck] = {}
        for start in range(0, len(certificates), CHUNK):
            results.update(check_many(certificates[start : start + CHUNK], now))
        return results
    results = {c.id: RenewalCheck(c) for c in certificates}
    ruled = [c for c in certificates if has_rule(c.credential)]
    _own_rule_again([c for c in certificates if not has_rule(c.credential)], results)
    counting = [c for c in ruled if c.credential.renewal_min_hours is not None]
    hours = _hours_since_issue(counting, now) if counting else {}
    for c in counting:
        result = results[c.id]
        result.hours = hours[c.id]
        if result.hours < c.credential.renewal_min_hours:
            result.missing.append(
                _l(
                    "%(h)s continuing-education hours since %(day)s; %(min)s needed to renew",
                    h=points(result.hours),
                    day=_local_day(c.issued_at),
                    min=points(c.credential.renewal_min_hours),
                )
            )
    wanted = {c.id: list(dict.fromkeys(c.credential.renewal_assessment_ids or [])) for c in ruled}
    asked = sorted({a for ids in wanted.values() for a in ids})
    if asked:
        passed = _passed_since_issue([c for c in ruled if wanted[c.id]], asked)
        titles = dict(db.session.execute(select(Assessment.id, Assessment.title).where(Assessment.id.in_(asked))).all())
        for c in ruled:
            for assessment_id in wanted[c.id]:
                if assessment_id not in passed.get(c.id, ()):
                    title = titles.get(assessment_id)
                    results[c.id].missing.append(
                        _l("%(title)s: not passed again since %(day)s", title=title, day=_local_day(c.issued_at))
                        if title
                        else _l("a required assessment no longer exists")
                    )
    return results


def _own_rule_again(certificates: list[Certificate], results: dict[int, RenewalCheck]) -> None:
    """A type without a renewal rule asks its own rule again: what each holder lacks of it (one evaluation of
    the rule per type)."""
    from .services import eligibility

    by_type: dict[int, list[Certificate]] = {}
    for c in certificates:
        by_type.setdefault(c.credential_id, []).append(c)
    for group in by_type.values():
        items = eligibility(group[0].credential, None, people_ids=[c.person_id for c in group], any_category=True)
        lacking = {item.person.id: list(item.missing) for item in items}
        for c in group:
            results[c.id].missing = lacking.get(c.person_id, [_l("inactive")])


def _hours_since_issue(certificates: list[Certificate], now: datetime) -> dict[int, Decimal]:
    """Per certificate, its holder's continuing-education hours from its issue until ``now``, counted as the
    account counts a period (``ledger.ce.counted_hours``: training by the sessions' start, supervision by the
    local day it was held), in a statement per kind of hours counted."""
    from ..ledger.ce import _hours
    from ..ledger.queries import attended_sessions, supervision_credits

    counts = current_app.config["LMS_CE_COUNTS"]
    zone = ZoneInfo(current_app.config["LMS_TIMEZONE"])
    ids = [c.id for c in certificates]
    kinds = []
    if "training" in counts:
        kinds.append(
            attended_sessions(None)
            .join(Certificate, Certificate.person_id == Attendance.person_id)
            .where(CourseSession.starts_at >= Certificate.issued_at, CourseSession.starts_at < now)
        )
    if "supervision" in counts:
        first_day = case({c.id: c.issued_at.astimezone(zone).date() for c in certificates}, value=Certificate.id)
        kinds.append(
            supervision_credits(None)
            .join(Certificate, Certificate.person_id == SupervisionCredit.person_id)
            .where(SupervisionRecord.held_on >= first_day, SupervisionRecord.held_on < now.astimezone(zone).date())
        )
    total = dict.fromkeys(ids, Decimal("0.0"))
    for rows in kinds:
        counted = rows.add_columns(Certificate.id.label("certificate_id")).where(Certificate.id.in_(ids)).subquery()
        found = dict(
            db.session.execute(
                select(counted.c.certificate_id, func.sum(counted.c.hours)).group_by(counted.c.certificate_id)
            ).all()
        )
        for cid in ids:
            total[cid] += _hours(found.get(cid))
    return total


def _passed_since_issue(certificates: list[Certificate], assessment_ids: list[int]) -> dict[int, set[int]]:
    """Per certificate, the assessments of ``assessment_ids`` its holder passed with a sitting entered at or after
    its issue."""
    rows = db.session.execute(
        select(Certificate.id, AssessmentResult.assessment_id)
        .join(AssessmentResult, AssessmentResult.person_id == Certificate.person_id)
        .join(Assessment, Assessment.id == AssessmentResult.assessment_id)
        .where(
            Certificate.id.in_([c.id for c in certificates]),
            AssessmentResult.assessment_id.in_(assessment_ids),
            AssessmentResult.entered_at >= Certificate.issued_at,
            AssessmentResult.outcome != "excused",
            func.coalesce(AssessmentResult.score, 0) >= Assessment.pass_mark,
        )
    )
    passed: dict[int, set[int]] = {}
    for cid, assessment_id in rows:
        passed.setdefault(cid, set()).add(assessment_id)
    return passed


def due_certificates(credential: CredentialType, viewer, now: datetime | None = None) -> Select:
    """The certificates of the credential held by people the viewer may see that are due for renewal, soonest first."""
    now = now or utcnow()
    return (
        select(Certificate)
        .join(Person, Person.id == Certificate.person_id)
        .where(
            Certificate.credential_id == credential.id,
            Certificate.status == "valid",
            Certificate.replaced_at.is_(None),
            Certificate.superseded_by_id.is_(None),
            Certificate.expires_at.is_not(None),
            Certificate.expires_at <= now + window(credential),
            Person.active.is_(True),
            *([in_scope(viewer, Person.unit_id)] if viewer is not None else []),
        )
        .order_by(Certificate.expires_at, Certificate.id)
    )


def due_count(credential: CredentialType, viewer) -> int:
    stmt = due_certificates(credential, viewer).order_by(None).with_only_columns(func.count())
    return db.session.scalar(stmt) or 0
