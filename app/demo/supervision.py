"""The demo world, part 3: supervision in 拱墅区 2022 and 东胜区.

拱墅区 2022: 15 sessions that reach all 69 — 5 one-to-one and 10 group
sessions, on site and online, led by the 8 督导助理 and the leading talents.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from ..auth.models import User
from ..auth.services import create_user, grant_role
from ..extensions import db
from ..org.queries import subtree_ids, unit_by_code
from ..people.models import Person
from ..supervision.models import SupervisionCredit
from ..supervision.services import asks_answered, record_supervision

TOPICS = [
    "项目社工角色转换与职业定位",
    "个案服务中的专业关系边界",
    "社区养老服务项目的需求评估",
    "“五社联动”中的资源链接",
    "小组工作的带领技巧",
    "困境家庭个案的危机介入",
    "服务记录与档案规范",
    "项目过程管理与风险应对",
    "社区议事协商的组织",
    "助残服务中的增能视角",
    "替代性创伤与自我照顾",
    "志愿者队伍的培育与激励",
    "项目成效评估指标设计",
    "与居民建立信任关系",
    "社工站服务的整合与转介",
]


def _supervisor_accounts(people: list[Person], unit, password: str, prefix: str) -> None:
    for i, person in enumerate(people, start=1):
        user = db.session.scalar(select(User).where(User.person_id == person.id))
        if user is None:
            create_user(username=f"{prefix}{i:02d}", password=password, role="supervisor", unit=unit, person=person)
        else:
            grant_role(user=user, role="supervisor", unit=unit)


def _gongshu_plan(rng: random.Random, selected: list[int], leaders: list[int]) -> list[tuple[int, list[int], str]]:
    """Plan 拱墅区's 15 sessions: 5 one-to-one, then the rest of the 69 shuffled into 10 groups."""
    prov, cities, assistants = leaders[0], leaders[1:4], leaders[4:12]
    plan: list[tuple[int, list[int], str]] = [
        (prov, [cities[0]], "individual"),
        (prov, [cities[1]], "individual"),
        (prov, [cities[2]], "individual"),
        (cities[0], [prov], "individual"),  # peer supervision of the provincial leader
        (cities[1], [assistants[0]], "individual"),
    ]
    covered = {cities[0], cities[1], cities[2], prov, assistants[0]}
    rest = [pid for pid in selected if pid not in covered]
    rng.shuffle(rest)
    leads = assistants[1:] + [cities[2], assistants[0], cities[1]]  # 10 group leaders
    groups = [rest[i::10] for i in range(10)]
    for lead, group in zip(leads, groups, strict=True):
        if lead in group:  # nobody supervises themself: swap with the next group
            group.remove(lead)
            groups[(groups.index(group) + 1) % 10].append(lead)
    for lead, group in zip(leads, groups, strict=True):
        plan.append((lead, group, "group"))
    return plan


def _gongshu_session(rng: random.Random, i: int, lead: int, fmt: str, peer_lead: int) -> dict:
    """The form data of 拱墅区's ``i``-th session (a group's hours drawn at random)."""
    return {
        "format": fmt,
        "mode": "online" if i % 3 == 2 else "onsite",
        "kind": "peer"
        if lead == peer_lead and fmt == "individual"
        else ("special" if fmt == "individual" else "overall"),
        "held_on": date(2022, 5, 6) + timedelta(days=12 * i),
        "hours": Decimal("1.5") if fmt == "individual" else Decimal(rng.choice(("2", "2.5", "3"))),
        "topic": TOPICS[i],
        "functions": ["educational", "supportive"]
        if fmt == "group"
        else ["administrative", "educational", "supportive"],
        "advice": "建议结合本次督导内容梳理服务记录，并在下次督导前完成一份反思日志。",
        "follow_up": "一个月内跟进服务对象的转介落实情况。",
        "notes": "督导者个人记录（保密）。",
    }


def _gongshu_supervision(rng: random.Random, admin, selected: list[int], leaders: list[int], password: str) -> int:
    """Record 拱墅区's 2022 sessions, most credits confirmed; return how many (flushes)."""
    gongshu = unit_by_code("330105")
    people = {p.id: p for p in db.session.scalars(select(Person).where(Person.id.in_(selected)))}
    _supervisor_accounts([people[pid] for pid in leaders], gongshu, password, "gs-sup-")
    plan = _gongshu_plan(rng, selected, leaders)
    for i, (lead, group, fmt) in enumerate(plan):
        result = record_supervision(
            data=_gongshu_session(rng, i, lead, fmt, peer_lead=leaders[1]),
            supervisor=people[lead],
            supervisees=[people[pid] for pid in group],
            actor=admin,
        )
        # Most supervisees have confirmed; a few have not answered yet.
        answered = [credit for credit in result.record.credits if rng.random() < 0.9]
        for credit in answered:
            credit.status = "confirmed"
        asks_answered(result.record, answered)
    db.session.flush()
    return len(plan)


def _dongsheng_supervision(admin, password: str) -> int:
    """Record 东胜区's sessions, both formats and both modes, all confirmed; return how many (flushes)."""
    dongsheng = unit_by_code("150602")
    ds_people = list(
        db.session.scalars(
            select(Person).where(Person.unit_id.in_(subtree_ids(dongsheng))).order_by(Person.id).limit(60)
        )
    )
    sup_a, sup_b = ds_people[0], ds_people[1]
    _supervisor_accounts([sup_a, sup_b], dongsheng, password, "ds-sup-")
    ds_plan = [
        (sup_a, ds_people[2:3], "individual", "onsite"),
        (sup_a, ds_people[3:4], "individual", "online"),
        (sup_b, ds_people[4:12], "group", "onsite"),
        (sup_b, ds_people[12:20], "group", "online"),
        (sup_a, ds_people[20:28], "group", "onsite"),
    ]
    for i, (lead, group, fmt, mode) in enumerate(ds_plan):
        result = record_supervision(
            data={
                "format": fmt,
                "mode": mode,
                "kind": "special" if fmt == "individual" else "overall",
                "held_on": date(2023, 4, 10) + timedelta(days=21 * i),
                "hours": Decimal("2"),
                "topic": TOPICS[-1 - i],
                "functions": ["educational"],
            },
            supervisor=lead,
            supervisees=group,
            actor=admin,
        )
        for credit in result.record.credits:
            credit.status = "confirmed"
        asks_answered(result.record, result.record.credits)
    db.session.flush()
    return len(ds_plan)


def load_supervision(rng: random.Random, selected: list[int], leaders: list[int], password: str) -> dict[str, int]:
    """Record the demo's supervision through the service, as the administrator (flushes)."""
    admin = db.session.scalar(select(User).where(User.username == "admin"))
    records = _gongshu_supervision(rng, admin, selected, leaders, password)
    records += _dongsheng_supervision(admin, password)
    credits = db.session.scalar(select(db.func.count(SupervisionCredit.id)))
    return {"supervision_records": records, "supervision_credits": credits}
