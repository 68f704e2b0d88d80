"""Credential types, issued certificates and the per-issuer serial counters."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Numeric, String, UniqueConstraint, text
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
    # The issuer's seal (PNG or SVG, checked by app.credentials.types), a key of the file store.
    seal_key: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    issuer_unit: Mapped[OrgUnit] = relationship()


# What a certificate shows and verifies as; only valid and revoked are stored, the others are derived.
SHOWN_STATUSES = ("valid", "revoked", "superseded", "expired")

# The rows the one-valid-certificate index covers: what a person holds now (expired or not).
HELD = "status = 'valid' AND replaced_at IS NULL"


class Certificate(db.Model):
    """An issued certificate. Never deleted: revoked, superseded by a reissue, or expired."""

    __tablename__ = "certificates"
    __table_args__ = (
        CheckConstraint("status IN ('valid','revoked')", name="status"),
        Index("ix_certificates_person", "person_id", "credential_id"),
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

    credential: Mapped[CredentialType] = relationship()
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
