"""Keep each cohort member's standing (:class:`CohortPerson`) current, in the writer's transaction.

A dashboard counts these rows — members, trained, supervised, by child unit and
by the month each rule was reached — instead of summing every member's months
on every load. A row per (cohort, member) is recomputed from the member's
monthly rollups by the cohort's rule, with the same SQL conditions the reports
used to evaluate when read (:func:`app.coverage.queries.trained_clause`,
:func:`~app.coverage.queries.supervised_clause`,
:func:`~app.coverage.queries.months_reached`). Writes that move them:

- a person's rollups change (attendance, enrolment outcome, supervision):
  :func:`app.ledger.rollups.refresh_people` calls :func:`refresh_people`, which
  recomputes the person's rows in the cohorts they belong to;
- a person is created, moved, made (in)active or given another category (the
  session hooks below), or people are imported in bulk (:func:`refresh_units`):
  who belongs to the rule cohorts of the units above them changes, so their
  rows there are recomputed;
- a cohort is created, corrected or frozen (:mod:`app.coverage.services`), or a
  unit moves under another parent (:func:`refresh_units`): the cohort's rows;
- :func:`rebuild` recomputes every row (``lms ledger rebuild``, bulk loads).

A cohort's rows are replaced by a delete and an ``INSERT … SELECT``, cohort by
cohort in id order; the people's rows are locked by the rollup refresh first,
so two writers of one person wait for each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import SimpleNamespace

from sqlalchemy import case, delete, event, func, inspect, literal, select, text, true, update
from sqlalchemy.orm import Session, joinedload

from ..core.db import upsert
from ..extensions import db
from ..org.models import OrgUnit
from ..people.models import Person
from .models import Cohort, CohortPerson
from .queries import (
    listed_completions,
    members_of,
    months_reached,
    person_year,
    supervised_clause,
    trained_clause,
    unpassed_courses,
)

COLUMNS = (
    "cohort_id",
    "person_id",
    "trained",
    "supervised",
    "supervised_any",
    "trained_month",
    "supervised_month",
    "supervised_any_month",
    "unit_id",
)


def _flag(condition):
    return case((condition, literal(True)), else_=literal(False))


def standing(cohort: Cohort, among: list[int] | None = None, session=None):
    """Select the cohort's rows as they should be (of the members ``among`` these people, if given)."""
    people = members_of(cohort, among, session)
    members = people.subquery("members")
    py = person_year(cohort.year, people)
    listed = listed_completions(cohort, people)
    unpassed = unpassed_courses(cohort, people)
    reached = months_reached(cohort, people)
    trained_month = reached.c.trained_month
    if getattr(cohort, "require_passing", False):  # not trained yet, whatever the hours: no month reached
        trained_month = case((func.coalesce(unpassed.c.n, 0) == 0, trained_month))
    return (
        select(
            literal(cohort.id).label("cohort_id"),
            members.c.person_id,
            _flag(trained_clause(cohort, py, listed, unpassed)).label("trained"),
            _flag(supervised_clause(cohort, py, unconfirmed=False)).label("supervised"),
            _flag(supervised_clause(cohort, py, unconfirmed=True)).label("supervised_any"),
            trained_month.label("trained_month"),
            reached.c.supervised_confirmed_month,
            reached.c.supervised_any_month,
            Person.unit_id,
        )
        .select_from(members)
        .join(Person, Person.id == members.c.person_id)
        .outerjoin(py, py.c.person_id == members.c.person_id)
        .outerjoin(listed, listed.c.person_id == members.c.person_id)
        .outerjoin(unpassed, unpassed.c.person_id == members.c.person_id)
        .outerjoin(reached, reached.c.person_id == members.c.person_id)
    )


def refresh(cohorts: Iterable[Cohort], among: list[int] | None = None, session=None) -> None:
    """Recompute the cohorts' rows (only of ``among`` these people, if given) from the rule and the rollups."""
    session = session or db.session
    for cohort in sorted(cohorts, key=lambda c: c.id):
        gone = CohortPerson.cohort_id == cohort.id
        if among is not None:
            gone &= CohortPerson.person_id.in_(among)
        session.execute(delete(CohortPerson).where(gone))
        # Delete, then upsert: a concurrent writer of the same rows (a cohort corrected while a member checks
        # in) that inserted meanwhile turns this insert into an update instead of a key violation. (SQLite
        # reads "INSERT … SELECT … ON CONFLICT" only with a WHERE in the SELECT.)
        stmt = upsert(session, CohortPerson).from_select(COLUMNS, standing(cohort, among, session).where(true()))
        stmt = stmt.on_conflict_do_update(
            index_elements=["cohort_id", "person_id"], set_={c: stmt.excluded[c] for c in COLUMNS[2:]}
        )
        session.execute(stmt)


def refresh_people(person_ids: list[int]) -> None:
    """The people's rollups changed: recompute their rows in the cohorts they belong to."""
    cohorts = db.session.scalars(
        _locked(
            select(Cohort)
            .where(Cohort.id.in_(select(CohortPerson.cohort_id).where(CohortPerson.person_id.in_(person_ids))))
            .options(joinedload(Cohort.unit))
        )
    ).all()
    refresh(cohorts, person_ids)


def _locked(stmt):
    """The cohorts read with a share lock, in id order, their rules as committed (PostgreSQL; SQLite has one writer).

    A correction of the rule (which rewrites every member's row) and a member's refresh then follow each other:
    without it, a check-in could write its member's row by the rule it read before the correction committed,
    after the correction had rewritten the rows.
    """
    return stmt.order_by(Cohort.id).with_for_update(read=True, of=Cohort).execution_options(populate_existing=True)


def _rule_cohorts_above(paths: Iterable[str]):
    """Select the cohorts that follow their rule (not frozen) on a unit at or above any of these unit paths."""
    # A materialised path "/1/2/3/" lies under "/1/", "/1/2/" and itself.
    above = sorted({p[: i + 1] for p in paths for i, ch in enumerate(p) if ch == "/" and i > 0})
    return (
        select(Cohort)
        .join(OrgUnit, OrgUnit.id == Cohort.unit_id)
        .where(Cohort.frozen_at.is_(None), Cohort.include_rule.is_(True), OrgUnit.path.in_(above))
    )


def refresh_units(units: Iterable[OrgUnit], among: list[int] | None = None) -> None:
    """Who belongs to the rule cohorts above these units may have changed (people imported, a unit moved)."""
    refresh(db.session.scalars(_locked(_rule_cohorts_above(u.path for u in units))).all(), among)


# What a cohort's rule reads, as plain values: the migration that creates the table fills it with them too.
RULE = (
    "id",
    "year",
    "frozen_at",
    "include_rule",
    "category",
    "added_ids",
    "excluded_ids",
    "min_training_hours",
    "min_courses",
    "program_ids",
    "require_passing",
    "min_supervision_hours",
    "min_supervision_sessions",
)


def rebuild(session=None) -> None:
    """Recompute every cohort's rows from the rules and the rollups (``session``: another connection's, if given)."""
    session = session or db.session
    if session.get_bind().dialect.name == "postgresql":
        # Writers wait for the moment this takes rather than writing rows being replaced.
        session.execute(text("LOCK TABLE cohort_people IN EXCLUSIVE MODE"))
    session.execute(delete(CohortPerson))
    cohorts = [
        SimpleNamespace(**dict(zip(RULE, rest, strict=True)), unit=SimpleNamespace(path=path))
        for path, *rest in session.execute(
            select(OrgUnit.path, *(getattr(Cohort, c) for c in RULE)).join(OrgUnit, OrgUnit.id == Cohort.unit_id)
        )
    ]
    refresh(cohorts, session=session)


def stored(cohort: Cohort) -> dict[int, tuple]:
    """The cohort's kept rows: {person: (trained, supervised, supervised_any, months…, unit)}."""
    rows = db.session.execute(
        select(*(getattr(CohortPerson, c) for c in COLUMNS[1:])).where(CohortPerson.cohort_id == cohort.id)
    )
    return {pid: _plain(rest) for pid, *rest in rows}


def computed(cohort: Cohort) -> dict[int, tuple]:
    """The cohort's rows recomputed now, in the shape of :func:`stored`."""
    return {pid: _plain(rest) for _cid, pid, *rest in db.session.execute(standing(cohort))}


def _plain(values) -> tuple:
    return tuple(bool(v) for v in values[:3]) + tuple(None if v is None else int(v) for v in values[3:])


# --- people created, moved, (de)activated, re-categorised ------------------------------------------------------

_BEFORE = "lms_cohort_standing_before"
_WATCHED = ("unit_id", "unit", "active", "category")


def _changed(person: Person) -> bool:
    attrs = inspect(person).attrs
    return any(attrs[name].history.has_changes() for name in _WATCHED)


@event.listens_for(Session, "before_flush")
def _remember_units(session: Session, _context, _instances) -> None:
    """Before a flush changes who people are, read the paths of the units they were on."""
    ids = {p.id for p in session.dirty if isinstance(p, Person) and p.id is not None and _changed(p)}
    if ids:
        session.info[_BEFORE] = {
            pid: path
            for pid, path in session.connection().execute(
                select(Person.id, OrgUnit.path).join(OrgUnit, OrgUnit.id == Person.unit_id).where(Person.id.in_(ids))
            )
        }


@event.listens_for(Session, "after_flush")
def _refresh_people_changed(session: Session, _context) -> None:
    """After the flush, recompute the rows of the people it created or changed in the rule cohorts above them."""
    before: dict[int, str] = session.info.pop(_BEFORE, {})
    new = [p.id for p in session.new if isinstance(p, Person)]
    ids = sorted(set(before) | set(new))
    if not ids:
        return
    if before:  # every cohort's row of a changed person names the unit they work in now (frozen lists too)
        session.execute(
            update(CohortPerson)
            .where(CohortPerson.person_id.in_(sorted(before)))
            .values(unit_id=select(Person.unit_id).where(Person.id == CohortPerson.person_id).scalar_subquery())
            .execution_options(synchronize_session=False)
        )
    paths = set(before.values()) | set(
        session.scalars(
            select(OrgUnit.path).join(Person, Person.unit_id == OrgUnit.id).where(Person.id.in_(ids)).distinct()
        )
    )
    # Rows of the rule cohorts a person belonged to or may belong to now, recomputed from the rule (a frozen
    # list, and the people a cohort adds by name, do not depend on where a person works or whether they are active).
    refresh(session.scalars(_locked(_rule_cohorts_above(paths))).all(), ids)
