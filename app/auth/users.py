"""Account pages: the accounts a coordinator manages, inviting, roles, disabling, signing out, password links.

The rules (who manages whom, what may be granted) are :mod:`app.auth.accounts`'; these views only
ask. A password link is shown once, to be passed on to its owner; nobody ever sees a password.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from wtforms import SelectChoice

from ..audit.queries import entry_names
from ..core.access import found
from ..core.forms import ActionForm, show_refusal
from ..core.i18n import _
from ..core.routing import page_arg
from ..core.uow import attempt
from ..core.urls import public_url
from ..org.queries import unit_for, visible_units
from ..people.picker import picked_person
from . import accounts
from .current import current_user, permission_required
from .forms import GrantForm, InviteForm, LinkPersonForm, SetPasswordForm
from .labels import ROLE_LABELS
from .permissions import MANAGE

bp = Blueprint("users", __name__, url_prefix="/users")


@bp.app_context_processor
def _labels():
    return {"ROLE_LABELS": ROLE_LABELS}


def _role_choices() -> list[SelectChoice]:
    return [SelectChoice(r, ROLE_LABELS[r]) for r in accounts.grantable_roles(current_user)]


def _unit_choices() -> list[SelectChoice]:
    return [SelectChoice(u.id, "　" * u.depth + u.name) for u in visible_units(current_user)]


def _link_page(user, token: str):
    return render_template(
        "lms/users/link.html",
        user=user,
        link=public_url("users.set_password", token=token),
        hours=current_app.config["LMS_PASSWORD_LINK_HOURS"],
    )


@bp.get("/")
@permission_required(MANAGE)
def index():
    q = (request.args.get("q") or "").strip()[:64]
    page, users = accounts.managed_users_page(
        current_user,
        q,
        page=request.args.get("page", 1, type=page_arg) or 1,
        per_page=current_app.config["LMS_PER_PAGE"],
    )
    return render_template("lms/users/index.html", page=page, users=users, q=q)


@bp.route("/new", methods=["GET", "POST"])
@permission_required(MANAGE)
def new():
    form = InviteForm()
    form.role.choices = _role_choices()
    form.unit_id.choices = _unit_choices()
    valid = form.validate_on_submit()
    chosen = picked_person(current_user, form.person_id) if request.method == "POST" else None
    if valid and not form.person_id.errors:
        unit = found(unit_for(current_user, form.unit_id.data))
        with attempt() as outcome:
            user = accounts.invite_user(
                username=form.username.data, role=form.role.data, unit=unit, person=chosen, actor=current_user
            )
            token = accounts.password_link_token(user)
        if outcome.ok:
            flash(_("Account %(username)s created.", username=user.username), "success")
            return _link_page(user, token)
        show_refusal(outcome.error, form)
    return render_template("lms/users/new.html", form=form, chosen=chosen)


@bp.get("/<id:user_id>")
@permission_required(MANAGE)
def detail(user_id: int):
    user = found(accounts.user_for(current_user, user_id))
    grant_form = GrantForm(prefix="grant")
    grant_form.role.choices = _role_choices()
    grant_form.unit_id.choices = _unit_choices()
    return render_template(
        "lms/users/detail.html",
        user=user,
        grant_form=grant_form,
        link_form=LinkPersonForm(prefix="link"),
        action_form=ActionForm(),
        is_self=user.id == current_user.id,
        history=(history := accounts.history_of(user)),
        names=entry_names(current_user, history),
    )


def _change(user_id: int, change, done: str):
    """Run one change of an account from a button; say what happened; back to the account."""
    user = found(accounts.user_for(current_user, user_id))
    if ActionForm().validate_on_submit():
        with attempt() as outcome:
            change(user)
        if outcome.ok:
            flash(done, "success")
        else:
            flash(str(outcome.error.message), "error")
    return redirect(url_for("users.detail", user_id=user.id))


@bp.post("/<id:user_id>/roles")
@permission_required(MANAGE)
def grant(user_id: int):
    user = found(accounts.user_for(current_user, user_id))
    form = GrantForm(prefix="grant")
    form.role.choices = _role_choices()
    form.unit_id.choices = _unit_choices()
    if form.validate_on_submit():
        unit = found(unit_for(current_user, form.unit_id.data))
        with attempt() as outcome:
            accounts.grant(user=user, role=form.role.data, unit=unit, actor=current_user)
        if outcome.ok:
            flash(_("%(role)s over %(unit)s granted.", role=ROLE_LABELS[form.role.data], unit=unit.name), "success")
        else:
            flash(str(outcome.error.message), "error")
    else:
        flash(_("Choose a role and a unit you manage."), "error")
    return redirect(url_for("users.detail", user_id=user.id))


@bp.post("/<id:user_id>/roles/<id:assignment_id>/revoke")
@permission_required(MANAGE)
def revoke(user_id: int, assignment_id: int):
    return _change(
        user_id,
        lambda u: accounts.revoke(user=u, assignment_id=assignment_id, actor=current_user),
        _("The role is taken back."),
    )


@bp.post("/<id:user_id>/<any(disable, enable):verb>")
@permission_required(MANAGE)
def enable(user_id: int, verb: str):
    return _change(
        user_id,
        lambda u: accounts.set_enabled(user=u, enabled=verb == "enable", actor=current_user),
        _("The account is enabled.") if verb == "enable" else _("The account is disabled and signed out everywhere."),
    )


@bp.post("/<id:user_id>/signout")
@permission_required(MANAGE)
def sign_out(user_id: int):
    return _change(
        user_id,
        lambda u: accounts.sign_out_everywhere(user=u, actor=current_user),
        _("The account is signed out of every browser."),
    )


@bp.post("/<id:user_id>/person")
@permission_required(MANAGE)
def link_person(user_id: int):
    user = found(accounts.user_for(current_user, user_id))
    form = LinkPersonForm(prefix="link")
    if form.validate_on_submit():
        person = picked_person(current_user, form.person_id)
        if person is None:
            flash(" ".join(str(e) for e in form.person_id.errors) or _("Choose a person."), "error")
            return redirect(url_for("users.detail", user_id=user.id))
        with attempt() as outcome:
            accounts.link_person(user=user, person=person, actor=current_user)
        if outcome.ok:
            flash(_("Saved."), "success")
        else:
            flash(str(outcome.error.message), "error")
    return redirect(url_for("users.detail", user_id=user.id))


@bp.post("/<id:user_id>/password-link")
@permission_required(MANAGE)
def password_link(user_id: int):
    user = found(accounts.user_for(current_user, user_id))
    if not ActionForm().validate_on_submit():
        return redirect(url_for("users.detail", user_id=user.id))
    with attempt() as outcome:
        token = accounts.issue_password_link(user=user, actor=current_user)
    if not outcome.ok:
        flash(str(outcome.error.message), "error")
        return redirect(url_for("users.detail", user_id=user.id))
    return _link_page(user, token)


@bp.route("/password/<token>", methods=["GET", "POST"])
def set_password(token: str):
    """The owner of an account sets its password through a one-time link (no sign-in needed)."""
    user = accounts.user_for_link(token)
    if user is None:
        return render_template("lms/users/link_dead.html"), 404
    form = SetPasswordForm()
    if form.validate_on_submit():
        with attempt() as outcome:
            accounts.use_password_link(token=token, new=form.new.data)
        if outcome.ok:
            flash(_("Your password is set. Please sign in."), "success")
            return redirect(url_for("auth.login"))
        form.new.errors.append(str(next(iter(outcome.error.errors.values()), outcome.error.message)))
    return render_template("lms/users/set_password.html", form=form, user=user)
