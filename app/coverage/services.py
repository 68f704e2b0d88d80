"""Cohorts: create, recompute members from the rule, freeze."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import delete, insert, or_, select

from ..audit.services import record_audit
from ..core.db import utcnow
from ..core.domain import Conflict, Invalid, NotFound
from ..core.i18n import _l
from ..core.numbers import parse_decimal
from ..core.ranges import FIRST_YEAR, LAST_YEAR
from ..extensions import db
from ..org.models import OrgUnit
from ..org.queries import in_scope, subtree_ids, unit_in_scope
from ..people.models import CATEGORIES, Person
from ..training.models import Program
from . import standing
from .models import Cohort, CohortMember

MAX_LISTED = 10_000  # listed and excluded ids of one cohort

# What counts as trained / supervised and the targets: field → (low, high, places kept, low allowed, default).
THRESHOLDS = {
    "min_training_hours": (Decimal(0), Decimal(10000), "0.1", True, None),
    "min_supervision_hours": (Decimal(0), Decimal(10000), "0.1", True, None),
    "training_target": (Decimal(0), Decimal(1), "0.001", False, 1),
    "supervision_target": (Decimal(0), Decimal(1), "0.001", False, 1),
}


def _decimal(
    value, field: str, errors: dict, *, low: Decimal, high: Decimal, places: str, low_inclusive: bool = True
) -> Decimal | None:
    if value is None or value == "":
        return None
    number = parse_decimal(value, places)  # rounded as the column keeps it, then checked
    if number is None:
        errors[field] = _l("Must be a number.")
        return None
    if number > high or number < low or (not low_inclusive and number == low):
        errors[field] = _l("Must be between %(low)s and %(high)s.", low=low, high=high)
        return None
    return number


def create_cohort(*, data: dict, unit: OrgUnit, actor, freeze: bool = False) -> Cohort:
    """Create a cohort on a unit for a year, compute its members and freeze them if asked (flushes)."""
    if actor is not None and not unit_in_scope(actor, unit):
        raise NotFound(_l("Not found."))
    fields = _validated(data, unit, actor)
    name, year = fields["name"], fields["year"]
    taken = select(Cohort.id).where(Cohort.unit_id == unit.id, Cohort.year == year, Cohort.name == name)
    if db.session.scalar(taken) is not None:
        raise Conflict(
            _l("%(unit)s already has a cohort named %(name)s for %(year)s.", unit=unit.name, name=name, year=year),
            {"name": _l("This name is taken for this unit and year.")},
        )
    cohort = Cohort(unit=unit, **fields)
    db.session.add(cohort)
    db.session.flush()
    refresh_members(cohort)
    record_audit(
        actor=actor,
        action="cohort.create",
        entity_type="cohort",
        entity_id=cohort.id,
        after={"name": name, "unit_id": unit.id, "year": year},
    )
    if freeze:
        freeze_cohort(cohort=cohort, actor=actor)
    return cohort


def _validated(data: dict, unit: OrgUnit, actor) -> dict:
    """Check a cohort's fields; return the columns to create it with, or raise Invalid with every error."""
    errors: dict = {}
    name = (data.get("name") or "").strip()
    if not name or len(name) > 120:
        errors["name"] = _l("A name of 1 to 120 characters is required.")
    year = data.get("year")
    if not _whole(year) or not FIRST_YEAR <= year <= LAST_YEAR:
        errors["year"] = _l("Year must be between %(first)d and %(last)d.", first=FIRST_YEAR, last=LAST_YEAR)
    category = data.get("category") or None
    if category is not None and category not in CATEGORIES:
        errors["category"] = _l("Unknown category %(value)s.", value=category)
    thresholds = _thresholds(data, errors)
    for key in ("min_courses", "min_supervision_sessions"):
        value = data.get(key)
        if value is not None and (not _whole(value) or not 0 <= value <= 1000):
            errors[key] = _l("Must be a whole number from 0 to 1000.")
    member_ids, excluded_ids = _listed_people(data, actor, errors)
    program_ids = _listed_programs(data, unit, errors)
    include_rule = bool(data.get("include_rule") or category)
    if not include_rule and not member_ids:
        errors["member_ids"] = _l("A cohort needs members: a category for the unit, or a list of people.")
    if errors:
        raise Invalid(_l("The cohort was not saved."), errors)
    return {
        "name": name,
        "year": year,
        "category": category,
        "include_rule": include_rule,
        "added_ids": member_ids,
        "excluded_ids": excluded_ids,
        "min_courses": data.get("min_courses"),
        "min_supervision_sessions": data.get("min_supervision_sessions"),
        "program_ids": program_ids,
        "require_passing": bool(data.get("require_passing")),
        **thresholds,
    }


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _thresholds(data: dict, errors: dict) -> dict[str, Decimal | None]:
    """The hours that count as trained and supervised, and the targets (defaults filled in)."""
    thresholds = {}
    for field, (low, high, places, low_inclusive, default) in THRESHOLDS.items():
        value = _decimal(
            data.get(field, default), field, errors, low=low, high=high, places=places, low_inclusive=low_inclusive
        )
        thresholds[field] = Decimal(default) if value is None and default is not None else value
    return thresholds


def _listed_people(data: dict, actor, errors: dict) -> tuple[list[int], list[int]]:
    """The people listed as members and as excluded: at most MAX_LISTED, members among those the actor sees."""
    member_ids = sorted({int(i) for i in data.get("member_ids") or []})
    excluded_ids = sorted({int(i) for i in data.get("excluded_ids") or []})
    if len(member_ids) + len(excluded_ids) > MAX_LISTED:
        # The list is read back in IN clauses (twice in a report): PostgreSQL takes 65,535 parameters.
        errors["member_ids"] = _l(
            "At most %(n)s people can be listed; a larger group is a category of the unit.", n=f"{MAX_LISTED:,}"
        )
    elif member_ids:
        visible = set(
            db.session.scalars(
                select(Person.id).where(
                    Person.id.in_(member_ids), in_scope(actor, Person.unit_id) if actor is not None else True
                )
            )
        )
        unknown = [i for i in member_ids if i not in visible]
        if unknown:
            errors["member_ids"] = _l("Unknown people: %(ids)s", ids=", ".join(map(str, unknown[:20])))
    return member_ids, excluded_ids


def _listed_programs(data: dict, unit: OrgUnit, errors: dict) -> list[int]:
    """The programs whose completed courses count: ones the cohort's people could attend."""
    program_ids = sorted({int(i) for i in data.get("program_ids") or []})
    if program_ids:
        # Held by its unit, a unit below it or one above it. Anything else -- another district's program,
        # an id that does not exist -- is unknown, with one message for both.
        line = unit.path_ids  # the unit and those above it
        held = set(
            db.session.scalars(
                select(Program.id).where(
                    Program.id.in_(program_ids),
                    or_(Program.unit_id.in_(line), Program.unit_id.in_(subtree_ids(unit))),
                )
            )
        )
        unknown = [i for i in program_ids if i not in held]
        if unknown:
            errors["program_ids"] = _l("Unknown programs: %(ids)s", ids=", ".join(map(str, unknown[:20])))
    return program_ids


def refresh_members(cohort: Cohort) -> int:
    """Recompute the member list from the rule, additions and exclusions (not once frozen). Returns the count."""
    if cohort.frozen_at is not None:
        return db.session.scalar(select(db.func.count()).where(CohortMember.cohort_id == cohort.id))
    ids: set[int] = set(cohort.added_ids or [])
    if cohort.include_rule:
        rule = select(Person.id).where(Person.unit_id.in_(subtree_ids(cohort.unit)), Person.active.is_(True))
        if cohort.category:
            rule = rule.where(Person.category == cohort.category)
        ids |= set(db.session.scalars(rule))
    ids -= set(cohort.excluded_ids or [])
    db.session.execute(delete(CohortMember).where(CohortMember.cohort_id == cohort.id))
    if ids:
        db.session.execute(insert(CohortMember), [{"cohort_id": cohort.id, "person_id": pid} for pid in sorted(ids)])
    standing.refresh([cohort])
    return len(ids)


def freeze_cohort(*, cohort: Cohort, actor) -> None:
    """Freeze the member list: from now on it no longer follows the rule (flushes)."""
    if cohort.frozen_at is None:
        refresh_members(cohort)
        cohort.frozen_at = utcnow()
        db.session.flush()
        record_audit(actor=actor, action="cohort.freeze", entity_type="cohort", entity_id=cohort.id)


def update_cohort(*, cohort: Cohort, data: dict, actor) -> Cohort:
    """Correct a cohort's name, category, thresholds and targets (its unit and year stay); audited, flushes.

    An unfrozen cohort's members follow the new category at once; a frozen one keeps its list.
    """
    if actor is not None and not unit_in_scope(actor, cohort.unit):
        raise NotFound(_l("Not found."))
    current = {
        "name": cohort.name,
        "year": cohort.year,
        "category": cohort.category,
        "include_rule": cohort.include_rule,
        "member_ids": list(cohort.added_ids or []),
        "excluded_ids": list(cohort.excluded_ids or []),
        "min_courses": cohort.min_courses,
        "min_supervision_sessions": cohort.min_supervision_sessions,
        "program_ids": list(cohort.program_ids or []),
        "require_passing": cohort.require_passing,
        **{field: getattr(cohort, field) for field in THRESHOLDS},
    }
    merged = {**current, **{k: v for k, v in data.items() if k not in ("year", "unit_id")}}
    if cohort.frozen_at is not None:
        merged["category"] = cohort.category  # the frozen list does not follow a new rule
    fields = _validated(merged, cohort.unit, actor)
    taken = select(Cohort.id).where(
        Cohort.unit_id == cohort.unit_id,
        Cohort.year == cohort.year,
        Cohort.name == fields["name"],
        Cohort.id != cohort.id,
    )
    if db.session.scalar(taken) is not None:
        raise Conflict(
            _l(
                "%(unit)s already has a cohort named %(name)s for %(year)s.",
                unit=cohort.unit.name,
                name=fields["name"],
                year=cohort.year,
            ),
            {"name": _l("This name is taken for this unit and year.")},
        )
    keys = ("name", "category", "include_rule", "require_passing", *THRESHOLDS)
    before = {k: _plain(getattr(cohort, k)) for k in keys}
    for key in keys:
        setattr(cohort, key, fields[key])
    db.session.flush()
    if before["category"] != cohort.category or before["include_rule"] != cohort.include_rule:
        refresh_members(cohort)
    after = {k: _plain(getattr(cohort, k)) for k in keys}
    changed = {k for k in keys if before[k] != after[k]}
    if changed:
        standing.refresh([cohort])  # who counts as trained or supervised follows the corrected rule at once
    if changed:
        record_audit(
            actor=actor,
            action="cohort.update",
            entity_type="cohort",
            entity_id=cohort.id,
            before={k: before[k] for k in changed},
            after={k: after[k] for k in changed},
        )
    return cohort


def _plain(value):
    return str(value) if isinstance(value, Decimal) else value
