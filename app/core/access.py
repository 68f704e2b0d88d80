"""Route guards shared by the blueprints."""

from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user, login_required


def roles_required(*roles: str):
    """Let through signed-in users holding one of ``roles``; others get 403."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def found(obj):
    """Return ``obj`` or answer 404 — also for objects outside the viewer's scope."""
    if obj is None:
        abort(404)
    return obj
