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

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

from flask import current_app
from sqlalchemy import Select, and_, case, func, literal, or_, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..ledger.models import PersonMonth, UnitPeople, UnitYear
from ..ledger.queries import Period, completions, counted_supervision
from ..org.models import OrgUnit
from ..org.queries import children_of, in_scope, subtree_ids, tree_roots
from ..people.models import Person
from ..supervision.models import SupervisionRecord
from ..training.models import SEATED, Course, CourseSession, Enrolment, Program
from .models import Cohort, CohortMember, CohortPerson

DIRECT = 0  # bucket of people placed directly on the unit, not in a child
VALUES_AT_MOST = 500  # a subtree of more units is read by a subquery, not by its ids as values


def _months(year: int) -> tuple[int, int]:
    return year * 100 + 1, year * 100 + 12


def person_year(year: int, people=None):
    """Subquery: per person, the year's training hours and sessions, courses completed, counted supervision.

    ``people`` (a select of person ids) keeps the aggregate to the people asked about.
    """
    first, last = _months(year)
    sup_hours, sup_sessions = counted_supervision()
    confirmed_hours, confirmed_sessions = counted_supervision(unconfirmed=False)
    any_hours, any_sessions = counted_supervision(unconfirmed=True)
    stmt = (
        select(
            PersonMonth.person_id.label("person_id"),
            func.sum(PersonMonth.training_hours).label("th"),
            func.sum(PersonMonth.training_sessions).label("ts"),
            func.sum(PersonMonth.courses_completed).label("cc"),
            func.sum(sup_hours).label("sh"),
            func.sum(sup_sessions).label("ss"),
            func.sum(confirmed_hours).label("sh_confirmed"),
            func.sum(confirmed_sessions).label("ss_confirmed"),
            func.sum(any_hours).label("sh_any"),
            func.sum(any_sessions).label("ss_any"),
        )
        .where(PersonMonth.month.between(first, last))
        .group_by(PersonMonth.person_id)
    )
    if people is not None:
        stmt = stmt.where(PersonMonth.person_id.in_(people))
    return stmt.subquery("py")


def unpassed_courses(cohort: Cohort, people=None):
    """Subquery: per member, the seated courses with assessments of the cohort's year (of its listed programs, if
    any) not passed. Only cohorts requiring a pass need it; the others get an empty stand-in."""
    if not getattr(cohort, "require_passing", False):
        return select(literal(0).label("person_id"), literal(0).label("n")).where(literal(False)).subquery("unpassed")
    stmt = (
        select(Enrolment.person_id, func.count().label("n"))
        .join(Course, Course.id == Enrolment.course_id)
        .join(Program, Program.id == Course.program_id)
        .where(
            Enrolment.person_id.in_(members_of(cohort) if people is None else people),
            Enrolment.status.in_(SEATED),
            Enrolment.passed.is_(False),
            Course.assessed,
            Program.year == cohort.year,
        )
        .group_by(Enrolment.person_id)
    )
    if cohort.program_ids:
        stmt = stmt.where(Program.id.in_(cohort.program_ids))
    return stmt.subquery("unpassed")


def trained_clause(cohort: Cohort, py, listed, unpassed=None):
    """SQL condition: the person meets the cohort's training rule (``unpassed``: :func:`unpassed_courses`)."""
    parts = []
    if getattr(cohort, "require_passing", False) and unpassed is not None:
        parts.append(func.coalesce(unpassed.c.n, 0) == 0)
    if cohort.min_training_hours is not None:
        parts.append(func.coalesce(py.c.th, 0) >= cohort.min_training_hours)
    if cohort.min_courses is not None:
        done = func.coalesce(listed.c.n, 0) if cohort.program_ids else func.coalesce(py.c.cc, 0)
        parts.append(done >= cohort.min_courses)
    if cohort.min_training_hours is None and cohort.min_courses is None:  # no rule: any attended session
        parts.append(func.coalesce(py.c.ts, 0) > 0)
    return and_(*parts)


def supervised_clause(cohort: Cohort, py, unconfirmed: bool | None = None):
    """SQL condition: the person meets the cohort's supervision rule.

    ``py`` is :func:`person_year`'s subquery; ``unconfirmed`` (whether unconfirmed supervision counts,
    default: as configured) picks its columns.
    """
    suffix = {None: "", False: "_confirmed", True: "_any"}[unconfirmed]
    sh, ss = py.c["sh" + suffix], py.c["ss" + suffix]
    parts = []
    if cohort.min_supervision_hours is not None:
        parts.append(func.coalesce(sh, 0) >= cohort.min_supervision_hours)
    if cohort.min_supervision_sessions is not None:
        parts.append(func.coalesce(ss, 0) >= cohort.min_supervision_sessions)
    if not parts:
        parts.append(func.coalesce(ss, 0) > 0)
    return and_(*parts)


def listed_completions(cohort: Cohort, people=None):
    """Subquery: per member, courses completed in the year from the cohort's listed programs.

    Only cohorts counting completed courses need it; the others get an empty
    stand-in, so the (heavier) completion rule is not evaluated for nothing.
    """
    if cohort.min_courses is None:
        return select(literal(0).label("person_id"), literal(0).label("n")).where(literal(False)).subquery("listed")
    done = completions(Period.year(cohort.year), members_of(cohort) if people is None else people).subquery()
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


def home_unit(viewer) -> OrgUnit | None:
    """Return the unit the viewer's dashboard opens on: their first unit, or the first root for the whole tree."""
    roots = tree_roots(viewer)
    return roots[0] if roots else None


def this_year() -> int:
    """Return the current year in the deployment's time zone."""
    return today_local().year


@dataclass
class CoverageView:
    """What the dashboard and its exports show: a unit's report for a year and the cohort looked at."""

    unit: OrgUnit
    year: int
    report: dict
    cohort: Cohort | None

    @property
    def figures(self) -> dict | None:
        """The report's figures of the cohort looked at."""
        return next((c for c in self.report["cohorts"] if self.cohort and c["id"] == self.cohort.id), None)


def coverage_view(unit: OrgUnit, year: int | None = None, cohort_id: int | None = None) -> CoverageView:
    """Return the unit's report (default: its busiest year), with cohorts from above, and the cohort asked for.

    A cohort the report does not list is not shown: the report's first one is, if any.
    """
    year = year or busiest_year(unit, this_year())
    report = unit_report(unit, year)
    ids = [c["id"] for c in report["cohorts"]]
    chosen = cohort_id if cohort_id in ids else (ids[0] if ids else None)
    return CoverageView(unit, year, report, db.session.get(Cohort, chosen) if chosen else None)


def cohort_progress(cohort: Cohort, seen_from: OrgUnit) -> list[dict]:
    """Return the cohort's monthly progress as seen from a unit: a cohort of a unit above counts its members there."""
    return monthly_progress(cohort, within=seen_from if cohort.unit_id != seen_from.id else None)


def cohort_for(viewer, cohort_id: int) -> Cohort | None:
    """Return the cohort if its unit lies within the viewer's scope, else None (the caller answers 404)."""
    return db.session.scalar(select(Cohort).where(Cohort.id == cohort_id, in_scope(viewer, Cohort.unit_id)))


def cohorts_for(viewer, within: OrgUnit | None = None, year: int | None = None) -> Select:
    """Select the cohorts of units in the viewer's scope (in ``within``'s subtree, of ``year``), newest year first."""
    stmt = (
        select(Cohort)
        .join(OrgUnit, OrgUnit.id == Cohort.unit_id)
        .where(in_scope(viewer, Cohort.unit_id))
        .order_by(Cohort.year.desc(), OrgUnit.path, Cohort.id)
        .options(selectinload(Cohort.unit))
    )
    if within is not None:
        stmt = stmt.where(OrgUnit.path.startswith(within.path))
    if year:
        stmt = stmt.where(Cohort.year == year)
    return stmt


def member_counts(cohort_ids: list[int]) -> dict[int, int]:
    """Return the number of stored members of each cohort (one statement)."""
    if not cohort_ids:
        return {}
    return dict(
        db.session.execute(
            select(CohortMember.cohort_id, func.count())
            .where(CohortMember.cohort_id.in_(cohort_ids))
            .group_by(CohortMember.cohort_id)
        ).all()
    )


def member_ids(cohort: Cohort) -> list[int]:
    """Return the ids of the cohort's stored members, in order."""
    return list(
        db.session.scalars(
            select(CohortMember.person_id).where(CohortMember.cohort_id == cohort.id).order_by(CohortMember.person_id)
        )
    )


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# The figures of a report row; the people figures come from one statement over people and their months.
PEOPLE_FIGURES = (
    "people",
    "training_person_times",
    "supervision_person_times",
    "people_trained",
    "people_supervised",
)
ACTIVITY_FIGURES = ("programs", "course_sessions", "supervision_sessions")
FIGURES = PEOPLE_FIGURES[:1] + ACTIVITY_FIGURES + PEOPLE_FIGURES[1:]  # in the order of PRODUCT.md §3


def unit_report(unit: OrgUnit, year: int) -> dict:
    """Return the report object of PRODUCT.md §3 for a unit and year, with its children.

    Its cohorts are those defined on the unit (all their members) and those
    defined on the units above it, counted over their members within this
    unit's subtree only: a street's report shows its district's cohort for the
    street's people, as the street's dashboard and export do.

    The subtree's units are read once (one indexed prefix match); every figure is then read per unit among
    them, or per child for a large subtree (:class:`_Subtree`), and added up here child by child: what a
    report costs grows with the units of its subtree, neither with the people under them nor with the tree
    around it.
    """
    inherited = cohorts_above(unit, year)
    tree = _Subtree(unit, children_of(unit))
    people_rows = _people_rows(year, tree)
    activity = _activity_rows(year, tree)
    cohorts = cohorts_of(unit, year)
    cohort_rows = _cohort_figures(cohorts, tree) if cohorts else {}
    if inherited:
        cohort_rows |= _cohort_figures(inherited, tree, within=True)
        cohorts = list(inherited) + cohorts

    def row(of: OrgUnit, keys: set[int], **extra) -> dict:
        figures = _figures(keys, people_rows, activity, cohorts, cohort_rows)
        return {"unit": {"code": of.code, "name": of.name, "kind": of.kind}, "year": year, **extra, **figures}

    report = row(unit, {DIRECT} | {c.id for c in tree.children})
    report["children"] = [row(c, {c.id}, id=c.id) for c in tree.children]
    return report


class _Subtree:
    """A unit's subtree, and how a statement keys its rows so that they add up child by child.

    ``buckets`` maps each unit of the subtree to its bucket: the child whose subtree holds it, DIRECT for the
    unit itself. A subtree of up to VALUES_AT_MOST units is named by its ids as values and rows are keyed by
    unit id (given a subquery, PostgreSQL read the year's records of every unit and kept the subtree's by a
    hash join). A larger one (a province's 2,227 units) is most of the rows anyway: there the rows are joined
    to their units and keyed by child in SQL (a CASE over the children's paths), which returns a row per child
    instead of one per unit (the province's report 31 → 41 ms on SQLite, 59 → 71 ms on PostgreSQL keyed by unit).
    """

    def __init__(self, unit: OrgUnit, children: list[OrgUnit]):
        self.unit, self.children = unit, children
        self.buckets = _buckets(unit, children)
        self.large = len(self.buckets) > VALUES_AT_MOST
        # the subtree's unit ids, as values or as a subquery
        self.ids = subtree_ids(unit) if self.large else list(self.buckets)
        self.units = OrgUnit.__table__.alias("u")
        self.in_subtree = self.units.c.path.like(unit.path + "%")

    def keyed(self, unit_id_column, *columns, within: bool = True, group_by=()):
        """Select (key, *columns) grouped by key (and ``group_by``); only rows of the subtree when ``within``.

        A key is a unit id or a bucket, and :func:`_by_bucket` takes either (a child's bucket is itself).
        """
        table = unit_id_column.class_
        if not self.large:
            stmt = select(unit_id_column, *columns).select_from(table)
            if within:
                stmt = stmt.where(unit_id_column.in_(self.ids))
            return stmt.group_by(*group_by, unit_id_column)
        key = _child_of(self.units, self.children)
        stmt = select(key, *columns).select_from(table).join(self.units, self.units.c.id == unit_id_column)
        if within:
            stmt = stmt.where(self.in_subtree)
        return stmt.group_by(*group_by, key)


def _buckets(unit: OrgUnit, children: list[OrgUnit]) -> dict[int, int]:
    """{unit id: the child of ``unit`` whose subtree holds it (DIRECT for the unit itself)}, for its subtree.

    One indexed prefix match; the child is named in SQL (parsing a province's 2,227 paths here cost 4 ms more).
    """
    units = OrgUnit.__table__.alias("u")
    return dict(
        db.session.connection()
        .execute(select(units.c.id, _child_of(units, children)).where(units.c.path.like(unit.path + "%")))
        .all()
    )


def _child_of(units, children: list[OrgUnit]):
    """SQL: the child of the unit whose subtree holds the row of ``units`` (DIRECT for the unit itself)."""
    if not children:
        return literal(DIRECT)
    return case(*((units.c.path.like(c.path + "%"), c.id) for c in children), else_=DIRECT)


def _by_bucket(buckets: dict[int, int], rows) -> dict[int, list[int]]:
    """Add up rows of (unit id or bucket, figures…) into {bucket: [sums…]}; a unit outside the subtree is DIRECT."""
    out: dict[int, list[int]] = {}
    for key, *figures in rows:
        sums = out.setdefault(buckets.get(key, DIRECT), [0] * len(figures))
        for i, n in enumerate(figures):
            sums[i] += int(n or 0)
    return out


def _people_rows(year: int, tree: _Subtree) -> list:
    """Per bucket: active people, person-times and people trained or supervised in the year.

    Two statements over the units' maintained figures (:mod:`app.ledger.unit_figures`): their cost
    grows with the units of the subtree, not with the people under them.
    """
    unconfirmed = current_app.config["LMS_COUNT_UNCONFIRMED_SUPERVISION"]
    supervision_times = UnitYear.supervision_person_times + (
        UnitYear.supervision_person_times_unconfirmed if unconfirmed else 0
    )
    supervised = UnitYear.people_supervised_any if unconfirmed else UnitYear.people_supervised
    figures = (UnitYear.training_person_times, supervision_times, UnitYear.people_trained, supervised)
    years = _by_bucket(
        tree.buckets,
        db.session.execute(tree.keyed(UnitYear.unit_id, *map(func.sum, figures)).where(UnitYear.year == year)),
    )
    people = _by_bucket(tree.buckets, db.session.execute(tree.keyed(UnitPeople.unit_id, func.sum(UnitPeople.people))))
    rows = []
    for b in years.keys() | people.keys():
        times, supervision, trained, supervised_n = years.get(b, (0, 0, 0, 0))
        rows.append(
            SimpleNamespace(
                bucket=b,
                people=people.get(b, [0])[0],
                training_person_times=times,
                supervision_person_times=supervision,
                people_trained=trained,
                people_supervised=supervised_n,
            )
        )
    return rows


def _activity_rows(year: int, tree: _Subtree) -> dict[str, list]:
    """Per bucket: programs, course sessions and supervision sessions held in the year (three statements).

    Counted per unit of the subtree, by its ids, and added up by child here, whatever the subtree's size: the
    indexes on the units' programs, courses and records are used, so a district's figures do not scan the
    city's sessions and records (16 and 21 ms of a district's report at 100,000 people before), and the
    province's count a unit's sessions once instead of testing each session's unit against every child
    (its course sessions 27 ms keyed by child, against 5 ms by unit, on SQLite at 100,000 people).
    """
    period = Period.year(year)
    first_day, end_day = period.dates
    programs = (
        select(Program.unit_id, func.count())
        .where(Program.unit_id.in_(tree.ids), Program.year == year)
        .group_by(Program.unit_id)
    )
    sessions = (
        select(Program.unit_id, func.count(CourseSession.id))
        .select_from(Program)
        .join(Course, Course.program_id == Program.id)
        .join(CourseSession, CourseSession.course_id == Course.id)
        .where(
            Program.unit_id.in_(tree.ids),
            CourseSession.starts_at >= period.start,
            CourseSession.starts_at < period.end,
            CourseSession.cancelled_at.is_(None),
        )
        .group_by(Program.unit_id)
    )
    supervision = (
        select(SupervisionRecord.unit_id, func.count())
        .where(
            SupervisionRecord.unit_id.in_(tree.ids),
            SupervisionRecord.held_on >= first_day,
            SupervisionRecord.held_on < end_day,
            SupervisionRecord.voided_at.is_(None),
        )
        .group_by(SupervisionRecord.unit_id)
    )
    return {
        name: [(b, n) for b, (n,) in _by_bucket(tree.buckets, db.session.execute(stmt)).items()]
        for name, stmt in zip(ACTIVITY_FIGURES, (programs, sessions, supervision), strict=True)
    }


def _figures(keys: set[int], people_rows: list, activity: dict[str, list], cohorts: list[Cohort], cohort_rows) -> dict:
    """Add up the rows of the buckets in ``keys``: one report row, with its cohorts."""
    out = dict.fromkeys(FIGURES, 0)
    for row in people_rows:
        if row.bucket in keys:
            for name in PEOPLE_FIGURES:
                out[name] += int(getattr(row, name))
    for name, rows in activity.items():
        out[name] = sum(int(n) for b, n in rows if b in keys)
    out["cohorts"] = [_cohort_row(cohort, cohort_rows.get(cohort.id, {}), keys) for cohort in cohorts]
    return out


def _cohort_row(cohort: Cohort, by_bucket: dict[int, tuple[int, int, int]], keys: set[int]) -> dict:
    """A cohort's members, trained and supervised within the buckets in ``keys``, with rates and targets."""
    members = trained = supervised = 0
    for b, (m, t, s) in by_bucket.items():
        if b in keys:
            members, trained, supervised = members + m, trained + t, supervised + s
    return {
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


Standings = dict[int, dict[int, tuple[int, int, int]]]  # {cohort: {bucket: (members, trained, supervised)}}


def _cohort_figures(cohorts: list[Cohort], tree: _Subtree, within: bool = False) -> Standings:
    """Return {cohort: {bucket: (members, trained, supervised)}}: one statement over the members' kept standings.

    Members of a frozen cohort who moved out of the unit's subtree stay in the
    cohort's total (bucket DIRECT) unless ``within`` restricts them to the subtree.
    """
    out: Standings = {c.id: {} for c in cohorts}
    stmt = tree.keyed(
        CohortPerson.unit_id,
        CohortPerson.cohort_id,
        func.count(),
        func.count(case((CohortPerson.trained.is_(True), 1))),
        func.count(case((_counted()[0].is_(True), 1))),
        within=within,
        group_by=(CohortPerson.cohort_id,),
    ).where(CohortPerson.cohort_id.in_(list(out)))
    for key, cohort_id, m, t, s in db.session.execute(stmt):
        b = tree.buckets.get(key, DIRECT)
        before = out[cohort_id].get(b, (0, 0, 0))
        out[cohort_id][b] = (before[0] + int(m), before[1] + int(t), before[2] + int(s))
    return out


def _counted():
    """The kept standing's (supervised flag, month the supervision rule was reached), counting unconfirmed
    supervision as configured."""
    if current_app.config["LMS_COUNT_UNCONFIRMED_SUPERVISION"]:
        return CohortPerson.supervised_any, CohortPerson.supervised_any_month
    return CohortPerson.supervised, CohortPerson.supervised_month


def _standings(cohort: Cohort, within: OrgUnit | None):
    """Select from the cohort's kept standings, with each member's unit (only those now in ``within``)."""
    stmt = (
        select()
        .select_from(CohortPerson)
        .join(OrgUnit, OrgUnit.id == CohortPerson.unit_id)
        .where(CohortPerson.cohort_id == cohort.id)
    )
    return stmt if within is None else stmt.where(OrgUnit.path.like(within.path + "%"))


def assessment_rates(cohort: Cohort, within: OrgUnit | None) -> dict[str, int]:
    """How the cohort's members (now in ``within``) did in the assessments of the year's courses they hold a
    seat in (of the cohort's listed programs, if it lists any): ``assessed`` members with such a course,
    ``passed`` those who passed every one of them.

    Read when the dashboard opens (not kept on write like the standings): the year's assessed courses
    first (none: nothing more to read), then each member's seats in them. Asked inside the members'
    statement, "is this course assessed" was answered once per enrolment: 16 of a 4,000-member
    dashboard's 53 ms on SQLite, with no assessed course at all.
    """
    courses = (
        select(Course.id)
        .join(Program, Program.id == Course.program_id)
        .where(Program.year == cohort.year, Course.assessed)
    )
    if cohort.program_ids:
        courses = courses.where(Program.id.in_(cohort.program_ids))
    course_ids = list(db.session.scalars(courses))
    if not course_ids:
        return {"assessed": 0, "passed": 0}
    per_person = (
        _standings(cohort, within)
        .join(Enrolment, Enrolment.person_id == CohortPerson.person_id)
        .where(Enrolment.course_id.in_(course_ids), Enrolment.status.in_(SEATED))
        .add_columns(
            CohortPerson.person_id,
            func.min(case((Enrolment.passed, 1), else_=0)).label("all_passed"),
        )
        .group_by(CohortPerson.person_id)
        .subquery()
    )
    assessed, passed = db.session.execute(
        select(func.count(), func.coalesce(func.sum(per_person.c.all_passed), 0)).select_from(per_person)
    ).one()
    return {"assessed": int(assessed), "passed": int(passed)}


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
    not_passed: list = field(default_factory=list)  # (course title, weighted score or None) not passed this year


def members_of(cohort: Cohort, among: list[int] | None = None, session=None):
    """Select the ids (``person_id``) of the cohort's members (only those ``among`` these people, if given).

    A frozen cohort, or one of listed people only, has its stored member list.
    An unfrozen cohort follows its rule when read: active people of the unit's
    subtree (of the category), plus the additions, minus the exclusions — so
    people joining or leaving the unit, or made inactive, count or stop counting
    until the list is frozen.
    """
    if cohort.frozen_at is not None or not cohort.include_rule:
        stmt = select(CohortMember.person_id.label("person_id")).where(CohortMember.cohort_id == cohort.id)
        return stmt if among is None else stmt.where(CohortMember.person_id.in_(among))
    # The subtree's unit ids as values, not a subquery: PostgreSQL then reads the people of those units by
    # index; given the subquery it scanned every person of the database (100 ms at 100,000, 4,000 of them members).
    if among is None:
        units = list((session or db.session).scalars(subtree_ids(cohort.unit)))
    else:  # a few people: their units are looked up in the subtree by the same statement
        units = subtree_ids(cohort.unit)
    rule = and_(Person.unit_id.in_(units), Person.active.is_(True))
    if cohort.category:
        rule = and_(rule, Person.category == cohort.category)
    added = [int(i) for i in cohort.added_ids or []]
    stmt = select(Person.id.label("person_id")).where(or_(rule, Person.id.in_(added)) if added else rule)
    excluded = [int(i) for i in cohort.excluded_ids or []]
    if excluded:
        stmt = stmt.where(Person.id.not_in(excluded))
    return stmt if among is None else stmt.where(Person.id.in_(among))


@dataclass
class MissingPage:
    """A page of the people still missing, as the pager macro reads it."""

    items: list[Missing]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


def missing_people(cohort: Cohort, within: OrgUnit | None = None, limit: int = 500) -> list[Missing]:
    """Return the cohort's members (now in ``within``'s subtree) not yet trained or supervised, and what each lacks."""
    return _missing(cohort, within, limit)[0]


def missing_page(cohort: Cohort, within: OrgUnit | None, page: int, per_page: int = 100) -> MissingPage:
    """Return one page of :func:`missing_people`, with how many are missing in all (one statement)."""
    items, total = _missing(cohort, within, per_page, (page - 1) * per_page)
    if not items and page > 1:  # past the end: the total comes from the first row
        total = _missing(cohort, within, 1)[1]
    return MissingPage(items, total, page, per_page)


def _missing(cohort: Cohort, within: OrgUnit | None, limit: int, offset: int = 0) -> tuple[list[Missing], int]:
    # Who is missing comes from the kept standings; what each lacks is summed for the page's people only.
    page = db.session.execute(
        _standings(cohort, within)
        .join(Person, Person.id == CohortPerson.person_id)
        .add_columns(Person, OrgUnit.name, func.count().over())
        .where(or_(CohortPerson.trained.is_(False), _counted()[0].is_(False)))
        .order_by(OrgUnit.path, Person.name, Person.id)
        .limit(limit)
        .offset(offset)
    ).all()
    ids = [person.id for person, _name, _n in page]
    py = person_year(cohort.year, ids)
    listed = listed_completions(cohort, ids)
    sums = (
        {
            pid: rest
            for pid, *rest in db.session.execute(
                select(Person.id, py.c.th, py.c.sh, py.c.ss, listed.c.n, py.c.cc, py.c.ts)
                .outerjoin(py, py.c.person_id == Person.id)
                .outerjoin(listed, listed.c.person_id == Person.id)
                .where(Person.id.in_(ids))
            )
        }
        if ids
        else {}
    )
    rows = [(person, unit_name, *sums[person.id], of_all) for person, unit_name, of_all in page]
    unpassed = _not_passed(cohort, ids)
    out, total = [], 0
    no_training_rule = cohort.min_training_hours is None and cohort.min_courses is None
    no_supervision_rule = cohort.min_supervision_hours is None and cohort.min_supervision_sessions is None
    for person, unit_name, th, sh, ss, listed_n, cc, ts, of_all in rows:
        total = of_all
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
                not_passed=unpassed.get(person.id, []),
            )
        )
    return out, total


def _not_passed(cohort: Cohort, ids: list[int]) -> dict[int, list[tuple[str, int | None]]]:
    """{person: [(course title, weighted score or None)]}: the year's assessed courses (of the cohort's listed
    programs, if any) these people hold a seat in and have not passed (one statement)."""
    if not ids:
        return {}
    stmt = (
        select(Enrolment.person_id, Course.title, Enrolment.score)
        .join(Course, Course.id == Enrolment.course_id)
        .join(Program, Program.id == Course.program_id)
        .where(
            Enrolment.person_id.in_(ids),
            Enrolment.status.in_(SEATED),
            Enrolment.passed.is_(False),
            Course.assessed,
            Program.year == cohort.year,
        )
        .order_by(Enrolment.person_id, Course.code)
    )
    if cohort.program_ids:
        stmt = stmt.where(Program.id.in_(cohort.program_ids))
    out: dict[int, list[tuple[str, int | None]]] = {}
    for pid, title, score in db.session.execute(stmt):
        out.setdefault(pid, []).append((title, score))
    return out


def monthly_progress(cohort: Cohort, within: OrgUnit | None = None) -> list[dict]:
    """Return, for each month of the year, the cumulative share of members trained and supervised (hours rules)."""
    # One statement over the kept standings: members by the months they reached each rule (NULL: not yet).
    total, trained_by_month, supervised_by_month = 0, defaultdict(int), defaultdict(int)
    _flag, reached = _counted()
    for trained_month, supervised_month, n in db.session.execute(
        _standings(cohort, within)
        .add_columns(CohortPerson.trained_month, reached, func.count())
        .group_by(CohortPerson.trained_month, reached)
    ):
        total += n
        trained_by_month[trained_month] += n
        supervised_by_month[supervised_month] += n
    out, trained, supervised = [], 0, 0
    for m in range(1, 13):
        key = cohort.year * 100 + m
        trained += trained_by_month.get(key, 0)
        supervised += supervised_by_month.get(key, 0)
        out.append(
            {
                "month": m,
                "trained": trained,
                "supervised": supervised,
                "training_rate": _rate(trained, total),
                "supervision_rate": _rate(supervised, total),
            }
        )
    return out


def months_reached(cohort: Cohort, members):
    """Subquery: per member, the first month (yyyymm) the year's running totals met each rule, or NULL.

    ``trained_month`` by the training hours rule (any attended session without one);
    ``supervised_confirmed_month`` and ``supervised_any_month`` by the supervision hours rule (any
    supervision without one), counting confirmed supervision only, or unconfirmed supervision too.
    """
    first, last = _months(cohort.year)
    confirmed_hours, confirmed_sessions = counted_supervision(unconfirmed=False)
    any_hours, any_sessions = counted_supervision(unconfirmed=True)

    def running(column):
        return func.sum(column).over(partition_by=PersonMonth.person_id, order_by=PersonMonth.month)

    cumulative = (
        select(
            PersonMonth.person_id,
            PersonMonth.month,
            running(PersonMonth.training_hours).label("th"),
            running(PersonMonth.training_sessions).label("ts"),
            running(confirmed_hours).label("sh_confirmed"),
            running(confirmed_sessions).label("ss_confirmed"),
            running(any_hours).label("sh_any"),
            running(any_sessions).label("ss_any"),
        )
        .where(PersonMonth.person_id.in_(members), PersonMonth.month.between(first, last))
        .subquery()
    )
    c = cumulative.c
    trained = c.th >= cohort.min_training_hours if cohort.min_training_hours is not None else c.ts > 0

    def supervised(sh, ss):
        return sh >= cohort.min_supervision_hours if cohort.min_supervision_hours is not None else ss > 0

    return (
        select(
            c.person_id,
            func.min(case((trained, c.month))).label("trained_month"),
            func.min(case((supervised(c.sh_confirmed, c.ss_confirmed), c.month))).label("supervised_confirmed_month"),
            func.min(case((supervised(c.sh_any, c.ss_any), c.month))).label("supervised_any_month"),
        )
        .group_by(c.person_id)
        .subquery()
    )


def today_local() -> date:
    """Today's date in the deployment's time zone."""
    from ..supervision.services import today

    return today()
