"""Continuing education (继续教育) of certified social workers: hours per registration period.

A person has an account when they hold a qualification level (not ``none``)
and the date their qualification was registered (``Person.certified_on``) is
known. Registration periods of LMS_CE_PERIOD_YEARS (3) years run from that
date, half-open [start, end), each starting on an anniversary. A registration
on 29 February has its anniversaries on 28 February in common years (as
民法典 art. 203 counts a period with no corresponding day: the month's last).

What counts is configuration (LMS_CE_COUNTS): training hours (attended
sessions, by the session's start) and supervision hours (counted credits, by
the record's date: never disputed ones, unconfirmed ones as
LMS_COUNT_UNCONFIRMED_SUPERVISION says) — the ledger's own definitions. The
minimum is per level (LMS_CE_MINIMUM_HOURS). A person is *at risk* when the
current period ends within LMS_CE_RISK_MONTHS and the hours are below it.

Two granularities, on purpose:

- one person's account (:func:`ce_account`, on their page) is exact: the
  ledger's base-table queries over the period's local dates;
- the at-risk list over a whole subtree (:func:`ce_at_risk`) is one GROUP BY
  over the monthly rollups (PersonMonth, local months), counting the months
  whose first day lies within the period, up to the current month (a listed
  period has not ended yet, so nothing later belongs to it). The days of the
  period's first month are therefore left out there, unless the period
  starts on the 1st: the list errs toward warning, and the person's page has
  the exact figure.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Integer, and_, case, cast, extract, func, select, true

from ..core.i18n import _l
from ..extensions import db
from ..org.models import OrgUnit
from ..org.queries import in_scope, subtree_ids
from ..people.models import Person
from .models import PersonMonth
from .queries import Period, period_hours

SOURCE_LABELS = {"training": _l("training hours"), "supervision": _l("supervision hours")}


def add_years(day: date, years: int) -> date:
    """Return the anniversary ``years`` later (29 February → 28 February in a common year)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def add_months(day: date, months: int) -> date:
    """Return the same day ``months`` later, or the month's last day when it has no such day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


TENTH = Decimal("0.1")


def _hours(value) -> Decimal:
    # SQLite sums numerics as floats: back to the ledger's one decimal.
    return Decimal(str(value or 0)).quantize(TENTH)


def _years() -> int:
    return current_app.config["LMS_CE_PERIOD_YEARS"]


def current_period(certified_on: date, today: date, years: int | None = None) -> tuple[date, date]:
    """Return the registration period [start, end) holding ``today`` (the first one if it has not begun)."""
    years = years or _years()
    k = max(0, (today.year - certified_on.year) // years)
    while k and add_years(certified_on, k * years) > today:
        k -= 1
    while add_years(certified_on, (k + 1) * years) <= today:
        k += 1
    return add_years(certified_on, k * years), add_years(certified_on, (k + 1) * years)


def minimum_hours(level: str) -> Decimal | None:
    """Return the configured minimum hours for a qualification level (None: no account)."""
    hours = current_app.config["LMS_CE_MINIMUM_HOURS"].get(level)
    return None if hours is None else Decimal(str(hours))


def has_account(person: Person) -> bool:
    """Return whether ``person`` keeps a continuing-education account."""
    return person.certified_on is not None and minimum_hours(person.level) is not None


def risk_horizon(today: date) -> date:
    """Return the last period end that counts as "ending soon"."""
    return add_months(today, current_app.config["LMS_CE_RISK_MONTHS"])


@dataclass(frozen=True)
class CEAccount:
    """One person's continuing-education account for the period holding a day."""

    period_start: date
    period_end: date  # exclusive: the next period's first day
    hours: Decimal
    minimum: Decimal
    counted_from: tuple[str, ...]
    training_hours: Decimal | None  # None when training does not count
    supervision_hours: Decimal | None  # None when supervision does not count
    met: bool
    at_risk: bool
    remaining_hours: Decimal

    @property
    def last_day(self) -> date:
        """The period's last day, as people write it."""
        return date.fromordinal(self.period_end.toordinal() - 1)


def local_period(start: date, end: date) -> Period:
    tz = ZoneInfo(current_app.config["LMS_TIMEZONE"])
    return Period(
        datetime.combine(start, time(), tz).astimezone(UTC), datetime.combine(end, time(), tz).astimezone(UTC)
    )


def counted_hours(person_id: int, period: Period) -> tuple[Decimal | None, Decimal | None]:
    """(training, supervision) hours of a person in ``period`` that count (LMS_CE_COUNTS; None: not counted)."""
    counts = current_app.config["LMS_CE_COUNTS"]
    if not counts:
        return None, None
    training, supervision = period_hours(person_id, period)
    return (
        _hours(training) if "training" in counts else None,
        _hours(supervision) if "supervision" in counts else None,
    )


def ce_account(person: Person, today: date) -> CEAccount | None:
    """Return the person's account for the period holding ``today`` (exact, from the base tables), or None."""
    if not has_account(person):
        return None
    minimum = minimum_hours(person.level)
    start, end = current_period(person.certified_on, today)
    counts = tuple(current_app.config["LMS_CE_COUNTS"])
    training, supervision = counted_hours(person.id, local_period(start, end))
    hours = sum((h for h in (training, supervision) if h is not None), _hours(0))
    met = hours >= minimum
    return CEAccount(
        period_start=start,
        period_end=end,
        hours=hours,
        minimum=minimum,
        counted_from=counts,
        training_hours=training,
        supervision_hours=supervision,
        met=met,
        at_risk=not met and end <= risk_horizon(today),
        remaining_hours=max(minimum - hours, Decimal(0)),
    )


@dataclass(frozen=True)
class AtRisk:
    """A row of the at-risk list: hours by whole months (see the module docstring)."""

    person: Person
    unit_name: str
    period_start: date
    period_end: date
    hours: Decimal
    minimum: Decimal

    @property
    def remaining_hours(self) -> Decimal:
        return max(self.minimum - self.hours, Decimal(0))

    @property
    def last_day(self) -> date:
        return date.fromordinal(self.period_end.toordinal() - 1)


def _md_key(day: date) -> int:
    # month*100+day, except that 28 February of a common year also stands for
    # the 29th: a 29-February registration's anniversary falls on it.
    if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
        return 229
    return day.month * 100 + day.day


def _counted_hours():
    """SQL: the PersonMonth hours that count, as configured."""
    counts = current_app.config["LMS_CE_COUNTS"]
    parts = []
    if "training" in counts:
        parts.append(PersonMonth.training_hours)
    if "supervision" in counts:
        parts.append(PersonMonth.supervision_hours_confirmed)
        if current_app.config["LMS_COUNT_UNCONFIRMED_SUPERVISION"]:
            parts.append(PersonMonth.supervision_hours_unconfirmed)
    return sum(parts[1:], parts[0])


def _at_risk_candidates(viewer, today: date, within: OrgUnit | None, years: int):
    """SQL subquery: each active certified person in scope, with their minimum, first counted month and period end."""
    table = current_app.config["LMS_CE_MINIMUM_HOURS"]
    y = cast(extract("year", Person.certified_on), Integer)
    m = cast(extract("month", Person.certified_on), Integer)
    d = cast(extract("day", Person.certified_on), Integer)
    md = m * 100 + d
    elapsed = today.year - y - case((md > _md_key(today), 1), else_=0)  # anniversaries passed
    start_year = y + (elapsed // years) * years
    # Months whose first day lies in [start, today]: from the start's month when it is the 1st, else the next.
    skip = case((d == 1, 0), else_=1)
    return (
        select(
            Person.id.label("person_id"),
            case(*((Person.level == level, hours) for level, hours in table.items())).label("minimum"),
            (start_year * 100 + m + skip).label("first_month"),
            # yyyymmdd of the period end; a 29-February end in a common year reads …0229, which
            # compares as the 28th against a horizon keyed by _md_key.
            ((start_year + years) * 10000 + md).label("end_key"),
        )
        .where(
            Person.level.in_(list(table)),
            Person.certified_on.is_not(None),
            Person.certified_on <= today,
            Person.active.is_(True),
            in_scope(viewer, Person.unit_id),
            Person.unit_id.in_(subtree_ids(within)) if within is not None else true(),
        )
        .subquery("candidates")
    )


def _short_of_hours(candidates, today: date):
    """SQL subquery: the candidates whose period ends by the risk horizon with fewer counted hours than the minimum."""
    horizon = risk_horizon(today)
    hours = func.coalesce(func.sum(_counted_hours()), 0)
    return (
        select(candidates.c.person_id, candidates.c.minimum, candidates.c.end_key, hours.label("hours"))
        .outerjoin(
            PersonMonth,
            and_(
                PersonMonth.person_id == candidates.c.person_id,
                PersonMonth.month >= candidates.c.first_month,
                PersonMonth.month <= today.year * 100 + today.month,
            ),
        )
        .where(candidates.c.end_key <= horizon.year * 10000 + _md_key(horizon))
        .group_by(candidates.c.person_id, candidates.c.minimum, candidates.c.end_key)
        .having(hours < candidates.c.minimum)
        .subquery("short")
    )


def ce_at_risk(viewer, today: date, limit: int = 500, within: OrgUnit | None = None) -> list[AtRisk]:
    """Return the active certified people ``viewer`` may see whose period ends soon with hours short (one query).

    The current period of each person is computed in SQL from the parts of
    ``certified_on`` (the same arithmetic as :func:`current_period`), and the
    hours are summed from the monthly rollups by whole months — see the module
    docstring. Soonest period end first.
    """
    years = _years()
    short = _short_of_hours(_at_risk_candidates(viewer, today, within, years), today)
    rows = db.session.execute(
        select(Person, OrgUnit.name, short.c.hours, short.c.minimum)
        .join(short, short.c.person_id == Person.id)
        .join(OrgUnit, OrgUnit.id == Person.unit_id)
        .order_by(short.c.end_key, OrgUnit.path, Person.name, Person.id)
        .limit(limit)
    )
    out = []
    for person, unit_name, total, minimum in rows:
        start, end = current_period(person.certified_on, today, years)
        out.append(AtRisk(person, unit_name, start, end, _hours(total), Decimal(str(minimum))))
    return out
