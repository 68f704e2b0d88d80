"""A deterministic synthetic city for benchmarks: ``lms generate --people N --seed S``.

For N = 20,000: 5 districts × 8 streets × 10 communities, about 1,000,000
attendance records and 100,000 supervision credits, loaded in bulk, then the
ledger rollups computed once. Codes start with 99 so they never collide with
real divisions.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import BigInteger, String, cast, func, insert, literal, null, select, text, update
from sqlalchemy.exc import DBAPIError

from ..auth.services import create_user
from ..core.bulk import indexes_deferred, load
from ..core.db import SKIP_REFERENCE_CHECKS, UTCDateTime, utcnow
from ..coverage.services import create_cohort
from ..credentials.models import CredentialType
from ..extensions import db
from ..ledger.models import PersonMonth
from ..ledger.rollups import refresh_all
from ..org.models import OrgUnit
from ..org.services import create_unit
from ..people.models import Person
from ..people.services import id_number_columns
from ..supervision.models import SupervisionCredit, SupervisionRecord
from ..training.models import Attendance, Course, CourseSession, Enrolment, Program
from .names import IdNumbers, person_name, phone

PER_COMMUNITY = 50
COURSES_PER_PERSON = 6
SESSIONS_PER_COURSE = 10
CREDITS_PER_PERSON = 5
GROUP_SIZE = 8
YEAR = 2024
CHUNK = 10000


class GenerateError(RuntimeError):
    """The synthetic city cannot be generated here."""


def analyze() -> None:
    """Refresh PostgreSQL's planner statistics after a bulk load (autovacuum would, later)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("ANALYZE"))


def _skip_reference_checks() -> None:
    """Skip the per-row reference checks in this transaction where allowed (as pg_restore does).

    Every reference the generator writes points at a row it wrote before, so the checks find nothing;
    they cost about half the load on PostgreSQL and a fifth on SQLite. PostgreSQL skips them for a role
    that may set the replica role; SQLite when the generator starts the transaction (its setting is read
    only between transactions). Otherwise the load runs with them.
    """
    if db.session.get_bind().dialect.name == "sqlite":
        if db.session().get_transaction() is None:
            db.session.connection(execution_options=SKIP_REFERENCE_CHECKS)
        return
    connection = db.session.connection()
    try:
        with connection.begin_nested():
            connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
    except DBAPIError:
        pass


def _bulk(model, rows: list[dict]) -> None:
    """Load the rows in bulk (COPY on PostgreSQL, executemany on SQLite)."""
    if rows:
        load(model.__table__, rows, list(rows[0]))


def _ids(model, after: int) -> list[int]:
    return list(db.session.scalars(select(model.id).where(model.id > after).order_by(model.id)))


def _max_id(model) -> int:
    return db.session.scalar(select(func.coalesce(func.max(model.id), 0)))


def _create_units(people: int):
    """Create province → city → districts → streets → communities; return (province, districts, community ids).

    The province, city and districts through the service; the streets and communities (about 2,000 at
    100,000 people) in bulk, a level at a time: their rows, then their paths from their parents' in one
    statement.
    """
    communities_needed = max(1, round(people / PER_COMMUNITY))
    districts_n = max(1, round(communities_needed / 80))
    province = create_unit(name="基准省", kind="province", parent=None, code="990000")
    city = create_unit(name="基准市", kind="city", parent=province, code="990100")
    districts = [
        create_unit(name=f"基准{d + 1}区", kind="district", parent=city, code=f"9901{d + 1:02d}")
        for d in range(districts_n)
    ]
    per_district = max(1, communities_needed // districts_n)
    streets_n = max(1, per_district // 10)
    streets = _bulk_units(
        [
            (district.id, district.depth + 1, f"第{s + 1}街道", "street", f"{district.code}{s + 1:03d}")
            for district in districts
            for s in range(streets_n)
        ]
    )
    communities = _bulk_units(
        [
            (street_id, depth + 1, f"第{c + 1}社区", "community", f"{code}{c + 1:03d}")
            for street_id, depth, code in streets
            for c in range(max(1, per_district // streets_n))
        ]
    )
    return province, districts, [unit_id for unit_id, _depth, _code in communities]


def _bulk_units(specs: list[tuple[int, int, str, str, str]]) -> list[tuple[int, int, str]]:
    """Insert units given as (parent id, depth, name, kind, code) and set their paths; return (id, depth, code)."""
    first = _max_id(OrgUnit)
    _bulk(
        OrgUnit,
        [
            {"code": code, "name": name, "kind": kind, "parent_id": parent_id, "path": "", "depth": depth}
            for parent_id, depth, name, kind, code in specs
        ],
    )
    parent = OrgUnit.__table__.alias("parent")
    db.session.execute(
        update(OrgUnit)
        .where(OrgUnit.id > first)
        .values(
            path=select(parent.c.path).where(parent.c.id == OrgUnit.parent_id).scalar_subquery()
            + cast(OrgUnit.id, String)
            + "/"
        )
        .execution_options(synchronize_session=False)
    )
    made = select(OrgUnit.id, OrgUnit.depth, OrgUnit.code).where(OrgUnit.id > first).order_by(OrgUnit.id)
    return [tuple(row) for row in db.session.execute(made)]


def _person_rows(rng: random.Random, people: int, communities: list[int], now) -> list[dict]:
    """Build the rows of ``people`` synthetic people, spread round-robin over the communities (their ids)."""
    ids = IdNumbers(rng)
    rows = []
    for i in range(people):
        rows.append(
            {
                "unit_id": communities[i % len(communities)],
                "name": person_name(rng),
                "phone": phone(rng),
                **id_number_columns(ids.next("990101")),
                "category": "community_worker" if i % 10 else "project_social_worker",
                "level": rng.choices(("none", "assistant", "intermediate"), (50, 40, 10))[0],
                "titles": [],
                "service_areas": [],
                "active": True,
                "certified_on": date(2020 + i % 4, 1 + i % 12, 1) if i % 3 == 0 else None,
                "created_at": now,
                "updated_at": now,
            }
        )
    return rows


def _people_by_district(districts: list, person_ids: list[int], rows: list[dict]) -> dict[int, list[int]]:
    """Group the new people's ids by the district holding their community."""
    by_district: dict[int, list[int]] = {d.id: [] for d in districts}
    unit_district = {}
    for d in districts:
        for u in db.session.scalars(select(OrgUnit.id).where(OrgUnit.path.like(d.path + "%"))):
            unit_district[u] = d.id
    for pid, row in zip(person_ids, rows, strict=True):
        by_district[unit_district[row["unit_id"]]].append(pid)
    return by_district


def _add_programs(district, n_courses: int, now) -> list[int]:
    """Insert a district's programs (one per four courses); return their ids."""
    programs = []
    for p in range(max(1, n_courses // 4)):
        programs.append(
            {
                "title": f"{district.name}{YEAR}年第{p + 1}期轮训",
                "kind": ("camp", "class", "workshop", "salon", "forum")[p % 5],
                "tier": "骨干",
                "unit_id": district.id,
                "year": YEAR,
                "created_at": now,
            }
        )
    first_program = _max_id(Program)
    _bulk(Program, programs)
    return _ids(Program, first_program)


def _add_courses(program_ids: list[int], n_courses: int, now) -> list[int]:
    """Insert ``n_courses`` courses spread over the programs; return their ids."""
    courses = [
        {
            "program_id": program_ids[c % len(program_ids)],
            "code": f"G{c + 1:04d}",
            "title": f"专题课程{c + 1}",
            "hours": Decimal("20"),
            "capacity": None,
            "seats_taken": 0,
            "waitlist_seq": 0,
            "policy": "coordinator",
            "min_attendance": Decimal("0.8"),
            "created_at": now,
        }
        for c in range(n_courses)
    ]
    before = _max_id(Course)
    _bulk(Course, courses)
    return _ids(Course, before)


def _add_sessions(course_ids: list[int]) -> dict[int, list[int]]:
    """Insert SESSIONS_PER_COURSE sessions for each course; return the session ids of each course."""
    sessions = []
    for c, course_id in enumerate(course_ids):
        start = datetime(YEAR, 1 + c % 11, 1 + c % 20, 1, tzinfo=UTC)
        for k in range(SESSIONS_PER_COURSE):
            begins = start + timedelta(days=2 * k)
            sessions.append(
                {
                    "course_id": course_id,
                    "starts_at": begins,
                    "ends_at": begins + timedelta(hours=2),
                    "hours": Decimal("2"),
                    "mode": "onsite" if k % 3 else "online",
                    "place": "培训中心",
                }
            )
    before = _max_id(CourseSession)
    _bulk(CourseSession, sessions)
    session_ids = _ids(CourseSession, before)
    return {
        cid: session_ids[i * SESSIONS_PER_COURSE : (i + 1) * SESSIONS_PER_COURSE] for i, cid in enumerate(course_ids)
    }


def _enrol_and_attend(
    rng: random.Random, members: list[int], sessions_of: dict[int, list[int]], now
) -> tuple[int, int]:
    """Enrol a random roster in each course and mark its attendance; return (enrolments, attendance).

    Attendance is written by the database in one statement: each person has a diligence, each
    (person, session) a draw, both from integer hashes of the ids — deterministic on either
    database, and millions of rows without a Python loop.
    """
    enrol_rows = [
        {"course_id": course_id, "person_id": pid, "status": "enrolled", "enrolled_at": now, "updated_at": now}
        for course_id in sessions_of
        for pid in rng.sample(members, min(len(members), 250))
    ]
    _bulk(Enrolment, enrol_rows)
    person = cast(Enrolment.person_id, BigInteger)
    diligence = (person * 7919) % 1000  # 0…999
    draw = (person * 104729 + cast(CourseSession.id, BigInteger) * 1299709) % 1000
    columns = ["session_id", "person_id", "status", "reason", "method", "marked_by_id", "marked_at"]
    attended = db.session.execute(
        insert(Attendance).from_select(
            columns,
            select(
                CourseSession.id,
                Enrolment.person_id,
                literal("present"),
                null(),
                literal("import"),
                null(),
                literal(now, UTCDateTime()),
            )
            .join(Enrolment, Enrolment.course_id == CourseSession.course_id)
            .where(Enrolment.course_id.in_(list(sessions_of)), draw * 1000 < 630000 + diligence * 400),
        ),
        execution_options={"preserve_rowcount": True},  # an INSERT's rowcount is kept only when asked for
    ).rowcount
    return len(enrol_rows), attended


def _train_district(rng: random.Random, district, members: list[int], now) -> tuple[int, int, int]:
    """Add a district's programs, courses and sessions, enrol and attend; return (courses, enrolments, attendance)."""
    n_courses = max(1, len(members) * COURSES_PER_PERSON // 250)
    program_ids = _add_programs(district, n_courses, now)
    course_ids = _add_courses(program_ids, n_courses, now)
    sessions_of = _add_sessions(course_ids)
    enrolments, attendance = _enrol_and_attend(rng, members, sessions_of, now)
    return len(course_ids), enrolments, attendance


def _supervision_records(
    rng: random.Random, people: int, person_ids: list[int], rows: list[dict], now
) -> tuple[list[dict], list[list[int]]]:
    """Plan the group supervision records and, for each, the group it credits."""
    # Supervisors spread evenly over the communities (person i works in community i mod C), so each district's
    # share of the records follows its communities: a plain stride of people // 200 kept landing on the same
    # four communities, and the first district held a quarter of the city's records at every size.
    communities = len({row["unit_id"] for row in rows})
    n = min(200, len(person_ids))
    supervisors = [person_ids[k * communities // n if communities >= n else k] for k in range(n)]
    records, credits_plan = [], []
    n_records = people * CREDITS_PER_PERSON // GROUP_SIZE
    for r in range(n_records):
        sup = supervisors[r % len(supervisors)]
        group = rng.sample(person_ids, GROUP_SIZE)
        if sup in group:
            group.remove(sup)
        records.append(
            {
                "supervisor_id": sup,
                "unit_id": rows[sup - person_ids[0]]["unit_id"],
                "recorded_by_id": None,
                "format": "group",
                "mode": "onsite" if r % 2 else "online",
                "kind": "overall",
                "held_on": date(YEAR, 1 + r % 12, 1 + r % 28),
                "hours": Decimal("2"),
                "topic": "团体督导",
                "functions": ["educational"],
                "created_at": now,
            }
        )
        credits_plan.append(group)
    return records, credits_plan


def _add_supervision(rng: random.Random, people: int, person_ids: list[int], rows: list[dict], now) -> tuple[int, int]:
    """Insert groups of 8, about 5 credits per person; return (records, credits)."""
    first_record = _max_id(SupervisionRecord)
    records, credits_plan = _supervision_records(rng, people, person_ids, rows, now)
    _bulk(SupervisionRecord, records)
    record_ids = _ids(SupervisionRecord, first_record)
    credit_rows = [
        {
            "record_id": rid,
            "person_id": pid,
            "hours": Decimal("2"),
            "status": "confirmed" if (rid + pid) % 7 else "unconfirmed",
            "reason": None,
            "responded_at": None,
        }
        for rid, group in zip(record_ids, credits_plan, strict=True)
        for pid in group
    ]
    _bulk(SupervisionCredit, credit_rows)
    return len(record_ids), len(credit_rows)


def _add_cohorts(districts: list) -> None:
    """Create each district's all-worker training cohort for YEAR."""
    for d in districts:
        create_cohort(
            data={
                "name": f"{YEAR}年{d.name}社区工作者全员轮训",
                "year": YEAR,
                "include_rule": True,
                "category": "community_worker",
                "min_training_hours": 24,
                "min_supervision_hours": 4,
                "training_target": 1,
                "supervision_target": 1,
            },
            unit=d,
            actor=None,
        )


BENCH_PASSWORD = "bench-password-2024"  # noqa: S105 - the synthetic city's logins, for benchmarks


def _add_bench_users(province, district, trainee_id: int) -> None:
    """Create the benchmark's administrator, coordinator and trainee logins."""
    create_user(username="bench-admin", password=BENCH_PASSWORD, role="admin", unit=province)
    create_user(username="bench-coordinator", password=BENCH_PASSWORD, role="coordinator", unit=district)
    trainee = db.session.get(Person, trainee_id)
    create_user(username="bench-trainee", password=BENCH_PASSWORD, role="trainee", unit=trainee.unit, person=trainee)


def _add_bench_credential(district) -> None:
    """A transition certificate of the first district, counting the year's hours (its page is benchmarked)."""
    db.session.add(
        CredentialType(
            name="bench-transition",
            title="项目社工转岗证书",
            title_en="Project social worker transition certificate",
            language="zh_CN",
            design="transition-zh",
            issuer_unit=district,
            issuer_name=f"{district.name}民政局",
            issuer_code="BNCH",
            min_training_hours=Decimal("12"),
            min_supervision_hours=Decimal("1.5"),
            period_year=YEAR,
            transition_from="community_worker",
            transition_to="project_social_worker",
        )
    )


def generate_city(people: int, seed: int = 1, progress=None) -> dict[str, int]:
    """Add the synthetic city of about ``people`` people (flushes; the caller commits)."""
    if people < 100 or people > 200000:
        raise GenerateError("--people must be between 100 and 200,000")
    _skip_reference_checks()  # first: on SQLite, only a transaction not yet begun can skip them
    if db.session.scalar(select(OrgUnit.id).where(OrgUnit.code == "990000")):
        raise GenerateError("the synthetic city is already there (units 99…)")
    rng = random.Random(seed)
    step = progress or (lambda message: None)
    if db.session.get_bind().dialect.name == "sqlite":
        # Millions of index entries land in random order: a page cache of 256 MB instead of 2 MB keeps
        # them in memory until commit (3× faster at 100,000 people). For this connection only.
        db.session.connection().exec_driver_sql("PRAGMA cache_size=-262144")

    province, districts, communities = _create_units(people)
    step(f"units: {len(districts)} districts, {len(communities)} communities")

    now = utcnow()
    first_person = _max_id(Person)
    rows = _person_rows(rng, people, communities, now)
    # The big loads go into tables without their indexes, built once after each (PostgreSQL): generation
    # at 100,000 people takes 45 s instead of 65 s. The same rows, with the same ids, either way.
    with indexes_deferred(Person.__table__):
        _bulk(Person, rows)
    person_ids = _ids(Person, first_person)
    by_district = _people_by_district(districts, person_ids, rows)
    step(f"people: {len(person_ids)}")

    # Training: per district, courses of 10 sessions; each person in ~6 courses.
    first_course, first_session = _max_id(Course), _max_id(CourseSession)
    attendance = enrolments = 0
    # Not enrolments': the attendance INSERT … SELECT reads them, and its plan without their indexes numbers
    # the attendance rows in another order.
    with indexes_deferred(Attendance.__table__):
        for d in districts:
            n_courses, enrolled, attended = _train_district(rng, d, by_district[d.id], now)
            enrolments += enrolled
            attendance += attended
            step(f"{d.name}: {n_courses} courses, attendance so far {attendance}")

    with indexes_deferred(SupervisionCredit.__table__):
        n_records, n_credits = _add_supervision(rng, people, person_ids, rows, now)
    step(f"supervision: {n_records} records, {n_credits} credits")

    with indexes_deferred(PersonMonth.__table__):  # refresh_all rewrites every row with one INSERT … SELECT
        refresh_all()
    step("ledger rollups computed")
    # Statistics first: each cohort's standings are computed as it is created, and without statistics of the
    # tables just loaded PostgreSQL planned them as nested scans (15 s of 16 at 2,000 people).
    analyze()
    _add_cohorts(districts)
    analyze()
    _add_bench_users(province, districts[0], by_district[districts[0].id][0])
    _add_bench_credential(districts[0])
    db.session.flush()
    return {
        "districts": len(districts),
        "communities": len(communities),
        "people": len(person_ids),
        "courses": _max_id(Course) - first_course,
        "sessions": _max_id(CourseSession) - first_session,
        "enrolments": enrolments,
        "attendance": attendance,
        "supervision_records": n_records,
        "supervision_credits": n_credits,
    }
