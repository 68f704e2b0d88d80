"""The notification centre: the list behind the bell, marking read, preferences, and unsubscribing by link."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from ..auth.current import current_user, login_required
from ..auth.models import User
from ..core.access import found
from ..core.forms import ActionForm, choices
from ..core.i18n import _
from ..core.routing import page_arg
from ..core.urls import safe_next
from ..extensions import db
from .forms import PreferencesForm
from .preferences import EVERY, Prefs, kinds_for, prefs_of, read_unsubscribe_token, save_prefs, unsubscribe
from .services import inbox, inbox_total, mark_read, notification_for
from .wording import KIND_LABELS, word

bp = Blueprint("notices", __name__, url_prefix="/notifications")
PER_PAGE = 30


@bp.get("/")
@login_required
def index():
    unread = request.args.get("show") == "unread"
    page = db.paginate(
        inbox(current_user, unread=unread),
        page=request.args.get("page", 1, type=page_arg) or 1,
        per_page=PER_PAGE,
        error_out=False,
    )
    return render_template(
        "lms/notices/index.html",
        page=page,
        items=[(n, word(n.kind, n.params or {})) for n in page.items],
        total=page.total if not unread else inbox_total(current_user),
        unread=unread,
        form=ActionForm(),
        has_address=bool(current_user.email),
    )


@bp.post("/read")
@login_required
def read_all():
    if ActionForm().validate_on_submit():
        count = mark_read(current_user)
        flash(_("%(n)d notifications marked as read.", n=count), "success")
    return redirect(url_for("notices.index"))


def _read(notification_id: int):
    """Mark one of the signed-in account's notifications read (anyone else's: 404); return it."""
    notification = found(notification_for(current_user, notification_id))
    if ActionForm().validate_on_submit():
        mark_read(current_user, notification.id)
    return notification


@bp.post("/<id:notification_id>/open")
@login_required
def open_one(notification_id: int):
    """Mark the notification read and go to the page it is about."""
    link = _read(notification_id).link
    return redirect(safe_next(link) if link else url_for("notices.index"))


@bp.post("/<id:notification_id>/read")
@login_required
def read_one(notification_id: int):
    _read(notification_id)
    return redirect(url_for("notices.index"))


@bp.route("/preferences", methods=["GET", "POST"])
@login_required
def preferences():
    user = current_user._get_current_object()
    prefs = prefs_of(user)
    shown = kinds_for(user)
    form = PreferencesForm(
        data=None
        if request.method == "POST"
        else {
            "email": user.email,
            "mail": prefs.mail,
            "mailed": [k for k in shown if k not in prefs.off],
            "digest": prefs.digest,
            "quiet_from": prefs.quiet[0] if prefs.quiet else None,
            "quiet_to": prefs.quiet[1] if prefs.quiet else None,
        }
    )
    form.mailed.choices = choices(shown, KIND_LABELS)
    if form.validate_on_submit():
        chosen = set(form.mailed.data or ())
        save_prefs(
            user,
            email=(form.email.data or "").strip() or None,
            prefs=Prefs(
                mail=form.mail.data,
                # what the page does not offer keeps its choice (an account given a role later finds it)
                off=(prefs.off - set(shown)) | {k for k in shown if k not in chosen},
                digest=form.digest.data,
                quiet=(form.quiet_from.data, form.quiet_to.data) if form.quiet_from.data else None,
            ),
            actor=user,
        )
        flash(_("Your notification settings are saved."), "success")
        return redirect(url_for("notices.preferences"))
    return render_template("lms/notices/preferences.html", form=form, labels=KIND_LABELS, zone=_zone_name())


def _zone_name() -> str:
    """The deployment's time zone as its readers say it: 北京时间 (Beijing time) for China's, else its name."""
    zone = current_app.config["LMS_TIMEZONE"]
    return _("Beijing time") if zone in ("Asia/Shanghai", "PRC", "Asia/Chongqing", "Asia/Harbin") else zone


def _unsubscribing(token: str) -> tuple[User, str] | None:
    named = read_unsubscribe_token(token)
    user = db.session.get(User, named[0]) if named else None
    return (user, named[1]) if user is not None else None


def _csrf_exempt(view):
    view.lms_csrf_exempt = True
    return view


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@_csrf_exempt
def unsubscribe_link(token: str):
    """Stop a kind of mail, or all, from the link in a mail: no sign-in (the signed token is the proof).

    GET asks first (a mail scanner following links changes nothing); POST does it, also as the one-click
    unsubscribe of RFC 8058 that mail programs send (``List-Unsubscribe=One-Click``).
    """
    named = _unsubscribing(token)
    if named is None:  # said to whoever followed it, signed in or not: nothing about units or scope
        return render_template("lms/notices/unsubscribed.html", invalid=True), 404
    user, kind = named
    label = _("all mail") if kind == EVERY else KIND_LABELS[kind]
    if request.method == "POST":
        unsubscribe(user, kind)
        return render_template("lms/notices/unsubscribed.html", label=label, done=True, token=token)
    return render_template("lms/notices/unsubscribed.html", label=label, done=False, token=token)
