"""Who is signed in to the academy, on the academy's own routes.

The academy signs people in itself: a server-side login session whose secret
lives in the academy's own cookie (see ``core.sessions``), so a host
application's sign-in, sessions and Flask-Login are left alone. A host that
signs people in itself can hand its users over instead:
``Academy(app, user_loader=…)`` returns the academy user of the request (or
None), and the academy's sign-in pages are then not used.
"""

from __future__ import annotations

from functools import wraps

from flask import abort, current_app, g, redirect, request, session, url_for
from werkzeug.local import LocalProxy

from ..core.sessions import host_session
from .permissions import can

SESSION_SECRET = "lms_sid"  # noqa: S105 — the session key holding the secret, not a secret


class AnonymousUser:
    """Nobody signed in: no roles, no person, no language of their own."""

    is_authenticated = False
    is_anonymous = True
    is_active = False
    is_admin = False
    id = None
    person = None
    person_id = None
    locale = None
    roles = ()
    username = ""

    def has_role(self, *roles: str) -> bool:
        return False


ANONYMOUS = AnonymousUser()


def load_user():
    """Return the signed-in user of this request (resolved once), or :data:`ANONYMOUS`."""
    if "lms_user" not in g:
        loader = current_app.extensions["academy"].user_loader
        if loader is None:
            user = _from_session()
        else:
            with host_session():  # the host's sign-in lives in its own session, not the academy's
                user = loader()
        g.lms_user = user if user is not None and getattr(user, "is_active", False) else ANONYMOUS
    return g.lms_user


def _from_session():
    from .services import resolve_login_session

    secret = session.get(SESSION_SECRET)
    return resolve_login_session(secret=secret) if secret else None


current_user = LocalProxy(load_user)


def sign_in(user, secret: str) -> None:
    """Start a fresh academy session for ``user`` holding the login session's ``secret`` (no fixation)."""
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language
    session[SESSION_SECRET] = secret
    g.lms_user = user


def session_secret() -> str | None:
    """The secret of this browser's login session, if any."""
    return session.get(SESSION_SECRET)


def sign_out() -> None:
    """Forget the academy session of this browser."""
    session.clear()
    g.lms_user = ANONYMOUS


def login_url() -> str:
    """The sign-in page (the host's, when it signs people in), coming back here afterwards."""
    view = current_app.extensions["academy"].login_view or "auth.login"
    return url_for(view, next=request.script_root + request.full_path.rstrip("?"))


def login_required(view):
    """Send anonymous visitors to the sign-in page."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return redirect(login_url())
        return view(*args, **kwargs)

    return wrapper


def permission_required(permission: str):
    """Let through signed-in users holding ``permission``; others get 403 (anonymous: the sign-in page)."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if not can(current_user, permission):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator
