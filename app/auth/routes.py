"""Sign in, sign out, change password."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from app.auth import services
from app.auth.forms import LoginForm, PasswordForm, TokenForm
from app.extensions import db, limiter, login_manager

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def _load_user(user_id: str):
    try:
        uid = int(user_id)
    except ValueError:
        return None
    return services.resolve_login_session(user_id=uid, secret=session.get("sid"))


def _account_key() -> str:
    return "login-account:" + (request.form.get("username") or "").strip().lower()


def _failed(response) -> bool:
    # Only failed sign-ins count toward the throttle (success redirects).
    return response.status_code != 302


def _limit(kind: str) -> str:
    return current_app.config["LMS_LOGIN_LIMIT_ACCOUNT" if kind == "account" else "LMS_LOGIN_LIMIT_ADDRESS"]


def _safe_next(target: str | None) -> str:
    """Follow ``next`` only to a path on this site.

    Browsers read ``//host``, ``/\\host`` and ``\\host`` (tabs and newlines dropped) as other sites.
    """
    parts = urlsplit(target or "")
    if (
        target
        and target.startswith("/")
        and not parts.scheme
        and not parts.netloc
        and target[1:2] not in ("/", "\\")
        and not any(c in target for c in "\r\n\t")
    ):
        return target
    return url_for("core.index")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: _limit("account"), key_func=_account_key, methods=["POST"], deduct_when=_failed)
@limiter.limit(lambda: _limit("address"), methods=["POST"], deduct_when=_failed)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("core.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.username.data, form.password.data)
        if user is not None:
            lang = session.get("lang")
            session.clear()  # a fresh session: no fixation
            secret = services.start_login_session(
                user=user, ip=request.remote_addr, user_agent=request.headers.get("User-Agent")
            )
            if lang and not user.locale:
                user.locale = lang
            db.session.commit()
            session["sid"] = secret
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        flash(_("Wrong username or password."), "error")
        return render_template("auth/login.html", form=form), 200
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
def logout():
    services.end_login_session(session.get("sid"))
    db.session.commit()
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(user=current_user, current=form.current.data, new=form.new.data)
        except services.AuthError:
            form.current.errors.append(_("The current password is wrong."))
        else:
            db.session.commit()
            logout_user()
            session.clear()
            flash(_("Password changed. Please sign in again."), "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/password.html", form=form)


def init_login(app) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = "basic"


@bp.route("/account/tokens", methods=["GET", "POST"])
@login_required
def tokens():
    from datetime import timedelta

    from app.auth.queries import api_tokens_of
    from app.core.db import utcnow

    form = TokenForm()
    secret = None
    if form.validate_on_submit():
        expires = utcnow() + timedelta(days=form.days.data) if form.days.data else None
        secret = services.create_api_token(user=current_user, name=form.name.data.strip(), expires_at=expires)
        db.session.commit()
        form = TokenForm(formdata=None)
    response = current_app.make_response(
        render_template("auth/tokens.html", form=form, tokens=api_tokens_of(current_user), secret=secret, now=utcnow())
    )
    response.headers["Cache-Control"] = "no-store"  # the new token is shown once
    return response


@bp.post("/account/tokens/<id:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    from flask import abort

    from app.auth.queries import api_token_of
    from app.training.forms import ActionForm

    token = api_token_of(current_user, token_id)
    if token is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    services.revoke_api_token(token=token, actor=current_user)
    db.session.commit()
    flash(_("Token “%(name)s” revoked.", name=token.name), "success")
    return redirect(url_for("auth.tokens"))
