"""A trainee's sessions as an iCalendar feed, at a private address that can be reset.

The address carries the user's id and an HMAC of it with the user's ``calendar_nonce``: no sign-in
is needed (a phone's calendar cannot sign in), nothing is stored that would let a reader of the
database derive it without the secret key, and resetting the nonce stops every old address.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from ..audit.services import record_audit
from ..auth.models import User
from ..core.db import utcnow
from ..extensions import db
from ..people.models import Person
from .models import SEATED, Course, CourseSession, Enrolment

PAST_DAYS = 90  # the feed holds the sessions of the last three months and all to come


def _digest(user: User) -> str:
    key = current_app.secret_key
    key = key.encode() if isinstance(key, str) else key
    message = f"calendar:{user.id}:{user.calendar_nonce}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def calendar_token(user: User) -> str:
    """The private part of the user's feed address (made on first use)."""
    if not user.calendar_nonce:
        user.calendar_nonce = secrets.token_hex(16)
        db.session.flush()
    return f"{user.id}-{_digest(user)}"


def reset_calendar(user: User) -> str:
    """A new address; the old one stops working at once."""
    user.calendar_nonce = secrets.token_hex(16)
    db.session.flush()
    record_audit(actor=user, action="calendar.reset", entity_type="user", entity_id=user.id)
    return calendar_token(user)


def user_for_token(token: str) -> User | None:
    """The user whose feed address this is, if it is current."""
    user_id, _, digest = (token or "").partition("-")
    if not user_id.isdigit() or len(user_id) > 12 or len(digest) != 32:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.is_enabled or not user.calendar_nonce or user.person_id is None:
        return None
    return user if hmac.compare_digest(_digest(user), digest) else None


def feed(person: Person, name: str) -> bytes:
    """The person's sessions (of courses where they hold a seat) as an .ics file; cancelled ones say so."""
    from icalendar import Calendar, Event  # slow to import: only when a feed is asked for

    calendar = Calendar()
    calendar.add("prodid", "-//Shegong Academy//社工学堂//ZH")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", name)
    since = utcnow() - timedelta(days=PAST_DAYS)
    sessions = db.session.scalars(
        select(CourseSession)
        .join(Course, Course.id == CourseSession.course_id)
        .join(Enrolment, Enrolment.course_id == Course.id)
        .options(contains_eager(CourseSession.course))
        .where(Enrolment.person_id == person.id, Enrolment.status.in_(SEATED), CourseSession.ends_at >= since)
        .order_by(CourseSession.starts_at)
        .limit(500)
    )
    host = (current_app.config.get("LMS_PUBLIC_URL") or "shegong-academy").split("//")[-1].strip("/")
    for session in sessions:
        event = Event()
        event.add("uid", f"session-{session.id}@{host}")
        event.add("summary", session.course.title)
        event.add("dtstart", session.starts_at)
        event.add("dtend", session.ends_at)
        event.add("dtstamp", utcnow())
        if session.place:
            event.add("location", session.place)
        if session.cancelled_at is not None:
            event.add("status", "CANCELLED")
            if session.cancel_reason:
                event.add("description", session.cancel_reason)
        else:
            event.add("status", "CONFIRMED")
        calendar.add_component(event)
    return calendar.to_ical()
