"""Supervision state changes: record a session, confirm or dispute a credit.

Every rule refuses the whole record with a clear error and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import extract, select

from ..audit.services import changed_fields, record_audit
from ..auth.models import User
from ..auth.passwords import MESSAGES as PASSWORD_MESSAGES
from ..auth.permissions import MANAGE, SUPERVISE, can, roles_for
from ..auth.queries import user_by_username
from ..auth.services import AuthError, create_user, grant_role
from ..core.crypto import decrypt_text, encrypt_text
from ..core.db import utcnow
from ..core.domain import Conflict, Forbidden, Invalid, NotFound
from ..core.i18n import _l
from ..core.numbers import parse_decimal
from ..core.urls import path_for
from ..extensions import db
from ..ledger.rollups import refresh_people
from ..notices.services import mark_answered, notification_key, notify, notify_users, occasion_key
from ..org.models import OrgUnit
from ..org.queries import ancestors_of, scope_roots, unit_in_scope
from ..people.models import Person
from ..people.queries import accounts_of
from .models import FORMATS, FUNCTIONS, KINDS, MAX_HOURS, MIN_HOURS, MODES, SupervisionCredit, SupervisionRecord
from .queries import can_read_notes, holds_supervisor_assignment, record_for, supervisor_units, supervisors_in_scope

MANAGERS = roles_for(MANAGE)
SUPERVISORS = roles_for(SUPERVISE)
# The auth service's refusals, as the person page says them.
ASSIGNMENT_REFUSALS = {
    **PASSWORD_MESSAGES,
    "missing": _l("Please give a username and a password of at least 10 characters."),
}


@dataclass
class Recorded:
    record: SupervisionRecord
    warnings: list = field(default_factory=list)


def today() -> date:
    """Today in the deployment's time zone."""
    return utcnow().astimezone(ZoneInfo(current_app.config["LMS_TIMEZONE"])).date()


def _check_facts(data: dict, errors: dict) -> tuple:
    """Check the facts of a session (not who took part); return (hours, topic), naming bad fields in ``errors``."""
    fmt = data.get("format")
    if fmt not in FORMATS:
        errors["format"] = _l("Format must be one of %(values)s.", values=", ".join(FORMATS))
    if data.get("mode") not in MODES:
        errors["mode"] = _l("Mode must be one of %(values)s.", values=", ".join(MODES))
    if (data.get("kind") or "special") not in KINDS:
        errors["kind"] = _l("Kind must be one of %(values)s.", values=", ".join(KINDS))
    bad_functions = [f for f in data.get("functions") or [] if f not in FUNCTIONS]
    if bad_functions:
        errors["functions"] = _l("Unknown value %(value)s.", value=", ".join(bad_functions))
    hours = parse_decimal(data.get("hours"), "0.1")  # Numeric(3, 1)
    if hours is None or hours < MIN_HOURS or hours > MAX_HOURS:
        errors["hours"] = _l("The duration must be from 0.1 to 8 hours.")
    held_on = data.get("held_on")
    if not isinstance(held_on, date):
        errors["held_on"] = _l("A date is required.")
    elif held_on > today():
        errors["held_on"] = _l("The date is in the future.")
    topic = (data.get("topic") or "").strip()
    if not topic or len(topic) > 200:
        errors["topic"] = _l("A topic of 1 to 200 characters is required.")
    return hours, topic


def check_record(data: dict, supervisor: Person | None, supervisees: list[Person], actor) -> None:
    """Check a record as :func:`record_supervision` would, writing nothing; raise what it would refuse."""
    _validate(data, supervisor, supervisees, actor)


def _validate(data: dict, supervisor: Person | None, supervisees: list[Person], actor) -> dict:
    errors: dict = {}
    fmt = data.get("format")
    hours, topic = _check_facts(data, errors)
    if supervisor is None:
        errors["supervisor_id"] = _l("Unknown supervisor.")
    elif not holds_supervisor_assignment(supervisor):
        errors["supervisor_id"] = _l("%(name)s does not hold the supervisor assignment.", name=supervisor.name)
    ids = [p.id for p in supervisees]
    if len(set(ids)) != len(ids):
        errors["supervisee_ids"] = _l("A supervisee is listed twice.")
    elif fmt == "individual" and len(ids) != 1:
        errors["supervisee_ids"] = _l("One-to-one supervision has exactly one supervisee.")
    elif fmt == "group" and len(ids) < 2:
        errors["supervisee_ids"] = _l("Group supervision has at least two supervisees.")
    elif supervisor is not None and supervisor.id in ids:
        errors["supervisee_ids"] = _l("A supervisor cannot supervise themself.")
    outside = [p for p in supervisees if not unit_in_scope(actor, p.unit, SUPERVISORS)]
    if outside and "supervisee_ids" not in errors:
        errors["supervisee_ids"] = _l("Not within your units: %(names)s.", names="、".join(p.name for p in outside))
    if supervisor is not None and "supervisor_id" not in errors and "supervisee_ids" not in errors:
        # The assignment is over a unit's subtree: a district's supervisor does not supervise another district.
        units = supervisor_units(supervisor)
        uncovered = [p for p in supervisees if not any(p.unit.is_within(u) for u in units)]
        if uncovered:
            errors["supervisee_ids"] = _l(
                "The supervisor assignment of %(name)s does not cover %(names)s.",
                name=supervisor.name,
                names="、".join(p.name for p in uncovered),
            )
    if errors:
        raise Invalid(_l("The supervision record was not saved."), errors)
    return {"hours": hours, "topic": topic}


def ratio_warnings(supervisor: Person, year: int, adding: set[int]) -> list:
    """Warn (never block) when a supervisor's distinct supervisees in the year exceed the configured ratio."""
    limit = current_app.config["LMS_SUPERVISION_RATIO"]
    current = set(
        db.session.scalars(
            select(SupervisionCredit.person_id)
            .join(SupervisionRecord)
            .where(SupervisionRecord.supervisor_id == supervisor.id, extract("year", SupervisionRecord.held_on) == year)
        )
    )
    total = len(current | adding)
    if total > limit:
        return [
            _l(
                "%(name)s supervises %(n)d people in %(year)d, above the ratio of 1:%(limit)d.",
                name=supervisor.name,
                n=total,
                year=year,
                limit=limit,
            )
        ]
    return []


def record_supervision(*, data: dict, supervisor: Person | None, supervisees: list[Person], actor) -> Recorded:
    """Record a supervision session and credit each supervisee its duration (flushes)."""
    if not can(actor, SUPERVISE):
        raise Forbidden(_l("Only supervisors and coordinators record supervision."))
    if not can(actor, MANAGE) and (supervisor is None or actor.person_id != supervisor.id):
        raise Forbidden(_l("A supervisor records only their own supervision."))
    clean = _validate(data, supervisor, supervisees, actor)
    warnings = ratio_warnings(supervisor, data["held_on"].year, {p.id for p in supervisees})
    notes = (data.get("notes") or "").strip()
    record = SupervisionRecord(
        supervisor=supervisor,
        unit_id=supervisor.unit_id,
        recorded_by_id=actor.id,
        format=data["format"],
        mode=data["mode"],
        kind=data.get("kind") or "special",
        held_on=data["held_on"],
        hours=clean["hours"],
        topic=clean["topic"],
        functions=list(data.get("functions") or []),
        advice=(data.get("advice") or "").strip() or None,
        follow_up=(data.get("follow_up") or "").strip() or None,
        notes_enc=encrypt_text(notes) if notes else None,  # encrypted at rest, like ID numbers
    )
    record.credits = [SupervisionCredit(person_id=p.id, hours=clean["hours"]) for p in supervisees]
    db.session.add(record)
    db.session.flush()
    refresh_people(p.id for p in supervisees)
    _ask_to_confirm(record, [p.id for p in supervisees])
    # The audit trail names who and what, never the confidential notes.
    record_audit(
        actor=actor,
        action="supervision.record",
        entity_type="supervision_record",
        entity_id=record.id,
        after={
            "supervisor_id": supervisor.id,
            "supervisees": [p.id for p in supervisees],
            "hours": str(clean["hours"]),
            "format": record.format,
            "date": record.held_on.isoformat(),
        },
    )
    return Recorded(record, warnings)


def asks_answered(record: SupervisionRecord, credits) -> int:
    """What asked these supervisees to confirm the record, reminded them, or told a coordinator they had not,
    is read now: they answered, are asked again, or the record is void. So is what told the record's authors
    of a dispute. Return how many. An escalation is settled whoever received it, so also where the unit's
    coordinators have changed since."""
    credits = list(credits)
    if not credits:
        return 0
    return mark_answered(
        keys=[notification_key("supervision.reminder", f"credit{c.id}", person_id=c.person_id) for c in credits],
        person_ids=[c.person_id for c in credits],
        key_prefix=f"supervision.confirm:r{record.id}:",
        by_kind={
            kind: [occasion_key(kind, f"credit{c.id}") for c in credits]
            for kind in ("supervision.escalation", "supervision.disputed")
        },
    )


def _tell_authors_of_dispute(credit: SupervisionCredit) -> int:
    """Tell the record's supervisor, and whoever recorded it for them, that a supervisee disputes it: they are
    the ones who correct or void it. Return how many were told."""
    record = credit.record
    facts = {
        "link": path_for("supervision.detail", record_id=record.id),
        # a dispute answered, then disputed again, is told again
        "occasion": f"credit{credit.id}:{utcnow().strftime('%Y%m%d%H%M%S%f')}",
        "person": credit.person.name,
        "held_on": record.held_on.isoformat(),
        "hours": str(credit.hours),
        "topic": record.topic,
        "reason": credit.reason,
    }
    told = notify([record.supervisor_id], "supervision.disputed", **facts)
    recorder = db.session.get(User, record.recorded_by_id) if record.recorded_by_id else None
    if (
        recorder is not None
        and recorder.person_id != record.supervisor_id
        and recorder.is_enabled
        and can(recorder, SUPERVISE)
        and record_for(recorder, record.id) is not None  # still over its unit: what they may no longer see, untold
    ):
        told += notify_users([recorder.id], "supervision.disputed", **facts)
    return told


def _ask_to_confirm(record: SupervisionRecord, person_ids: list[int]) -> None:
    """Ask the supervisees to confirm the record (never its notes: the topic, the date, the hours)."""
    notify(
        [pid for pid in person_ids if pid != record.supervisor_id],
        "supervision.confirm",
        occasion=f"r{record.id}:{utcnow().strftime('%Y%m%d%H%M%S%f')}",
        link=path_for("supervision.mine"),
        held_on=record.held_on.isoformat(),
        supervisor=record.supervisor.name,
        hours=str(record.hours),
        topic=record.topic,
    )


def respond_to_credit(
    *, credit: SupervisionCredit, actor, confirm: bool, reason: str | None = None
) -> SupervisionCredit:
    """The supervisee confirms or disputes (with a reason) their credit (flushes)."""
    if actor is None or actor.person_id != credit.person_id:
        raise NotFound(_l("Not found."))
    if credit.record.voided_at is not None:
        raise Conflict(_l("This record is void: there is nothing to confirm."))
    reason = (reason or "").strip()[:255] or None
    if not confirm and not reason:
        raise Invalid(_l("Please give a reason for the dispute."), {"reason": _l("A reason is required.")})
    before = credit.status
    credit.status = "confirmed" if confirm else "disputed"
    credit.reason = None if confirm else reason
    credit.responded_at = utcnow()
    db.session.flush()
    refresh_people([credit.person_id])
    asks_answered(credit.record, [credit])
    if credit.status == "disputed":
        _tell_authors_of_dispute(credit)
    record_audit(
        actor=actor,
        action=f"supervision.{credit.status}",
        entity_type="supervision_credit",
        entity_id=credit.id,
        before={"status": before},
        after={"status": credit.status, "reason": credit.reason},
    )
    return credit


def supervisor_candidates(actor) -> list[Person]:
    """Return whom ``actor`` may name as supervisor: anyone of their units holding the assignment, or themself."""
    if can(actor, MANAGE):
        return supervisors_in_scope(actor)
    person = getattr(actor, "person", None)
    return [person] if person is not None and can(actor, SUPERVISE) else []


def assignment_unit(person: Person, actor) -> OrgUnit:
    """Choose the unit a supervisor assignment covers: ``actor``'s own unit above the person, else their district."""
    for root in scope_roots(actor, MANAGERS) or []:  # an administrator has no unit of their own: None
        if person.unit.is_within(root):
            return root
    for unit in reversed(ancestors_of(person.unit)):
        if unit.kind == "district":
            return unit
    return person.unit


def assign_supervisor(*, person: Person, actor, username: str | None = None, password: str | None = None) -> OrgUnit:
    """Give ``person`` the supervisor assignment over :func:`assignment_unit`; return that unit (flushes).

    A person without an account gets one, so ``username`` and ``password`` are then required.
    """
    if not can(actor, MANAGE) or not unit_in_scope(actor, person.unit, MANAGERS):
        raise NotFound(_l("Not found."))
    unit = assignment_unit(person, actor)
    accounts = accounts_of(person)
    if accounts and not accounts[0].is_active:
        raise Conflict(_l("The account of %(name)s is disabled: enable it before assigning.", name=person.name))
    try:
        if accounts:
            grant_role(user=accounts[0], role="supervisor", unit=unit, actor=actor)
        elif not username or not password:
            raise AuthError("missing")
        elif user_by_username(username.strip()) is not None:
            raise Invalid(_l("The username %(username)s is taken: choose another.", username=username.strip()))
        else:
            create_user(
                username=username.strip(), password=password, role="supervisor", unit=unit, person=person, actor=actor
            )
    except AuthError as exc:
        raise Invalid(ASSIGNMENT_REFUSALS.get(str(exc), str(exc))) from exc
    return unit


def rekey_notes(previous_key: str, chunk: int = 1000) -> int:
    """Re-encrypt every confidential note under the current data key (flushes); return how many."""
    from ..core.crypto import reencrypt

    done, last_id = 0, 0
    while batch := db.session.scalars(
        select(SupervisionRecord)
        .where(SupervisionRecord.id > last_id, SupervisionRecord.notes_enc.is_not(None))
        .order_by(SupervisionRecord.id)
        .limit(chunk)
    ).all():
        for record in batch:
            record.notes_enc = reencrypt(record.notes_enc, previous_key)
        db.session.flush()
        done, last_id = done + len(batch), batch[-1].id
    return done


# ---------------------------------------------------------------- corrections

CORRECTABLE = ("held_on", "hours", "topic", "mode", "kind", "functions", "advice", "follow_up")


def is_author(actor, record: SupervisionRecord) -> bool:
    """The author of a record: the user who recorded it, or the supervisor it names."""
    return actor is not None and (
        record.recorded_by_id == actor.id or (actor.person_id is not None and actor.person_id == record.supervisor_id)
    )


def _snapshot(record: SupervisionRecord) -> dict:
    return {
        "held_on": record.held_on.isoformat(),
        "hours": str(record.hours),
        "topic": record.topic,
        "mode": record.mode,
        "kind": record.kind,
        "functions": list(record.functions or []),
        "advice": record.advice,
        "follow_up": record.follow_up,
    }


def correct_record(*, record: SupervisionRecord, data: dict, actor) -> SupervisionRecord:
    """The author corrects a record's facts; a new date or duration asks each supervisee to confirm again, and
    any correction of what the supervisees see asks again whoever disputed it. The supervisor alone also
    corrects the confidential notes (``notes``; None or absent leaves them as they are).

    The supervisees and the supervisor stay (a wrong person: void the record and record it again).
    """
    if not is_author(actor, record):
        raise Forbidden(_l("Only the author of a supervision record corrects it."))
    if record.voided_at is not None:
        raise Conflict(_l("This record is void: it cannot be corrected."))
    if data.get("notes") is not None and not can_read_notes(actor, record):  # refused before anything changes
        raise Forbidden(_l("Only the session's supervisor changes its confidential notes."))
    merged = {**_snapshot(record), "format": record.format, **{k: v for k, v in data.items() if k in CORRECTABLE}}
    merged["held_on"] = data.get("held_on", record.held_on)
    errors: dict = {}
    hours, topic = _check_facts(merged, errors)
    if errors:
        raise Invalid(_l("The supervision record was not saved."), errors)
    before = _snapshot(record)
    record.held_on, record.hours, record.topic = merged["held_on"], hours, topic
    record.mode, record.kind = merged["mode"], merged.get("kind") or "special"
    record.functions = list(merged.get("functions") or [])
    record.advice = (merged.get("advice") or "").strip() or None
    record.follow_up = (merged.get("follow_up") or "").strip() or None
    old, new = changed_fields(before, _snapshot(record))
    if data.get("notes") is not None and _correct_notes(record, data["notes"]):  # None: left as they are
        new["notes"] = "changed"  # the audit trail says that they changed, never what they say
    if not new:
        return record
    # A new date or duration changes what each supervisee confirmed; any correction may answer a dispute. Those
    # are asked again, and the earlier asks (and what told the authors of the dispute) are superseded.
    again = (
        list(record.credits)
        if "hours" in new or "held_on" in new
        else [c for c in record.credits if c.status == "disputed"]
        if set(new) != {"notes"}  # the notes are the supervisor's own: nothing the supervisees see changed
        else []
    )
    if again:
        for credit in again:
            credit.hours, credit.status, credit.reason, credit.responded_at = record.hours, "unconfirmed", None, None
        asks_answered(record, again)
        _ask_to_confirm(record, [c.person_id for c in again])
    db.session.flush()
    refresh_people(c.person_id for c in record.credits)
    record_audit(
        actor=actor,
        action="supervision.correct",
        entity_type="supervision_record",
        entity_id=record.id,
        before=old,
        after=new,
    )
    return record


def _correct_notes(record: SupervisionRecord, notes: str) -> bool:
    """Replace the record's confidential notes (their supervisor's: :func:`correct_record` checked); return
    whether they changed."""
    notes = notes.strip()  # its length is the form's (the API never reads nor writes notes)
    if notes == (decrypt_text(record.notes_enc) if record.notes_enc else ""):
        return False
    record.notes_enc = encrypt_text(notes) if notes else None
    return True


def may_void(actor, record: SupervisionRecord) -> bool:
    """The author, or a coordinator over the record's unit."""
    return is_author(actor, record) or (actor is not None and unit_in_scope(actor, record.unit, MANAGERS))


def void_record(*, record: SupervisionRecord, reason: str | None, actor) -> int:
    """Void a record with a reason: its credits stop counting, and the supervisees are told why (flushes)."""
    if not may_void(actor, record):
        raise Forbidden(_l("Only the author or a coordinator of its unit voids a supervision record."))
    if record.voided_at is not None:
        raise Conflict(_l("This record is already void."))
    text = (reason or "").strip()
    if not text or len(text) > 255:
        raise Invalid(_l("Invalid input."), {"reason": _l("A reason of 1 to 255 characters is required.")})
    record.voided_at, record.void_reason = utcnow(), text
    db.session.flush()
    people = [c.person_id for c in record.credits]
    refresh_people(people)
    asks_answered(record, record.credits)
    told = notify(
        people,
        "supervision.voided",
        link=path_for("supervision.mine"),
        held_on=record.held_on.isoformat(),
        topic=record.topic,
        reason=text,
    )
    record_audit(
        actor=actor,
        action="supervision.void",
        entity_type="supervision_record",
        entity_id=record.id,
        before={"void": False},
        after={"void": True, "reason": text, "told": told},
    )
    return told
