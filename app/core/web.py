"""What every blueprint of the academy does around its requests, and only around its own.

A host application mounting the academy keeps its own error pages, headers,
CSRF rules, language and sessions: the academy attaches its request hooks,
error handlers and template helpers to its blueprints, never to the
application as a whole.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, current_app, request
from flask_wtf.csrf import generate_csrf
from werkzeug.exceptions import MethodNotAllowed, NotFound

from ..extensions import csrf
from . import errors, uow
from .i18n import use_academy_domain
from .security import refuse_unstorable_input, security_headers
from .templating import academy_context

CSRF_DEFAULTS = {
    "WTF_CSRF_ENABLED": True,
    "WTF_CSRF_FIELD_NAME": "csrf_token",
    "WTF_CSRF_HEADERS": ["X-CSRFToken", "X-CSRF-Token"],
    "WTF_CSRF_TIME_LIMIT": None,  # tied to the academy's session instead
    "WTF_CSRF_SSL_STRICT": True,
}


def init_app(app, is_academy_request: Callable[[], bool]) -> None:
    """Give Flask-WTF the defaults it reads (a host's own values stay); answer unknown addresses under the
    academy's prefix with the academy's own "not found"."""
    for key, value in CSRF_DEFAULTS.items():
        app.config.setdefault(key, value)
    app.config["WTF_CSRF_METHODS"] = set(app.config.get("WTF_CSRF_METHODS", ["POST", "PUT", "PATCH", "DELETE"]))

    @app.before_request
    def _academy_routing_errors():
        # No blueprint matched, so no blueprint's error handler would run: an address under the academy's
        # prefix that no route takes (404) or takes with other methods (405) is answered here, the academy's
        # way; the host's own addresses are left to the host.
        exc = request.routing_exception
        if isinstance(exc, NotFound | MethodNotAllowed) and is_academy_request():
            use_academy_domain()
            return security_headers(current_app.make_response(errors.http_error(exc)))
        return None


def _before_request() -> None:
    use_academy_domain()
    # Uploads are bounded by the academy's setting on its own routes (a host's MAX_CONTENT_LENGTH is its own).
    request.max_content_length = current_app.config["LMS_MAX_UPLOAD_BYTES"]
    refuse_unstorable_input()


def _protect_forms() -> None:
    view = current_app.view_functions.get(request.endpoint)
    # A view marked exempt carries its own proof (a signed token in its address: one-click unsubscribe).
    if current_app.config["WTF_CSRF_ENABLED"] and not getattr(view, "lms_csrf_exempt", False):
        csrf.protect()


def setup_blueprint(bp: Blueprint, *, forms: bool = True) -> Blueprint:
    """Make ``bp`` an academy blueprint: its language, input checks, CSRF (pages), headers, errors, one unit of
    work per request."""
    bp.before_request(_before_request)
    bp.context_processor(academy_context)
    if forms:
        bp.before_request(_protect_forms)
        bp.context_processor(lambda: {"csrf_token": generate_csrf})
    bp.after_request(security_headers)
    uow.init_blueprint(bp)
    errors.register_handlers(bp)
    return bp
