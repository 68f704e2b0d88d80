"""Public certificate verification in the API (no token needed, rate limited)."""

from __future__ import annotations

import time
from zoneinfo import ZoneInfo

from flask import abort, current_app, jsonify

from ..core.i18n import _
from ..credentials import badges, queries, services, signing
from ..credentials.models import Certificate
from ..extensions import limiter
from ..people import queries as people_queries
from . import schemas
from .auth import api_user
from .routes import bp, page_of

JWT_MEDIA_TYPE = "application/vc+jwt"
# The 200 of an operation that answers JSON or, with ?format=jwt, a VC-JWT.
_JWT_ALTERNATIVE = {
    "responses": {200: {"content": {JWT_MEDIA_TYPE: {"schema": {"type": "string", "description": "a VC-JWT"}}}}}
}


@bp.get("/verify/<string(maxlength=64):code>")
@limiter.limit(lambda: current_app.config["LMS_VERIFY_RATE_LIMIT"])
@bp.response(200, schemas.VerifySchema)
@bp.doc(security=[])
def verify_certificate(code: str):
    """What /verify/<code> shows, as JSON; unknown codes are 404 after the same delay."""
    started = time.perf_counter()
    certificate = services.find_by_code(code)
    view = services.public_view(certificate) if certificate else None
    if certificate is not None:  # its signed credential, checked as an outside verifier checks it
        checked = badges.digital_check(certificate)
        view["digital"] = {"key": checked["key"], "status_list": checked["status"]}
    time.sleep(max(0.0, 0.05 - (time.perf_counter() - started)))
    if view is None:
        abort(404, description=_("Unknown verification code."))
    return view


@bp.post("/verify/pdf")
@limiter.limit(lambda: current_app.config["LMS_VERIFY_RATE_LIMIT"])
@bp.arguments(schemas.PdfUpload, location="files")
@bp.response(200, schemas.PdfCheckSchema)
@bp.doc(security=[])
def verify_pdf(files):
    """Whether an uploaded PDF is an unaltered original of an issued certificate (multipart field ``pdf``)."""
    from ..credentials.pdfsign import check_upload

    data = files["pdf"].read()
    if not data.startswith(b"%PDF-"):
        abort(422, description=_("This is not a PDF file."))
    return check_upload(data).as_json()


def certificate_json(c: Certificate) -> dict:
    zone = ZoneInfo(current_app.config["LMS_TIMEZONE"])
    return {
        "id": c.id,
        "serial": c.serial,
        "credential": c.credential.name,
        "title": c.credential.title,
        "status": services.verification_status(c),
        "issued_on": c.issued_at.astimezone(zone).date(),
        "expires_on": c.expires_at.astimezone(zone).date() if c.expires_at else None,
        "revoked_on": c.revoked_at.astimezone(zone).date() if c.revoked_at else None,
        "revoke_reason": c.revoke_reason,
        "verification_code": c.verification_code,
        "verify_url": services.verify_url(c.verification_code),
    }


@bp.get("/people/<id:person_id>/certificates")
@bp.arguments(schemas.PageArgs, location="query")
@bp.response(200, schemas.CertificatePage)
def person_certificates(args, person_id: int):
    """A person's certificates, newest first (a trainee may read their own)."""
    user = api_user()
    if people_queries.person_for(user, person_id) is None and user.person_id != person_id:
        abort(404)
    result = page_of(queries.person_certificates(user, person_id), args)
    result["items"] = [certificate_json(c) for c in result["items"]]
    return result


def _issuer(unit_ref: str):
    unit = badges.unit_by_ref(unit_ref)
    if unit is None or not badges.is_issuer(unit):
        abort(404, description=_("Unknown issuer."))
    return unit


def _jwt_response(token: str):
    response = current_app.response_class(token, mimetype=JWT_MEDIA_TYPE)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/issuers/<string(maxlength=40):unit_ref>")
@bp.response(200, schemas.LinkedDataDocument)
@bp.doc(security=[])
def issuer_profile(unit_ref: str):
    """An issuing unit as an Open Badges 3.0 Profile (the ``issuer`` of its credentials)."""
    return jsonify(badges.issuer_profile(_issuer(unit_ref)))  # as built: the schema documents, it does not filter


@bp.get("/issuers/<string(maxlength=40):unit_ref>/jwks")
@bp.response(200, schemas.KeySetSchema)
@bp.doc(security=[])
def issuer_jwks(unit_ref: str):
    """The issuing unit's public keys (JWKS): every key that ever signed, so earlier credentials still verify."""
    return signing.jwks(_issuer(unit_ref))


@bp.get("/issuers/<string(maxlength=40):unit_ref>/did.json")
@bp.response(200, schemas.LinkedDataDocument)
@bp.doc(security=[])
def issuer_did(unit_ref: str):
    """The issuing unit's did:web document (the issuer of its credentials), with its public keys."""
    response = jsonify(signing.unit_did_document(_issuer(unit_ref)))
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/status-lists/<string(maxlength=40):unit_ref>")
@limiter.limit(lambda: current_app.config["LMS_VERIFY_RATE_LIMIT"])
@bp.arguments(schemas.FormatArgs, location="query")
@bp.response(200, schemas.LinkedDataDocument)
@bp.doc(security=[], **_JWT_ALTERNATIVE)
def status_list(args, unit_ref: str):
    """The issuing unit's signed Bitstring Status List credential (revocation); ``?format=jwt`` as a VC-JWT."""
    unit = _issuer(unit_ref)
    if args["format"] == "jwt":
        return _jwt_response(badges.status_list_jwt(unit))
    response = jsonify(badges.signed_status_list(unit))
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/certificates/<string(maxlength=64):serial>/ob3")
@bp.arguments(schemas.FormatArgs, location="query")
@bp.response(200, schemas.LinkedDataDocument)
@bp.doc(**_JWT_ALTERNATIVE)
def certificate_open_badge(args, serial: str):
    """A certificate as a signed Open Badges 3.0 OpenBadgeCredential (the holder's, or in the caller's units)."""
    certificate = queries.certificate_by_serial(api_user(), services.normalise_serial(serial))
    if certificate is None:
        abort(404)
    if args["format"] == "jwt":
        return _jwt_response(badges.badge_jwt(certificate))
    return jsonify(badges.signed_badge(certificate))
