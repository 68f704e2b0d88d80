"""Keep the unit-level figures (:class:`UnitYear`, :class:`UnitPeople`) current, in the writer's transaction.

Two kinds of writes move them:

- a person's monthly rollups change (attendance, enrolment outcome,
  supervision): :func:`app.ledger.rollups.refresh_people` hands the person's
  years before and after to :func:`apply_person_years`, which adds the
  difference to the person's unit — person-times by their difference, the
  distinct-people counts by the flags that flipped (trained in the year: yes
  or no);
- a person is created, moved, made (in)active or deleted: the session hooks
  below move the person's count and their years' figures between units.

Rows are changed by increments (``INSERT … ON CONFLICT DO UPDATE SET x = x +
excluded.x``) in unit order, so concurrent writers add up instead of
overwriting each other. :func:`rebuild` recomputes everything from the base
tables (``lms ledger rebuild``, bulk loads), and :func:`computed` is the same
recomputation without writing, which the tests compare against.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import case, delete, event, func, insert, inspect, literal_column, select, text
from sqlalchemy.orm import Session

from ..core.db import upsert
from ..extensions import db
from ..people.models import Person
from .models import PersonMonth, UnitPeople, UnitYear

YEAR_FIELDS = (
    "training_person_times",
    "supervision_person_times",
    "supervision_person_times_unconfirmed",
    "people_trained",
    "people_supervised",
    "people_supervised_any",
)

# A person's year: (training sessions, confirmed supervision credits, unconfirmed ones).
Sessions = tuple[int, int, int]


def figures(sessions: Sessions) -> tuple[int, ...]:
    """A person's contribution to their unit's row of a year, in the order of YEAR_FIELDS."""
    ts, confirmed, unconfirmed = sessions
    return ts, confirmed, unconfirmed, int(ts > 0), int(confirmed > 0), int(confirmed + unconfirmed > 0)


def by_year(months: Iterable[tuple[int, int, int, int, int]]) -> dict[tuple[int, int], Sessions]:
    """Sum (person, yyyymm, training sessions, confirmed, unconfirmed) rows into {(person, year): sessions}."""
    out: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    for pid, month, ts, sc, su in months:
        row = out[(pid, month // 100)]
        row[0], row[1], row[2] = row[0] + ts, row[1] + sc, row[2] + su
    return {key: tuple(v) for key, v in out.items()}


def person_years(person_ids: Iterable[int], connection=None) -> dict[tuple[int, int], Sessions]:
    """Return {(person, year): sessions} from the people's stored monthly rollups."""
    ids = list(person_ids)
    if not ids:
        return {}
    stmt = select(
        PersonMonth.person_id,
        PersonMonth.month,
        PersonMonth.training_sessions,
        PersonMonth.supervision_sessions_confirmed,
        PersonMonth.supervision_sessions_unconfirmed,
    ).where(PersonMonth.person_id.in_(ids))
    return by_year((connection or db.session).execute(stmt))


def apply_person_years(
    units: dict[int, int], before: dict[tuple[int, int], Sessions], after: dict[tuple[int, int], Sessions]
) -> None:
    """Add to each person's unit (``units``: person → unit) the change of their years from ``before`` to ``after``."""
    deltas: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0] * len(YEAR_FIELDS))
    for pid, year in before.keys() | after.keys():
        old = figures(before.get((pid, year), (0, 0, 0)))
        new = figures(after.get((pid, year), (0, 0, 0)))
        if old != new:
            row = deltas[(units[pid], year)]
            for i, (a, b) in enumerate(zip(old, new, strict=True)):
                row[i] += b - a
    _add_years(deltas)


def _add_years(deltas: dict[tuple[int, int], list[int]], connection=None) -> None:
    values = [
        {"unit_id": unit, "year": year, **dict(zip(YEAR_FIELDS, row, strict=True))}
        for (unit, year), row in sorted(deltas.items())
        if any(row)
    ]
    if not values:
        return
    stmt = upsert(db.session, UnitYear)
    stmt = stmt.on_conflict_do_update(
        index_elements=["unit_id", "year"], set_={f: getattr(UnitYear, f) + stmt.excluded[f] for f in YEAR_FIELDS}
    )
    (connection or db.session).execute(stmt, values)


def add_people(deltas: dict[int, int], connection=None) -> None:
    """Add ``deltas`` (unit → change) to the units' counts of active people."""
    values = [{"unit_id": unit, "people": n} for unit, n in sorted(deltas.items()) if n]
    if not values:
        return
    stmt = upsert(db.session, UnitPeople)
    stmt = stmt.on_conflict_do_update(
        index_elements=["unit_id"], set_={"people": UnitPeople.people + stmt.excluded.people}
    )
    (connection or db.session).execute(stmt, values)


# --- people created, moved, (de)activated, deleted --------------------------------------------------------------

_BEFORE = "lms_unit_figures_before"


def _changed(person: Person) -> bool:
    attrs = inspect(person).attrs
    return any(attrs[name].history.has_changes() for name in ("unit_id", "unit", "active"))


@event.listens_for(Session, "before_flush")
def _remember_people(session: Session, _context, _instances) -> None:
    """Before a flush moves, (de)activates or deletes people, read where they were and what their years held."""
    ids = {p.id for p in session.dirty if isinstance(p, Person) and p.id is not None and _changed(p)}
    ids |= {p.id for p in session.deleted if isinstance(p, Person) and p.id is not None}
    if not ids:
        return
    connection = session.connection()
    before = {
        pid: (unit_id, active)
        for pid, unit_id, active in connection.execute(
            select(Person.id, Person.unit_id, Person.active).where(Person.id.in_(ids))
        )
    }
    objects = {p.id: p for p in session.dirty if isinstance(p, Person) and p.id in ids}
    session.info[_BEFORE] = (before, person_years(before, connection), objects)


@event.listens_for(Session, "after_flush")
def _move_people(session: Session, _context) -> None:
    """After the flush, move the counts and year figures of the people it created, moved or deleted."""
    before, years, objects = session.info.pop(_BEFORE, ({}, {}, {}))
    people: dict[int, int] = defaultdict(int)
    moves: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0] * len(YEAR_FIELDS))
    for p in session.new:
        if isinstance(p, Person) and p.active:
            people[p.unit_id] += 1
    for pid, (old_unit, old_active) in before.items():
        person = objects.get(pid)  # None: deleted
        new_unit, new_active = (person.unit_id, person.active) if person is not None else (None, False)
        people[old_unit] -= bool(old_active)
        if new_active:
            people[new_unit] += 1
        if new_unit == old_unit:
            continue
        for (owner, year), sessions in years.items():
            if owner != pid:
                continue
            for i, n in enumerate(figures(sessions)):
                moves[(old_unit, year)][i] -= n
                if new_unit is not None:
                    moves[(new_unit, year)][i] += n
    if any(people.values()) or moves:
        connection = session.connection()
        add_people(people, connection)
        _add_years(moves, connection)


# --- recomputation from the base tables -------------------------------------------------------------------------


def _computed_years():
    year = PersonMonth.month // literal_column("100")  # yyyymm → yyyy, the same text in SELECT and GROUP BY
    per_person = (
        select(
            PersonMonth.person_id,
            year.label("year"),
            func.sum(PersonMonth.training_sessions).label("ts"),
            func.sum(PersonMonth.supervision_sessions_confirmed).label("sc"),
            func.sum(PersonMonth.supervision_sessions_unconfirmed).label("su"),
        )
        .group_by(PersonMonth.person_id, year)
        .subquery()
    )
    c = per_person.c
    return (
        select(
            Person.unit_id,
            c.year,
            func.sum(c.ts),
            func.sum(c.sc),
            func.sum(c.su),
            func.count(case((c.ts > 0, 1))),
            func.count(case((c.sc > 0, 1))),
            func.count(case((c.sc + c.su > 0, 1))),
        )
        .join(Person, Person.id == c.person_id)
        .group_by(Person.unit_id, c.year)
    )


def _computed_people():
    return select(Person.unit_id, func.count()).where(Person.active.is_(True)).group_by(Person.unit_id)


def computed() -> tuple[dict[tuple[int, int], tuple[int, ...]], dict[int, int]]:
    """The figures recomputed from the base tables: ({(unit, year): YEAR_FIELDS}, {unit: people}), no zero rows."""
    years = {(u, y): tuple(int(n) for n in rest) for u, y, *rest in db.session.execute(_computed_years())}
    return {k: v for k, v in years.items() if any(v)}, dict(db.session.execute(_computed_people()).all())


def stored() -> tuple[dict[tuple[int, int], tuple[int, ...]], dict[int, int]]:
    """The maintained figures, in the shape of :func:`computed`."""
    years = {
        (row.unit_id, row.year): tuple(getattr(row, f) for f in YEAR_FIELDS)
        for row in db.session.execute(
            select(UnitYear.unit_id, UnitYear.year, *(getattr(UnitYear, f) for f in YEAR_FIELDS))
        )
    }
    people = dict(db.session.execute(select(UnitPeople.unit_id, UnitPeople.people)).all())
    return {k: v for k, v in years.items() if any(v)}, {u: n for u, n in people.items() if n}


def rebuild() -> None:
    """Recompute every unit's figures from the base tables (after the people's monthly rollups are current)."""
    if db.session.get_bind().dialect.name == "postgresql":
        # Writers wait for the few seconds this takes rather than adding to rows being replaced.
        db.session.execute(text("LOCK TABLE unit_years, unit_people IN EXCLUSIVE MODE"))
    db.session.execute(delete(UnitYear))
    db.session.execute(delete(UnitPeople))
    db.session.execute(insert(UnitYear).from_select(["unit_id", "year", *YEAR_FIELDS], _computed_years()))
    db.session.execute(insert(UnitPeople).from_select(["unit_id", "people"], _computed_people()))
