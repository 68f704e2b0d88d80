"""Home page, language switch and health check; carries the templates and static files."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from app.core.i18n import SUPPORTED
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
    target = request.form.get("next") or ""
    # Only same-site relative paths, so the switch cannot be an open redirect.
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("core.index")
    return redirect(target)


@bp.get("/healthz")
def healthz():
    db.session.execute(db.text("SELECT 1"))
    return {"status": "ok", "mode": current_app.config["LMS_MODE"]}
