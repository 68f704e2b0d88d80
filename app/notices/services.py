"""Write notifications in the action's transaction, and read them back for the notification centre.

A notification's key makes it once per reader and occasion: a scheduled reminder's occasion is what it
reminds of (the session and its day, the certificate and the threshold), so the scheduler may run twice,
or a worker restart, and nothing is told twice. An action's occasion is the action itself (a fresh token),
so a session cancelled, restored and cancelled again tells its people twice.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping

from flask import current_app, g, has_app_context
from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Bundle

from ..core.db import utcnow
from ..core.statements import prepared
from ..core.uow import commit_batch
from ..extensions import db
from .models import ALL_KINDS, DAILY_DIGEST, KINDS, Notification

MAIL_TASK_SIZE = 50  # notifications one delivery task mails (a bulk enrolment becomes a few tasks, not hundreds)


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
    rows = [
        {
            "key": notification_key(kind, occasion, **{column: reader}),
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
        commit_batch("notification mail", _queue_mail).extend(written)
    return len(written)


def notification_key(kind: str, occasion: str, *, person_id: int | None = None, user_id: int | None = None) -> str:
    """What makes a notification once: its kind, occasion and reader."""
    reader = f"p{person_id}" if person_id is not None else f"u{user_id}"
    return f"{occasion_key(kind, occasion)}{reader}"[:160]


def occasion_key(kind: str, occasion: str) -> str:
    """The start of the keys of one occasion's notifications, whoever reads them."""
    return f"{kind}:{occasion}:"


def insert_new(rows: list[dict]) -> list[int]:
    """Insert the notifications whose key is not taken yet (one statement); return the new ids."""
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(Notification).on_conflict_do_nothing(index_elements=["key"]).returning(Notification.id)
    _forget_unread()
    return list(db.session.scalars(stmt, rows))


def taken_keys(keys: list[str]) -> set[str]:
    """Which of these keys are written already (by the unique index, a few hundred at a time)."""
    taken: set[str] = set()
    for start in range(0, len(keys), 500):
        taken.update(
            db.session.scalars(select(Notification.key).where(Notification.key.in_(keys[start : start + 500])))
        )
    return taken


def _queue_mail(ids: list[int]) -> None:
    """Hand a committed transaction's new notifications to workers; never fails the action (the scheduler
    sends whatever is still pending)."""
    try:
        from ..core.queue import celery_for
        from .tasks import deliver_mail

        celery_for(current_app)
        for start in range(0, len(ids), MAIL_TASK_SIZE):
            deliver_mail.delay(ids[start : start + MAIL_TASK_SIZE])
    except Exception:  # noqa: BLE001 - a broker away: the next scheduler run delivers what is pending
        current_app.logger.warning("notification mail not queued (the scheduler will send it)", exc_info=True)


def _reader(user):
    """The condition: a notification to this account, or to its person."""
    return _reader_of(user.id, user.person_id)


def _reader_of(user_id, person_id):
    """:func:`_reader` of the values given (or bound parameters standing for them; None: no person)."""
    clause = Notification.user_id == user_id
    if person_id is not None:
        clause = or_(clause, Notification.person_id == person_id)
    return clause


def inbox(user, *, unread: bool = False):
    """Select the account's notifications, newest first (the daily digest is a mail only)."""
    return _inbox(_reader(user), unread=unread)


def _inbox(reader, *, unread: bool = False):
    stmt = select(Notification).where(reader, Notification.kind != DAILY_DIGEST)
    if unread:
        stmt = stmt.where(Notification.read_at.is_(None))
    return stmt.order_by(Notification.id.desc())


def inbox_total(user) -> int:
    return db.session.scalar(inbox(user).with_only_columns(func.count()).order_by(None))


@prepared
def _unread_statement(with_person: bool):
    return unread_column(bindparam("user_id"), bindparam("person_id") if with_person else None)


def unread_count(user) -> int:
    """How many of the account's notifications are unread (one indexed count; the bell of every page)."""
    params = {"user_id": user.id, "person_id": user.person_id}
    return db.session.scalar(_unread_statement(user.person_id is not None), params)


def unread_on_page(user) -> int:
    """The bell's figure: counted once per request, however many places of the page show it (or read with
    the signed-in user's session, :func:`unread_column`)."""
    if "lms_unread" not in g:
        g.lms_unread = unread_count(user)
    return g.lms_unread


def unread_column(user_id, person_id):
    """The bell's count of an account: of bound parameters (:func:`unread_count`), or of a statement's columns
    as a scalar subquery (the sign-in of every page reads it with the session instead of in a statement of its
    own, and hands the figure to :func:`unread_read_with_session`). ``person_id`` None: an account without one."""
    return _inbox(_reader_of(user_id, person_id), unread=True).with_only_columns(func.count()).order_by(None)


def unread_read_with_session(count: int) -> None:
    """Keep the bell's figure read with the signed-in user's session for this request's pages."""
    g.lms_unread = count


def _forget_unread() -> None:
    """Notifications are written or read: the request counts its bell again when a page shows it."""
    if has_app_context():
        g.pop("lms_unread", None)


@prepared
def _notices_statement(limit: int):
    shown = Bundle(  # what the card shows, as plain rows: no entity to build and track for a read-only page
        "notification",
        Notification.id,
        Notification.kind,
        Notification.params,
        Notification.link,
        Notification.created_at,
        Notification.read_at,
    )
    return (
        select(shown)
        .where(Notification.person_id == bindparam("person_id"), Notification.kind != DAILY_DIGEST)
        .order_by(Notification.read_at.is_not(None), Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
    )


def notices_for(person_id: int, limit: int = 20) -> list:
    """A person's latest notifications, unread first (their home page's card): rows of what it shows."""
    return list(db.session.scalars(_notices_statement(limit), {"person_id": person_id}))


def mark_read(user, notification_id: int | None = None) -> int:
    """Mark one of the account's notifications read, or all of them; return how many."""
    _forget_unread()
    stmt = update(Notification).where(_reader(user), Notification.read_at.is_(None))
    if notification_id is not None:
        stmt = stmt.where(Notification.id == notification_id)
    return db.session.execute(stmt.values(read_at=utcnow()).execution_options(synchronize_session=False)).rowcount


def mark_answered(
    *,
    keys: Iterable[str] = (),
    person_ids: Iterable[int] = (),
    key_prefix: str | None = None,
    by_kind: Mapping[str, Iterable[str]] | None = None,
) -> int:
    """Mark read what asked for something now done, or now moot: the unread notifications whose key is one of
    ``keys``; those to ``person_ids`` whose key starts with ``key_prefix`` (found through the reader's index);
    and, for each kind of ``by_kind``, those of that kind whose key starts with one of its prefixes, whoever
    reads them (found through the index of the unread by kind: an escalation's readers may no longer be the
    unit's coordinators). One statement; return how many."""
    keys, person_ids = list(keys), list(person_ids)
    conditions = [Notification.key.in_(keys)] if keys else []
    if person_ids and key_prefix:
        conditions.append(
            and_(Notification.person_id.in_(person_ids), Notification.key.startswith(key_prefix, autoescape=True))
        )
    for kind, prefixes in (by_kind or {}).items():
        prefixes = list(prefixes)
        if prefixes:
            conditions.append(
                and_(
                    Notification.kind == kind,
                    or_(*(Notification.key.startswith(p, autoescape=True) for p in prefixes)),
                )
            )
    if not conditions:
        return 0
    _forget_unread()
    stmt = update(Notification).where(or_(*conditions), Notification.read_at.is_(None)).values(read_at=utcnow())
    return db.session.execute(stmt.execution_options(synchronize_session=False)).rowcount


def notification_for(user, notification_id: int) -> Notification | None:
    """One of the account's notifications (None for anyone else's: the caller answers 404)."""
    return db.session.scalar(select(Notification).where(Notification.id == notification_id, _reader(user)))
