"""Write notifications in the action's transaction, and read them back for the notification centre.

A notification's key makes it once per reader and occasion: a scheduled reminder's occasion is what it
reminds of (the session and its day, the certificate and the threshold), so the scheduler may run twice,
or a worker restart, and nothing is told twice. An action's occasion is the action itself (a fresh token),
so a session cancelled, restored and cancelled again tells its people twice.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from flask import current_app, has_request_context, url_for
from sqlalchemy import func, or_, select, update

from ..core.db import utcnow
from ..core.uow import after_commit
from ..extensions import db
from .models import ALL_KINDS, DAILY_DIGEST, KINDS, Notification


def path_for(endpoint: str, **values) -> str:
    """The path of a page of this site, in a request or not (a scheduler run, a job)."""
    if has_request_context():
        return url_for(endpoint, **values)
    root = current_app.config.get("APPLICATION_ROOT") or "/"
    return current_app.url_map.bind("localhost", script_name=root).build(endpoint, values)


def mail_events(config) -> frozenset[str]:
    """The events that also go by mail in this deployment (``LMS_MAIL_EVENTS``: all, none, or a list)."""
    chosen = config.get("LMS_MAIL_EVENTS", "all")
    if chosen in (None, "all"):
        return frozenset(KINDS)
    if chosen == "none":
        return frozenset()
    return frozenset(chosen)


def mails(kind: str) -> bool:
    """Whether notifications of ``kind`` are mailed here (a mail server is set, and the event is chosen)."""
    config = current_app.config
    return bool(config.get("LMS_SMTP_HOST")) and (kind == DAILY_DIGEST or kind in mail_events(config))


def notify(person_ids: Iterable[int], kind: str, *, link: str | None = None, occasion: str | None = None, **params):
    """Tell each of these people (written now, in the caller's transaction); return how many were told anew."""
    return _write("person_id", person_ids, kind, link, occasion, params)


def notify_users(user_ids: Iterable[int], kind: str, *, link: str | None = None, occasion: str | None = None, **params):
    """Tell each of these accounts (coordinators, who have no person); return how many were told anew."""
    return _write("user_id", user_ids, kind, link, occasion, params)


def _write(column: str, ids: Iterable[int], kind: str, link, occasion, params) -> int:
    if kind not in ALL_KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    ids = sorted(set(ids))
    if not ids:
        return 0
    occasion = occasion or secrets.token_hex(8)
    now = utcnow()
    mailed = mails(kind)
    prefix = "p" if column == "person_id" else "u"
    rows = [
        {
            "key": f"{kind}:{occasion}:{prefix}{reader}"[:160],
            "kind": kind,
            column: reader,
            "params": params,
            "link": link,
            "created_at": now,
            "mail_state": "pending" if mailed else "none",
            "mail_due_at": now if mailed else None,
            "mail_attempts": 0,
        }
        for reader in ids
    ]
    written = insert_new(rows)
    if mailed and written:
        after_commit(lambda ids=written: _enqueue(ids))
    return len(written)


def insert_new(rows: list[dict]) -> list[int]:
    """Insert the notifications whose key is not taken yet (one statement); return the new ids."""
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(Notification).on_conflict_do_nothing(index_elements=["key"]).returning(Notification.id)
    return [row.id for row in db.session.execute(stmt, rows)] if len(rows) > 1 else _one(stmt, rows[0])


def _one(stmt, row: dict) -> list[int]:
    new = db.session.execute(stmt.values(**row)).scalar()
    return [new] if new is not None else []


def _enqueue(ids: list[int]) -> None:
    """Hand the new notifications' mail to a worker; never fails the action (the scheduler tries again)."""
    try:
        from ..core.queue import celery_for
        from .tasks import deliver_mail

        celery_for(current_app)
        deliver_mail.delay(ids)
    except Exception:  # noqa: BLE001 - a broker away: the next scheduler run delivers what is pending
        current_app.logger.warning("notification mail not queued (the scheduler will send it)", exc_info=True)


def _reader(user):
    """The condition: a notification to this account, or to its person."""
    clause = Notification.user_id == user.id
    if user.person_id is not None:
        clause = or_(clause, Notification.person_id == user.person_id)
    return clause


def inbox(user, *, limit: int = 50, offset: int = 0, unread: bool = False):
    """The account's notifications, newest first."""
    stmt = select(Notification).where(_reader(user), Notification.kind != DAILY_DIGEST)
    if unread:
        stmt = stmt.where(Notification.read_at.is_(None))
    return list(db.session.scalars(stmt.order_by(Notification.id.desc()).limit(limit).offset(offset)))


def inbox_total(user) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Notification).where(_reader(user), Notification.kind != DAILY_DIGEST)
    )


def unread_count(user) -> int:
    """How many of the account's notifications are unread (the bell's figure; one indexed count)."""
    return db.session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(_reader(user), Notification.read_at.is_(None), Notification.kind != DAILY_DIGEST)
    )


def notices_for(person_id: int, limit: int = 20) -> list[Notification]:
    """A person's latest notifications, unread first (their home page's card)."""
    return list(
        db.session.scalars(
            select(Notification)
            .where(Notification.person_id == person_id, Notification.kind != DAILY_DIGEST)
            .order_by(Notification.read_at.is_not(None), Notification.created_at.desc(), Notification.id.desc())
            .limit(limit)
        )
    )


def mark_read(user, notification_id: int | None = None) -> int:
    """Mark one of the account's notifications read, or all of them; return how many."""
    stmt = update(Notification).where(_reader(user), Notification.read_at.is_(None))
    if notification_id is not None:
        stmt = stmt.where(Notification.id == notification_id)
    return db.session.execute(stmt.values(read_at=utcnow()).execution_options(synchronize_session=False)).rowcount


def notification_for(user, notification_id: int) -> Notification | None:
    """One of the account's notifications (None for anyone else's: the caller answers 404)."""
    return db.session.scalar(select(Notification).where(Notification.id == notification_id, _reader(user)))
