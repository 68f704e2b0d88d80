"""Each notification in the reader's language: a subject (the line in the list, a mail's subject) and lines.

Worded when shown or sent, from the parameters kept with it, in the language of whoever reads it. What is
said is what the page it links to shows its reader anyway; a mail says no more than the app (names of
courses and credentials, times and places, counts), and links to the page for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app

from ..core.i18n import _, _l, ngettext
from .models import KINDS

# The events as the preferences page names them (each reader is offered only those they can receive:
# preferences.kinds_for, so no label says whom an event is for).
KIND_LABELS = {
    "enrolment.enrolled": _l("Enrolled in a course"),
    "enrolment.waitlisted": _l("Put on a course's waitlist"),
    "enrolment.promoted": _l("Given a seat from the waitlist"),
    "enrolment.withdrawn": _l("Withdrawn from a course by a coordinator"),
    "session.tomorrow": _l("A session tomorrow"),
    "session.rescheduled": _l("A session moved"),
    "session.cancelled": _l("A session cancelled"),
    "session.restored": _l("A cancelled session restored"),
    "supervision.confirm": _l("Supervision recorded: please confirm"),
    "supervision.reminder": _l("Supervision still to confirm (after 3 days)"),
    "supervision.escalation": _l("Supervision unconfirmed for 7 days"),
    "supervision.disputed": _l("A supervisee disputes a supervision record"),
    "supervision.voided": _l("A supervision record voided"),
    "certificate.issued": _l("A certificate issued"),
    "certificate.revoked": _l("A certificate revoked"),
    "certificate.expiring": _l("A certificate expiring (90, 30 and 7 days before)"),
    "certificate.renewable": _l("A certificate that can be renewed"),
    "ce.at_risk": _l("Continuing-education hours at risk"),
    "digest.weekly": _l("Weekly digest of my cohorts"),
}
assert set(KIND_LABELS) == set(KINDS)


@dataclass
class Worded:
    subject: str
    lines: list[str] = field(default_factory=list)
    action: str = ""  # the link's words
    # Shown in the app only, never mailed: names of people (a coordinator's digest says who is missing).
    in_app: list[str] = field(default_factory=list)
    # The link's words once the notification is read: an ask answered or overtaken reads as a plain link.
    read_action: str = ""


def when(value: str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if not value:
        return ""
    tz = ZoneInfo(current_app.config["LMS_TIMEZONE"])
    return datetime.fromisoformat(value).astimezone(tz).strftime(fmt)


def _percent(rate) -> str:
    return "—" if rate is None else f"{round(rate * 100)}%"


def word(kind: str, p: dict) -> Worded:  # noqa: C901, PLR0911, PLR0912 - one case per kind, read top to bottom
    """The notification of ``kind`` with parameters ``p``, in the current language."""
    course = p.get("course", "")
    if kind == "enrolment.enrolled":
        return Worded(_("You are enrolled in %(course)s.", course=course), action=_("Open the course"))
    if kind == "enrolment.waitlisted":
        return Worded(
            _("You are number %(n)s on the waitlist of %(course)s.", n=p.get("position") or "—", course=course),
            [_("You will be told when a seat is yours.")],
            _("See my courses"),
        )
    if kind == "enrolment.promoted":
        return Worded(
            _("A seat in %(course)s is yours: you are enrolled from the waitlist.", course=course),
            action=_("Open the course"),
        )
    if kind == "enrolment.withdrawn":
        return Worded(
            _("You were withdrawn from %(course)s by a coordinator.", course=course), action=_("See my courses")
        )
    if kind == "session.tomorrow":
        place = p.get("place") or "—"
        mode = _("online") if p.get("mode") == "online" else _("on site")
        return Worded(
            _("Tomorrow: %(course)s at %(time)s", course=course, time=when(p.get("starts_at"), "%H:%M")),
            [
                _(
                    "%(start)s to %(end)s, %(mode)s, %(place)s.",
                    start=when(p.get("starts_at")),
                    end=when(p.get("ends_at"), "%H:%M"),
                    mode=mode,
                    place=place,
                ),
                _("Check in by scanning the session's code with your phone when you arrive."),
            ],
            _("Open the course"),
        )
    if kind == "session.cancelled":
        return Worded(
            _(
                "The session of %(course)s on %(when)s is cancelled: %(reason)s",
                course=course,
                when=when(p.get("starts_at")),
                reason=p.get("reason", ""),
            ),
            action=_("See my courses"),
        )
    if kind == "session.restored":
        return Worded(
            _(
                "The session of %(course)s on %(when)s takes place after all.",
                course=course,
                when=when(p.get("starts_at")),
            ),
            action=_("See my courses"),
        )
    if kind == "session.rescheduled":
        return Worded(
            _(
                "The session of %(course)s on %(old)s moves to %(new)s, %(place)s.",
                course=course,
                old=when(p.get("old_starts_at")),
                new=when(p.get("starts_at")),
                place=p.get("place") or "—",
            ),
            action=_("See my courses"),
        )
    if kind in ("supervision.confirm", "supervision.reminder"):
        subject = (
            _(
                "Please confirm the supervision of %(date)s with %(supervisor)s",
                date=p.get("held_on", ""),
                supervisor=p.get("supervisor", ""),
            )
            if kind == "supervision.confirm"
            else _("Reminder: the supervision of %(date)s is still to confirm", date=p.get("held_on", ""))
        )
        return Worded(
            subject,
            [
                _(
                    "%(hours)s hours, %(topic)s. Confirm it, or say what is wrong.",
                    hours=p.get("hours", ""),
                    topic=p.get("topic", ""),
                )
            ],
            _("Confirm or dispute"),
            read_action=_("See my supervision"),
        )
    if kind == "supervision.disputed":
        return Worded(
            _(
                "%(name)s disputes the supervision of %(date)s: %(reason)s",
                name=p.get("person", ""),
                date=p.get("held_on", ""),
                reason=p.get("reason", ""),
            ),
            [
                _(
                    "%(hours)s hours, %(topic)s. Correct the record, or void it and record it again.",
                    hours=p.get("hours", ""),
                    topic=p.get("topic", ""),
                )
            ],
            _("Open the record"),
        )
    if kind == "supervision.escalation":
        return Worded(
            _(
                "%(name)s has not confirmed the supervision of %(date)s for %(days)s days.",
                name=p.get("person", ""),
                date=p.get("held_on", ""),
                days=p.get("days", 7),
            ),
            [_("Supervisor: %(supervisor)s.", supervisor=p.get("supervisor", ""))],
            _("Open the record"),
        )
    if kind == "supervision.voided":
        return Worded(
            _(
                "The supervision record of %(date)s (%(topic)s) was voided and no longer counts: %(reason)s",
                date=p.get("held_on", ""),
                topic=p.get("topic", ""),
                reason=p.get("reason", ""),
            ),
            action=_("See my supervision"),
        )
    credential = p.get("credential", "")
    if kind == "certificate.issued":
        return Worded(
            _("Your certificate %(credential)s is issued.", credential=credential),
            [_("Serial %(serial)s. Anyone can verify it at the link below.", serial=p.get("serial", ""))],
            _("Verify the certificate"),
        )
    if kind == "certificate.revoked":
        return Worded(
            _(
                "Your certificate %(credential)s (%(serial)s) was revoked: %(reason)s",
                credential=credential,
                serial=p.get("serial", ""),
                reason=p.get("reason", ""),
            ),
            action=_("See my certificates"),
        )
    if kind == "certificate.expiring":
        days = int(p.get("days", 0))
        return Worded(
            ngettext(
                "Your certificate %(credential)s expires in %(num)d day, on %(date)s.",
                "Your certificate %(credential)s expires in %(num)d days, on %(date)s.",
                days,
                credential=credential,
                date=p.get("expires_on", ""),
            ),
            [_("Renew it in time: see what it asks for on your certificates page.")],
            _("See my certificates"),
        )
    if kind == "certificate.renewable":
        return Worded(
            _("Your certificate %(credential)s can be renewed now.", credential=credential),
            [_("It expires on %(date)s.", date=p.get("expires_on", ""))],
            _("See my certificates"),
        )
    if kind == "ce.at_risk":
        return Worded(
            _(
                "Continuing education: %(hours)s of %(required)s hours, and the period ends on %(date)s.",
                hours=p.get("hours", ""),
                required=p.get("required", ""),
                date=p.get("period_end", ""),
            ),
            [_("Enrol in a course or log supervision in time.")],
            _("See my hours"),
        )
    if kind == "digest.weekly":
        lines, in_app = [], []
        for c in p.get("cohorts", []):
            if c.get("missing_names"):
                more = c.get("missing", 0) - len(c["missing_names"])
                in_app.append(
                    _("Missing in %(cohort)s: %(names)s", cohort=c["name"], names=_(", ").join(c["missing_names"]))
                    + (" " + _("and %(n)s more", n=more) if more > 0 else "")
                )
            lines.append(
                _(
                    "%(cohort)s: trained %(trained)s (target %(tt)s), supervised %(supervised)s (target %(st)s); "
                    "%(missing)s people still missing.",
                    cohort=c["name"],
                    trained=_percent(c.get("training_rate")),
                    tt=_percent(c.get("training_target")),
                    supervised=_percent(c.get("supervision_rate")),
                    st=_percent(c.get("supervision_target")),
                    missing=c.get("missing", 0),
                )
            )
        lines.append(
            _(
                "Due: %(sessions)s sessions in the coming week, %(unconfirmed)s supervision records unconfirmed for "
                "7 days, %(expiring)s certificates expiring within 30 days.",
                sessions=p.get("sessions", 0),
                unconfirmed=p.get("unconfirmed", 0),
                expiring=p.get("expiring", 0),
            )
        )
        return Worded(
            _("Weekly digest: %(unit)s, week %(week)s", unit=p.get("unit", ""), week=p.get("week", "")),
            lines,
            _("Open the coverage dashboard"),
            in_app,
        )
    return Worded(_("Notification"))


def subject(notification) -> str:
    """The notification's line, in the current language (a list, the trainee's home page)."""
    return word(notification.kind, notification.params or {}).subject
