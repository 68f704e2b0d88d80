"""Home page, language switch and health check; carries the templates and static files."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from sqlalchemy.exc import SQLAlchemyError

from app.core.i18n import SUPPORTED
from app.core.urls import safe_next
from app.extensions import db

ROOT = Path(__file__).resolve().parent.parent.parent
bp = Blueprint(
    "core",
    __name__,
    template_folder=str(ROOT / "templates"),
    static_folder=str(ROOT / "app" / "static"),
    static_url_path="/static",
)


@bp.get("/")
@login_required
def index():
    if current_user.has_role("admin", "coordinator"):
        return redirect(url_for("coverage.dashboard"))
    if current_user.has_role("instructor"):
        return redirect(url_for("training.programs"))
    if current_user.person is not None:
        return redirect(url_for("training.my"))
    return render_template("core/home.html")


@bp.post("/language")
def set_language():
    lang = request.form.get("lang", "")
    if lang in SUPPORTED:
        session["lang"] = lang
        if current_user.is_authenticated:
            current_user.locale = lang
            db.session.commit()
    return redirect(safe_next(request.form.get("next")))


@bp.get("/healthz")
def healthz():
    # Says nothing about the configuration, and nothing about why the database failed.
    try:
        db.session.execute(db.text("SELECT 1"))
    except SQLAlchemyError as exc:
        db.session.rollback()
        # One line, not a traceback: a probe asks every few seconds.
        current_app.logger.warning("health check: the database does not answer (%s)", type(exc).__name__)
        return jsonify(status="unavailable"), 503
    return {"status": "ok"}
