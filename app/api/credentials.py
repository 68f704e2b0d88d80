"""Public certificate verification in the API (no token needed, rate limited)."""

from __future__ import annotations

import time

from flask import abort, current_app

from app.api import schemas
from app.api.routes import bp
from app.credentials import services
from app.extensions import limiter

PUBLIC_ENDPOINTS = {"api.verify_certificate"}


@bp.get("/verify/<code>")
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
        abort(404, description="Unknown verification code.")
    return view
