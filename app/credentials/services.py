"""Credentials: who is eligible, issuing (serial, code, claims, transition, PDF), revoking, reissuing.

Issuing happens in the caller's transaction. It first locks the issuer's
serial counter row (SELECT … FOR UPDATE on PostgreSQL; BEGIN IMMEDIATE already
serialises SQLite), then re-reads what the person holds: two approvals at
once queue there, and the second finds the first one's certificate instead of
taking a serial. The counter is then advanced with UPDATE … RETURNING, so
serials are distinct and gap-free per issuer and year; a rolled-back issue
leaves no trace. A partial unique index (one valid, not replaced certificate
per person and credential) backs this up: a race it catches is answered with
the winner's certificate.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Select, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..audit.services import record_audit
from ..core.db import upsert, utcnow
from ..core.domain import Conflict, DomainError, Invalid, NotFound, Unavailable
from ..core.errors import is_race
from ..core.i18n import _l
from ..core.numbers import points
from ..core.storage import storage
from ..core.urls import path_for, public_url
from ..extensions import db
from ..ledger.queries import completions
from ..notices.services import mark_answered, notification_key, notify, occasion_key
from ..org.models import OrgUnit
from ..org.queries import unit_in_scope
from ..people.labels import CATEGORY_LABELS
from ..people.models import Person
from ..training.grading import counted, sittings_of
from ..training.labels import TIER_LABELS
from ..training.models import Assessment, Course, Program
from .models import Certificate, CredentialType, SerialCounter, compact_serial, free_status_index
from .queries import credential_period, eligibility_rows

PDF_FOLDER = "certificates/"  # issued PDFs in the store, by serial

# People loaded and issued per round of a bulk approval (and ids per IN list: PostgreSQL takes 65,535 parameters).
CHUNK = 500
# People of a bulk approval issued, then rendered together in one savepoint: one layout and one font subset
# (~70 ms) per batch rather than per certificate. Bounded by memory (~0.6 MB of layout per certificate while
# a batch is drawn) and by the issuer's serial lock, held until the batch is committed (a job commits each).
RENDER_BATCH = 35


@dataclass
class Eligibility:
    person: Person
    training_hours: Decimal
    supervision_hours: Decimal
    programs_done: list[int]
    missing: list = field(default_factory=list)
    credential: CredentialType | None = None  # set where a person's rules of several credentials are listed

    @property
    def eligible(self) -> bool:
        return not self.missing


def eligibility(
    credential: CredentialType,
    viewer,
    people_ids: Select | Iterable[int] | None = None,
    any_category: bool = False,
) -> list[Eligibility]:
    """Evaluate the credential's rule for every person in scope, with what each one still lacks, by unit and name.

    The rule itself is evaluated in SQL (see ``queries.eligibility_rows``); the
    statement count does not grow with the number of people. A transition
    credential concerns only people of its "from" category, unless ``any_category``.
    """
    stmt = eligibility_rows(credential, viewer, people_ids=people_ids, any_category=any_category)
    rows = db.session.execute(
        stmt.options(selectinload(Person.unit)).order_by(Person.unit_id, Person.name, Person.id)
    ).all()
    required = list(dict.fromkeys(credential.required_program_ids or []))
    short = [row.Person.id for row in rows if row.programs_done < len(required)]
    done: dict[int, set[int]] = {}
    period = credential_period(credential)
    for start in range(0, len(short), CHUNK):
        finished = completions(period, short[start : start + CHUNK]).subquery()
        for pid, program_id in db.session.execute(
            select(finished.c.person_id, Course.program_id).join(Course, Course.id == finished.c.course_id)
        ):
            done.setdefault(pid, set()).add(program_id)
    programs = {}
    if short:
        programs = {p.id: p.title for p in db.session.scalars(select(Program).where(Program.id.in_(required)))}
    tiers = sorted(set(credential.required_tiers or []))
    tier_short = [row.Person.id for row in rows if row.tiers_done < len(tiers)]
    tiers_done: dict[int, set[str]] = {}
    for start in range(0, len(tier_short), CHUNK):
        finished = completions(period, tier_short[start : start + CHUNK]).subquery()
        for pid, tier in db.session.execute(
            select(finished.c.person_id, Program.tier)
            .join(Course, Course.id == finished.c.course_id)
            .join(Program, Program.id == Course.program_id)
        ):
            tiers_done.setdefault(pid, set()).add(tier)
    assessments, by_id, sittings = _assessment_shortfalls(credential, rows)
    out = []
    for row in rows:
        person = row.Person
        finished_programs = done.get(person.id, set()) if row.programs_done < len(required) else set(required)
        item = Eligibility(
            person, Decimal(row.training_hours), Decimal(row.supervision_hours), sorted(finished_programs)
        )
        if credential.min_training_hours is not None and item.training_hours < credential.min_training_hours:
            item.missing.append(_l("%(h)s training hours short", h=credential.min_training_hours - item.training_hours))
        if credential.min_supervision_hours is not None and item.supervision_hours < credential.min_supervision_hours:
            item.missing.append(
                _l("%(h)s supervision hours short", h=credential.min_supervision_hours - item.supervision_hours)
            )
        for program_id in required:
            if program_id not in finished_programs:
                item.missing.append(_l("not completed: %(title)s", title=programs.get(program_id, program_id)))
        if row.tiers_done < len(tiers):
            for tier in tiers:
                if tier not in tiers_done.get(person.id, set()):
                    item.missing.append(
                        _l("not completed: a course of a %(tier)s program", tier=TIER_LABELS.get(tier, tier))
                    )
        if row.assessments_done < len(assessments):
            for assessment_id in assessments:
                assessment = by_id.get(assessment_id)
                result = counted(assessment, sittings.get((assessment_id, person.id), [])) if assessment else None
                if result is None or not result.passed:
                    item.missing.append(_not_passed(assessment, result))
        minimum = credential.min_average_score
        if minimum is not None and (row.average_score is None or Decimal(str(row.average_score)) < minimum):
            item.missing.append(
                _l("no course score yet (an average of %(min)s is needed)", min=points(minimum))
                if row.average_score is None
                else _l(
                    "average score %(avg)s, %(min)s needed",
                    avg=points(Decimal(str(row.average_score))),
                    min=points(minimum),
                )
            )
        out.append(item)
    return out


def within_reach(person: Person) -> list[Eligibility]:
    """The credentials of the units above the person that they hold no certificate of (a revoked one aside),
    each with what its rule still asks of them; a transition credential only if it is from their category.
    By credential title. (The rule is the coordinator's: someone who meets it waits for their approval.)"""
    held = select(Certificate.credential_id).where(Certificate.person_id == person.id, Certificate.status != "revoked")
    credentials = db.session.scalars(
        select(CredentialType)
        .where(CredentialType.issuer_unit_id.in_(person.unit.path_ids), CredentialType.id.not_in(held))
        .order_by(CredentialType.title, CredentialType.id)
    )
    found = []
    for credential in credentials:
        for item in eligibility(credential, None, people_ids=[person.id]):
            item.credential = credential
            found.append(item)
    return found


def _assessment_shortfalls(credential: CredentialType, rows) -> tuple[list[int], dict, dict]:
    """The required assessments, those that exist by id, and the sittings of the people who did not pass them all."""
    assessments = list(dict.fromkeys(credential.required_assessment_ids or []))
    short = [row.Person.id for row in rows if row.assessments_done < len(assessments)]
    if not short:
        return assessments, {}, {}
    required = {a.id: a for a in db.session.scalars(select(Assessment).where(Assessment.id.in_(assessments)))}
    sittings: dict = {}
    for start in range(0, len(short), CHUNK):
        sittings.update(sittings_of(list(required), short[start : start + CHUNK]))
    return assessments, required, sittings


def _not_passed(assessment: Assessment | None, result) -> object:
    """Why an assessment a credential requires is not passed: "结业考核 58 分，合格线 60 分"."""
    if assessment is None:
        return _l("a required assessment no longer exists")
    title, mark = assessment.title, points(assessment.pass_mark)
    if result.outcome is None:
        return _l("%(title)s: not yet assessed", title=title)
    if result.excused:
        return _l("%(title)s: excused, so not passed", title=title)
    if result.outcome == "absent":
        return _l("%(title)s: absent, pass mark %(mark)s", title=title, mark=mark)
    return _l("%(title)s %(score)s points, pass mark %(mark)s", title=title, score=points(result.score), mark=mark)


def verification_code() -> str:
    """A verification code of 160 random bits, base32 in groups of four for reading aloud."""
    raw = base64.b32encode(secrets.token_bytes(20)).decode()
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def _typed(text: str) -> str:
    """What was typed, with full-width letters, digits and dashes made ASCII (NFKC) and in upper case."""
    folded = unicodedata.normalize("NFKC", text or "").upper()
    return "".join(ch for ch in folded if ch.isascii() and (ch.isalnum() or ch == "-"))[:64]


def normalise_code(code: str) -> str:
    """Canonical form of a typed code: upper case, grouped, no spaces (full-width characters made ASCII)."""
    raw = _typed(code).replace("-", "")
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def normalise_serial(serial: str) -> str:
    """A typed serial in upper case, full-width made ASCII: ``ｇｓｍｚ－2026－00069`` → ``GSMZ-2026-00069``."""
    return _typed(serial)


def find_by_serial(serial: str) -> Certificate | None:
    """Look a certificate up by its serial as typed: with or without dashes, in either case, full-width or not."""
    compact = compact_serial(normalise_serial(serial))
    if not compact:
        return None
    return db.session.scalar(
        select(Certificate).where(Certificate.serial_key == compact).order_by(Certificate.id).limit(1)
    )


def _counter_row(credential: CredentialType, year: int) -> None:
    ins = upsert(db.session, SerialCounter)
    db.session.execute(
        ins.values(issuer_code=credential.issuer_code, year=year, last_seq=0).on_conflict_do_nothing(
            index_elements=["issuer_code", "year"]
        )
    )


def lock_issuer(credential: CredentialType, year: int) -> None:
    """Lock the issuer's serial counter of the year until the transaction ends: issuing for this issuer queues here."""
    _counter_row(credential, year)
    db.session.execute(
        select(SerialCounter.id)
        .where(SerialCounter.issuer_code == credential.issuer_code, SerialCounter.year == year)
        .with_for_update()
    )


def next_serial(credential: CredentialType, year: int) -> str:
    """Take the next serial number of the credential's issuer and year (never reused)."""
    _counter_row(credential, year)
    seq = db.session.execute(
        update(SerialCounter)
        .where(SerialCounter.issuer_code == credential.issuer_code, SerialCounter.year == year)
        .values(last_seq=SerialCounter.last_seq + 1)
        .returning(SerialCounter.last_seq)
    ).scalar_one()
    return credential.serial_format.format(issuer_code=credential.issuer_code, year=year, seq=seq)


def _claims(credential: CredentialType, item: Eligibility, issued_at, expires_at) -> dict:
    person = item.person
    courses = []
    if credential.required_program_ids:
        courses = [
            p.title
            for p in db.session.scalars(
                select(Program).where(Program.id.in_(credential.required_program_ids)).order_by(Program.id)
            )
        ]
    local = issued_at.astimezone(ZoneInfo(current_app.config["LMS_TIMEZONE"]))
    ce = _ce_statement(credential, person, local.date())
    period = ce["period"] if ce else credential_period(credential)
    training = ce["account"].training_hours if ce else item.training_hours
    supervision = ce["account"].supervision_hours if ce else item.supervision_hours
    return {
        "name": person.name,
        "id_number": person.id_number_masked,
        "unit": person.unit.name,
        "training_hours": float(training or 0),
        "supervision_hours": float(supervision or 0),
        "programs": courses,
        "period_year": credential.period_year,
        "issued_on": local.date().isoformat(),
        "expires_on": expires_at.astimezone(ZoneInfo(current_app.config["LMS_TIMEZONE"])).date().isoformat()
        if expires_at
        else None,
        "transition": (
            {
                "from": credential.transition_from,
                "to": credential.transition_to,
                "from_label": str(CATEGORY_LABELS[credential.transition_from]),
                "to_label": str(CATEGORY_LABELS[credential.transition_to]),
            }
            if credential.transition_to
            else None
        ),
        "credential": credential.title,
        "issuer": credential.issuer_name,
        # Salts the holder's hashed ID number in the digital credential; not in the credential itself (an ID
        # number is guessable from its masked form), the holder hands it to whoever must match the number.
        "identity_salt": secrets.token_hex(16),
        "records": [r for r in _records(period, person) if not ce or r["kind"] != "督导" or supervision is not None],
        **(ce["claims"] if ce else {}),
    }


def _in_language(credential: CredentialType, label) -> str:
    """A label in the credential's own language (the paper's), whoever issues it."""
    from flask_babel import force_locale

    with force_locale("zh_Hans_CN" if credential.language.startswith("zh") else "en"):
        return str(label)


def _ce_statement(credential: CredentialType, person: Person, today) -> dict | None:
    """For a per-period statement: the holder's registration period holding ``today``, its hours and minimum.

    None when the credential states other hours, or the holder keeps no continuing-education account
    (no qualification level or no registration date): their statement then counts the rule's period.
    """
    from ..ledger.ce import ce_account, local_period
    from ..people.labels import LEVEL_LABELS

    if not credential.ce_period:
        return None
    account = ce_account(person, today)
    if account is None:
        return None
    return {
        "account": account,
        "period": local_period(account.period_start, account.period_end),
        "claims": {
            "start_date": account.period_start.isoformat(),
            "end_date": account.last_day.isoformat(),
            "ce": {
                "level": person.level,
                "level_label": _in_language(credential, LEVEL_LABELS[person.level]),
                "minimum_hours": float(account.minimum),
                "hours": float(account.hours),
                "met": account.met,
                "short_hours": float(account.remaining_hours),
                "counted": list(account.counted_from),
            },
        },
    }


def _records(period, person: Person) -> list[dict]:
    """The attended sessions and counted supervision of ``period`` behind the hours (for the hours statement)."""
    from ..ledger.queries import attended_sessions, supervision_credits
    from ..supervision.models import SupervisionRecord
    from ..training.models import CourseSession

    tz = ZoneInfo(current_app.config["LMS_TIMEZONE"])
    attended = attended_sessions(period).subquery()
    rows = [
        {"date": starts.astimezone(tz).date().isoformat(), "title": title, "kind": "培训", "hours": float(hours)}
        for starts, title, hours in db.session.execute(
            select(CourseSession.starts_at, Course.title, CourseSession.hours)
            .join(attended, attended.c.session_id == CourseSession.id)
            .join(Course, Course.id == CourseSession.course_id)
            .where(attended.c.person_id == person.id)
        )
    ]
    credits = supervision_credits(period).subquery()
    rows += [
        {"date": held.isoformat(), "title": topic, "kind": "督导", "hours": float(hours)}
        for held, topic, hours in db.session.execute(
            select(SupervisionRecord.held_on, SupervisionRecord.topic, credits.c.hours)
            .join(credits, credits.c.record_id == SupervisionRecord.id)
            .where(credits.c.person_id == person.id)
        )
    ]
    return sorted(rows, key=lambda r: r["date"])[:1000]


def held_certificate(credential: CredentialType, person: Person) -> Certificate | None:
    """The person's valid, not replaced certificate of this credential (expired or not): the one the index allows."""
    return db.session.scalar(
        select(Certificate)
        .where(
            Certificate.credential_id == credential.id,
            Certificate.person_id == person.id,
            Certificate.status == "valid",
            Certificate.replaced_at.is_(None),
        )
        .order_by(Certificate.id.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    )


def _expired(certificate: Certificate, now: datetime) -> bool:
    return certificate.expires_at is not None and certificate.expires_at <= now


def issue_certificate(
    *, credential: CredentialType, person: Person, actor, render: bool = True, replaces: Certificate | None = None
) -> Certificate:
    """Issue the credential to an eligible person: serial, code, claims, transition, audit, stored PDF (flushes).

    Issuing twice does not duplicate: the current certificate is returned.
    """
    return _issue(credential=credential, person=person, actor=actor, render=render, replaces=replaces)[0]


def _already_reissued(certificate: Certificate) -> Conflict:
    successor = db.session.get(Certificate, certificate.superseded_by_id) if certificate.superseded_by_id else None
    if successor is not None:
        return Conflict(_l("This certificate was already reissued as %(serial)s.", serial=successor.serial))
    return Conflict(_l("This certificate was already reissued."))


def _holds_another(person: Person, held: Certificate) -> Conflict:
    return Conflict(
        _l("%(name)s holds the valid certificate %(serial)s: reissue that one.", name=person.name, serial=held.serial)
    )


def _issue(
    *,
    credential: CredentialType,
    person: Person,
    actor,
    render: bool,
    replaces: Certificate | None,
    job_id: int | None = None,
    renew: bool = False,
) -> tuple[Certificate, bool]:
    """Issue (or find) the certificate; return it and whether this call issued it.

    Someone who holds a certificate gets it back, unless it expired or (``renew``) is due for renewal:
    then the new certificate renews it, by the type's renewal rule (see ``renewal``).
    """
    from . import renewal

    if actor is not None and not unit_in_scope(actor, person.unit):
        raise NotFound(_l("Not found."))
    now = utcnow()
    year = now.astimezone(ZoneInfo(current_app.config["LMS_TIMEZONE"])).year
    # Queue behind any other issuing for this issuer, then read again what the person holds: what was
    # read before the lock may be stale (another request issued, reissued or moved the person meanwhile).
    lock_issuer(credential, year)
    # And the issuing unit: two credential types of one unit draw from its one status list.
    db.session.execute(select(OrgUnit.id).where(OrgUnit.id == credential.issuer_unit_id).with_for_update())
    db.session.execute(
        select(Person).where(Person.id == person.id).with_for_update().execution_options(populate_existing=True)
    )
    held = held_certificate(credential, person)
    if replaces is None:
        if held is not None and not _expired(held, now) and not (renew and renewal.is_due(held, now)):
            return held, False
        previous = held  # expired, or due and asked for: issuing again renews it
    else:
        db.session.refresh(replaces)
        if replaces.superseded_by_id is not None or replaces.replaced_at is not None:
            raise _already_reissued(replaces)
        if held is not None and held.id != replaces.id:
            raise _holds_another(person, held)
        previous = replaces
    renewing = replaces is None and previous is not None
    # A reissue corrects, and a renewal extends, a certificate whose holder already made the transition.
    first = replaces is None and previous is None
    if first and credential.transition_from and person.category != credential.transition_from:
        raise Invalid(_l("%(name)s is not in the category this credential converts from.", name=person.name))
    items = eligibility(credential, None, people_ids=[person.id], any_category=True)
    if renewing:
        checked = renewal.check(previous, now)
        if not items or not checked.eligible:
            reasons = "; ".join(str(m) for m in checked.missing) or str(_l("inactive"))
            raise Invalid(_l("%(name)s cannot renew yet: %(reasons)s", name=person.name, reasons=reasons))
    elif not items or not items[0].eligible:
        reasons = "; ".join(str(m) for m in items[0].missing) if items else str(_l("inactive"))
        raise Invalid(_l("%(name)s does not qualify: %(reasons)s", name=person.name, reasons=reasons))
    try:
        with db.session.begin_nested():
            certificate = _write(credential, items[0], actor, now, year, previous, replaces, render, job_id)
    except IntegrityError as exc:
        # The one-valid index caught a race the lock did not (e.g. two years' counters at midnight):
        # the savepoint took back the serial; answer with the winner's certificate.
        winner = held_certificate(credential, person) if is_race(exc) else None
        if winner is None:
            raise
        if replaces is None:
            return winner, False
        db.session.refresh(replaces)
        raise (_already_reissued(replaces) if replaces.superseded_by_id else _holds_another(person, winner)) from None
    if previous is not None:
        expiry_notices_answered(previous)
    notify(
        [person.id],
        "certificate.issued",
        occasion=f"c{certificate.id}",
        link=path_for("credentials.verify", code=certificate.verification_code),
        credential=credential.title,
        serial=certificate.serial,
    )
    return certificate, True


def _write(
    credential: CredentialType,
    item: Eligibility,
    actor,
    now: datetime,
    year: int,
    previous: Certificate | None,
    replaces: Certificate | None,
    render: bool,
    job_id: int | None = None,
) -> Certificate:
    from .render import load_design

    person = item.person
    if previous is not None:
        # Marked before the new row exists, so that the one-valid index holds at every statement.
        previous.replaced_at = now
        db.session.flush()
    if replaces is not None:  # a correction: the same validity, never a longer one (that is a renewal's)
        expires_at = replaces.expires_at
    else:
        expires_at = (
            now + timedelta(days=round(30.44 * credential.validity_months)) if credential.validity_months else None
        )
    design = load_design(credential.design)
    certificate = Certificate(
        credential=credential,
        person=person,
        serial=next_serial(credential, year),
        verification_code=verification_code(),
        issued_at=now,
        expires_at=expires_at,
        claims=_claims(credential, item, now, expires_at),
        design=credential.design,
        design_version=str(design.version),
        issued_by_id=getattr(actor, "id", None),
        replaces_id=previous.id if previous is not None else None,
        job_id=job_id,
        issuer_unit_id=credential.issuer_unit_id,
        status_index=free_status_index(db.session.connection(), credential.issuer_unit_id),
    )
    certificate.serial_key = compact_serial(certificate.serial)
    db.session.add(certificate)
    db.session.flush()
    if previous is not None:  # a reissue or a renewal: the old one now verifies as superseded by this one
        previous.superseded_by_id = certificate.id
    before = person.category
    if credential.transition_to and person.category == credential.transition_from:
        person.category = credential.transition_to
    record_audit(
        actor=actor,
        action="certificate.reissue" if replaces else ("certificate.renew" if previous else "certificate.issue"),
        entity_type="certificate",
        entity_id=certificate.id,
        before={
            "category": before,
            "replaces": replaces.serial if replaces else None,
            "renews": previous.serial if previous is not None and replaces is None else None,
        },
        after={
            "serial": certificate.serial,
            "person_id": person.id,
            "credential": credential.name,
            "category": person.category,
        },
    )
    if render:
        store_pdf(certificate)
    db.session.flush()
    return certificate


@dataclass
class IssueSummary:
    """What a bulk approval did: certificates issued, people who already held one, refusals."""

    issued: int = 0
    held: int = 0
    refused: list = field(default_factory=list)  # messages (lazy: the boundary picks the language)
    stopped: object | None = None  # why issuing stopped early (the certificate folder cannot be written)


def issue_to_people(
    *,
    credential: CredentialType,
    person_ids: Iterable[int],
    actor,
    render: bool = True,
    job_id: int | None = None,
    renew: bool = False,
) -> IssueSummary:
    """Issue the credential to each person, each in a savepoint so one refusal does not stop the rest (flushes).

    Takes ids (a job can call it); people are loaded a chunk at a time. The certificates of
    ``RENDER_BATCH`` people are rendered together (one layout, fonts subset once) and kept only
    with their PDFs: the batch's savepoint takes them all back if one cannot be stored. Stops at
    the first storage failure: every later certificate would fail the same way.
    """
    summary = IssueSummary()
    ids = list(dict.fromkeys(person_ids))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        people = {
            p.id: p
            for p in db.session.scalars(select(Person).where(Person.id.in_(chunk)).options(selectinload(Person.unit)))
        }
        for first in range(0, len(chunk), RENDER_BATCH):
            batch = IssueSummary()
            try:
                with db.session.begin_nested():
                    issued = _issue_batch(
                        credential,
                        [people.get(i) for i in chunk[first : first + RENDER_BATCH]],
                        actor,
                        job_id,
                        batch,
                        renew,
                    )
                    if render and issued:
                        store_pdfs(issued)
            except Unavailable as exc:
                summary.stopped = exc.message
                return summary
            summary.issued += batch.issued
            summary.held += batch.held
            summary.refused += batch.refused
    return summary


def _issue_batch(
    credential: CredentialType,
    people: list[Person | None],
    actor,
    job_id: int | None,
    summary: IssueSummary,
    renew: bool = False,
) -> list[Certificate]:
    """Issue to each person, unrendered, in a savepoint of their own; count in ``summary``; return the new ones."""
    issued = []
    for person in people:
        try:
            if person is None:
                raise NotFound(_l("Not found."))
            with db.session.begin_nested():
                certificate, created = _issue(
                    credential=credential,
                    person=person,
                    actor=actor,
                    render=False,
                    replaces=None,
                    job_id=job_id,
                    renew=renew,
                )
        except Unavailable:
            raise  # not a refusal of this person: the caller stops
        except DomainError as exc:
            summary.refused.append(exc.message)
            continue
        if created:
            issued.append(certificate)
        else:
            summary.held += 1
    summary.issued = len(issued)
    return issued


def certificate_context(certificate: Certificate, seals: dict | None = None) -> dict:
    """What the design template receives: the frozen claims plus serial, code and the QR code.

    ``seals`` (credential id → seal) lets a batch read each credential's seal from the store once.
    """
    from .render import qr_svg
    from .types import seal_data_uri

    url = verify_url(certificate.verification_code)
    if seals is None:
        seal = seal_data_uri(certificate.credential)
    elif certificate.credential_id in seals:
        seal = seals[certificate.credential_id]
    else:
        seal = seals[certificate.credential_id] = seal_data_uri(certificate.credential)
    return {
        **certificate.claims,
        "serial": certificate.serial,
        "code": certificate.verification_code,
        "verify_url": url,
        "qr_svg": qr_svg(url),
        "seal_url": seal,
    }


def verify_url(code: str) -> str:
    """The public verification address of a code, printed on paper and in the QR code.

    ``LMS_PUBLIC_URL`` names the public host; without it a request's own host is
    used. The academy's URL prefix (mounted in a host app) is always kept.
    """
    return public_url("credentials.verify", code=code)


def _storage_failed(exc: OSError) -> Unavailable:
    current_app.logger.error("certificate storage failed: %s", exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        message = _l(
            "The certificate PDF could not be saved: the certificate folder is full. Please tell the administrator."
        )
    elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        message = _l(
            "The certificate PDF could not be saved: the certificate folder is read-only. "
            "Please tell the administrator."
        )
    else:
        message = _l(
            "The certificate PDF could not be saved: the certificate folder cannot be written. "
            "Please tell the administrator."
        )
    return Unavailable(message)


def pdf_key(certificate: Certificate) -> str:
    """Where the certificate's PDF is kept in the store."""
    return f"{PDF_FOLDER}{Path(certificate.pdf_path or f'{certificate.serial}.pdf').name}"


def store_pdf(certificate: Certificate) -> bytes:
    """Render the certificate once and keep it, with its SHA-256, in the store; a store that refuses is Unavailable."""
    from .render import load_design, render_html, render_pdf

    design = load_design(certificate.design)
    pdf = render_pdf(design, render_html(design, certificate_context(certificate)))
    return _keep_pdf(certificate, pdf)


def store_pdfs(certificates: list[Certificate]) -> None:
    """Render these certificates a batch at a time, each into a PDF of its own, and keep them as ``store_pdf`` does.

    A batch is laid out as one document (see ``render.render_each``) and its PDFs are stored
    before the next batch is laid out: memory does not grow with the number of certificates.
    """
    from .render import load_design, render_each

    designs: dict[str, list[Certificate]] = {}
    for certificate in certificates:
        designs.setdefault(certificate.design, []).append(certificate)
    seals: dict = {}
    for name, group in designs.items():
        contexts = (certificate_context(c, seals) for c in group)
        for certificate, pdf in zip(group, render_each(load_design(name), contexts, RENDER_BATCH), strict=True):
            _keep_pdf(certificate, pdf)
    db.session.flush()


def _keep_pdf(certificate: Certificate, pdf: bytes) -> bytes:
    """Sign the PDF (PAdES), put it in the store under the certificate's serial and note its SHA-256; return it."""
    from .pdfsign import sign_pdf

    pdf = sign_pdf(certificate, pdf)
    certificate.pdf_path = f"{certificate.serial}.pdf"
    try:
        storage().put(pdf_key(certificate), pdf, "application/pdf")
    except OSError as exc:
        certificate.pdf_path = None
        raise _storage_failed(exc) from exc
    certificate.pdf_sha256 = hashlib.sha256(pdf).hexdigest()
    return pdf


def certificate_pdf(certificate: Certificate) -> bytes:
    """The certificate's PDF from the store; rendered (and kept) the first time, or when it went missing."""
    if certificate.pdf_path:
        try:
            return storage().get(pdf_key(certificate))
        except FileNotFoundError:
            current_app.logger.warning("certificate %s: stored PDF missing, rendering it again", certificate.serial)
        except OSError as exc:
            raise _storage_failed(exc) from exc
    return store_pdf(certificate)


ARCHIVAL_FOLDER = "certificates/archival/"
ARCHIVAL_ATTACHMENT = "credential.json"


def archival_pdf(certificate: Certificate) -> bytes:
    """The certificate's archival copy: PDF/A-3b with its signed Open Badges credential embedded, signed.

    Rendered and kept the first time it is asked for; the same certificate, so the upload check
    finds it an unaltered original by its issuer's signature.
    """
    import json

    from .badges import signed_badge
    from .pdfsign import sign_pdf
    from .render import load_design, render_archival, render_html

    key = f"{ARCHIVAL_FOLDER}{certificate.serial}.pdf"
    try:
        return storage().get(key)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise _storage_failed(exc) from exc
    design = load_design(certificate.design)
    credential = json.dumps(signed_badge(certificate), ensure_ascii=False, indent=2).encode()
    pdf = render_archival(
        design,
        render_html(design, certificate_context(certificate)),
        credential,
        ARCHIVAL_ATTACHMENT,
        "Open Badges 3.0 OpenBadgeCredential, signed (ecdsa-jcs-2019)",
    )
    pdf = sign_pdf(certificate, pdf)
    try:
        storage().put(key, pdf, "application/pdf")
    except OSError as exc:
        raise _storage_failed(exc) from exc
    return pdf


def revoke_certificate(*, certificate: Certificate, reason: str, actor) -> Certificate:
    """Revoke a certificate (it stays, answering "revoked" when verified) (flushes)."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(_l("A reason is required."), {"reason": _l("A reason is required.")})
    if certificate.status == "revoked":
        raise Conflict(_l("The certificate is already revoked."))
    certificate.status = "revoked"
    certificate.revoked_at = utcnow()
    certificate.revoke_reason = reason[:255]
    db.session.flush()
    expiry_notices_answered(certificate)
    notify(
        [certificate.person_id],
        "certificate.revoked",
        occasion=f"c{certificate.id}",
        link=path_for("credentials.mine"),
        credential=certificate.credential.title,
        serial=certificate.serial,
        reason=certificate.revoke_reason,
    )
    record_audit(
        actor=actor,
        action="certificate.revoke",
        entity_type="certificate",
        entity_id=certificate.id,
        after={"serial": certificate.serial, "reason": reason},
    )
    return certificate


def expiry_notices_answered(certificate: Certificate) -> int:
    """What told the holder the certificate expires or can be renewed is read now: it was renewed, reissued or
    revoked. Return how many."""
    return mark_answered(
        keys=[notification_key("certificate.renewable", f"c{certificate.id}", person_id=certificate.person_id)],
        person_ids=[certificate.person_id],
        key_prefix=occasion_key("certificate.expiring", f"c{certificate.id}"),
    )


def reissue_certificate(*, certificate: Certificate, actor) -> Certificate:
    """Issue a new serial for a corrected certificate; the old one then verifies as superseded (flushes)."""
    if certificate.superseded_by_id is not None:
        raise _already_reissued(certificate)
    return issue_certificate(
        credential=certificate.credential, person=certificate.person, actor=actor, replaces=certificate
    )


def verification_status(certificate: Certificate) -> str:
    """valid, revoked, superseded or expired."""
    if certificate.status == "revoked":
        return "revoked"
    if certificate.superseded_by_id is not None:
        return "superseded"
    if certificate.expires_at is not None and certificate.expires_at <= utcnow():
        return "expired"
    return "valid"


def masked_name(name: str) -> str:
    """付晓 → 付*: enough to recognise, not enough to find someone."""
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else name


def public_view(certificate: Certificate, full: bool = True) -> dict:
    """What the verification page and API show.

    ``full`` (reached with the verification code, which only the paper carries): what the paper
    shows — the holder's full name, unit and masked ID number, hours, programs, transition — so a
    verifier can match it to the paper and to the person in front of them. Without the code (a
    serial, which can be guessed): whether the certificate is valid, what and whose (masked) it is.
    """
    claims = certificate.claims
    status = verification_status(certificate)
    zone = ZoneInfo(current_app.config["LMS_TIMEZONE"])
    view = {
        "status": status,
        "serial": certificate.serial,
        "credential": claims["credential"],
        "holder": claims["name"] if full else masked_name(claims["name"]),
        "issuer": claims["issuer"],
        "issued_on": claims["issued_on"],
        "expires_on": claims.get("expires_on"),
        "revoked_on": certificate.revoked_at.astimezone(zone).date().isoformat() if certificate.revoked_at else None,
        "superseded_by": certificate.superseded_by.serial if certificate.superseded_by_id else None,
        "full": full,
    }
    if full:
        view |= {
            "unit": claims.get("unit"),
            "id_number": claims.get("id_number"),
            "claims": {
                "training_hours": claims["training_hours"],
                "supervision_hours": claims["supervision_hours"],
                "programs": claims["programs"],
                "transition": claims["transition"],
                # A continuing-education statement: the registration period, its minimum, met or not.
                "period": {"start": claims["start_date"], "end": claims["end_date"]} if claims.get("ce") else None,
                "ce": claims.get("ce"),
            },
            "revoke_reason": certificate.revoke_reason,
        }
    return view


def find_by_code(code: str) -> Certificate | None:
    """Look a certificate up by its verification code."""
    return db.session.scalar(select(Certificate).where(Certificate.verification_code == normalise_code(code)))


def batch_certificates(job_id: int) -> list[Certificate]:
    """The certificates a bulk approval issued that are still valid."""
    return list(
        db.session.scalars(
            select(Certificate)
            .where(Certificate.job_id == job_id, Certificate.status == "valid")
            .options(selectinload(Certificate.person))
            .order_by(Certificate.id)
        )
    )


def revoke_batch(*, job_id: int, credential: CredentialType, reason: str, actor) -> int:
    """Undo a bulk approval: revoke what it issued and move the holders back to the category they came from.

    A holder who has moved on since (another category) keeps it. Returns how many were revoked.
    """
    reason = (reason or "").strip()
    if not reason or len(reason) > 255:
        raise Invalid(_l("A reason is required."), {"reason": _l("A reason of 1 to 255 characters is required.")})
    certificates = batch_certificates(job_id)
    if not certificates:
        raise Conflict(_l("Nothing of this batch is valid any more."))
    for certificate in certificates:
        if actor is not None and not unit_in_scope(actor, certificate.person.unit):
            continue  # moved out of the actor's units since: another coordinator's decision
        revoke_certificate(certificate=certificate, reason=reason, actor=actor)
        person = certificate.person
        # Only a first certificate made the transition; a renewal found the holder there already.
        first = certificate.replaces_id is None
        if first and credential.transition_to and person.category == credential.transition_to:
            person.category = credential.transition_from
            record_audit(
                actor=actor,
                action="person.category",
                entity_type="person",
                entity_id=person.id,
                before={"category": credential.transition_to},
                after={"category": credential.transition_from, "undone": certificate.serial},
            )
    db.session.flush()
    return sum(1 for c in certificates if c.status == "revoked")
