"""Users, passwords, login sessions and API tokens."""

from __future__ import annotations

import contextlib
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app
from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import joinedload

from ..audit.services import record_audit
from ..core.crypto import token_hash
from ..core.db import utcnow
from ..core.statements import prepared
from ..extensions import db
from ..notices.services import unread_column, unread_read_with_session
from ..org.models import OrgUnit
from ..people.models import Person
from .models import ApiToken, LoginSession, RoleAssignment, User
from .passwords import password_problem
from .permissions import ROLES

# A hash checked when the username is unknown, so both paths cost the same.
_DUMMY_HASH: dict[str, str] = {}


class AuthError(ValueError):
    """A user or token operation was refused; ``message`` is shown to the caller."""


def _hasher() -> PasswordHasher:
    cfg = current_app.config
    return PasswordHasher(
        time_cost=cfg["LMS_PASSWORD_TIME_COST"], memory_cost=cfg["LMS_PASSWORD_MEMORY_KIB"], parallelism=1
    )


def hash_password(password: str) -> str:
    """Hash a password with argon2id at the configured (OWASP) cost."""
    return _hasher().hash(password)


def check_password_strength(password: str, username: str | None = None) -> None:
    """Refuse a password that is short, common or the username; the error names the rule (see passwords.MESSAGES)."""
    problem = password_problem(password, username)
    if problem is not None:
        raise AuthError(problem)


def authenticate(username: str, password: str) -> User | None:
    """Return the enabled user whose password matches, else None (constant work either way)."""
    user = db.session.scalar(select(User).where(User.username == username.strip()))
    hasher = _hasher()
    if user is None:
        if "h" not in _DUMMY_HASH:
            _DUMMY_HASH["h"] = hasher.hash(secrets.token_hex(8))
        with contextlib.suppress(VerificationError):
            hasher.verify(_DUMMY_HASH["h"], password)
        return None
    try:
        hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if not user.is_enabled:
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return user


def create_user(
    *,
    username: str,
    password: str,
    role: str,
    unit: OrgUnit,
    person: Person | None = None,
    actor=None,
) -> User:
    """Create a user holding one role over ``unit``'s subtree (flushes)."""
    if role not in ROLES:
        raise AuthError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if not username.strip():
        raise AuthError("username is empty")
    if db.session.scalar(select(User.id).where(User.username == username)):
        raise AuthError(f"username {username!r} is taken")
    check_password_strength(password, username)
    if role == "trainee" and person is None:
        raise AuthError("a trainee account needs --person-id")
    if person is not None and db.session.scalar(select(User.id).where(User.person_id == person.id)):
        raise AuthError(f"person {person.id} already has an account")
    user = User(username=username, password_hash=hash_password(password), person=person)
    user.roles.append(RoleAssignment(role=role, unit=unit))
    db.session.add(user)
    db.session.flush()
    record_audit(
        actor=actor,
        action="user.create",
        entity_type="user",
        entity_id=user.id,
        after={
            "username": username,
            "role": role,
            "unit": unit.code or unit.id,
            "person_id": getattr(person, "id", None),
        },
    )
    return user


def grant_role(*, user: User, role: str, unit: OrgUnit, actor=None) -> RoleAssignment:
    """Give ``user`` a role over ``unit``'s subtree, once (flushes)."""
    if role not in ROLES:
        raise AuthError(f"unknown role {role!r}")
    for existing in user.roles:
        if existing.role == role and existing.unit_id == unit.id:
            return existing
    assignment = RoleAssignment(role=role, unit=unit)
    user.roles.append(assignment)
    db.session.flush()
    record_audit(
        actor=actor,
        action="role.grant",
        entity_type="user",
        entity_id=user.id,
        after={"role": role, "unit_id": unit.id},
    )
    return assignment


def change_password(*, user: User, current: str, new: str, revoke_tokens: bool = True) -> int:
    """Check the current password, then set the new one as :func:`set_password` does (flushes)."""
    try:
        _hasher().verify(user.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise AuthError("wrong_password") from None
    return set_password(user=user, new=new, actor=user, revoke_tokens=revoke_tokens)


def set_password(*, user: User, new: str, actor, revoke_tokens: bool = True) -> int:
    """Set a new password, end every login session and, if asked, revoke every API token; return how many."""
    # A password is changed when it may have leaked, and a token made with it would outlive it:
    # revoking is the default, keeping them (an integration that must not stop) a choice.
    check_password_strength(new, user.username)
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    db.session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
    revoked = 0
    if revoke_tokens:
        live = db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)))
        for token in live:
            revoke_api_token(token=token, actor=actor)
            revoked += 1
    record_audit(
        actor=actor, action="user.password", entity_type="user", entity_id=user.id, after={"tokens_revoked": revoked}
    )
    return revoked


def start_login_session(*, user: User, ip: str | None, user_agent: str | None) -> str:
    """Open a server-side session for ``user``; return the secret kept in the cookie."""
    secret = secrets.token_urlsafe(32)
    db.session.add(
        LoginSession(token_hash=token_hash(secret), user_id=user.id, ip=ip, user_agent=(user_agent or "")[:255])
    )
    return secret


@prepared
def _login_session_statement():
    """One statement for the session, its user with their roles, the user's person and their unit, and the
    count of the bell every page shows: every signed-in request starts here, so it is built once
    (app.core.statements)."""
    unread = unread_column(User.id, User.person_id).scalar_subquery()
    return (
        select(LoginSession, User, unread)
        .join(User, User.id == LoginSession.user_id)
        .where(LoginSession.token_hash == bindparam("token_hash"))
        .options(joinedload(User.person).joinedload(Person.unit), joinedload(User.roles))
    )


def resolve_login_session(*, secret: str | None) -> User | None:
    """Return the user whose live login session ``secret`` names, else None (the bell's count read with it)."""
    if not secret:
        return None
    found = db.session.execute(_login_session_statement(), {"token_hash": token_hash(secret)}).unique().one_or_none()
    if found is None:
        return None
    row, user, unread = found
    idle = timedelta(hours=current_app.config["LMS_SESSION_HOURS"])
    lifetime = timedelta(hours=current_app.config["LMS_SESSION_MAX_HOURS"])
    now = utcnow()
    # Idle too long, or signed in too long ago however active: a stolen cookie does not live forever.
    if now - row.last_seen_at > idle or now - row.created_at > lifetime:
        db.session.delete(row)
        return None
    if now - row.last_seen_at > timedelta(minutes=5):
        row.last_seen_at = now  # coarse, so most requests write nothing
    unread_read_with_session(unread)
    return user


def end_login_session(secret: str | None) -> None:
    """Delete the server-side session so its cookie stops working."""
    if secret:
        db.session.execute(delete(LoginSession).where(LoginSession.token_hash == token_hash(secret)))


def create_api_token(*, user: User, name: str = "", expires_at: datetime | None = None, actor=None) -> str:
    """Create a bearer token for ``user`` and return it; only its hash is kept (flushes)."""
    secret = "lms_" + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id, name=name, token_hash=token_hash(secret), prefix=secret[:10], expires_at=expires_at
    )
    db.session.add(token)
    db.session.flush()
    record_audit(
        actor=actor or user,
        action="token.create",
        entity_type="api_token",
        entity_id=token.id,
        after={"name": name, "user": user.username},
    )
    return secret


def resolve_api_token(secret: str, method: str = "", path: str = "") -> User | None:
    """Return the user of a live (unrevoked, unexpired) token, else None; each use is audited."""
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(secret)))
    if row is None or row.revoked_at is not None:
        return None
    now = utcnow()
    if row.expires_at is not None and row.expires_at <= now:
        return None
    row.last_used_at = now
    user = row.user
    if not user.is_enabled:
        return None
    record_audit(
        actor=user,
        action="token.use",
        entity_type="api_token",
        entity_id=row.id,
        after={"method": method, "path": path},
    )
    return user


def revoke_api_token(*, token: ApiToken, actor) -> None:
    """Revoke a token; it stops working at once (flushes)."""
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        record_audit(actor=actor, action="token.revoke", entity_type="api_token", entity_id=token.id)
