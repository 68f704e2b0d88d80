"""Bearer-token authentication for the JSON API."""

from __future__ import annotations

from flask import abort, g, request
from flask_babel import gettext as _

from app.auth.services import resolve_api_token
from app.extensions import db


def bearer_secret() -> str | None:
    """The token of ``Authorization: Bearer <token>`` (scheme in any case, spaces around ignored), or None."""
    scheme, _space, secret = request.headers.get("Authorization", "").strip().partition(" ")
    secret = secret.strip()
    return secret if scheme.lower() == "bearer" and secret else None


def authenticate_request() -> None:
    """Resolve ``Authorization: Bearer <token>`` into ``g.api_user`` or answer 401."""
    if request.endpoint == "api.verify_certificate":  # anyone may verify a certificate
        return
    secret = bearer_secret()
    if secret is None:
        abort(401, description=_("Missing bearer token."))
    user = resolve_api_token(secret, request.method, request.path)
    if user is None:
        db.session.rollback()
        abort(401, description=_("Invalid, expired or revoked token."))
    db.session.commit()  # records last use
    g.api_user = user


def api_user():
    """Return the user the current API request acts for."""
    return g.api_user
