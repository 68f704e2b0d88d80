"""Administering accounts from the browser: invite, grant and revoke scoped roles, disable, sign out, reset.

Who manages whom, in one place:

* an administrator manages every account;
* a coordinator manages an account when every role it holds lies within the
  coordinator's units and, if it belongs to a person, that person works there
  too. Anything else answers as unknown (404), like another district's people.

What may be granted: never a role above the granter's own (only an
administrator makes administrators), and only over a unit within the
granter's units. Nobody changes their own roles or disables themself, and the
last enabled administrator stays. Passwords are never chosen or seen by an
administrator: a new or reset account gets a one-time link that expires,
signed over the current password hash, so it stops working once used.
Services flush and never commit; every change is audited.
"""

from __future__ import annotations

import hashlib
import secrets

from flask import current_app
from flask_sqlalchemy.pagination import Pagination
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.orm import selectinload

from ..audit.models import AuditEntry
from ..audit.services import record_audit
from ..core.domain import Conflict, Forbidden, Invalid, NotFound
from ..core.i18n import _l
from ..core.sessions import signing_keys
from ..extensions import db
from ..org.models import OrgUnit
from ..org.queries import in_scope, unit_in_scope
from ..people.models import Person
from .models import ApiToken, LoginSession, RoleAssignment, User
from .passwords import MESSAGES as PASSWORD_MESSAGES
from .permissions import MANAGE, ROLES, can, roles_for
from .services import check_password_strength, hash_password, revoke_api_token, set_password

MANAGERS = roles_for(MANAGE)
# Which roles each role may hand out (within its units).
GRANTABLE = {
    "admin": ROLES,
    "coordinator": ("coordinator", "supervisor", "instructor", "trainee"),
}
LINK_SALT = "lms-password-link"
USERNAME_MAX = 64


# ---------------------------------------------------------------- who manages whom


def grantable_roles(actor) -> tuple[str, ...]:
    """The roles ``actor`` may grant (over their own units)."""
    if actor is None:
        return ROLES
    if actor.is_admin:
        return GRANTABLE["admin"]
    if actor.has_role("coordinator"):
        return GRANTABLE["coordinator"]
    return ()


def manages(actor, user: User) -> bool:
    """Whether ``actor`` manages ``user`` (the module docstring's rule)."""
    if actor is None or actor.is_admin:
        return True
    if not can(actor, MANAGE) or user.is_admin:
        return False
    if not user.roles and user.person is None:
        return False
    if user.person is not None and not unit_in_scope(actor, user.person.unit, MANAGERS):
        return False
    return all(unit_in_scope(actor, a.unit, MANAGERS) for a in user.roles)


def users_query(actor, q: str | None = None) -> Select:
    """Select the accounts ``actor`` manages (filtered by username or the person's name), by username.

    The SQL keeps to accounts with a role or a person in the actor's units; :func:`manages` then
    drops those that also hold something outside them (few, and read in one more statement).
    """
    stmt = select(User).options(selectinload(User.roles), selectinload(User.person)).order_by(User.username)
    if not actor.is_admin:
        role_here = select(RoleAssignment.user_id).where(in_scope(actor, RoleAssignment.unit_id, MANAGERS))
        person_here = select(Person.id).where(in_scope(actor, Person.unit_id, MANAGERS))
        stmt = stmt.where(or_(User.id.in_(role_here), User.person_id.in_(person_here)))
    if q and q.strip():
        needle = q.strip()
        named = select(Person.id).where(Person.name.icontains(needle, autoescape=True))
        stmt = stmt.where(or_(User.username.icontains(needle, autoescape=True), User.person_id.in_(named)))
    return stmt


def managed_users(actor, q: str | None = None, limit: int = 500) -> list[User]:
    return [u for u in db.session.scalars(users_query(actor, q).limit(limit)) if manages(actor, u)]


def managed_users_page(actor, q: str | None, *, page: int, per_page: int) -> tuple[Pagination, list[User]]:
    """One page of the accounts ``actor`` manages, by username: the page, and its accounts ``actor`` manages.

    A province has an account for every trainee: the list is paged, not cut (it showed the first 500).
    """
    found = db.paginate(users_query(actor, q), page=page, per_page=per_page, max_per_page=100, error_out=False)
    return found, [u for u in found.items if manages(actor, u)]


def user_for(actor, user_id: int) -> User | None:
    """The account if ``actor`` manages it, else None (the caller answers 404)."""
    user = db.session.get(User, user_id)
    return user if user is not None and manages(actor, user) else None


def _check_managed(actor, user: User) -> None:
    if not manages(actor, user):
        raise NotFound(_l("Not found."))


def _check_grant(actor, role: str, unit: OrgUnit) -> None:
    if role not in ROLES:
        raise Invalid(_l("Invalid input."), {"role": _l("Unknown role.")})
    if actor is not None and not unit_in_scope(actor, unit, MANAGERS):
        raise NotFound(_l("Not found."))
    if role not in grantable_roles(actor):
        raise Forbidden(_l("You cannot grant a role above your own."))


def _check_person(actor, person: Person | None, role: str, unit: OrgUnit) -> None:
    if person is None:
        if role == "trainee":
            raise Invalid(_l("Invalid input."), {"person_id": _l("A trainee's account belongs to a person.")})
        return
    if actor is not None and not unit_in_scope(actor, person.unit, MANAGERS):
        raise NotFound(_l("Not found."))
    if db.session.scalar(select(User.id).where(User.person_id == person.id)):
        raise Conflict(
            _l("%(name)s already has an account.", name=person.name), {"person_id": _l("Already has an account.")}
        )


# ---------------------------------------------------------------- one-time password links


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(signing_keys(current_app), salt=LINK_SALT)


def _fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def password_link_token(user: User) -> str:
    """A token that lets its bearer set ``user``'s password once, until it expires or the password changes."""
    return _serializer().dumps({"u": user.id, "p": _fingerprint(user)})


def user_for_link(token: str) -> User | None:
    """The user a password link is for, if it is genuine, unused and not expired."""
    max_age = int(current_app.config["LMS_PASSWORD_LINK_HOURS"]) * 3600
    try:
        data = _serializer().loads(token, max_age=max_age)
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    user = db.session.get(User, data["u"])
    if user is None or not user.is_enabled or data.get("p") != _fingerprint(user):
        return None
    return user


def use_password_link(*, token: str, new: str) -> User:
    """Set the password through a link; the link is spent (the hash it was signed over is gone)."""
    user = user_for_link(token)
    if user is None:
        raise NotFound(_l("This link has expired or was already used. Ask your coordinator for a new one."))
    try:
        check_password_strength(new, user.username)
    except ValueError as exc:
        raise Invalid(_l("Invalid input."), {"new": PASSWORD_MESSAGES.get(str(exc), str(exc))}) from exc
    set_password(user=user, new=new, actor=user, revoke_tokens=False)
    return user


# ---------------------------------------------------------------- changes


def _audit(actor, action: str, user: User, **after) -> None:
    record_audit(actor=actor, action=action, entity_type="user", entity_id=user.id, after=after or None)


def invite_user(*, username: str, role: str, unit: OrgUnit, person: Person | None, actor) -> User:
    """Create an account holding one role over ``unit``; its owner sets a password through a one-time link."""
    name = (username or "").strip()
    if not name or len(name) > USERNAME_MAX or any(ch.isspace() for ch in name):
        raise Invalid(_l("Invalid input."), {"username": _l("A username of 1 to 64 characters, without spaces.")})
    _check_grant(actor, role, unit)
    _check_person(actor, person, role, unit)
    if db.session.scalar(select(User.id).where(func.lower(User.username) == name.lower())):
        raise Conflict(
            _l("The username %(username)s is taken: choose another.", username=name),
            {"username": _l("Taken: choose another.")},
        )
    # Nobody knows this password: the account opens through the link only.
    user = User(username=name, password_hash=hash_password(secrets.token_urlsafe(32)), person=person)
    user.roles.append(RoleAssignment(role=role, unit=unit))
    db.session.add(user)
    db.session.flush()
    record_audit(
        actor=actor,
        action="user.create",
        entity_type="user",
        entity_id=user.id,
        after={"username": name, "role": role, "unit_id": unit.id, "person_id": getattr(person, "id", None)},
    )
    return user


def grant(*, user: User, role: str, unit: OrgUnit, actor) -> RoleAssignment:
    """Grant a role over ``unit`` (once); never to oneself, never above one's own, never outside one's units."""
    _check_managed(actor, user)
    if actor is not None and actor.id == user.id:
        raise Forbidden(_l("You cannot change your own roles: ask another administrator."))
    _check_grant(actor, role, unit)
    if role == "trainee" and user.person is None:
        raise Invalid(_l("Invalid input."), {"role": _l("A trainee's account belongs to a person.")})
    for existing in user.roles:
        if existing.role == role and existing.unit_id == unit.id:
            return existing
    assignment = RoleAssignment(role=role, unit=unit)
    user.roles.append(assignment)
    db.session.flush()
    _audit(actor, "role.grant", user, role=role, unit_id=unit.id)
    return assignment


def _enabled_admins() -> int:
    return db.session.scalar(
        select(func.count(func.distinct(User.id)))
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(RoleAssignment.role == "admin", User.is_enabled.is_(True))
    )


def revoke(*, user: User, assignment_id: int, actor) -> None:
    """Take back one role; the account keeps at least one (disable it instead) and the last administrator stays."""
    _check_managed(actor, user)
    if actor is not None and actor.id == user.id:
        raise Forbidden(_l("You cannot change your own roles: ask another administrator."))
    assignment = next((a for a in user.roles if a.id == assignment_id), None)
    if assignment is None:
        raise NotFound(_l("Not found."))
    if assignment.role not in grantable_roles(actor) or (
        actor is not None and not unit_in_scope(actor, assignment.unit, MANAGERS)
    ):
        raise Forbidden(_l("You cannot take back a role above your own."))
    if len(user.roles) == 1:
        raise Conflict(_l("This is the account's only role: disable the account instead."))
    if assignment.role == "admin" and sum(a.role == "admin" for a in user.roles) == 1 and _enabled_admins() <= 1:
        raise Conflict(_l("This is the last administrator."))
    user.roles.remove(assignment)
    db.session.flush()
    _audit(actor, "role.revoke", user, role=assignment.role, unit_id=assignment.unit_id)


def sign_out_everywhere(*, user: User, actor) -> int:
    """End every browser session of the account; return how many."""
    _check_managed(actor, user)
    ended = db.session.execute(delete(LoginSession).where(LoginSession.user_id == user.id)).rowcount
    _audit(actor, "user.signout", user, sessions=ended)
    return ended


def set_enabled(*, user: User, enabled: bool, actor) -> None:
    """Disable an account (signed out, its API tokens revoked) or enable it again."""
    _check_managed(actor, user)
    if user.is_enabled == enabled:
        return
    if not enabled:
        if actor is not None and actor.id == user.id:
            raise Forbidden(_l("You cannot disable your own account."))
        if user.is_admin and _enabled_admins() <= 1:
            raise Conflict(_l("This is the last administrator."))
        db.session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
        for token in db.session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        ):
            revoke_api_token(token=token, actor=actor)
    user.is_enabled = enabled
    db.session.flush()
    _audit(actor, "user.enable" if enabled else "user.disable", user)


def link_person(*, user: User, person: Person | None, actor) -> None:
    """Link the account to a person of the actor's units (or unlink it: not a trainee's)."""
    _check_managed(actor, user)
    if person is not None:
        if actor is not None and not unit_in_scope(actor, person.unit, MANAGERS):
            raise NotFound(_l("Not found."))
        owner = db.session.scalar(select(User).where(User.person_id == person.id))
        if owner is not None and owner.id != user.id:
            raise Conflict(_l("%(name)s already has an account.", name=person.name))
    elif user.has_role("trainee"):
        raise Conflict(_l("A trainee's account belongs to a person."))
    before = user.person_id
    user.person = person
    db.session.flush()
    record_audit(
        actor=actor,
        action="user.person",
        entity_type="user",
        entity_id=user.id,
        before={"person_id": before},
        after={"person_id": getattr(person, "id", None)},
    )


def issue_password_link(*, user: User, actor) -> str:
    """A one-time link for the account's owner to set a password (audited; the password itself is never seen)."""
    _check_managed(actor, user)
    if not user.is_enabled:
        raise Conflict(_l("The account is disabled: enable it first."))
    _audit(actor, "user.password_link", user, hours=int(current_app.config["LMS_PASSWORD_LINK_HOURS"]))
    return password_link_token(user)


def history_of(user: User, limit: int = 50) -> list[AuditEntry]:
    """What was done to the account, newest first."""
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity_type == "user", AuditEntry.entity_id == user.id)
            .order_by(AuditEntry.id.desc())
            .limit(limit)
        )
    )
