"""Sign in, sign out, change password."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_limiter.util import get_remote_address
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..core.i18n import _, ngettext
from ..core.sessions import signing_keys
from ..core.urls import safe_next
from ..extensions import limiter
from . import services
from .current import current_user, login_required, session_secret, sign_in, sign_out
from .forms import LoginForm, PasswordForm, TokenForm
from .passwords import MESSAGES as PASSWORD_MESSAGES
from .queries import live_api_token_count

bp = Blueprint("auth", __name__)


# Wrong passwords are counted three ways. Per account *and* address: a stranger elsewhere cannot
# lock a coordinator out. Per address: one machine cannot try many accounts. Per account from
# everywhere, higher: many machines cannot guess one password, and browsers that signed in to
# the account before (a signed cookie) are exempt from it, so such guessing does not lock out
# the owner either.
KNOWN_BROWSER_COOKIE = "lms_known_browser"
KNOWN_BROWSER_DAYS = 90
KNOWN_BROWSER_MAX_ACCOUNTS = 5


def _username() -> str:
    return (request.form.get("username") or "").strip().casefold()


def _account_address_key() -> str:
    return f"login-account:{_username()}|{get_remote_address()}"


def _account_key() -> str:
    return "login-account-total:" + _username()


def _failed(response) -> bool:
    # Only failed sign-ins count toward the throttle (success redirects).
    return response.status_code != 302


def _limit(name: str) -> str:
    return current_app.config[name]


def _known_browser_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(signing_keys(current_app), salt="lms-known-browser")


def _known_accounts() -> list[str]:
    """Usernames that signed in from this browser within KNOWN_BROWSER_DAYS (from the signed cookie)."""
    value = request.cookies.get(KNOWN_BROWSER_COOKIE)
    if not value:
        return []
    try:
        names = _known_browser_serializer().loads(value, max_age=KNOWN_BROWSER_DAYS * 86400)
    except BadSignature:
        return []
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def _is_known_browser() -> bool:
    return _username() in _known_accounts()


def _remember_browser(response, username: str):
    names = [username.strip().casefold()] + [n for n in _known_accounts() if n != username.strip().casefold()]
    response.set_cookie(
        KNOWN_BROWSER_COOKIE,
        _known_browser_serializer().dumps(names[:KNOWN_BROWSER_MAX_ACCOUNTS]),
        max_age=KNOWN_BROWSER_DAYS * 86400,
        path=(current_app.config.get("LMS_URL_PREFIX") or "") + "/",
        secure=current_app.config["LMS_SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )
    return response


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: _limit("LMS_LOGIN_LIMIT_ACCOUNT"), key_func=_account_address_key, methods=["POST"], deduct_when=_failed
)
@limiter.limit(lambda: _limit("LMS_LOGIN_LIMIT_ADDRESS"), methods=["POST"], deduct_when=_failed)
@limiter.limit(
    lambda: _limit("LMS_LOGIN_LIMIT_ACCOUNT_TOTAL"),
    key_func=_account_key,
    methods=["POST"],
    deduct_when=_failed,
    exempt_when=_is_known_browser,
)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("site.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.username.data, form.password.data)
        if user is not None:
            secret = services.start_login_session(
                user=user, ip=request.remote_addr, user_agent=request.headers.get("User-Agent")
            )
            if session.get("lang") and not user.locale:
                user.locale = session["lang"]
            sign_in(user, secret)  # a fresh session: no fixation
            return _remember_browser(redirect(safe_next(request.args.get("next"))), user.username)
        flash(_("Wrong username or password."), "error")
        return render_template("lms/auth/login.html", form=form), 200
    return render_template("lms/auth/login.html", form=form)


@bp.post("/logout")
def logout():
    services.end_login_session(session_secret())
    sign_out()
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():
    form = PasswordForm()
    live_tokens = live_api_token_count(current_user)
    if form.validate_on_submit():
        try:
            revoked = services.change_password(
                user=current_user,
                current=form.current.data,
                new=form.new.data,
                # Without live tokens the box is not shown; there is nothing to keep.
                revoke_tokens=form.revoke_tokens.data or not live_tokens,
            )
        except services.AuthError as exc:
            if str(exc) in PASSWORD_MESSAGES:
                form.new.errors.append(str(PASSWORD_MESSAGES[str(exc)]))
            else:
                form.current.errors.append(_("The current password is wrong."))
        else:
            sign_out()
            flash(_("Password changed. Please sign in again."), "success")
            if revoked:
                flash(
                    ngettext("%(num)d API token was revoked.", "%(num)d API tokens were revoked.", revoked), "success"
                )
            return redirect(url_for("auth.login"))
    return render_template("lms/auth/password.html", form=form, live_tokens=live_tokens)


@bp.route("/account/tokens", methods=["GET", "POST"])
@login_required
def tokens():
    from datetime import timedelta

    from ..core.db import utcnow
    from .queries import api_tokens_of

    form = TokenForm()
    secret = None
    if form.validate_on_submit():
        expires = utcnow() + timedelta(days=form.days.data) if form.days.data else None
        secret = services.create_api_token(user=current_user, name=form.name.data.strip(), expires_at=expires)
        form = TokenForm(formdata=None)
    response = current_app.make_response(
        render_template(
            "lms/auth/tokens.html", form=form, tokens=api_tokens_of(current_user), secret=secret, now=utcnow()
        )
    )
    response.headers["Cache-Control"] = "no-store"  # the new token is shown once
    return response


@bp.post("/account/tokens/<id:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    from flask import abort

    from ..core.forms import ActionForm, ask_first, confirmed
    from .queries import api_token_of

    token = api_token_of(current_user, token_id)
    if token is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    if not confirmed():  # a system using it stops at once, and nothing brings it back
        from ..core.templating import local_time

        return ask_first(
            title=_("Revoke the token “%(name)s”?", name=token.name),
            consequences=[
                _("A system using it is refused from now on (last used %(when)s).", when=local_time(token.last_used_at))
                if token.last_used_at
                else _("It has not been used yet."),
                _("This cannot be undone: a system that still needs the API needs a new token."),
            ],
            button=_("Revoke the token"),
            back=url_for("auth.tokens"),
            danger=True,
        )
    services.revoke_api_token(token=token, actor=current_user)
    flash(_("Token “%(name)s” revoked.", name=token.name), "success")
    return redirect(url_for("auth.tokens"))
