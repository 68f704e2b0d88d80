"""Public certificate verification in the API (no token needed, rate limited)."""

from __future__ import annotations

import time
from zoneinfo import ZoneInfo

from flask import abort, current_app

from ..core.i18n import _
from ..credentials import queries, services
from ..credentials.models import Certificate
from ..extensions import limiter
from ..people import queries as people_queries
from . import schemas
from .auth import api_user
from .routes import bp, page_of

PUBLIC_ENDPOINTS = {"api.verify_certificate"}


@bp.get("/verify/<string(maxlength=64):code>")
@limiter.limit(lambda: current_app.config["LMS_VERIFY_RATE_LIMIT"])
@bp.response(200, schemas.VerifySchema)
@bp.doc(security=[])
def verify_certificate(code: str):
    """What /verify/<code> shows, as JSON; unknown codes are 404 after the same delay."""
    started = time.perf_counter()
    certificate = services.find_by_code(code)
    view = services.public_view(certificate) if certificate else None
    time.sleep(max(0.0, 0.05 - (time.perf_counter() - started)))
    if view is None:
        abort(404, description=_("Unknown verification code."))
    return view


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
