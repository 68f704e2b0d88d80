"""Open Badges 3.0: an issued certificate as a signed ``OpenBadgeCredential``; each issuer's status list.

The credential validates against 1EdTech's OB 3.0 JSON schema. Its subject is identified by a
salted SHA-256 of the holder's ID number (an ``IdentityObject``; never the number, nor the salt) and
by name; its issuer is the issuing unit's own ``did:web``, with a profile at
``/api/v1/issuers/<code>``. It is signed by the issuing unit's key (see ``signing``): as JSON with an
embedded ``ecdsa-jcs-2019`` proof, or as a VC-JWT.

Revocation anyone can check: each issuing unit publishes a Bitstring Status List credential
(W3C VC Bitstring Status List), signed the same way, at ``/api/v1/status-lists/<code>``. A
certificate's entry is drawn at random when it is issued (``Certificate.status_index``); its bit is
set once the certificate is revoked or superseded (a reissue or a renewal).
Expiry needs no bit: the credential's ``validUntil`` says it.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
import uuid
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import func, or_, select

from ..core.crypto import keyed_mac
from ..core.db import utcnow
from ..core.numbers import points
from ..extensions import db
from ..org.models import OrgUnit
from . import signing
from .models import STATUS_LIST_MIN_BITS, Certificate, CredentialType
from .services import verify_url

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
OB_SCHEMA = "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
STATUS_PURPOSE = "revocation"
_NAMESPACE = uuid.UUID("6f0b7a52-3c1e-4d8e-9b1a-5e2f0c6d7a10")  # the academy's achievement ids


def unit_ref(unit: OrgUnit) -> str:
    """How routes name an issuing unit: its code (``330105``), or ``id-<n>`` for a unit without one."""
    return unit.code or f"id-{unit.id}"


_ID_REF = re.compile(r"id-([1-9][0-9]{0,8})")


def unit_by_ref(ref: str) -> OrgUnit | None:
    """The unit a route names (its code, or ``id-<n>``); None for anything else, however it is spelled."""
    match = _ID_REF.fullmatch(ref)
    if match:
        return db.session.get(OrgUnit, int(match.group(1)))
    return db.session.scalar(select(OrgUnit).where(OrgUnit.code == ref))


def is_issuer(unit: OrgUnit) -> bool:
    """Whether the unit issues (a credential type names it) or ever issued (a certificate or a key does)."""
    return bool(
        db.session.scalar(select(CredentialType.id).where(CredentialType.issuer_unit_id == unit.id).limit(1))
        or db.session.scalar(select(Certificate.id).where(Certificate.issuer_unit_id == unit.id).limit(1))
        or signing.published_keys(unit)
    )


def issuer_id(unit: OrgUnit) -> str:
    """The issuer of the unit's credentials: its own DID, which controls its keys (what verifiers check)."""
    return signing.unit_did(unit)


def profile_url(unit: OrgUnit) -> str:
    return signing.absolute_url("api.issuer_profile", unit_ref=unit_ref(unit))


def issuer_profile(unit: OrgUnit) -> dict:
    """The issuer as an OB 3.0 ``Profile``: what a wallet shows as "issued by"."""
    return {
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": issuer_id(unit),
        "type": ["Profile"],
        "name": signing.issuer_name(unit),
        "url": profile_url(unit),
        **({"otherIdentifier": [_identifier(unit.code, "ext:AdministrativeDivisionCode")]} if unit.code else {}),
    }


def _identifier(value: str, kind: str) -> dict:
    return {"type": "IdentifierEntry", "identifier": value, "identifierType": kind}


def _achievement_uri(credential: CredentialType, part: str = "") -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, credential.name + part)}"


def identity_salt(certificate: Certificate) -> str:
    """The salt of the holder's hashed ID number: drawn at issue (claims), or for a certificate issued before
    there was one, a keyed hash of its serial."""
    return certificate.claims.get("identity_salt") or keyed_mac("ob3-identity-salt", certificate.serial).hex()[:32]


def _hashed_identity(certificate: Certificate) -> dict:
    """The holder's ID number as OB 3.0's hashed ``IdentityObject``: ``sha256$hex(id + salt)``, without the salt.

    A Chinese ID number is guessable from what the paper prints (region digits, birth date, check digit):
    with the salt beside it the hash could be reversed in seconds. So the salt (128 random bits) stays
    out of the credential; the holder reads it on their certificate page and gives it to whoever must
    match the number.
    """
    from ..core.crypto import decrypt_text

    number = decrypt_text(certificate.person.id_number_enc)
    digest = hashlib.sha256((number + identity_salt(certificate)).encode()).hexdigest()
    return {
        "type": "IdentityObject",
        "identityType": "nationalIdentityNumber",
        "hashed": True,
        "identityHash": f"sha256${digest}",
    }


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def open_badge(certificate: Certificate) -> dict:
    """The certificate as an Open Badges 3.0 ``OpenBadgeCredential`` (unsigned; see ``signed_badge``)."""
    claims = certificate.claims
    credential = certificate.credential
    unit = certificate.issuer_unit
    transition = claims.get("transition")
    description = claims["credential"] + (
        f"（{transition['from_label']} → {transition['to_label']}）" if transition else ""
    )
    criteria = "；".join(
        filter(
            None,
            [
                f"培训学时 {points(credential.min_training_hours)}" if credential.min_training_hours else None,
                f"督导学时 {points(credential.min_supervision_hours)}" if credential.min_supervision_hours else None,
                "完成：" + "、".join(claims["programs"]) if claims.get("programs") else None,
            ],
        )
    )
    training, supervision = (
        _achievement_uri(credential, "#training-hours"),
        _achievement_uri(credential, "#supervision-hours"),
    )
    document_id = verify_url(certificate.verification_code)
    return {
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": document_id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": claims["credential"],
        "issuer": {"id": issuer_id(unit), "type": ["Profile"], "name": claims["issuer"], "url": profile_url(unit)},
        "validFrom": _iso(certificate.issued_at),
        **({"validUntil": _iso(certificate.expires_at)} if certificate.expires_at else {}),
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [
                _hashed_identity(certificate),
                {"type": "IdentityObject", "identityType": "name", "hashed": False, "identityHash": claims["name"]},
            ],
            "achievement": {
                "id": _achievement_uri(credential),
                "type": ["Achievement"],
                "achievementType": "Certificate",
                "name": claims["credential"],
                "description": description,
                "criteria": {"narrative": criteria or description},
                "inLanguage": "zh-CN" if credential.language.startswith("zh") else "en",
                "resultDescription": [
                    {
                        "id": training,
                        "type": ["ResultDescription"],
                        "name": "培训学时",
                        "resultType": "ext:TrainingHours",
                    },
                    {
                        "id": supervision,
                        "type": ["ResultDescription"],
                        "name": "督导学时",
                        "resultType": "ext:SupervisionHours",
                    },
                ],
            },
            "result": [
                {"type": ["Result"], "resultDescription": training, "value": points(claims["training_hours"])},
                {"type": ["Result"], "resultDescription": supervision, "value": points(claims["supervision_hours"])},
            ],
        },
        "credentialStatus": {
            "id": f"{status_list_url(unit)}#{certificate.status_index}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": STATUS_PURPOSE,
            "statusListIndex": str(certificate.status_index),
            "statusListCredential": status_list_url(unit),
        },
        "credentialSchema": [{"id": OB_SCHEMA, "type": "1EdTechJsonSchemaValidator2019"}],
        "evidence": [{"type": ["Evidence"], "id": document_id, "name": f"证书编号 {certificate.serial}"}],
    }


def _signed_at(certificate: Certificate, key) -> datetime:
    """When the proof says it was made: issue time, or the key's making if the key is younger (after a rotation)."""
    return max(certificate.issued_at, key.created_at)


def signed_badge(certificate: Certificate) -> dict:
    """The credential with the issuing unit's ``ecdsa-jcs-2019`` proof embedded (flushes a first key)."""
    key = signing.signing_key(certificate.issuer_unit)
    return signing.add_proof(open_badge(certificate), key, _signed_at(certificate, key))


def badge_jwt(certificate: Certificate) -> str:
    """The credential as a VC-JWT signed by the issuing unit (flushes a first key)."""
    key = signing.signing_key(certificate.issuer_unit)
    document = open_badge(certificate)
    claims = {
        **document,
        "iss": document["issuer"]["id"],
        "jti": document["id"],
        "nbf": int(certificate.issued_at.timestamp()),
        **({"exp": int(certificate.expires_at.timestamp())} if certificate.expires_at else {}),
    }
    return signing.sign_jwt(key, claims)


# ---------------------------------------------------------------- status lists


def status_list_url(unit: OrgUnit) -> str:
    return signing.absolute_url("api.status_list", unit_ref=unit_ref(unit))


def _set_bits(unit: OrgUnit) -> list[int]:
    """The status-list entries of the unit's certificates that are revoked or superseded."""
    return list(
        db.session.scalars(
            select(Certificate.status_index).where(
                Certificate.issuer_unit_id == unit.id,
                or_(Certificate.status == "revoked", Certificate.superseded_by_id.is_not(None)),
            )
        )
    )


def encode_bits(indexes: list[int], length: int) -> str:
    """A bitstring (index 0 is the first, most significant bit) GZIP-compressed, as base64url multibase."""
    raw = bytearray(length // 8)
    for i in indexes:
        raw[i // 8] |= 0x80 >> (i % 8)
    packed = gzip.compress(bytes(raw), mtime=0)
    return "u" + base64.urlsafe_b64encode(packed).decode().rstrip("=")


def read_bit(encoded: str, index: int) -> bool:
    """The bit at ``index`` of an ``encodedList``; an index past its end is an error, not a clear bit."""
    if not encoded.startswith("u"):
        raise ValueError("the encoded list is not base64url multibase")
    data = encoded[1:]
    raw = gzip.decompress(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    if not 0 <= index < len(raw) * 8:
        raise ValueError(f"index {index} is outside the list of {len(raw) * 8} bits")
    return bool(raw[index // 8] & (0x80 >> (index % 8)))


def status_list(unit: OrgUnit) -> dict:
    """The unit's ``BitstringStatusListCredential`` (unsigned), as of now."""
    last = db.session.scalar(select(func.max(Certificate.status_index)).where(Certificate.issuer_unit_id == unit.id))
    length = STATUS_LIST_MIN_BITS
    while length <= (last or 0):
        length *= 2
    url = status_list_url(unit)
    return {
        "@context": [VC_CONTEXT],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer_id(unit),
        "validFrom": _iso(utcnow()),
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": STATUS_PURPOSE,
            "encodedList": encode_bits(_set_bits(unit), length),
        },
    }


def signed_status_list(unit: OrgUnit) -> dict:
    key = signing.signing_key(unit)
    return signing.add_proof(status_list(unit), key, utcnow())


def status_list_jwt(unit: OrgUnit) -> str:
    document = status_list(unit)
    return signing.sign_jwt(signing.signing_key(unit), {**document, "iss": document["issuer"]})


# ---------------------------------------------------------------- checking, as an outside verifier would


def digital_check(certificate: Certificate) -> dict:
    """What the verification page says of the certificate's digital credential.

    The status is read as an outside verifier reads it: from the issuer's signed status list as
    the public route serves it, its signature checked against the issuer's published keys, then
    the certificate's bit. (Checking a credential signed a moment ago with the same keys would
    prove nothing: the page names the key that signs instead.) Returns ``{"key", "status"}``:
    status ok, revoked (revoked or superseded) or unknown (the list did not check out).
    """
    unit = certificate.issuer_unit
    key = signing.signing_key(unit)
    status = "unknown"
    try:
        listed = signing.verify_jwt(status_list_jwt(unit), signing.jwks(unit))
        if listed.get("issuer") == issuer_id(unit):
            bit = read_bit(listed["credentialSubject"]["encodedList"], certificate.status_index)
            status = "revoked" if bit else "ok"
    except (signing.SignatureInvalid, KeyError, TypeError, ValueError) as exc:
        current_app.logger.warning("status list of %s did not check out: %s", unit_ref(unit), exc)
    return {"key": key.kid, "status": status}
