"""Deliver notifications by mail: after commit by a job, and again by the scheduler until sent or given up.

A channel sends one message to one reader (:class:`Channel`). The academy has one, mail through SMTP
(:class:`SmtpChannel`); an SMS or WeChat Work gateway implements the same two methods — ``address`` (where
the reader is reached on it, or None) and ``send`` (raise :class:`DeliveryFailed` to be retried later) —
and is named in ``channels()``.

Each pending notification is claimed with a conditional UPDATE (two workers never send one twice), then,
in the reader's language: skipped when the reader has no address or turned this mail off; held for the
reader's daily digest; postponed to the end of their quiet hours; or sent. A failure (a server away, a
refusal) puts it back with a later time, doubling from a minute up to six hours, and gives up after
``LMS_MAIL_MAX_ATTEMPTS``: the action that caused it was committed long before, and never waits for mail.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from datetime import timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import Protocol

from flask import current_app
from flask_babel import force_locale
from markupsafe import escape
from sqlalchemy import select, update

from ..auth.models import User
from ..core.db import utcnow
from ..core.i18n import _, ngettext
from ..core.uow import transaction
from ..core.urls import path_for, site_url
from ..extensions import db
from .models import DAILY_DIGEST, Notification
from .preferences import EVERY, prefs_of, quiet_until, unsubscribe_token
from .wording import Worded, word

BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_MOST = timedelta(hours=6)
SENDING_STALE = timedelta(minutes=15)  # a claim older than this: its worker died mid-send


class DeliveryFailed(Exception):
    """The message did not go out this time; the notification is tried again later."""


@dataclass(frozen=True)
class Outgoing:
    """One message for one reader, worded already."""

    to: str
    subject: str
    text: str
    html: str
    unsubscribe_url: str


class Channel(Protocol):
    name: str

    def address(self, user: User) -> str | None:
        """Where ``user`` is reached on this channel, or None (then nothing is sent)."""

    def send(self, message: Outgoing) -> None:
        """Send, or raise :class:`DeliveryFailed`."""


class SmtpChannel:
    """Mail through the SMTP server of ``LMS_SMTP_*``: UTF-8 text with an HTML alternative (RFC 2047 headers)."""

    name = "mail"

    def __init__(self, config):
        self.host = config["LMS_SMTP_HOST"]
        self.port = int(config.get("LMS_SMTP_PORT") or 0)
        self.user = config.get("LMS_SMTP_USER")
        self.password = config.get("LMS_SMTP_PASSWORD")
        self.tls = (config.get("LMS_SMTP_TLS") or "starttls").lower()
        self.sender = config.get("LMS_MAIL_FROM") or "academy@localhost"
        self.timeout = config.get("LMS_SMTP_TIMEOUT", 20)

    def address(self, user: User) -> str | None:
        return user.email or None

    def message(self, out: Outgoing) -> EmailMessage:
        msg = EmailMessage(policy=SMTP)
        msg["Subject"] = out.subject  # non-ASCII words are encoded (RFC 2047) by the SMTP policy
        msg["From"] = _sender(self.sender)
        msg["To"] = out.to
        msg["Date"] = format_datetime(utcnow())
        msg["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        msg["List-Unsubscribe"] = f"<{out.unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(out.text, charset="utf-8")
        msg.add_alternative(out.html, subtype="html", charset="utf-8")
        return msg

    def send(self, message: Outgoing) -> None:
        try:
            if self.tls == "ssl":
                server = smtplib.SMTP_SSL(
                    self.host, self.port or 465, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                server = smtplib.SMTP(self.host, self.port or 25, timeout=self.timeout)
            with server:
                if self.tls == "starttls":
                    server.starttls(context=ssl.create_default_context())
                if self.user:
                    server.login(self.user, self.password or "")
                server.send_message(self.message(message))
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}"[:255]) from exc


def _sender(value: str):
    """``LMS_MAIL_FROM`` as a header: an address, or ``Name <address>``."""
    if "<" in value:
        name, _lt, rest = value.partition("<")
        return Address(display_name=name.strip().strip('"'), addr_spec=rest.rstrip(">").strip())
    return value


def channels() -> list[Channel]:
    """The channels notifications go out on, beside the app (mail, when a server is set)."""
    config = current_app.config
    return [SmtpChannel(config)] if config.get("LMS_SMTP_HOST") else []


def compose(to: str, user: User, worded: Worded, link: str | None, kind: str) -> Outgoing:
    """The message, in the current language, with its link and the unsubscribe links.

    A mail of one event offers to stop that event's mail, and all mail; the daily digest, which gathers
    every event, offers all mail only.
    """

    def stop(which: str) -> str:
        return site_url(path_for("notices.unsubscribe_link", token=unsubscribe_token(user.id, which)))

    stops = [(_("Stop these mails"), stop(kind))] if kind != DAILY_DIGEST else []
    stops += [
        (_("Stop all mail"), stop(EVERY)),
        (_("Notification settings"), site_url(path_for("notices.preferences"))),
    ]
    target = site_url(link or path_for("notices.index"))
    action = worded.action or _("Open")
    footer = _("You receive this because you have an account at %(site)s.", site=_("Shegong Academy"))
    text = "\n\n".join(
        [worded.subject, *worded.lines, f"{action}: {target}", "--", footer, *(f"{w}: {u}" for w, u in stops)]
    )
    body = "".join(f"<p>{escape(line)}</p>" for line in worded.lines)
    links = " · ".join(f'<a href="{escape(u)}">{escape(w)}</a>' for w, u in stops)
    html = (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{escape(worded.subject)}</title></head>'
        f'<body style="font-family:sans-serif;line-height:1.6;color:#1f2933">'
        f'<h1 style="font-size:18px">{escape(worded.subject)}</h1>{body}'
        f'<p><a href="{escape(target)}" style="display:inline-block;padding:8px 16px;background:#0b6e4f;'
        f'color:#fff;text-decoration:none;border-radius:4px">{escape(action)}</a></p>'
        f'<hr><p style="font-size:12px;color:#52606d">{escape(footer)}<br>{links}</p></body></html>'
    )
    return Outgoing(to, worded.subject, text, html, stops[0][1])


def _backoff(attempts: int) -> timedelta:
    return min(BACKOFF_FIRST * (2 ** max(0, attempts - 1)), BACKOFF_MOST)


def due_ids(limit: int = 500) -> list[int]:
    """The pending notifications whose time has come, oldest first; claims of dead workers are released."""
    now = utcnow()
    db.session.execute(
        update(Notification)
        .where(Notification.mail_state == "sending", Notification.mail_due_at < now - SENDING_STALE)
        .values(mail_state="pending")
        .execution_options(synchronize_session=False)
    )
    return list(
        db.session.scalars(
            select(Notification.id)
            .where(Notification.mail_state == "pending", Notification.mail_due_at <= now)
            .order_by(Notification.mail_due_at, Notification.id)
            .limit(limit)
        )
    )


def deliver(ids: list[int]) -> dict[str, int]:
    """Deliver these notifications' mail (each in a transaction of its own); return what became of them."""
    outcome: dict[str, int] = {}
    for notification_id in ids:
        try:
            with transaction():
                state = _deliver_one(notification_id)
        except Exception:  # noqa: BLE001 - one notification's fault stops neither the others nor the caller
            current_app.logger.exception("notification %s: mail not delivered", notification_id)
            with transaction():
                state = _put_back(notification_id, "error: see the log")
        if state:
            outcome[state] = outcome.get(state, 0) + 1
    return outcome


def _claim(notification_id: int) -> Notification | None:
    now = utcnow()
    taken = db.session.execute(
        update(Notification)
        .where(
            Notification.id == notification_id,
            Notification.mail_state == "pending",
            Notification.mail_due_at <= now,
        )
        .values(mail_state="sending", mail_due_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not taken:
        return None
    db.session.commit()  # the claim is seen by every other worker before anything is sent
    return db.session.get(Notification, notification_id, populate_existing=True)


def reader_of(n: Notification) -> User | None:
    if n.user_id is not None:
        return db.session.get(User, n.user_id)
    return db.session.scalar(select(User).where(User.person_id == n.person_id))


def _deliver_one(notification_id: int) -> str | None:
    n = _claim(notification_id)
    if n is None:
        return None
    user = reader_of(n)
    chosen = [c for c in channels() if user is not None and user.is_enabled and c.address(user)]
    if not chosen or not (prefs := prefs_of(user)).mails(n.kind):  # (the digest: while any mail is on)
        n.mail_state = "skipped"
        return "skipped"
    if n.kind != DAILY_DIGEST and prefs.digest:
        n.mail_state = "held"
        return "held"
    now = utcnow()
    later = quiet_until(prefs, now)
    if later is not None:
        n.mail_state, n.mail_due_at = "pending", later
        return "postponed"
    with force_locale(user.locale or current_app.config["LMS_DEFAULT_LANGUAGE"]):
        worded = daily_digest(n) if n.kind == DAILY_DIGEST else word(n.kind, n.params or {})
        messages = [(c, compose(c.address(user), user, worded, n.link, n.kind)) for c in chosen]
    try:
        for channel, message in messages:
            channel.send(message)
    except DeliveryFailed as exc:
        state = _put_back(n.id, str(exc))
        current_app.logger.warning("notification %s: mail not sent (%s): %s", n.id, exc, state)
        return state
    n.mail_state, n.mail_sent_at, n.mail_error = "sent", now, None
    return "sent"


def _put_back(notification_id: int, error: str) -> str:
    """A claimed notification whose delivery broke: pending again, later (or given up)."""
    n = db.session.get(Notification, notification_id, populate_existing=True)
    n.mail_attempts += 1
    n.mail_error = error[:255]
    if n.mail_attempts >= current_app.config["LMS_MAIL_MAX_ATTEMPTS"]:
        n.mail_state = "failed"
        return "failed"
    n.mail_state, n.mail_due_at = "pending", utcnow() + _backoff(n.mail_attempts)
    return "retry"


def daily_digest(n: Notification) -> Worded:
    """The day's held notifications of one reader, in one mail."""
    held = db.session.scalars(
        select(Notification).where(Notification.id.in_(n.params.get("ids", []))).order_by(Notification.id)
    ).all()
    count = len(held)
    return Worded(
        ngettext("Your daily digest: %(num)d notification", "Your daily digest: %(num)d notifications", count),
        [word(h.kind, h.params or {}).subject for h in held],
        _("Open my notifications"),
    )
