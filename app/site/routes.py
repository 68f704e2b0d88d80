"""Home page, language switch and health check.

The blueprint carries the templates (under the name prefix ``lms/``, so a host
application's own ``base.html`` never stands in for the academy's) and the
static files.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, session, url_for
from jinja2 import FileSystemLoader, PrefixLoader
from sqlalchemy.exc import SQLAlchemyError

from ..auth.current import current_user, login_required
from ..auth.permissions import MANAGE, TEACH, can
from ..core import paths
from ..core.i18n import SESSION_LANGUAGE, SUPPORTED
from ..core.uow import rollback
from ..core.urls import safe_next
from ..extensions import db
from .health import readiness

TEMPLATE_PREFIX = "lms"


class SiteBlueprint(Blueprint):
    """A blueprint whose templates are found as ``lms/<name>`` and only so."""

    @property
    def jinja_loader(self):
        return PrefixLoader({TEMPLATE_PREFIX: FileSystemLoader(str(paths.templates()))})


bp = SiteBlueprint("site", __name__, static_folder=str(paths.static()), static_url_path="/static")


@bp.get("/")
@login_required
def index():
    if can(current_user, MANAGE):
        return redirect(url_for("coverage.dashboard"))
    if can(current_user, TEACH):
        return redirect(url_for("training.programs"))
    if current_user.person is not None:
        return redirect(url_for("training.my"))
    return render_template("lms/core/home.html")


@bp.get("/.well-known/did.json")
@bp.get("/did.json")
def did_document():
    """The issuers' public keys as a did:web document (at the root of a host and under a mount path)."""
    from ..credentials.signing import did_document

    response = jsonify(did_document())
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.post("/language")
def set_language():
    lang = request.form.get("lang", "")
    if lang in SUPPORTED:
        session[SESSION_LANGUAGE] = lang
        if current_user.is_authenticated:
            current_user.locale = lang
    return redirect(safe_next(request.form.get("next")))


@bp.get("/healthz")
def healthz():
    # Says nothing about the configuration, and nothing about why the database failed.
    try:
        db.session.execute(db.text("SELECT 1"))
    except SQLAlchemyError as exc:
        rollback()
        # One line, not a traceback: a probe asks every few seconds.
        current_app.logger.warning("health check: the database does not answer (%s)", type(exc).__name__)
        return jsonify(status="unavailable"), 503
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """Whether this instance can serve: database, Redis, file store and job queue each answer (503 if not)."""
    checks, ready = readiness()
    body = jsonify(status="ok" if ready else "unavailable", checks=checks)
    return body, 200 if ready else 503, {"Cache-Control": "no-store"}
