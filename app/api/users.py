"""API endpoints of account administration: the same rules as the pages (app.auth.accounts)."""

from __future__ import annotations

from flask import abort, current_app

from ..auth import accounts
from ..auth.models import User
from ..auth.permissions import MANAGE, can
from ..core.access import found
from ..core.errors import problem
from ..core.i18n import _
from ..core.urls import public_url
from ..org.queries import unit_for_code
from ..people.queries import person_for
from . import schemas
from .auth import api_user
from .routes import bp


def _managers_only() -> None:
    if not can(api_user(), MANAGE):
        abort(403, description=_("Only coordinators and administrators do this."))


def user_json(user: User) -> dict:
    return {
        "id": user.id,
        "username": user.username,
        "enabled": user.is_enabled,
        "person_id": user.person_id,
        "roles": [{"id": a.id, "role": a.role, "unit_id": a.unit_id, "unit_code": a.unit.code} for a in user.roles],
    }


def _link(user: User) -> dict:
    return {
        "password_link": public_url("users.set_password", token=accounts.password_link_token(user)),
        "expires_in_hours": int(current_app.config["LMS_PASSWORD_LINK_HOURS"]),
    }


def _user(user_id: int) -> User:
    _managers_only()
    return found(accounts.user_for(api_user(), user_id))


@bp.get("/users")
@bp.arguments(schemas.UserArgs, location="query")
@bp.response(200, schemas.UserPage)
def list_users(args):
    """The accounts the caller manages (all of their roles and person within the caller's units)."""
    _managers_only()
    managed = accounts.managed_users(api_user(), args.get("q"), limit=10_000)
    start = (args["page"] - 1) * args["per_page"]
    return {"items": [user_json(u) for u in managed[start : start + args["per_page"]]], "total": len(managed)}


@bp.post("/users")
@bp.arguments(schemas.UserCreate)
@bp.response(201, schemas.UserCreated)
def create_user(data):
    """Create an account with one role; the answer holds a one-time link for its owner to set a password."""
    _managers_only()
    unit = unit_for_code(api_user(), data["unit_code"])
    if unit is None:
        return problem(422, _("Invalid input."), {"unit_code": [_("Unknown unit.")]})
    person = None
    if data.get("person_id") is not None:
        person = person_for(api_user(), data["person_id"])
        if person is None:
            return problem(422, _("Invalid input."), {"person_id": [_("Unknown person.")]})
    user = accounts.invite_user(
        username=data["username"], role=data["role"], unit=unit, person=person, actor=api_user()
    )
    return {**user_json(user), **_link(user)}


@bp.get("/users/<id:user_id>")
@bp.response(200, schemas.UserSchema)
def get_user(user_id: int):
    """One account the caller manages."""
    return user_json(_user(user_id))


@bp.patch("/users/<id:user_id>")
@bp.arguments(schemas.UserUpdate)
@bp.response(200, schemas.UserSchema)
def update_user(data, user_id: int):
    """Disable or enable an account, or link it to a person of the caller's units."""
    user = _user(user_id)
    if "person_id" in data:
        person = None
        if data["person_id"] is not None:
            person = person_for(api_user(), data["person_id"])
            if person is None:
                return problem(422, _("Invalid input."), {"person_id": [_("Unknown person.")]})
        accounts.link_person(user=user, person=person, actor=api_user())
    if "enabled" in data:
        accounts.set_enabled(user=user, enabled=data["enabled"], actor=api_user())
    return user_json(user)


@bp.post("/users/<id:user_id>/roles")
@bp.arguments(schemas.RoleGrant)
@bp.response(201, schemas.UserSchema)
def grant_role(data, user_id: int):
    """Grant a role over a unit of the caller's; never a role above the caller's own."""
    user = _user(user_id)
    unit = unit_for_code(api_user(), data["unit_code"])
    if unit is None:
        abort(404, description=_("Unknown unit."))
    accounts.grant(user=user, role=data["role"], unit=unit, actor=api_user())
    return user_json(user)


@bp.delete("/users/<id:user_id>/roles/<id:assignment_id>")
@bp.response(204)
def revoke_role(user_id: int, assignment_id: int):
    """Take back one role (the account keeps at least one; disable it instead)."""
    accounts.revoke(user=_user(user_id), assignment_id=assignment_id, actor=api_user())
    return ""


@bp.post("/users/<id:user_id>/password-link")
@bp.response(200, schemas.PasswordLink)
def password_link(user_id: int):
    """A new one-time link for the account's owner to set a password (nobody else sees a password)."""
    user = _user(user_id)
    accounts.issue_password_link(user=user, actor=api_user())
    return _link(user)


@bp.post("/users/<id:user_id>/sign-out")
@bp.response(200, schemas.SignedOut)
def sign_out(user_id: int):
    """End every browser session of the account."""
    return {"sessions_ended": accounts.sign_out_everywhere(user=_user(user_id), actor=api_user())}
