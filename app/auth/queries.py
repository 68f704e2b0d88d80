"""Read-only lookups for users and their API tokens."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, or_, select

from ..core.db import utcnow
from ..extensions import db
from .models import ApiToken, User


def api_tokens_of(user: User) -> Sequence[ApiToken]:
    """Return the user's API tokens, newest first (revoked ones included)."""
    return db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())).all()


def api_token_of(user: User, token_id: int) -> ApiToken | None:
    """Return one of the user's tokens by id; another user's token is None, like an unknown one."""
    return db.session.scalar(select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id))


def user_by_username(username: str) -> User | None:
    """Return the user with that username, or None."""
    return db.session.scalar(select(User).where(User.username == username))


def live_api_token_count(user: User) -> int:
    """Return how many of the user's API tokens still work (neither revoked nor expired)."""
    return db.session.scalar(
        select(func.count(ApiToken.id)).where(
            ApiToken.user_id == user.id,
            ApiToken.revoked_at.is_(None),
            or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > utcnow()),
        )
    )
