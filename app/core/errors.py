"""Error pages for people, RFC 9457 problem details for API clients."""

from __future__ import annotations

from flask import Flask, current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException, InternalServerError

from app.core.domain import DomainError

# RFC 9457: the title does not change from one occurrence to the next, "except for
# localization purposes" -- so it follows Accept-Language like the detail.
TITLES = {
    400: _l("Bad Request"),
    401: _l("Unauthorized"),
    403: _l("Forbidden"),
    404: _l("Not Found"),
    405: _l("Method Not Allowed"),
    409: _l("Conflict"),
    413: _l("Content Too Large"),
    415: _l("Unsupported Media Type"),
    422: _l("Unprocessable Content"),
    429: _l("Too Many Requests"),
    500: _l("Internal Server Error"),
    503: _l("Service Unavailable"),
}


def is_api_request() -> bool:
    """Return whether the current request is for the JSON API."""
    prefix = current_app.config.get("LMS_URL_PREFIX", "")
    return request.path.startswith(prefix + "/api/")


def problem(status: int, detail: str | None = None, errors: dict | list | None = None, **extra):
    """Build an RFC 9457 problem-details response."""
    body = {
        "type": "about:blank",
        "title": str(TITLES.get(status, _("Error"))),
        "status": status,
        "detail": str(detail or TITLES.get(status, _("Error"))),
    }
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    response = current_app.json.response(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def is_race(exc: IntegrityError) -> bool:
    """Whether ``exc`` is a unique or foreign-key violation (what two requests at once can cause)."""
    sqlstate = getattr(exc.orig, "sqlstate", None)  # psycopg
    if sqlstate is not None:
        return sqlstate in ("23505", "23503")
    text = str(exc.orig)  # sqlite3
    return text.startswith(("UNIQUE constraint failed", "FOREIGN KEY constraint failed"))


def _user_message(code: int) -> str:
    messages = {
        400: _("The request could not be understood. Please go back and try again."),
        403: _("You do not have permission to open this page."),
        404: _("This page does not exist, or is not within your units."),
        405: _("This address does not accept that kind of request."),
        413: _("The file is too large."),
        429: _("Too many attempts. Please wait a few minutes and try again."),
        500: _("Something went wrong on our side. The error has been logged."),
    }
    return messages.get(code, _("Something went wrong."))


def _api_detail(exc: HTTPException) -> str:
    """The problem's ``detail``: the message the API gave, or one for the status, in the caller's language."""
    code = exc.code or 500
    if code == 429:
        return _("Too many requests (%(limit)s). Please wait and try again.", limit=exc.description)
    if code != 500 and exc.description and exc.description != type(exc).description:
        return str(exc.description)
    messages = {
        400: _("The request could not be understood."),
        401: _("Missing bearer token."),
        403: _("You do not have permission to do this."),
        404: _("Not found, or not within your units."),
        405: _("This address does not accept that method."),
        409: _("Conflict with the current state."),
        413: _("The request is too large."),
        415: _("Unsupported media type."),
        422: _("Invalid input."),
        500: _("Something went wrong on our side. The error has been logged."),
    }
    return str(messages.get(code, TITLES.get(code, _("Something went wrong."))))


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = exc.code or 500
        if is_api_request():
            detail = _api_detail(exc)
            errors = None
            data = getattr(exc, "data", None)  # webargs puts field messages here
            if isinstance(data, dict) and "messages" in data:
                from app.api.messages import field_errors

                messages = data["messages"]
                # webargs groups messages by location (json, query…): callers want the fields.
                errors = {}
                for location, fields in messages.items() if isinstance(messages, dict) else []:
                    errors.update(field_errors(fields) if isinstance(fields, dict) else field_errors(fields, location))
                detail = _("Invalid input.")
            response = problem(code, detail, errors)
            if code == 401:
                response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
            return response
        return render_template("errors/error.html", code=code, message=_user_message(code)), code

    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError):
        from app.extensions import db

        db.session.rollback()
        if is_api_request():
            errors = {k: [str(v)] for k, v in exc.errors.items()} or None
            return problem(exc.status, str(exc.message), errors)
        return render_template("errors/error.html", code=exc.status, message=str(exc.message)), exc.status

    @app.errorhandler(IntegrityError)
    def _integrity_error(exc: IntegrityError):
        # The services check every rule before writing; a unique or foreign key that still fires is a
        # concurrent request that wrote the same thing first (or removed what this one points at).
        # Nothing of this request was kept. A CHECK or NOT NULL violation is a bug: a 500, logged.
        from app.extensions import db

        if not is_race(exc):
            return _unhandled(exc)
        db.session.rollback()
        app.logger.warning("integrity error answered 409: %s", exc.orig)
        message = _("Someone else changed this at the same moment. Reload and try again.")
        if is_api_request():
            return problem(409, message)
        return render_template("errors/error.html", code=409, message=message), 409

    @app.errorhandler(Exception)
    def _unhandled(exc: Exception):
        app.logger.exception("unhandled error")
        from app.extensions import db

        db.session.rollback()
        return _http_error(InternalServerError())
