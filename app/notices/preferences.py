"""What each reader chose: which events by mail, a daily digest instead of single mails, quiet hours.

Kept on the account (``users.notify_prefs``, JSON): ``mail`` (false: no mail at all), ``off`` (the events
not mailed), ``digest`` (one mail a day, at ``LMS_DIGEST_HOUR``), ``quiet`` (``["22:00", "07:00"]``, local
time: mail waits for its end). In the app every notification is shown, whatever was chosen. An unsubscribe
link carries a signed token of the account and the event (or every event), and works without signing in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from ..audit.services import record_audit
from ..auth.permissions import MANAGE, SUPERVISE, can
from ..core.sessions import signing_keys
from ..extensions import db
from .models import KINDS

UNSUBSCRIBE_SALT = "lms-unsubscribe"
EVERY = "*"


@dataclass(frozen=True)
class Prefs:
    mail: bool = True
    off: frozenset[str] = frozenset()
    digest: bool = False
    quiet: tuple[time, time] | None = None

    def mails(self, kind: str) -> bool:
        """Whether ``kind`` goes by mail (the daily digest, never in ``off``, while any mail does)."""
        return self.mail and kind not in self.off


# Who receives each event that not everyone with a person does: the coordinators (escalations, the weekly
# digest), and the authors of supervision records (a dispute). The rest are a person's own.
MANAGERS_ONLY = frozenset({"supervision.escalation", "digest.weekly"})
AUTHORS_ONLY = frozenset({"supervision.disputed"})


def kinds_for(user) -> list[str]:
    """The events this account can receive, in the order of ``KINDS``: the preferences page offers no others."""
    manager, author, own = can(user, MANAGE), can(user, SUPERVISE), user.person_id is not None
    return [kind for kind in KINDS if (manager if kind in MANAGERS_ONLY else author if kind in AUTHORS_ONLY else own)]


def prefs_of(user) -> Prefs:
    raw = user.notify_prefs or {}
    quiet = raw.get("quiet")
    return Prefs(
        mail=raw.get("mail", True),
        off=frozenset(k for k in raw.get("off", ()) if k in KINDS),
        digest=bool(raw.get("digest")),
        quiet=(time.fromisoformat(quiet[0]), time.fromisoformat(quiet[1])) if quiet else None,
    )


def save_prefs(user, *, email: str | None, prefs: Prefs, actor) -> None:
    """Keep the account's address and choices (audited: who changed whose mail)."""
    before = {"email": user.email, **(user.notify_prefs or {})}
    user.email = email or None
    user.notify_prefs = {
        "mail": prefs.mail,
        "off": sorted(prefs.off),
        "digest": prefs.digest,
        "quiet": [prefs.quiet[0].strftime("%H:%M"), prefs.quiet[1].strftime("%H:%M")] if prefs.quiet else None,
    }
    record_audit(
        actor=actor,
        action="user.notifications",
        entity_type="user",
        entity_id=user.id,
        before=before,
        after={"email": user.email, **user.notify_prefs},
    )
    db.session.flush()


def quiet_until(prefs: Prefs, now: datetime) -> datetime | None:
    """The end of the reader's quiet hours, if ``now`` falls in them (UTC); else None."""
    if prefs.quiet is None:
        return None
    start, end = prefs.quiet
    if start == end:
        return None
    tz = ZoneInfo(current_app.config["LMS_TIMEZONE"])
    local = now.astimezone(tz)
    t = local.time().replace(tzinfo=None)
    inside = start <= t < end if start < end else (t >= start or t < end)
    if not inside:
        return None
    day = local.date() if t < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=tz).astimezone(now.tzinfo)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(signing_keys(current_app), salt=UNSUBSCRIBE_SALT)


def unsubscribe_token(user_id: int, kind: str = EVERY) -> str:
    return _serializer().dumps([user_id, kind])


def read_unsubscribe_token(token: str) -> tuple[int, str] | None:
    """The account and event an unsubscribe token names, or None for a token we did not sign."""
    try:
        user_id, kind = _serializer().loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(user_id, int) or (kind != EVERY and kind not in KINDS):
        return None
    return user_id, kind


def unsubscribe(user, kind: str) -> None:
    """Stop mail of ``kind`` (or all mail) to the account, as its owner asked by a link (audited)."""
    prefs = prefs_of(user)
    changed = replace(prefs, mail=False) if kind == EVERY else replace(prefs, off=prefs.off | {kind})
    save_prefs(user, email=user.email, prefs=changed, actor=None)
