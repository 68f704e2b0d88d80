"""Credential types as data: what a bureau creates and edits from the browser (or the API).

The issuer's printed name and seal belong to the issuing unit (``OrgUnit.issuer_name`` and
``seal_key``), as its signing keys do: a unit issues under one name. Setting them on any of its
types sets them for the unit and every type it issues (audited as ``unit.issuer``); after the 2023
reform a district's 社会工作部 takes over by one edit. Certificates already issued keep the name
they were issued under (their claims are frozen). The types keep a copy, equal to the unit's.

An administrator manages every type; a coordinator the types their units issue. A type names
its design (a folder of ``certificates/``), its rule (programs or program tiers completed,
minimum training and supervision hours, a calendar year), the transition it makes (category
from and to), how long a certificate is valid, and who issues it — with the issuer's seal, an
uploaded PNG or SVG that is checked before it is stored (size, format, no script, no outside
reference) and printed on every certificate rendered afterwards. Services flush, never commit.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
from decimal import Decimal

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeTree
from sqlalchemy import select

from ..audit.services import changed_fields, record_audit
from ..core.domain import Conflict, Invalid, NotFound
from ..core.i18n import _l
from ..core.numbers import parse_decimal
from ..core.ranges import FIRST_YEAR, LAST_YEAR
from ..core.storage import storage
from ..extensions import db
from ..org.models import OrgUnit
from ..org.queries import unit_in_scope
from ..people.models import CATEGORIES
from ..training.models import TIERS, Assessment, Course, Program
from ..training.queries import programs_for
from .models import CredentialType
from .render import available_designs, load_design

KEY = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")
ISSUER_CODE = re.compile(r"^[A-Z0-9]{2,32}$")
MAX_HOURS = Decimal("1000")
MAX_VALIDITY_YEARS = 50
SEAL_MAX_BYTES = 256 * 1024
SEAL_MAX_PIXELS = 2000
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SVG_NS = "{http://www.w3.org/2000/svg}"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
# Elements a seal has no use for and that could run or fetch something.
SVG_FORBIDDEN = {"script", "foreignObject", "iframe", "embed", "object", "audio", "video", "image", "use"}

FIELDS = (
    "name",
    "title",
    "title_en",
    "design",
    "issuer_name",
    "issuer_code",
    "required_program_ids",
    "required_tiers",
    "min_training_hours",
    "min_supervision_hours",
    "required_assessment_ids",
    "min_average_score",
    "period_year",
    "transition_from",
    "transition_to",
    "validity_months",
    "renewal_min_hours",
    "renewal_assessment_ids",
    "ce_period",
)


def may_manage(actor, credential: CredentialType) -> bool:
    """An administrator, or a coordinator over the unit that issues it."""
    return actor is None or unit_in_scope(actor, credential.issuer_unit)


# ---------------------------------------------------------------- the seal


def check_seal(filename: str, data: bytes) -> tuple[str, bytes]:
    """Return (media type, bytes) of an acceptable seal image, or raise :class:`Invalid` saying why."""

    def refuse(message) -> Invalid:
        return Invalid(_l("Invalid input."), {"seal": message})

    if not data:
        raise refuse(_l("The file is empty."))
    if len(data) > SEAL_MAX_BYTES:
        raise refuse(_l("A seal image may have at most %(kb)d KB.", kb=SEAL_MAX_BYTES // 1024))
    if data.startswith(PNG_MAGIC):
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(data)) as image:
                image.verify()
                width, height = image.size
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise refuse(_l("This PNG file cannot be read.")) from None
        if width > SEAL_MAX_PIXELS or height > SEAL_MAX_PIXELS:
            raise refuse(_l("A seal image may be at most %(px)d pixels wide and high.", px=SEAL_MAX_PIXELS))
        return "image/png", data
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<?xml") or head.startswith(b"<svg"):
        _check_svg(data, refuse)
        return "image/svg+xml", data
    raise refuse(_l("A seal must be a PNG or SVG image."))


def _check_svg(data: bytes, refuse) -> None:
    try:  # no document type, so no entities and nothing fetched
        root = SafeTree.fromstring(data, forbid_dtd=True)
    except DefusedXmlException:
        raise refuse(_l("This SVG file declares a document type: save it without one.")) from None
    except SafeTree.ParseError:
        raise refuse(_l("This SVG file cannot be read.")) from None
    if root.tag not in (f"{SVG_NS}svg", "svg"):
        raise refuse(_l("A seal must be a PNG or SVG image."))
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""
        if tag in SVG_FORBIDDEN:
            raise refuse(_l("A seal may not contain %(what)s.", what=f"<{tag}>"))
        for name, value in element.attrib.items():
            local = name.rsplit("}", 1)[-1]
            if local.lower().startswith("on"):
                raise refuse(_l("A seal may not contain %(what)s.", what=local))
            if local == "href" and not value.startswith("#"):
                raise refuse(_l("A seal may not refer to other files."))
            if "url(" in value and "url(#" not in value.replace(" ", ""):
                raise refuse(_l("A seal may not refer to other files."))
        if tag == "style" and element.text and ("@import" in element.text or re.search(r"url\((?!\s*#)", element.text)):
            raise refuse(_l("A seal may not refer to other files."))


def _store_seal(media_type: str, data: bytes) -> str:
    key = f"seals/{hashlib.sha256(data).hexdigest()}.{'png' if media_type == 'image/png' else 'svg'}"
    storage().put(key, data, media_type)
    return key


def seal_data_uri(credential: CredentialType) -> str | None:
    """The seal as a ``data:`` URI for the certificate design, or None."""
    if not credential.seal_key:
        return None
    data = storage().get(credential.seal_key)
    media = "image/png" if credential.seal_key.endswith(".png") else "image/svg+xml"
    return f"data:{media};base64,{base64.b64encode(data).decode()}"


# ---------------------------------------------------------------- the fields


def _hours(value, field: str, errors: dict) -> Decimal | None:
    if value in (None, ""):
        return None
    hours = parse_decimal(value, "0.1")
    if hours is None or hours < 0 or hours > MAX_HOURS:
        errors[field] = _l("Hours must be from 0 to %(max)s, with one decimal place.", max=MAX_HOURS)
        return None
    return hours


def _assessments(
    values, actor, errors: dict, kept: frozenset[int] = frozenset(), field: str = "required_assessment_ids"
) -> list[int]:
    """The assessments a type requires: ids of assessments of programs the actor may see (all: no actor), or that
    the type required already (``kept``: an editor outside their programs keeps them, never adds them)."""
    try:
        ids = sorted({int(i) for i in values or []})
    except (TypeError, ValueError):
        errors[field] = _l("Unknown assessment.")
        return []
    if not ids:
        return []
    stmt = select(Assessment.id).join(Course, Course.id == Assessment.course_id).where(Assessment.id.in_(ids))
    if actor is not None:
        stmt = stmt.where(Course.program_id.in_(programs_for(actor, None).with_only_columns(Program.id)))
    if set(db.session.scalars(stmt)) | (kept & set(ids)) != set(ids):
        errors[field] = _l("Unknown assessment.")
    return ids


def type_values(data: dict, actor, credential_id: int | None = None, kept: dict | None = None) -> dict:
    """Check a credential type's fields; return them cleaned, or raise :class:`Invalid` naming each bad one."""
    errors: dict = {}
    name = (data.get("name") or "").strip()
    if not KEY.match(name):
        errors["name"] = _l("A key of 2 to 64 lowercase letters, digits and hyphens, e.g. project-social-worker.")
    title = (data.get("title") or "").strip()
    if not title or len(title) > 120:
        errors["title"] = _l("A title of 1 to 120 characters is required.")
    title_en = (data.get("title_en") or "").strip() or None
    if title_en and len(title_en) > 120:
        errors["title_en"] = _l("At most 120 characters.")
    design = data.get("design")
    if design not in available_designs():
        errors["design"] = _l("Choose one of the designs.")
    issuer_name = (data.get("issuer_name") or "").strip()
    if not issuer_name or len(issuer_name) > 120:
        errors["issuer_name"] = _l("The issuer's name, as printed, of 1 to 120 characters.")
    issuer_code = (data.get("issuer_code") or "").strip().upper()
    if not ISSUER_CODE.match(issuer_code):
        errors["issuer_code"] = _l("2 to 32 capital letters or digits: the start of every serial number.")
    program_ids = sorted({int(i) for i in data.get("required_program_ids") or []})
    if program_ids and actor is not None:
        visible = set(db.session.scalars(programs_for(actor, None).with_only_columns(Program.id)))
        if set(program_ids) - visible - set((kept or {}).get("required_program_ids") or []):
            errors["required_program_ids"] = _l("Unknown program.")
    elif program_ids and len(db.session.scalars(select(Program.id).where(Program.id.in_(program_ids))).all()) != len(
        program_ids
    ):
        errors["required_program_ids"] = _l("Unknown program.")
    tiers = sorted(set(data.get("required_tiers") or []))
    if set(tiers) - set(TIERS):
        errors["required_tiers"] = _l("Unknown tier.")
    assessment_ids = _assessments(
        data.get("required_assessment_ids"),
        actor,
        errors,
        frozenset((kept or {}).get("required_assessment_ids") or []),
    )
    average = data.get("min_average_score")
    if average in (None, ""):
        average = None
    else:
        average = parse_decimal(average, "0.1")
        if average is None or not 0 <= average <= 100:
            errors["min_average_score"] = _l("An average score from 0 to 100.")
            average = None
    min_training = _hours(data.get("min_training_hours"), "min_training_hours", errors)
    min_supervision = _hours(data.get("min_supervision_hours"), "min_supervision_hours", errors)
    year = data.get("period_year")
    if year is not None and (not isinstance(year, int) or not FIRST_YEAR <= year <= LAST_YEAR):
        errors["period_year"] = _l("Year must be between %(first)d and %(last)d.", first=FIRST_YEAR, last=LAST_YEAR)
    transition_from = data.get("transition_from") or None
    transition_to = data.get("transition_to") or None
    if transition_from is not None and transition_from not in CATEGORIES:
        errors["transition_from"] = _l("Unknown category.")
    if transition_to is not None and transition_to not in CATEGORIES:
        errors["transition_to"] = _l("Unknown category.")
    if (transition_from is None) != (transition_to is None) or (transition_from and transition_from == transition_to):
        errors["transition_to"] = _l("A transition names two different categories, from and to.")
    months = data.get("validity_months")
    if months is not None and (not isinstance(months, int) or not 1 <= months <= MAX_VALIDITY_YEARS * 12):
        errors["validity_months"] = _l(
            "From 1 month to %(years)d years, or empty for no expiry.", years=MAX_VALIDITY_YEARS
        )
    renewal_hours = _hours(data.get("renewal_min_hours"), "renewal_min_hours", errors)
    renewal_assessments = _assessments(
        data.get("renewal_assessment_ids"),
        actor,
        errors,
        frozenset((kept or {}).get("renewal_assessment_ids") or []),
        field="renewal_assessment_ids",
    )
    if (renewal_hours is not None or renewal_assessments) and months is None and "validity_months" not in errors:
        errors["renewal_min_hours"] = _l("Only a credential that expires is renewed: give it a validity first.")
    hours = (min_training, min_supervision, average)
    if not errors and not (program_ids or tiers or assessment_ids or any(h is not None for h in hours)):
        errors["min_training_hours"] = _l("A credential needs a rule: programs, tiers, assessments or minimum hours.")
    same = select(CredentialType.id).where(CredentialType.name == name)
    if credential_id is not None:
        same = same.where(CredentialType.id != credential_id)
    if not errors and db.session.scalar(same):
        raise Conflict(_l("The key %(name)s is taken.", name=name), {"name": _l("Taken: choose another.")})
    if errors:
        raise Invalid(_l("Invalid input."), errors)
    return {
        "name": name,
        "title": title,
        "title_en": title_en,
        "design": design,
        "issuer_name": issuer_name,
        "issuer_code": issuer_code,
        "required_program_ids": program_ids,
        "required_tiers": tiers,
        "min_training_hours": min_training,
        "min_supervision_hours": min_supervision,
        "required_assessment_ids": assessment_ids,
        "min_average_score": average,
        "period_year": year,
        "transition_from": transition_from,
        "transition_to": transition_to,
        "validity_months": months,
        "renewal_min_hours": renewal_hours,
        "renewal_assessment_ids": renewal_assessments,
        "ce_period": bool(data.get("ce_period")),
    }


def _snapshot(credential: CredentialType) -> dict:
    out = {}
    for f in (*FIELDS, "issuer_unit_id", "seal_key"):
        value = getattr(credential, f)
        out[f] = str(value) if isinstance(value, Decimal) else value
    return out


def set_issuer(unit: OrgUnit, *, name: str, seal_key: str | None, actor) -> int:
    """Make ``name`` and ``seal_key`` the unit's as an issuer, and every type's it issues (flushes; audited).

    Returns how many types print the new name or seal. Nothing changes, nothing is recorded, when both
    are the unit's already.
    """
    kinds = list(db.session.scalars(select(CredentialType).where(CredentialType.issuer_unit_id == unit.id)))
    before = {"issuer_name": unit.issuer_name, "seal_key": unit.seal_key}
    after = {"issuer_name": name, "seal_key": seal_key}
    stale = [k for k in kinds if (k.issuer_name, k.seal_key) != (name, seal_key)]
    if before == after and not stale:
        return 0
    unit.issuer_name, unit.seal_key = name, seal_key
    for kind in stale:
        kind.issuer_name, kind.seal_key = name, seal_key
    db.session.flush()
    if before != after:
        record_audit(
            actor=actor,
            action="unit.issuer",
            entity_type="org_unit",
            entity_id=unit.id,
            before=before,
            after={**after, "credential_types": sorted(k.name for k in stale)},
        )
    if before["issuer_name"] not in (None, name):
        # Another issuer now (a 社会工作部 after the reform): it signs with a key and certificate of its own
        # name. What the old key signed still verifies: it stays published.
        from .signing import active_key, rotate_key

        if active_key(unit) is not None:
            rotate_key(unit, actor)
    return len(stale)


def _issuer_seal(unit: OrgUnit, seal: tuple[str, bytes] | None, drop_seal: bool) -> str | None:
    """The unit's seal after this edit: a new upload, none (dropped), or the one it has."""
    if seal is not None:
        return _store_seal(*check_seal(*seal))
    return None if drop_seal else unit.seal_key


def create_type(*, data: dict, issuer_unit: OrgUnit, seal: tuple[str, bytes] | None, actor) -> CredentialType:
    """Create a credential type issued by ``issuer_unit`` (one of the actor's units); ``seal``: (filename, bytes).

    The printed name and seal given are the unit's from now on (for its other types too); without a
    seal the unit's own is kept.
    """
    if actor is not None and not unit_in_scope(actor, issuer_unit):
        raise NotFound(_l("Not found."))
    values = type_values(data, actor)
    seal_key = _issuer_seal(issuer_unit, seal, drop_seal=False)
    credential = CredentialType(issuer_unit=issuer_unit, language=_language(values["design"]), **values)
    credential.seal_key = seal_key
    db.session.add(credential)
    db.session.flush()
    set_issuer(issuer_unit, name=values["issuer_name"], seal_key=seal_key, actor=actor)
    record_audit(
        actor=actor,
        action="credential_type.create",
        entity_type="credential_type",
        entity_id=credential.id,
        after=_snapshot(credential),
    )
    return credential


def update_type(
    *, credential: CredentialType, data: dict, seal: tuple[str, bytes] | None, actor, drop_seal: bool = False
) -> CredentialType:
    """Edit a type; certificates already issued keep what they claimed (their claims are frozen)."""
    if not may_manage(actor, credential):
        raise NotFound(_l("Not found."))
    merged = {f: getattr(credential, f) for f in FIELDS}
    merged.update({k: v for k, v in data.items() if k in FIELDS})
    already = {
        k: list(getattr(credential, k) or [])
        for k in ("required_program_ids", "required_assessment_ids", "renewal_assessment_ids")
    }
    values = type_values(merged, actor, credential.id, kept=already)
    unit = credential.issuer_unit
    if unit.issuer_name is None:  # a unit from before 0020 that nothing set yet: what its type printed
        unit.issuer_name, unit.seal_key = credential.issuer_name, credential.seal_key
    seal_key = _issuer_seal(unit, seal, drop_seal)
    before = _snapshot(credential)
    for key, value in values.items():
        setattr(credential, key, value)
    credential.language = _language(values["design"])
    credential.seal_key = seal_key
    db.session.flush()
    set_issuer(unit, name=values["issuer_name"], seal_key=seal_key, actor=actor)
    old, new = changed_fields(before, _snapshot(credential))
    if new:
        record_audit(
            actor=actor,
            action="credential_type.update",
            entity_type="credential_type",
            entity_id=credential.id,
            before=old,
            after=new,
        )
    return credential


def _language(design: str) -> str:
    return load_design(design).language
