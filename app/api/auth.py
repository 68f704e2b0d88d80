"""Bearer-token authentication for the JSON API."""

from __future__ import annotations

from flask import abort, current_app, g, request
from limits import parse

from ..auth.services import resolve_api_token
from ..core.i18n import _
from ..core.uow import commit, rollback
from ..extensions import limiter

# Anyone may verify a certificate and read what verifying needs: issuers, their keys, their status lists.
PUBLIC_ENDPOINTS = frozenset(
    {
        "api.verify_certificate",
        "api.verify_pdf",
        "api.issuer_profile",
        "api.issuer_did",
        "api.issuer_jwks",
        "api.status_list",
    }
)


def bearer_secret() -> str | None:
    """The token of ``Authorization: Bearer <token>`` (scheme in any case, spaces around ignored), or None."""
    scheme, _space, secret = request.headers.get("Authorization", "").strip().partition(" ")
    secret = secret.strip()
    return secret if scheme.lower() == "bearer" and secret else None


def _count_refused_token() -> None:
    """Count a refused token against the caller's address; past ``LMS_API_AUTH_FAILURE_LIMIT``, answer 429.

    Only refused tokens count, and a valid token is never held back: integrations behind one proxy
    address keep working while another client hammers with an expired token. (Tokens carry 256 random
    bits, so the limit is about load and noise, not about guessing.)
    """
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return
    limit = parse(current_app.config["LMS_API_AUTH_FAILURE_LIMIT"])
    if not limiter.limiter.hit(limit, "api-auth-failures", request.remote_addr or ""):
        abort(429, description=str(limit))


def authenticate_request() -> None:
    """Resolve ``Authorization: Bearer <token>`` into ``g.api_user`` or answer 401."""
    if request.endpoint in PUBLIC_ENDPOINTS:  # anyone may verify a certificate and read what verifying needs
        return
    secret = bearer_secret()
    if secret is None:
        abort(401, description=_("Missing bearer token."))
    user = resolve_api_token(secret, request.method, request.path)
    if user is None:
        rollback()
        _count_refused_token()
        abort(401, description=_("Invalid, expired or revoked token."))
    # The use of the token is recorded (audit, last use) whatever becomes of the request.
    commit()
    g.api_user = user


def api_user():
    """Return the user the current API request acts for."""
    return g.api_user
