"""Credential types, issued certificates and the per-issuer serial counters."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
    select,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.db import UTCDateTime, utcnow
from ..extensions import db
from ..org.models import OrgUnit
from ..people.models import Person


class CredentialType(db.Model):
    """What a credential requires, what it changes, how it looks and who issues it."""

    __tablename__ = "credential_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)  # e.g. project-social-worker
    title: Mapped[str] = mapped_column(String(120))
    title_en: Mapped[str | None] = mapped_column(String(120))
    language: Mapped[str] = mapped_column(String(8), default="zh_CN")
    design: Mapped[str] = mapped_column(String(64))  # certificates/<design>/
    issuer_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    issuer_name: Mapped[str] = mapped_column(String(120))  # printed: 杭州市拱墅区民政局
    issuer_code: Mapped[str] = mapped_column(String(32))
    serial_format: Mapped[str] = mapped_column(String(64), default="{issuer_code}-{year}-{seq:05d}")
    # The rule: required programs, minimum hours, within a calendar year (None: all time).
    required_program_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    # And a completed course of a program of each of these tiers (新任, 骨干, 领军).
    required_tiers: Mapped[list[str] | None] = mapped_column(JSON, default=list)
    min_training_hours: Mapped[Decimal | None] = mapped_column(Numeric(6, 1))
    min_supervision_hours: Mapped[Decimal | None] = mapped_column(Numeric(6, 1))
    # And these assessments passed (结业考核…), and an average course score (0-100) over the courses with
    # assessments of the required programs (all programs when none is required) of the period's year.
    required_assessment_ids: Mapped[list[int] | None] = mapped_column(JSON, default=list)
    min_average_score: Mapped[Decimal | None] = mapped_column(Numeric(5, 1))
    period_year: Mapped[int | None]
    transition_from: Mapped[str | None] = mapped_column(String(32))
    transition_to: Mapped[str | None] = mapped_column(String(32))
    validity_months: Mapped[int | None]
    # Renewal (of a credential with a validity): what a holder does to renew before, or after, it expires —
    # continuing-education hours since the certificate was issued and/or a passing re-assessment after it.
    # Neither set: renewing asks the credential's own rule again.
    renewal_min_hours: Mapped[Decimal | None] = mapped_column(Numeric(6, 1))
    renewal_assessment_ids: Mapped[list[int] | None] = mapped_column(JSON, default=list)
    # A continuing-education statement (学时证明): hours of the holder's current registration period, with the
    # minimum for their level and whether it is met, instead of the rule's year or all time.
    ce_period: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The issuer's seal (PNG or SVG, checked by app.credentials.types), a key of the file store.
    seal_key: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    issuer_unit: Mapped[OrgUnit] = relationship()


STATUS_LIST_MIN_BITS = 131_072  # the W3C minimum (16 KB): a list's length says nothing of how many were issued


def compact_serial(serial: str) -> str:
    return serial.upper().replace("-", "")


def _serial_key(context) -> str:
    return compact_serial(context.get_current_parameters()["serial"])


def status_list_size(issued: int) -> int:
    """The status list's length for an issuer with ``issued`` certificates: the minimum, or more, so that a
    random index stays hard to guess (at most a quarter of the entries is ever taken)."""
    size = STATUS_LIST_MIN_BITS
    while size < 4 * (issued + 1):
        size *= 2
    return size


def free_status_index(connection, unit_id: int) -> int:
    """A free entry of the unit's status list, drawn at random (the caller holds the unit's row lock)."""
    import secrets

    from sqlalchemy import exists, func

    issued = connection.scalar(select(func.count()).where(Certificate.issuer_unit_id == unit_id))
    size = status_list_size(issued)
    while True:  # at most a quarter is taken: a free one comes within a few draws
        index = secrets.randbelow(size)
        taken = exists().where(Certificate.issuer_unit_id == unit_id, Certificate.status_index == index)
        if not connection.scalar(select(taken)):
            return index


def _random_status_index(context) -> int:
    params = context.get_current_parameters()
    unit_id = params.get("issuer_unit_id") or _credential_issuer(context)
    return free_status_index(context.connection, unit_id)


def _credential_issuer(context) -> int | None:
    """The issuing unit of the certificate's credential type, for a row inserted without one."""
    credential_id = context.get_current_parameters()["credential_id"]
    return context.connection.scalar(select(CredentialType.issuer_unit_id).where(CredentialType.id == credential_id))


# What a certificate shows and verifies as; only valid and revoked are stored, the others are derived.
SHOWN_STATUSES = ("valid", "revoked", "superseded", "expired")

# What checking an uploaded PDF says: the certificate's status (unknown: no certificate of ours), and its signature.
PDF_CHECK_STATUSES = (*SHOWN_STATUSES, "unknown")
PDF_SIGNATURES = ("intact", "altered", "foreign", "none")
# The forms of a signed Open Badges credential: JSON with an embedded proof, or a VC-JWT.
BADGE_FORMATS = ("json", "jwt")
# A certificate's bit in its issuer's signed status list, read as an outside verifier reads it.
STATUS_LIST_ENTRIES = ("ok", "revoked", "unknown")

# The rows the one-valid-certificate index covers: what a person holds now (expired or not).
HELD = "status = 'valid' AND replaced_at IS NULL"


class Certificate(db.Model):
    """An issued certificate. Never deleted: revoked, superseded by a reissue, or expired."""

    __tablename__ = "certificates"
    __table_args__ = (
        CheckConstraint("status IN ('valid','revoked')", name="status"),
        Index("ix_certificates_person", "person_id", "credential_id"),
        # One certificate per entry of its issuer's status list.
        UniqueConstraint("issuer_unit_id", "status_index", name="uq_certificates_status_index"),
        # At most one valid certificate per person and credential, whatever races the service loses.
        # A reissue or renewal marks the old row replaced *before* inserting the new one, so the
        # index holds at every statement (PostgreSQL cannot defer a partial unique index).
        Index(
            "uq_certificates_one_valid",
            "person_id",
            "credential_id",
            unique=True,
            sqlite_where=text(HELD),
            postgresql_where=text(HELD),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    credential_id: Mapped[int] = mapped_column(ForeignKey("credential_types.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    serial: Mapped[str] = mapped_column(String(64), unique=True)
    verification_code: Mapped[str] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(8), default="valid")
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoke_reason: Mapped[str | None] = mapped_column(String(255))
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id"))
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id"))
    # When a newer certificate of the same person and credential took over (reissue or renewal).
    replaced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the paper claims, frozen at issue: name, masked ID, hours, courses, dates, transition.
    claims: Mapped[dict] = mapped_column(JSON)
    design: Mapped[str] = mapped_column(String(64))
    design_version: Mapped[str] = mapped_column(String(16))
    pdf_path: Mapped[str | None] = mapped_column(String(255))
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The bulk approval (a job) that issued it: the batch that can be revoked at once.
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"), index=True)
    # The unit that issued it, frozen at issue: it signs the certificate's credential and keeps its bit in
    # that unit's status list, whatever later becomes of the credential type's issuer.
    issuer_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True, default=_credential_issuer)
    # The serial as people type it, compacted (upper case, no dashes): what a lookup by serial compares.
    serial_key: Mapped[str] = mapped_column(String(64), index=True, default=_serial_key)
    # Its entry in the issuing unit's status list: drawn at random (the W3C list's privacy advice), so an
    # index says nothing of when or in what order certificates were issued.
    status_index: Mapped[int] = mapped_column(default=_random_status_index)

    credential: Mapped[CredentialType] = relationship()
    issuer_unit: Mapped[OrgUnit] = relationship()
    person: Mapped[Person] = relationship()
    superseded_by: Mapped[Certificate | None] = relationship(foreign_keys=[superseded_by_id], remote_side=[id])


class SerialCounter(db.Model):
    """The last serial number handed out per issuer and year; a row lock makes concurrent issuing safe."""

    __tablename__ = "serial_counters"
    __table_args__ = (UniqueConstraint("issuer_code", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer_code: Mapped[str] = mapped_column(String(32))
    year: Mapped[int]
    last_seq: Mapped[int] = mapped_column(default=0)


class IssuerKey(db.Model):
    """An issuing unit's signing key (ES256, P-256). The newest active key signs; retired keys stay published.

    The private key is encrypted at rest under the data key, like ID numbers; the public key is a JWK.
    """

    __tablename__ = "issuer_keys"
    __table_args__ = (
        # One signing key per unit at a time: two first signatures at once make one key.
        Index(
            "uq_issuer_keys_one_active",
            "unit_id",
            unique=True,
            sqlite_where=text("retired_at IS NULL"),
            postgresql_where=text("retired_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    algorithm: Mapped[str] = mapped_column(String(16), default="ES256")
    public_jwk: Mapped[dict] = mapped_column(JSON)
    private_key_enc: Mapped[str] = mapped_column(Text)
    # A self-signed X.509 certificate of the key (PEM), naming the issuer: what signs the PDFs (PAdES).
    certificate_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # No longer signs (rotated); what it signed still verifies.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    unit: Mapped[OrgUnit] = relationship()
