"""The bureau's figures and coverage, as SQL aggregates over the monthly ledger rollups.

One report issues the same handful of queries whatever the size of the data:
no Python loop over attendance or people rows. Definitions, for a unit's
subtree and a calendar year (local time):

- people: active people in the subtree;
- programs (场): programs held by units of the subtree in the year;
- course_sessions: sessions of those programs' courses starting in the year;
- supervision_sessions (次): supervision records of supervisors of the subtree;
- training / supervision person-times (人次): attended sessions / counted
  supervision credits of people of the subtree;
- people_trained / people_supervised: distinct people of the subtree with at
  least one of those;
- per cohort (defined on the unit for the year): members (the denominator of
  every rate), trained and supervised by the cohort's own rule, their rates
  and targets. Children rows break the same cohorts down by the members'
  current units.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask import current_app
from sqlalchemy import and_, case, func, literal, or_, select, true

from ..extensions import db
from ..ledger.models import PersonMonth
from ..ledger.queries import Period, completions
from ..org.models import OrgUnit
from ..org.queries import children_of, subtree_ids
from ..people.models import Person
from ..supervision.models import SupervisionRecord
from ..training.models import Course, CourseSession, Program
from .models import Cohort, CohortMember

DIRECT = 0  # bucket of people placed directly on the unit, not in a child


def _months(year: int) -> tuple[int, int]:
    return year * 100 + 1, year * 100 + 12


def _sup_columns():
    if current_app.config["LMS_COUNT_UNCONFIRMED_SUPERVISION"]:
        return (
            PersonMonth.supervision_hours_confirmed + PersonMonth.supervision_hours_unconfirmed,
            PersonMonth.supervision_sessions_confirmed + PersonMonth.supervision_sessions_unconfirmed,
        )
    return PersonMonth.supervision_hours_confirmed, PersonMonth.supervision_sessions_confirmed


def person_year(year: int, people=None):
    """Subquery: per person, the year's training hours and sessions, courses completed, counted supervision.

    ``people`` (a select of person ids) keeps the aggregate to the people asked about.
    """
    first, last = _months(year)
    sup_hours, sup_sessions = _sup_columns()
    stmt = (
        select(
            PersonMonth.person_id.label("person_id"),
            func.sum(PersonMonth.training_hours).label("th"),
            func.sum(PersonMonth.training_sessions).label("ts"),
            func.sum(PersonMonth.courses_completed).label("cc"),
            func.sum(sup_hours).label("sh"),
            func.sum(sup_sessions).label("ss"),
        )
        .where(PersonMonth.month.between(first, last))
        .group_by(PersonMonth.person_id)
    )
    if people is not None:
        stmt = stmt.where(PersonMonth.person_id.in_(people))
    return stmt.subquery("py")


def _bucket(unit: OrgUnit, children: list[OrgUnit], unit_path_column):
    """CASE expression naming the child whose subtree holds a row (DIRECT for the unit itself)."""
    if not children:
        return literal(DIRECT)
    return case(*((unit_path_column.like(c.path + "%"), c.id) for c in children), else_=DIRECT)


@dataclass
class Rule:
    """What counts as trained and supervised for a cohort."""

    min_training_hours: Decimal | None
    min_courses: int | None
    min_supervision_hours: Decimal | None
    min_supervision_sessions: int | None

    @classmethod
    def of(cls, cohort: Cohort) -> Rule:
        return cls(
            cohort.min_training_hours, cohort.min_courses, cohort.min_supervision_hours, cohort.min_supervision_sessions
        )


def trained_clause(cohort: Cohort, py, listed):
    """SQL condition: the person meets the cohort's training rule."""
    parts = []
    if cohort.min_training_hours is not None:
        parts.append(func.coalesce(py.c.th, 0) >= cohort.min_training_hours)
    if cohort.min_courses is not None:
        done = func.coalesce(listed.c.n, 0) if cohort.program_ids else func.coalesce(py.c.cc, 0)
        parts.append(done >= cohort.min_courses)
    if not parts:  # no rule: any attended session
        parts.append(func.coalesce(py.c.ts, 0) > 0)
    return and_(*parts)


def supervised_clause(cohort: Cohort, py):
    """SQL condition: the person meets the cohort's supervision rule."""
    parts = []
    if cohort.min_supervision_hours is not None:
        parts.append(func.coalesce(py.c.sh, 0) >= cohort.min_supervision_hours)
    if cohort.min_supervision_sessions is not None:
        parts.append(func.coalesce(py.c.ss, 0) >= cohort.min_supervision_sessions)
    if not parts:
        parts.append(func.coalesce(py.c.ss, 0) > 0)
    return and_(*parts)


def listed_completions(cohort: Cohort):
    """Subquery: per member, courses completed in the year from the cohort's listed programs.

    Only cohorts counting completed courses need it; the others get an empty
    stand-in, so the (heavier) completion rule is not evaluated for nothing.
    """
    if cohort.min_courses is None:
        return select(literal(0).label("person_id"), literal(0).label("n")).where(literal(False)).subquery("listed")
    done = completions(Period.year(cohort.year), members_of(cohort)).subquery()
    stmt = select(done.c.person_id, func.count().label("n")).join(Course, Course.id == done.c.course_id)
    if cohort.program_ids:
        stmt = stmt.where(Course.program_id.in_(cohort.program_ids))
    return stmt.group_by(done.c.person_id).subquery("listed")


def cohorts_of(unit: OrgUnit, year: int) -> list[Cohort]:
    """Return the cohorts defined on this unit for the year."""
    return list(
        db.session.scalars(select(Cohort).where(Cohort.unit_id == unit.id, Cohort.year == year).order_by(Cohort.id))
    )


def cohorts_above(unit: OrgUnit, year: int) -> list[Cohort]:
    """Return the cohorts defined on the unit's ancestors for the year (outermost first)."""
    ancestor_ids = unit.path_ids[:-1]
    if not ancestor_ids:
        return []
    return list(
        db.session.scalars(
            select(Cohort)
            .join(OrgUnit, OrgUnit.id == Cohort.unit_id)
            .where(Cohort.unit_id.in_(ancestor_ids), Cohort.year == year)
            .order_by(OrgUnit.depth, Cohort.id)
        )
    )


def busiest_year(unit: OrgUnit, fallback: int) -> int:
    """The latest year with a cohort or program in the unit's subtree (the dashboard's default)."""
    subtree = select(OrgUnit.id).where(OrgUnit.path.like(unit.path + "%"))
    years = [
        db.session.scalar(select(func.max(Cohort.year)).where(Cohort.unit_id.in_(subtree))),
        db.session.scalar(select(func.max(Program.year)).where(Program.unit_id.in_(subtree))),
    ]
    years = [y for y in years if y]
    return max(years) if years else fallback


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def unit_report(unit: OrgUnit, year: int, inherited: list[Cohort] | None = None) -> dict:
    """Return the report object of PRODUCT.md §3 for a unit and year, with its children.

    ``inherited`` adds cohorts defined on ancestors (the dashboard's drill-down),
    counted over their members within this unit's subtree only.
    """
    children = children_of(unit)
    period = Period.year(year)
    units = OrgUnit.__table__.alias("u")
    bucket = _bucket(unit, children, units.c.path)
    in_subtree = units.c.path.like(unit.path + "%")

    first, last = _months(year)
    months = PersonMonth.__table__.alias("pm")
    sup_sessions_col = (
        months.c.supervision_sessions_confirmed + months.c.supervision_sessions_unconfirmed
        if current_app.config["LMS_COUNT_UNCONFIRMED_SUPERVISION"]
        else months.c.supervision_sessions_confirmed
    )
    people_rows = db.session.execute(
        select(
            bucket.label("bucket"),
            func.count(func.distinct(case((Person.active.is_(True), Person.id)))).label("people"),
            func.coalesce(func.sum(months.c.training_sessions), 0).label("training_person_times"),
            func.coalesce(func.sum(sup_sessions_col), 0).label("supervision_person_times"),
            func.count(func.distinct(case((months.c.training_sessions > 0, Person.id)))).label("people_trained"),
            func.count(func.distinct(case((sup_sessions_col > 0, Person.id)))).label("people_supervised"),
        )
        .select_from(Person)
        .join(units, units.c.id == Person.unit_id)
        .outerjoin(months, and_(months.c.person_id == Person.id, months.c.month.between(first, last)))
        .where(in_subtree)
        .group_by(bucket)
    ).all()

    program_rows = db.session.execute(
        select(bucket.label("bucket"), func.count(Program.id))
        .select_from(Program)
        .join(units, units.c.id == Program.unit_id)
        .where(in_subtree, Program.year == year)
        .group_by(bucket)
    ).all()
    session_rows = db.session.execute(
        select(bucket.label("bucket"), func.count(CourseSession.id))
        .select_from(CourseSession)
        .join(Course, Course.id == CourseSession.course_id)
        .join(Program, Program.id == Course.program_id)
        .join(units, units.c.id == Program.unit_id)
        .where(in_subtree, CourseSession.starts_at >= period.start, CourseSession.starts_at < period.end)
        .group_by(bucket)
    ).all()
    first_day, end_day = period.dates
    supervision_rows = db.session.execute(
        select(bucket.label("bucket"), func.count(SupervisionRecord.id))
        .select_from(SupervisionRecord)
        .join(units, units.c.id == SupervisionRecord.unit_id)
        .where(in_subtree, SupervisionRecord.held_on >= first_day, SupervisionRecord.held_on < end_day)
        .group_by(bucket)
    ).all()

    cohorts = cohorts_of(unit, year)
    cohort_rows = _cohort_figures(cohorts, bucket, units) if cohorts else {}
    if inherited:
        cohort_rows |= _cohort_figures(inherited, bucket, units, within=in_subtree)
        cohorts = list(inherited) + cohorts

    def figures(keys: set[int]) -> dict:
        out = {
            "people": 0,
            "programs": 0,
            "course_sessions": 0,
            "supervision_sessions": 0,
            "training_person_times": 0,
            "supervision_person_times": 0,
            "people_trained": 0,
            "people_supervised": 0,
        }
        for row in people_rows:
            if row.bucket in keys:
                for name in (
                    "people",
                    "training_person_times",
                    "supervision_person_times",
                    "people_trained",
                    "people_supervised",
                ):
                    out[name] += int(getattr(row, name))
        for rows, name in (
            (program_rows, "programs"),
            (session_rows, "course_sessions"),
            (supervision_rows, "supervision_sessions"),
        ):
            out[name] = sum(int(n) for b, n in rows if b in keys)
        out["cohorts"] = []
        for cohort in cohorts:
            members = trained = supervised = 0
            for b, (m, t, s) in cohort_rows.get(cohort.id, {}).items():
                if b in keys:
                    members, trained, supervised = members + m, trained + t, supervised + s
            out["cohorts"].append(
                {
                    "id": cohort.id,
                    "name": cohort.name,
                    "members": members,
                    "trained": trained,
                    "supervised": supervised,
                    "training_rate": _rate(trained, members),
                    "supervision_rate": _rate(supervised, members),
                    "training_target": float(cohort.training_target),
                    "supervision_target": float(cohort.supervision_target),
                }
            )
        return out

    every = {DIRECT} | {c.id for c in children}
    report = {"unit": {"code": unit.code, "name": unit.name, "kind": unit.kind}, "year": year, **figures(every)}
    report["children"] = [
        {"unit": {"code": c.code, "name": c.name, "kind": c.kind}, "year": year, "id": c.id, **figures({c.id})}
        for c in children
    ]
    return report


def _cohort_figures(cohorts: list[Cohort], bucket, units, within=None) -> dict[int, dict[int, tuple[int, int, int]]]:
    """Return {cohort: {bucket: (members, trained, supervised)}} — one query per cohort, not per person.

    Members of a frozen cohort who moved out of the unit's subtree stay in the
    cohort's total (bucket DIRECT) unless ``within`` restricts them to the subtree.
    """
    out: dict[int, dict[int, tuple[int, int, int]]] = {}
    for cohort in cohorts:
        members = members_of(cohort).subquery("members")
        py = person_year(cohort.year, members_of(cohort))
        listed = listed_completions(cohort)
        trained = trained_clause(cohort, py, listed)
        supervised = supervised_clause(cohort, py)
        rows = db.session.execute(
            select(
                bucket.label("bucket"),
                func.count(),
                func.count(case((trained, 1))),
                func.count(case((supervised, 1))),
            )
            .select_from(members)
            .join(Person, Person.id == members.c.person_id)
            .join(units, units.c.id == Person.unit_id)
            .outerjoin(py, py.c.person_id == members.c.person_id)
            .outerjoin(listed, listed.c.person_id == members.c.person_id)
            .where(within if within is not None else true())
            .group_by(bucket)
        ).all()
        out[cohort.id] = {b: (int(m), int(t), int(s)) for b, m, t, s in rows}
    return out


def strip_ids(report: dict) -> dict:
    """The report exactly as PRODUCT.md §3 spells it (no internal ids)."""
    clean = {k: v for k, v in report.items() if k != "id"}
    clean["cohorts"] = [{k: v for k, v in c.items() if k != "id"} for c in report["cohorts"]]
    if "children" in report:
        clean["children"] = [
            {k: v for k, v in strip_ids(child).items() if k != "children"} for child in report["children"]
        ]
    return clean


@dataclass
class Missing:
    person: Person
    unit_name: str
    training_hours: Decimal
    supervision_hours: Decimal
    lacks_training: Decimal | None  # hours (or courses) still missing, None if met
    lacks_supervision: Decimal | None
    lacks_courses: int | None
    lacks_sessions: int | None
    no_training: bool = False  # a cohort without a training rule asks for any attended session
    no_supervision: bool = False  # … and without a supervision rule, any supervision


def members_of(cohort: Cohort):
    """Select the ids (``person_id``) of the cohort's members.

    A frozen cohort, or one of listed people only, has its stored member list.
    An unfrozen cohort follows its rule when read: active people of the unit's
    subtree (of the category), plus the additions, minus the exclusions — so
    people joining or leaving the unit, or made inactive, count or stop counting
    until the list is frozen.
    """
    if cohort.frozen_at is not None or not cohort.include_rule:
        return select(CohortMember.person_id.label("person_id")).where(CohortMember.cohort_id == cohort.id)
    rule = and_(Person.unit_id.in_(subtree_ids(cohort.unit)), Person.active.is_(True))
    if cohort.category:
        rule = and_(rule, Person.category == cohort.category)
    added = [int(i) for i in cohort.added_ids or []]
    stmt = select(Person.id.label("person_id")).where(or_(rule, Person.id.in_(added)) if added else rule)
    excluded = [int(i) for i in cohort.excluded_ids or []]
    if excluded:
        stmt = stmt.where(Person.id.not_in(excluded))
    return stmt


def missing_people(cohort: Cohort, within: OrgUnit | None = None, limit: int = 500) -> list[Missing]:
    """Return the cohort's members who are not yet trained or supervised, and what each lacks."""
    members = members_of(cohort).subquery("members")
    py = person_year(cohort.year, members_of(cohort))
    listed = listed_completions(cohort)
    trained = trained_clause(cohort, py, listed)
    supervised = supervised_clause(cohort, py)
    stmt = (
        select(Person, OrgUnit.name, py.c.th, py.c.sh, py.c.ss, listed.c.n, py.c.cc, py.c.ts)
        .select_from(members)
        .join(Person, Person.id == members.c.person_id)
        .join(OrgUnit, OrgUnit.id == Person.unit_id)
        .outerjoin(py, py.c.person_id == members.c.person_id)
        .outerjoin(listed, listed.c.person_id == members.c.person_id)
        .where(or_(~trained, ~supervised))
        .order_by(OrgUnit.path, Person.name)
        .limit(limit)
    )
    if within is not None:
        stmt = stmt.where(OrgUnit.path.like(within.path + "%"))
    out = []
    no_training_rule = cohort.min_training_hours is None and cohort.min_courses is None
    no_supervision_rule = cohort.min_supervision_hours is None and cohort.min_supervision_sessions is None
    for person, unit_name, th, sh, ss, listed_n, cc, ts in db.session.execute(stmt):
        th, sh, ss = Decimal(th or 0), Decimal(sh or 0), int(ss or 0)
        done = int((listed_n if cohort.program_ids else cc) or 0)
        out.append(
            Missing(
                person=person,
                unit_name=unit_name,
                training_hours=th,
                supervision_hours=sh,
                lacks_training=max(cohort.min_training_hours - th, Decimal(0)) or None
                if cohort.min_training_hours is not None
                else None,
                lacks_supervision=max(cohort.min_supervision_hours - sh, Decimal(0)) or None
                if cohort.min_supervision_hours is not None
                else None,
                lacks_courses=max(cohort.min_courses - done, 0) or None if cohort.min_courses is not None else None,
                lacks_sessions=max(cohort.min_supervision_sessions - ss, 0) or None
                if cohort.min_supervision_sessions is not None
                else None,
                no_training=no_training_rule and not ts,
                no_supervision=no_supervision_rule and not ss,
            )
        )
    return out


def monthly_progress(cohort: Cohort, within: OrgUnit | None = None) -> list[dict]:
    """Return, for each month of the year, the cumulative share of members trained and supervised (hours rules)."""
    first, last = _months(cohort.year)
    sup_hours, _ = _sup_columns()
    members = members_of(cohort)
    if within is not None:
        members = (
            select(Person.id)
            .join(OrgUnit, OrgUnit.id == Person.unit_id)
            .where(Person.id.in_(members), OrgUnit.path.like(within.path + "%"))
        )
    cumulative = (
        select(
            PersonMonth.person_id,
            PersonMonth.month,
            func.sum(PersonMonth.training_hours)
            .over(partition_by=PersonMonth.person_id, order_by=PersonMonth.month)
            .label("th"),
            func.sum(sup_hours).over(partition_by=PersonMonth.person_id, order_by=PersonMonth.month).label("sh"),
            func.sum(PersonMonth.training_sessions)
            .over(partition_by=PersonMonth.person_id, order_by=PersonMonth.month)
            .label("ts"),
            func.sum(PersonMonth.supervision_sessions_confirmed + PersonMonth.supervision_sessions_unconfirmed)
            .over(partition_by=PersonMonth.person_id, order_by=PersonMonth.month)
            .label("ss"),
        )
        .where(PersonMonth.person_id.in_(members), PersonMonth.month.between(first, last))
        .subquery()
    )
    t_cond = (
        cumulative.c.th >= cohort.min_training_hours if cohort.min_training_hours is not None else cumulative.c.ts > 0
    )
    s_cond = (
        cumulative.c.sh >= cohort.min_supervision_hours
        if cohort.min_supervision_hours is not None
        else cumulative.c.ss > 0
    )
    reached = (
        select(
            cumulative.c.person_id,
            func.min(case((t_cond, cumulative.c.month))).label("trained_month"),
            func.min(case((s_cond, cumulative.c.month))).label("supervised_month"),
        )
        .group_by(cumulative.c.person_id)
        .subquery()
    )
    total = db.session.scalar(select(func.count()).select_from(members.subquery())) or 0
    t_by_month = dict(
        db.session.execute(
            select(reached.c.trained_month, func.count())
            .where(reached.c.trained_month.is_not(None))
            .group_by(reached.c.trained_month)
        ).all()
    )
    s_by_month = dict(
        db.session.execute(
            select(reached.c.supervised_month, func.count())
            .where(reached.c.supervised_month.is_not(None))
            .group_by(reached.c.supervised_month)
        ).all()
    )
    out, t_sum, s_sum = [], 0, 0
    for m in range(1, 13):
        key = cohort.year * 100 + m
        t_sum += t_by_month.get(key, 0)
        s_sum += s_by_month.get(key, 0)
        out.append(
            {
                "month": m,
                "trained": t_sum,
                "supervised": s_sum,
                "training_rate": _rate(t_sum, total),
                "supervision_rate": _rate(s_sum, total),
            }
        )
    return out


def today_local() -> date:
    """Today's date in the deployment's time zone."""
    from ..supervision.services import today

    return today()
