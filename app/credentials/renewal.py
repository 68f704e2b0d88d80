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

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Select, func, select

from ..core.db import utcnow
from ..core.i18n import _l
from ..core.numbers import points
from ..extensions import db
from ..org.queries import in_scope
from ..people.models import Person
from ..training.models import Assessment, AssessmentResult
from .models import Certificate, CredentialType


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


def hours_since(person_id: int, since: datetime, until: datetime) -> Decimal:
    """Continuing-education hours of a person in [since, until), as the continuing-education account counts."""
    from ..ledger.ce import counted_hours
    from ..ledger.queries import Period

    return sum((h for h in counted_hours(person_id, Period(since, until)) if h is not None), Decimal("0.0"))


def _passed_again(assessment_ids: list[int], person_id: int, since: datetime) -> set[int]:
    """The assessments the person passed with a sitting entered at or after ``since``."""
    return set(
        db.session.scalars(
            select(AssessmentResult.assessment_id)
            .join(Assessment, Assessment.id == AssessmentResult.assessment_id)
            .where(
                AssessmentResult.assessment_id.in_(assessment_ids),
                AssessmentResult.person_id == person_id,
                AssessmentResult.entered_at >= since,
                AssessmentResult.outcome != "excused",
                func.coalesce(AssessmentResult.score, 0) >= Assessment.pass_mark,
            )
        )
    )


def check(certificate: Certificate, now: datetime | None = None) -> RenewalCheck:
    """Whether the holder meets the renewal rule now, and what they lack."""
    from .services import eligibility

    now = now or utcnow()
    credential = certificate.credential
    result = RenewalCheck(certificate)
    if not has_rule(credential):
        items = eligibility(credential, None, people_ids=[certificate.person_id], any_category=True)
        result.missing = list(items[0].missing) if items else [_l("inactive")]
        return result
    since = _local_day(certificate.issued_at)
    if credential.renewal_min_hours is not None:
        result.hours = hours_since(certificate.person_id, certificate.issued_at, now)
        if result.hours < credential.renewal_min_hours:
            result.missing.append(
                _l(
                    "%(h)s continuing-education hours since %(day)s; %(min)s needed to renew",
                    h=points(result.hours),
                    day=since,
                    min=points(credential.renewal_min_hours),
                )
            )
    wanted = list(dict.fromkeys(credential.renewal_assessment_ids or []))
    if wanted:
        passed = _passed_again(wanted, certificate.person_id, certificate.issued_at)
        titles = dict(
            db.session.execute(select(Assessment.id, Assessment.title).where(Assessment.id.in_(wanted))).all()
        )
        for assessment_id in wanted:
            if assessment_id not in passed:
                title = titles.get(assessment_id)
                result.missing.append(
                    _l("%(title)s: not passed again since %(day)s", title=title, day=since)
                    if title
                    else _l("a required assessment no longer exists")
                )
    return result


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
