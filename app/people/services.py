"""State changes on people: create, edit, import. Services flush; the caller commits."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app
from limits import parse
from sqlalchemy import select, true

from ..audit.services import changed_fields, record_audit
from ..auth.permissions import MANAGE, roles_for
from ..core.crypto import decrypt_text, encrypt_text, keyed_hash
from ..core.db import utcnow
from ..core.domain import DomainError
from ..core.i18n import _l
from ..extensions import db, limiter
from ..org.models import OrgUnit
from ..org.queries import in_scope, scope_roots, unit_in_scope
from .idnumber import InvalidIdNumber, mask_id_number, normalise_id_number
from .labels import CATEGORY_ZH, LEVEL_ZH
from .models import CATEGORIES, LEVELS, SERVICE_AREAS, TITLES, Person

MANAGERS = roles_for(MANAGE)
PHONE_RE = re.compile(r"^1[3-9]\d{9}$")

ID_REASONS = {
    "format": _l("must be 18 characters: 17 digits and a digit or X"),
    "birthdate": _l("contains an impossible birth date"),
    "check_digit": _l("has a wrong check digit"),
}


# An ID number held by someone the actor may not see gets this answer, the same
# wherever that person is; it never says where, and it is rate-limited.
ID_HELD_ELSEWHERE = _l(
    "This ID number cannot be registered in your units. If the person works here, ask an administrator."
)
ID_REFUSALS_EXHAUSTED = _l(
    "Too many ID numbers from your account were refused, so adding people is paused for a while. "
    "Try again later, or ask an administrator."
)


class PersonError(DomainError):
    """Input for a person was refused; ``errors`` maps field → message, ``status`` is the HTTP answer."""

    def __init__(self, errors: dict[str, object], conflict: bool = False, status: int | None = None):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()), errors)
        self.conflict = conflict  # the only problem is a duplicate the actor may see (HTTP 409)
        self.status = status or (409 if conflict else 422)


def parse_category(value: str) -> str | None:
    """Return the category code for a code or Chinese label, else None."""
    value = (value or "").strip()
    if not value:
        return "community_worker"
    if value in CATEGORIES:
        return value
    return CATEGORY_ZH.get(value)


def parse_level(value: str) -> str | None:
    """Return the level code for a code or Chinese label, else None."""
    value = (value or "").strip()
    if value in LEVELS:
        return value
    return LEVEL_ZH.get(value)


def id_number_digest(id_number: str) -> str:
    """Return the keyed hash used to find a person by ID number."""
    return keyed_hash(id_number)


def id_number_columns(normalised: str) -> dict[str, str]:
    """Return the stored forms of a validated ID number: keyed hash, ciphertext, masked."""
    return {
        "id_number_hash": id_number_digest(normalised),
        "id_number_enc": encrypt_text(normalised),
        "id_number_masked": mask_id_number(normalised),
    }


def _sees_every_person(actor) -> bool:
    return actor is None or scope_roots(actor, MANAGERS) is None  # the command line, an administrator


def _id_refusal_limit():
    return parse(current_app.config["LMS_ID_REFUSAL_LIMIT"])


def may_check_id_numbers(actor) -> bool:
    """Return whether ``actor`` may still have ID numbers checked against people outside their units.

    Checked before the lookup, whatever the number: once the budget is spent every
    new number is refused alike, so the refusal itself tells nothing.
    """
    if _sees_every_person(actor) or not current_app.config.get("RATELIMIT_ENABLED", True):
        return True
    return limiter.limiter.test(_id_refusal_limit(), "id-held-elsewhere", str(actor.id))


def count_id_refusal(actor) -> None:
    """Spend one of ``actor``'s refusals of an ID number held outside their units (``LMS_ID_REFUSAL_LIMIT``)."""
    if _sees_every_person(actor) or not current_app.config.get("RATELIMIT_ENABLED", True):
        return
    limiter.limiter.hit(_id_refusal_limit(), "id-held-elsewhere", str(actor.id))
    current_app.logger.warning("user %s: ID number refused, held outside their units", actor.id)


def id_number_holders(actor, digests: Iterable[str]) -> dict[str, bool]:
    """Map each of ``digests`` already registered to whether ``actor`` may see the person holding it.

    One query per 500 numbers, the same whoever holds them.
    """
    visible = true() if actor is None else in_scope(actor, Person.unit_id, MANAGERS)
    digests = list(digests)
    found: dict[str, bool] = {}
    for i in range(0, len(digests), 500):
        stmt = select(Person.id_number_hash, visible).where(Person.id_number_hash.in_(digests[i : i + 500]))
        found.update((digest, bool(seen)) for digest, seen in db.session.execute(stmt))
    return found


def _check_id_number_free(actor, digest: str) -> None:
    """Refuse an ID number someone already holds: plainly if ``actor`` may see them, else neutrally."""
    if not may_check_id_numbers(actor):
        raise PersonError({"id_number": ID_REFUSALS_EXHAUSTED}, status=429)
    holders = id_number_holders(actor, [digest])
    if digest not in holders:
        return
    if holders[digest]:
        raise PersonError({"id_number": _l("A person with this ID number already exists.")}, conflict=True)
    count_id_refusal(actor)
    raise PersonError({"id_number": ID_HELD_ELSEWHERE})


def set_id_number(person: Person, normalised: str) -> None:
    """Store an already validated ID number on ``person``, protected."""
    for key, value in id_number_columns(normalised).items():
        setattr(person, key, value)


def reveal_id_number(*, person: Person, actor, ip: str | None = None) -> str:
    """Decrypt a person's ID number for an administrator; the access is audited."""
    if not actor.is_admin:
        raise PermissionError("only an administrator may see an ID number")
    record_audit(actor=actor, action="person.reveal_id", entity_type="person", entity_id=person.id, ip=ip)
    return decrypt_text(person.id_number_enc)


def snapshot(person: Person) -> dict:
    """Return the audited fields of a person (the ID only masked)."""
    return {
        "name": person.name,
        "unit_id": person.unit_id,
        "phone": person.phone,
        "id_number": person.id_number_masked,
        "category": person.category,
        "level": person.level,
        "titles": list(person.titles or []),
        "service_areas": list(person.service_areas or []),
        "active": person.active,
        "certified_on": person.certified_on.isoformat() if person.certified_on else None,
    }


DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日")


def parse_day(value) -> date | None:
    """A day from a form, an API or a spreadsheet cell (2021-06-30, 2021/6/30, 2021年6月30日); ValueError if none."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if text.endswith(" 00:00:00"):  # an XLSX date cell read as text
        text = text[: -len(" 00:00:00")]
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


def validate_person_fields(data: dict, *, require_id: bool) -> tuple[dict, dict[str, object]]:
    """Check and normalise person input; return (clean values, field errors)."""
    clean: dict = {}
    errors: dict[str, object] = {}
    name = (data.get("name") or "").strip()
    if not name:
        errors["name"] = _l("Name is required.")
    elif len(name) > 64:
        errors["name"] = _l("Name is longer than 64 characters.")
    clean["name"] = name
    if require_id or data.get("id_number"):
        try:
            clean["id_number"] = normalise_id_number(data.get("id_number") or "")
        except InvalidIdNumber as exc:
            errors["id_number"] = _l("ID number %(reason)s.", reason=ID_REASONS[exc.reason])
    phone = (data.get("phone") or "").strip().replace(" ", "").replace("-", "")
    if phone and not PHONE_RE.match(phone):
        errors["phone"] = _l("Phone must be an 11-digit mainland mobile number.")
    clean["phone"] = phone or None
    category = parse_category(data.get("category") or "")
    if category is None:
        errors["category"] = _l("Unknown category %(value)s.", value=data.get("category"))
    clean["category"] = category
    level = parse_level(data.get("level") or "")
    if level is None:
        errors["level"] = _l("Unknown level %(value)s.", value=data.get("level"))
    clean["level"] = level
    for key, allowed in (("titles", TITLES), ("service_areas", SERVICE_AREAS)):
        values = list(data.get(key) or [])
        bad = [v for v in values if v not in allowed]
        if bad:
            errors[key] = _l("Unknown value %(value)s.", value=", ".join(bad))
        clean[key] = values
    if "certified_on" in data:
        try:
            day = parse_day(data["certified_on"])
        except ValueError:
            errors["certified_on"] = _l("The registration date must be a date such as 2021-06-30.")
        else:
            today = utcnow().astimezone(ZoneInfo(current_app.config["LMS_TIMEZONE"])).date()
            if day is not None and not date(1990, 1, 1) <= day <= today:
                errors["certified_on"] = _l("The registration date must lie between 1990 and today.")
            clean["certified_on"] = day
    return clean, errors


def create_person(*, data: dict, unit: OrgUnit, actor, ip: str | None = None) -> Person:
    """Create a person in ``unit`` after validating every field (flushes)."""
    if actor is not None and not unit_in_scope(actor, unit, MANAGERS):
        raise PersonError({"unit_code": _l("Unknown unit.")})
    clean, errors = validate_person_fields(data, require_id=True)
    if errors:
        raise PersonError(errors)
    _check_id_number_free(actor, id_number_digest(clean["id_number"]))
    person = Person(
        unit=unit,
        name=clean["name"],
        phone=clean["phone"],
        category=clean["category"],
        level=clean["level"],
        titles=clean["titles"],
        service_areas=clean["service_areas"],
        certified_on=clean.get("certified_on"),
    )
    set_id_number(person, clean["id_number"])
    db.session.add(person)
    db.session.flush()
    record_audit(
        actor=actor, action="person.create", entity_type="person", entity_id=person.id, after=snapshot(person), ip=ip
    )
    return person


def update_person(*, person: Person, data: dict, unit: OrgUnit, actor, ip: str | None = None) -> Person:
    """Edit a person's fields (ID number only when given) and audit the difference (flushes)."""
    if not unit_in_scope(actor, unit, MANAGERS):
        raise PersonError({"unit": _l("Unknown unit.")})
    clean, errors = validate_person_fields(data, require_id=False)
    new_id = clean.get("id_number")
    if errors:
        raise PersonError(errors)
    if new_id and id_number_digest(new_id) != person.id_number_hash:
        _check_id_number_free(actor, id_number_digest(new_id))
    before = snapshot(person)
    person.name = clean["name"]
    person.unit = unit
    person.phone = clean["phone"]
    person.category = clean["category"]
    person.level = clean["level"]
    person.titles = clean["titles"]
    person.service_areas = clean["service_areas"]
    if "certified_on" in clean:
        person.certified_on = clean["certified_on"]
    if "active" in data:
        person.active = bool(data["active"])
    if new_id:
        set_id_number(person, new_id)
    db.session.flush()
    old, new = changed_fields(before, snapshot(person))
    if new:
        record_audit(
            actor=actor, action="person.update", entity_type="person", entity_id=person.id, before=old, after=new, ip=ip
        )
    return person


def rekey_people(previous_key: str, chunk: int = 1000) -> int:
    """Re-encrypt every ID number and recompute its keyed hash under the current data key (flushes); how many."""
    from ..core.crypto import reencrypt

    done, last_id = 0, 0
    while batch := db.session.scalars(select(Person).where(Person.id > last_id).order_by(Person.id).limit(chunk)).all():
        for person in batch:
            person.id_number_enc = reencrypt(person.id_number_enc, previous_key)
            person.id_number_hash = id_number_digest(decrypt_text(person.id_number_enc))
        db.session.flush()
        done, last_id = done + len(batch), batch[-1].id
    return done
