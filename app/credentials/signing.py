"""Issuer keys and signatures: an ES256 (P-256) key per issuing unit, VC-JWT and Data Integrity proofs.

Each unit that issues certificates signs their credentials with its own key. The newest active
key signs; ``rotate_key`` retires it and makes a new one, and retired keys stay published (JWKS and
the ``did:web`` document), so what they signed still verifies. Private keys are encrypted at rest
under the data key, like ID numbers (``lms rotate-data-key`` re-encrypts them too).

Two signature forms, both checkable with the published public keys alone:

- **VC-JWT** (VC-JOSE-COSE): a compact JWS whose payload is the credential, header
  ``{"alg": "ES256", "kid": "<did>#<kid>", "typ": "vc+jwt"}``;
- **Data Integrity** ``ecdsa-jcs-2019``: a ``proof`` embedded in the JSON credential; the document
  and the proof options are canonicalised with JCS (RFC 8785), hashed with SHA-256 and signed
  (ECDSA P-256, signature ``r‖s`` in base58btc multibase).

``kid`` is the key's JWK thumbprint (RFC 7638): the same key always has the same name.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from urllib.parse import quote, urlsplit

from flask import current_app, has_request_context
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..audit.services import record_audit
from ..core.crypto import decrypt_text, encrypt_text
from ..core.db import utcnow
from ..core.errors import is_race
from ..core.urls import public_url
from ..extensions import db
from ..org.models import OrgUnit
from .models import CredentialType, IssuerKey

ALGORITHM = "ES256"
CURVE = "P-256"
CRYPTOSUITE = "ecdsa-jcs-2019"
JWT_TYPE = "vc+jwt"


class SignatureInvalid(Exception):
    """A signature that does not check out against the published keys, with why."""


# ---------------------------------------------------------------- addresses


def absolute_url(endpoint: str, **values) -> str:
    """An absolute address of one of the academy's routes, within a request or without one (jobs, CLI)."""
    if has_request_context():
        return public_url(endpoint, **values)
    base = current_app.config.get("LMS_PUBLIC_URL") or "http://127.0.0.1:5000"
    with current_app.test_request_context(base_url=base):
        return public_url(endpoint, **values)


def _did_of(url: str) -> str:
    """The ``did:web`` identifier that resolves to ``url`` (…/did.json, or /.well-known/did.json at a root)."""
    parts = urlsplit(url)
    path = [quote(p, safe="") for p in parts.path.split("/") if p]
    if path[-1:] == ["did.json"]:
        path = path[:-1]
    if path == [".well-known"]:
        path = []
    return "did:web:" + ":".join([quote(parts.netloc, safe=""), *path])


def did() -> str:
    """The deployment's ``did:web`` identifier, from the academy's public address.

    At the root of a host it is ``did:web:host`` (resolved at ``/.well-known/did.json``); mounted
    under a path it is ``did:web:host:path`` (resolved at ``/path/did.json``), as did:web specifies.
    """
    return _did_of(absolute_url("site.index") + "did.json")


def unit_did(unit: OrgUnit) -> str:
    """The issuing unit's own ``did:web`` (``did:web:host:api:v1:issuers:330105``): the ``issuer`` of its
    credentials and the controller of its keys, resolved at ``/api/v1/issuers/330105/did.json``."""
    from .badges import unit_ref

    return _did_of(absolute_url("api.issuer_did", unit_ref=unit_ref(unit)))


# ---------------------------------------------------------------- keys


def issuer_name(unit: OrgUnit) -> str:
    """The name the unit issues under: its own as an issuer, else its newest type's, else the unit's name."""
    if unit.issuer_name:
        return unit.issuer_name
    name = db.session.scalar(
        select(CredentialType.issuer_name)
        .where(CredentialType.issuer_unit_id == unit.id)
        .order_by(CredentialType.id.desc())
        .limit(1)
    )
    return name or unit.name


def _new_key(unit: OrgUnit) -> IssuerKey:
    from joserfc import jwk

    from .pdfsign import make_certificate

    key = jwk.ECKey.generate_key(CURVE)
    public = dict(key.as_dict(private=False))
    kid = key.thumbprint()
    public.update(kid=kid, alg=ALGORITHM, use="sig")
    now = utcnow()
    certificate = make_certificate(key.private_key, issuer_name(unit), now)
    # The X.509 certificate that signs the PDFs, published with the key (RFC 7517 x5c: base64 DER).
    public["x5c"] = ["".join(line for line in certificate.splitlines() if not line.startswith("-----"))]
    row = IssuerKey(
        unit_id=unit.id,
        kid=kid,
        algorithm=ALGORITHM,
        public_jwk=public,
        private_key_enc=encrypt_text(key.as_pem(private=True).decode()),
        certificate_pem=certificate,
        created_at=now,
    )
    db.session.add(row)
    db.session.flush()
    return row


def active_key(unit: OrgUnit) -> IssuerKey | None:
    """The unit's key that signs now, if it has one."""
    return db.session.scalar(
        select(IssuerKey)
        .where(IssuerKey.unit_id == unit.id, IssuerKey.retired_at.is_(None))
        .order_by(IssuerKey.id.desc())
        .limit(1)
    )


def signing_key(unit: OrgUnit) -> IssuerKey:
    """The unit's active key, made the first time the unit signs (flushes).

    The one-active-key index settles two first signatures at once: the loser reads the winner's key.
    """
    key = active_key(unit)
    if key is not None:
        return key
    try:
        with db.session.begin_nested():
            return _new_key(unit)
    except IntegrityError as exc:
        key = active_key(unit) if is_race(exc) else None
        if key is None:
            raise
        return key


def rotate_key(unit: OrgUnit, actor) -> IssuerKey:
    """Retire the unit's active key and make a new one (audited, flushes). What the old key signed still verifies.

    A unit without a key gets its first one (as a first signature would) and then a new one. Two
    rotations at once make one new key: the one-active-key index stops the second, which answers with it.
    """
    old = signing_key(unit)
    try:
        with db.session.begin_nested():
            old.retired_at = utcnow()
            db.session.flush()
            new = _new_key(unit)
    except IntegrityError as exc:
        new = active_key(unit) if is_race(exc) else None
        if new is None:
            raise
        return new
    record_audit(
        actor=actor,
        action="issuer_key.rotate",
        entity_type="org_unit",
        entity_id=unit.id,
        before={"kid": old.kid},
        after={"kid": new.kid},
    )
    return new


def rekey_issuer_keys(previous_key: str) -> int:
    """Re-encrypt every issuer private key under the current data key (flushes); how many."""
    from ..core.crypto import reencrypt

    keys = db.session.scalars(select(IssuerKey).order_by(IssuerKey.id)).all()
    for key in keys:
        key.private_key_enc = reencrypt(key.private_key_enc, previous_key)
    db.session.flush()
    return len(keys)


def private_key(key: IssuerKey):
    """The key's private half (decrypted with the data key), as a JWK."""
    from joserfc import jwk

    return jwk.ECKey.import_key(decrypt_text(key.private_key_enc).encode())


def published_keys(unit: OrgUnit | None = None) -> list[IssuerKey]:
    """Every key that ever signed (retired ones too), of one unit or all, oldest first."""
    stmt = select(IssuerKey).order_by(IssuerKey.id)
    if unit is not None:
        stmt = stmt.where(IssuerKey.unit_id == unit.id)
    return list(db.session.scalars(stmt))


def jwks(unit: OrgUnit) -> dict:
    """The unit's public keys as a JSON Web Key Set."""
    return {"keys": [dict(k.public_jwk) for k in published_keys(unit)]}


def _document(subject: str, keys: list[IssuerKey]) -> dict:
    methods = [
        {
            "id": verification_method(k),
            "type": "JsonWebKey",
            "controller": unit_did(k.unit),
            "publicKeyJwk": dict(k.public_jwk),
        }
        for k in keys
    ]
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/jwk/v1"],
        "id": subject,
        "verificationMethod": methods,
        "assertionMethod": [m["id"] for m in methods],
    }


def did_document() -> dict:
    """The deployment's ``did:web`` document: every issuer's public keys, each named under its unit's DID."""
    return _document(did(), published_keys())


def unit_did_document(unit: OrgUnit) -> dict:
    """The issuing unit's ``did:web`` document: its public keys (retired ones too), for verifiers resolving it."""
    return _document(unit_did(unit), published_keys(unit))


def verification_method(key: IssuerKey) -> str:
    """The key as a DID URL of its unit's DID: what a proof or a VC-JWT names as the key that signed."""
    return f"{unit_did(key.unit)}#{key.kid}"


# ---------------------------------------------------------------- VC-JWT


def sign_jwt(key: IssuerKey, payload: dict) -> str:
    """The payload as a compact JWS (VC-JWT) signed with ``key``."""
    from joserfc import jwt

    header = {"alg": ALGORITHM, "kid": verification_method(key), "typ": JWT_TYPE}
    return jwt.encode(header, payload, private_key(key))


def _key_for(kid: str, key_set: dict):
    from joserfc import jwk

    name = kid.rsplit("#", 1)[-1]
    for entry in key_set.get("keys", []):
        if entry.get("kid") == name:
            return jwk.ECKey.import_key(entry)
    raise SignatureInvalid(f"no published key {name!r}")


def verify_jwt(token: str, key_set: dict) -> dict:
    """Check a VC-JWT against a published key set (JWKS); return its payload, or raise SignatureInvalid."""
    from joserfc import jws, jwt
    from joserfc.errors import JoseError

    try:
        header = jws.extract_compact(token.encode()).protected
        if header.get("alg") != ALGORITHM:
            raise SignatureInvalid(f"unexpected algorithm {header.get('alg')!r}")
        return dict(jwt.decode(token, _key_for(str(header.get("kid", "")), key_set), algorithms=[ALGORITHM]).claims)
    except (JoseError, ValueError) as exc:
        raise SignatureInvalid(str(exc)) from None


# ---------------------------------------------------------------- Data Integrity (ecdsa-jcs-2019)


def _hash_data(document: dict, options: dict) -> bytes:
    import rfc8785

    unsecured = {k: v for k, v in document.items() if k != "proof"}
    return hashlib.sha256(rfc8785.dumps(options)).digest() + hashlib.sha256(rfc8785.dumps(unsecured)).digest()


def add_proof(document: dict, key: IssuerKey, created: datetime) -> dict:
    """The document with an embedded ``DataIntegrityProof`` (``ecdsa-jcs-2019``, assertionMethod) by ``key``."""
    import base58
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    options = {
        "@context": document["@context"],
        "type": "DataIntegrityProof",
        "cryptosuite": CRYPTOSUITE,
        "created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "verificationMethod": verification_method(key),
        "proofPurpose": "assertionMethod",
    }
    der = private_key(key).private_key.sign(_hash_data(document, options), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    value = "z" + base58.b58encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()
    proof = {k: v for k, v in options.items() if k != "@context"} | {"proofValue": value}
    return {**document, "proof": [proof]}  # a set of proofs, as the OB 3.0 schema has it


def check_proof(document: dict, key_set: dict) -> None:
    """Check the document's embedded ``ecdsa-jcs-2019`` proof against a published key set, or raise SignatureInvalid."""
    import base58
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    proofs = document.get("proof")
    proofs = proofs if isinstance(proofs, list) else [proofs]
    proof = next((p for p in proofs if isinstance(p, dict) and p.get("cryptosuite") == CRYPTOSUITE), None)
    if proof is None:
        raise SignatureInvalid("no ecdsa-jcs-2019 proof")
    value = str(proof.get("proofValue", ""))
    try:
        raw = base58.b58decode(value[1:]) if value.startswith("z") else b""
    except ValueError:
        raw = b""
    if len(raw) != 64:
        raise SignatureInvalid("malformed proof value")
    options = {k: v for k, v in proof.items() if k != "proofValue"} | {"@context": document.get("@context")}
    public = _key_for(str(proof.get("verificationMethod", "")), key_set).public_key
    signature = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        public.verify(signature, _hash_data(document, options), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise SignatureInvalid("the proof does not match the document") from None
