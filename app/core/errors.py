"""Error pages for people, RFC 9457 problem details for API clients."""

from __future__ import annotations

from flask import current_app, request
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException, InternalServerError

from .domain import DomainError
from .i18n import _, _l
from .templating import render_page
from .uow import rollback

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


def _field_errors(messages) -> dict:
    """Field messages of a webargs error, flat whatever their location (json, query…), by the API's formatter."""
    formatter = current_app.extensions.get("lms_field_errors")
    errors: dict = {}
    for location, fields in messages.items() if isinstance(messages, dict) else []:
        if formatter is None:
            errors.update(fields if isinstance(fields, dict) else {location: fields})
        else:
            errors.update(formatter(fields) if isinstance(fields, dict) else formatter(fields, location))
    return errors


def http_error(exc: HTTPException):
    """Answer an HTTP error: problem details to an API client, the error page to a person."""
    code = exc.code or 500
    if is_api_request():
        detail = _api_detail(exc)
        errors = None
        data = getattr(exc, "data", None)  # webargs puts field messages here
        if isinstance(data, dict) and "messages" in data:
            errors = _field_errors(data["messages"])
            detail = _("Invalid input.")
        response = problem(code, detail, errors)
        if code == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
        return response
    response = current_app.make_response(
        (render_page("lms/errors/error.html", code=code, message=_user_message(code)), code)
    )
    if code == 405 and getattr(exc, "valid_methods", None):
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def domain_error(exc: DomainError):
    """Answer a refusal a service raised (nothing of the request is kept)."""
    rollback()
    if is_api_request():
        errors = {k: [str(v)] for k, v in exc.errors.items()} or None
        return problem(exc.status, str(exc.message), errors)
    return render_page("lms/errors/error.html", code=exc.status, message=str(exc.message)), exc.status


def integrity_error(exc: IntegrityError):
    """Answer a unique or foreign-key violation as 409: a concurrent request wrote the same thing first.

    The services check every rule before writing; a CHECK or NOT NULL violation is a bug: a 500, logged.
    """
    if not is_race(exc):
        return unhandled(exc)
    rollback()
    current_app.logger.warning("integrity error answered 409: %s", exc.orig)
    message = _("Someone else changed this at the same moment. Reload and try again.")
    if is_api_request():
        return problem(409, message)
    return render_page("lms/errors/error.html", code=409, message=message), 409


def unhandled(exc: Exception):
    """Log an unexpected error and answer 500, keeping nothing of the request."""
    current_app.logger.exception("unhandled error")
    rollback()
    return http_error(InternalServerError())


def register_handlers(bp) -> None:
    """Answer errors of ``bp``'s requests with the academy's pages and problem details (never the host's)."""
    bp.register_error_handler(HTTPException, http_error)
    bp.register_error_handler(DomainError, domain_error)
    bp.register_error_handler(IntegrityError, integrity_error)
    bp.register_error_handler(Exception, unhandled)
