"""Domain errors raised by services; the routes and the API map them to HTTP answers."""

from __future__ import annotations


class DomainError(Exception):
    """A service refused a change; nothing was written. ``errors`` maps field → message."""

    status = 400

    def __init__(self, message, errors: dict | None = None):
        super().__init__(str(message))
        self.message = message
        self.errors = errors or {}


class Invalid(DomainError):
    status = 422


class Conflict(DomainError):
    status = 409


class Forbidden(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Unavailable(DomainError):
    """A resource the change needs (a disk, a service) is not usable now; nothing was written."""

    status = 503
