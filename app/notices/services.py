"""Write notices, and word them for the reader."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import insert, select, update

from ..core.db import utcnow
from ..core.i18n import _
from ..extensions import db
from .models import KINDS, Notice


def notify(person_ids: Iterable[int], kind: str, **params) -> int:
    """Tell each of these people (one statement; flushes nothing else); return how many were told."""
    if kind not in KINDS:
        raise ValueError(f"unknown notice kind {kind!r}")
    ids = sorted(set(person_ids))
    if ids:
        now = utcnow()
        db.session.execute(
            insert(Notice), [{"person_id": pid, "kind": kind, "params": params, "created_at": now} for pid in ids]
        )
    return len(ids)


def notices_for(person_id: int, limit: int = 20) -> list[Notice]:
    """A person's latest notices, unread first."""
    return list(
        db.session.scalars(
            select(Notice)
            .where(Notice.person_id == person_id)
            .order_by(Notice.read_at.is_not(None), Notice.created_at.desc(), Notice.id.desc())
            .limit(limit)
        )
    )


def mark_read(person_id: int) -> None:
    db.session.execute(
        update(Notice).where(Notice.person_id == person_id, Notice.read_at.is_(None)).values(read_at=utcnow())
    )


def _when(value: str | None) -> str:
    if not value:
        return ""
    tz = ZoneInfo(current_app.config["LMS_TIMEZONE"])
    return datetime.fromisoformat(value).astimezone(tz).strftime("%Y-%m-%d %H:%M")


def wording(notice: Notice) -> str:
    """The notice in the current language."""
    p = notice.params or {}
    if notice.kind == "session.cancelled":
        return _(
            "The session of %(course)s on %(when)s is cancelled: %(reason)s",
            course=p.get("course", ""),
            when=_when(p.get("starts_at")),
            reason=p.get("reason", ""),
        )
    if notice.kind == "session.restored":
        return _(
            "The session of %(course)s on %(when)s takes place after all.",
            course=p.get("course", ""),
            when=_when(p.get("starts_at")),
        )
    if notice.kind == "session.rescheduled":
        return _(
            "The session of %(course)s on %(old)s moves to %(new)s, %(place)s.",
            course=p.get("course", ""),
            old=_when(p.get("old_starts_at")),
            new=_when(p.get("starts_at")),
            place=p.get("place") or "—",
        )
    return _(
        "The supervision record of %(date)s (%(topic)s) was voided and no longer counts: %(reason)s",
        date=p.get("held_on", ""),
        topic=p.get("topic", ""),
        reason=p.get("reason", ""),
    )
