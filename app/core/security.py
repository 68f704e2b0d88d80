"""Response security headers (a strict CSP without inline script, frame denial, nosniff); NUL characters refused."""

from __future__ import annotations

from flask import Flask, abort, current_app, request
from flask_babel import gettext as _

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def refuse_nul_characters():
    """Answer 400 to input holding a NUL character: no form or API field needs one, and PostgreSQL
    cannot store one (it would fail deep inside a write instead of with a message)."""
    if not request.path.startswith(current_app.config.get("LMS_URL_PREFIX", "") + "/"):
        return  # a host application's own routes
    if "\x00" in request.path or _has_nul(request.args.to_dict(flat=False)):
        abort(400, description=_("The request contains a NUL character."))
    body = request.method in ("POST", "PUT", "PATCH")
    if body and (
        _has_nul(request.form.to_dict(flat=False)) or (request.is_json and _has_nul(request.get_json(silent=True)))
    ):
        abort(400, description=_("The request contains a NUL character."))


def init_app(app: Flask) -> None:
    app.before_request(refuse_nul_characters)

    @app.after_request
    def _headers(response):
        h = response.headers
        h.setdefault("Content-Security-Policy", CSP)
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "same-origin")
        h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if app.config.get("SESSION_COOKIE_SECURE"):
            h.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
