"""The demo world of PRODUCT.md §4, built deterministically.

拱墅区 (330105): 18 streets with their communities, 2,100 community workers and
the 69 selected to become project social workers; 太仓市 (320585): a guidance
centre, 9 township stations, 157 village/community rooms, 379 full-time and
1,196 certified social workers; 东胜区 (150602): a service centre, street
stations and a training base. The certified of 太仓市 and the 69 of 拱墅区
have registration dates spread over 2020–2024 (continuing-education periods).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from ..auth.services import create_user
from ..core import paths
from ..core.db import utcnow
from ..coverage.services import create_cohort, freeze_cohort
from ..extensions import db
from ..ledger.rollups import refresh_all
from ..org.imports import import_units
from ..org.models import OrgUnit
from ..org.queries import children_of, unit_by_code
from ..org.services import create_unit
from ..people.models import Person
from ..people.services import id_number_columns
from ..training.content import sync_content
from .credentials import load_credentials
from .generate import analyze
from .names import COMMUNITY_STEMS, IdNumbers, person_name, phone
from .supervision import load_supervision
from .training import load_training

SEED = 2022
DEMO_PASSWORD = "shegong-demo-2026"  # noqa: S105 — printed by `make run`, demo only
DIVISIONS = Path(__file__).resolve().parent / "data" / "divisions.csv"
CONTENT = paths.course_content()

GONGSHU, TAICANG, DONGSHENG = "330105", "320585", "150602"
GONGSHU_WORKERS = 2100
SELECTED = 69
TAICANG_FULL_TIME = 379
TAICANG_CERTIFIED = 1196
TAICANG_ROOMS = 157
DONGSHENG_PEOPLE = 640
CERTIFIED_FROM = date(2020, 1, 1)
CERTIFIED_DAYS = (date(2024, 12, 31) - CERTIFIED_FROM).days + 1


DEMO_USERS = (
    ("admin", "administrator (whole tree)"),
    ("gongshu", "coordinator, 拱墅区"),
    ("gongshu-street", "coordinator, 米市巷街道 (拱墅区)"),
    ("supervisor", "supervisor, 拱墅区"),
    ("trainee", "trainee, one of the 69 of 拱墅区"),
    ("taicang", "coordinator, 太仓市"),
    ("dongsheng", "coordinator, 东胜区"),
    ("dongsheng-trainee", "trainee, 东胜区: the online quiz of 项目申报与评估"),
)


class DemoError(RuntimeError):
    """The demo world cannot be loaded here."""


@dataclass
class DemoWorld:
    """What later parts of the demo need to find again (in memory, during one load)."""

    selected: list[int] = field(default_factory=list)  # the 69 of 拱墅区
    supervisors: list[int] = field(default_factory=list)  # 8 督导助理 + leading talents
    logins: list[tuple[str, str, str]] = field(default_factory=list)


def _communities(rng: random.Random, street: OrgUnit, count: int, suffix: str) -> list[OrgUnit]:
    stems = rng.sample(COMMUNITY_STEMS, count)
    return [
        create_unit(name=f"{stem}{suffix}", kind="community", parent=street, code=f"{street.code}{i + 1:03d}")
        for i, stem in enumerate(stems)
    ]


def _people(rows: list[dict]) -> list[int]:
    """Insert people in bulk; return their ids in order."""
    now = utcnow()
    for row in rows:
        row.setdefault("titles", [])
        row.setdefault("service_areas", [])
        row.setdefault("active", True)
        row["created_at"] = row["updated_at"] = now
    before = db.session.scalar(select(func.coalesce(func.max(Person.id), 0)))
    db.session.execute(insert(Person), rows)
    return list(db.session.scalars(select(Person.id).where(Person.id > before).order_by(Person.id)))


def _person_row(rng, ids: IdNumbers, region: str, unit: OrgUnit, **extra) -> dict:
    return {
        "unit_id": unit.id,
        "name": person_name(rng),
        "phone": phone(rng),
        **id_number_columns(ids.next(region)),
        **extra,
    }


def _certified_on(i: int) -> date:
    """A registration date for the i-th certified person, spread over 2020–2024 without drawing from the seed."""
    return CERTIFIED_FROM + timedelta(days=i * 701 % CERTIFIED_DAYS)


AREAS = ("elderly", "disability", "hardship", "veterans", "mediation", "community_development")


def _gongshu(rng: random.Random, ids: IdNumbers, world: DemoWorld) -> None:
    district = unit_by_code(GONGSHU)
    communities: list[OrgUnit] = []
    for street in children_of(district):
        communities += _communities(rng, street, rng.randint(7, 11), "社区")
    rows = []
    for i in range(GONGSHU_WORKERS):
        unit = communities[i % len(communities)]
        level = rng.choices(("none", "assistant", "intermediate"), (55, 35, 10))[0]
        rows.append(_person_row(rng, ids, GONGSHU, unit, category="community_worker", level=level))
    person_ids = _people(rows)
    # The 69 selected to convert to project social workers, with their titles.
    selected = sorted(rng.sample(person_ids, SELECTED))
    titles = ["provincial_leader"] + ["city_leader"] * 3 + ["supervisor_assistant"] * 8
    people = {p.id: p for p in db.session.scalars(select(Person).where(Person.id.in_(selected)))}
    for i, (pid, title) in enumerate(zip(selected, titles + [None] * (SELECTED - len(titles)), strict=True)):
        person = people[pid]
        person.service_areas = rng.sample(AREAS, rng.randint(1, 3))
        if person.level == "none":
            person.level = "assistant"
        person.certified_on = _certified_on(i)
        if title:
            person.titles = [title]
            person.level = "intermediate"
    world.selected = selected
    world.supervisors = selected[:12]


def _taicang(rng: random.Random, ids: IdNumbers) -> None:
    city = unit_by_code(TAICANG)
    create_unit(name="太仓市社会工作指导中心", kind="centre", parent=city)
    towns = [u for u in children_of(city) if u.kind == "street"]
    stations = [create_unit(name=f"{t.name}社工站", kind="station", parent=t) for t in towns]
    # The bureau counts 9 township stations for 8 township units: the ninth
    # serves the port area of 浮桥镇 (太仓港).
    port = next((t for t in towns if t.name == "浮桥镇"), towns[0])
    stations.append(create_unit(name=f"{port.name}港区社工站", kind="station", parent=port))
    rooms: list[OrgUnit] = []
    per_town = [TAICANG_ROOMS // len(towns) + (1 if i < TAICANG_ROOMS % len(towns) else 0) for i in range(len(towns))]
    for town, count in zip(towns, per_town, strict=True):
        for village in _communities(rng, town, count, rng.choice(("社区", "村"))):
            rooms.append(create_unit(name=f"{village.name}社工室", kind="room", parent=village))
    rows = []
    for i in range(TAICANG_CERTIFIED):
        level = rng.choices(("assistant", "intermediate", "senior"), (70, 27, 3))[0]
        extra = {"level": level, "certified_on": _certified_on(i)}
        if i < TAICANG_FULL_TIME:
            unit = stations[i % len(stations)] if i % 4 == 0 else rooms[i % len(rooms)]
            rows.append(_person_row(rng, ids, TAICANG, unit, category="station_worker", **extra))
        else:
            unit = rooms[i % len(rooms)].parent
            rows.append(_person_row(rng, ids, TAICANG, unit, category="community_worker", **extra))
    _people(rows)


def _dongsheng(rng: random.Random, ids: IdNumbers) -> None:
    district = unit_by_code(DONGSHENG)
    create_unit(name="东胜区社会工作服务中心", kind="centre", parent=district)
    create_unit(name="东胜区社会工作培训基地", kind="centre", parent=district)
    streets = [u for u in children_of(district) if u.kind == "street"]
    homes: list[OrgUnit] = []
    for street in streets:
        homes.append(create_unit(name=f"{street.name}社工站", kind="station", parent=street))
        homes += _communities(rng, street, rng.randint(3, 6), "社区")
    rows = []
    for i in range(DONGSHENG_PEOPLE):
        unit = homes[i % len(homes)]
        category = "station_worker" if unit.kind == "station" else "community_worker"
        level = rng.choices(("none", "assistant", "intermediate"), (50, 40, 10))[0]
        rows.append(_person_row(rng, ids, DONGSHENG, unit, category=category, level=level))
    _people(rows)


def _users(world: DemoWorld) -> None:
    gongshu = unit_by_code(GONGSHU)
    first_street = children_of(gongshu)[0]
    trainee = db.session.get(Person, world.selected[-1])
    supervisor = db.session.get(Person, world.supervisors[4])  # a 督导助理
    grants = {
        "admin": ("admin", unit_by_code("330000"), None),
        "gongshu": ("coordinator", gongshu, None),
        "gongshu-street": ("coordinator", first_street, None),
        "supervisor": ("supervisor", gongshu, supervisor),
        "trainee": ("trainee", trainee.unit, trainee),
        "taicang": ("coordinator", unit_by_code(TAICANG), None),
        "dongsheng": ("coordinator", unit_by_code(DONGSHENG), None),
    }
    for username, label in DEMO_USERS:
        if username not in grants:
            continue  # made after the training it needs
        role, unit, person = grants[username]
        create_user(username=username, password=DEMO_PASSWORD, role=role, unit=unit, person=person)
        world.logins.append((username, DEMO_PASSWORD, label + (f" ({person.name})" if person else "")))


def _quiz_trainee(world: DemoWorld) -> None:
    """A 东胜区 trainee enrolled in 项目申报与评估, to take its online quiz."""
    from ..training.models import Course, Enrolment

    person_id = db.session.scalar(
        select(Enrolment.person_id)
        .join(Course, Course.id == Enrolment.course_id)
        .where(Course.content_slug == "project-design")
        .order_by(Enrolment.person_id)
        .limit(1)
    )
    person = db.session.get(Person, person_id)
    label = dict(DEMO_USERS)["dongsheng-trainee"]
    create_user(username="dongsheng-trainee", password=DEMO_PASSWORD, role="trainee", unit=person.unit, person=person)
    world.logins.append(("dongsheng-trainee", DEMO_PASSWORD, f"{label} ({person.name})"))


def _cohort(world: DemoWorld) -> None:
    """The 69 converting to project social workers in 2022: 100% trained and supervised, both met."""
    cohort = create_cohort(
        data={
            "name": "2022年项目社工转岗人员",
            "year": 2022,
            "member_ids": world.selected,
            "min_training_hours": 12,
            "min_supervision_hours": 1.5,
            "training_target": 1,
            "supervision_target": 1,
        },
        unit=unit_by_code(GONGSHU),
        actor=None,
    )
    freeze_cohort(cohort=cohort, actor=None)


def database_is_empty() -> bool:
    """Return whether no unit exists yet."""
    return not db.session.scalar(select(func.count(OrgUnit.id)))


def load_demo(force: bool = False) -> list[str]:
    """Build the demo world in an empty database (flushes; the caller commits)."""
    if not force and not database_is_empty():
        raise DemoError("the database already has units; the demo loads only into an empty database")
    rng = random.Random(SEED)
    ids = IdNumbers(rng)
    world = DemoWorld()
    import_units(filename=DIVISIONS.name, data=DIVISIONS.read_bytes(), actor=None, max_rows=10000)
    _gongshu(rng, ids, world)
    _taicang(rng, ids)
    _dongsheng(rng, ids)
    _users(world)
    sync_content(CONTENT)
    figures = load_training(rng, world.selected, world.supervisors)
    _quiz_trainee(world)
    figures |= load_supervision(rng, world.selected, world.supervisors, DEMO_PASSWORD)
    refresh_all()
    _cohort(world)
    load_credentials()
    analyze()
    db.session.flush()
    people = db.session.scalar(select(func.count(Person.id)))
    units = db.session.scalar(select(func.count(OrgUnit.id)))
    lines = [
        f"demo world loaded: {units} units, {people} people",
        "东胜区 training base: {dongsheng_sessions} sessions, {dongsheng_person_times} person-times".format(**figures),
        "supervision: {supervision_records} records, {supervision_credits} credits".format(**figures),
        "demo logins (username / password):",
    ]
    lines += [f"  {u:<15} {p}   {label}" for u, p, label in world.logins]
    return lines
