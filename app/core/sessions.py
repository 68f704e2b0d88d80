"""The academy's own session cookie, on its own routes only.

A host application's session interface keeps serving the host's routes; on
the academy's routes (its URL prefix) the session is a signed cookie of the
academy's own name, path and key. Standalone, the prefix is empty and every
route is the academy's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app, request
from flask.globals import request_ctx
from flask.sessions import SecureCookieSessionInterface, SessionInterface


def signing_keys(app: Flask) -> list[str]:
    """The keys cookies are checked against, oldest first: itsdangerous signs with the last, LMS_SECRET_KEY."""
    return [*app.config.get("LMS_SECRET_KEY_FALLBACKS", ()), app.config["LMS_SECRET_KEY"]]


class AcademySessionInterface(SecureCookieSessionInterface):
    """Signed-cookie sessions under the academy's prefix; the host's interface everywhere else."""

    salt = "lms-session"

    def __init__(self, host: SessionInterface | None, prefix: str):
        self.host = host
        self.prefix = prefix

    def ours(self) -> bool:
        """Whether the current request is the academy's."""
        path = request.path
        return not self.prefix or path == self.prefix or path.startswith(self.prefix + "/")

    def get_signing_serializer(self, app: Flask):
        return self._serializer(signing_keys(app))

    def _serializer(self, secret):
        from itsdangerous import URLSafeTimedSerializer

        return URLSafeTimedSerializer(
            secret,
            salt=self.salt,
            serializer=self.serializer,
            signer_kwargs={"key_derivation": self.key_derivation, "digest_method": self.digest_method},
        )

    def get_cookie_name(self, app: Flask) -> str:
        return app.config["LMS_SESSION_COOKIE_NAME"]

    def get_cookie_path(self, app: Flask) -> str:
        return (self.prefix or "") + "/"

    def get_cookie_domain(self, app: Flask) -> str | None:
        return None

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["LMS_SESSION_COOKIE_SECURE"])

    def get_cookie_httponly(self, app: Flask) -> bool:
        return True

    def get_cookie_samesite(self, app: Flask) -> str:
        return "Lax"

    def get_cookie_partitioned(self, app: Flask) -> bool:
        return False

    def open_session(self, app: Flask, request_):
        if self.ours() or self.host is None:
            return super().open_session(app, request_)
        return self.host.open_session(app, request_)

    def save_session(self, app: Flask, session, response) -> None:
        if self.ours() or self.host is None:
            return super().save_session(app, session, response)
        return self.host.save_session(app, session, response)

    def is_null_session(self, obj) -> bool:
        if self.ours() or self.host is None:
            return super().is_null_session(obj)
        return self.host.is_null_session(obj)

    def make_null_session(self, app: Flask):
        if self.ours() or self.host is None:
            return super().make_null_session(app)
        return self.host.make_null_session(app)


@contextmanager
def host_session() -> Iterator[None]:
    """On an academy request, let the host's code (its user loader, its Flask-Login) read the host's own session.

    Changes made to it there are not saved: the response carries the academy's session.
    """
    interface = current_app.session_interface
    if not isinstance(interface, AcademySessionInterface) or interface.host is None or not interface.ours():
        yield
        return
    # Flask keeps the request's session in RequestContext._session (no public setter; Flask 2.x-3.1).
    ctx = request_ctx._get_current_object()
    own = ctx._session
    host = interface.host
    ctx._session = host.open_session(current_app, request) or host.make_null_session(current_app)
    try:
        yield
    finally:
        ctx._session = own


def init_app(app: Flask, prefix: str, *, standalone: bool) -> None:
    """Serve the academy's routes from its own session cookie."""
    host = None if standalone else app.session_interface
    app.session_interface = AcademySessionInterface(host, prefix)
