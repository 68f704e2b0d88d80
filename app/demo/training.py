"""The demo world, part 2: training in 拱墅区 2022 and 东胜区's training base.

拱墅区 2022 totals exactly 350 training person-times and trains all 69:
项目社工特训营 (3 sessions × 69 = 207, then a 结业考核 all 69 passed, 3 of them at
the retake, and a 培训满意度测评 64 answered), "五社联动"助共富培训班 (2 sessions,
69 + 62 = 131, with 4 excused and 3 absent on the second day) and a
督导能力提升工作坊 for the 12 leaders and supervisor assistants (12).
东胜区's training base: 66 sessions, about 115 trainees each (7,500+).
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select

from ..core.db import utcnow
from ..extensions import db
from ..org.queries import unit_by_code
from ..people.models import Person
from ..training.evaluation import respond
from ..training.grading import Entry, create_assessment, save_results
from ..training.models import AssessmentResult, Attendance, Course, CourseSession, Enrolment, Program

TZ = ZoneInfo("Asia/Shanghai")


def _at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=TZ).astimezone(UTC)


def _program(unit, title, kind, tier, year, starts, ends, audience) -> Program:
    program = Program(
        title=title, kind=kind, tier=tier, unit=unit, year=year, starts_on=starts, ends_on=ends, audience=audience
    )
    db.session.add(program)
    return program


def _course(program, code, title, hours, capacity, policy, slug=None) -> Course:
    course = Course(
        program=program,
        code=code,
        title=title,
        hours=Decimal(hours),
        capacity=capacity,
        policy=policy,
        content_slug=slug,
        min_attendance=Decimal("0.8"),
    )
    db.session.add(course)
    return course


def _sessions(
    course, days: list[date], hours: str, place: str, mode: str = "onsite", start_hour: int = 9
) -> list[CourseSession]:
    sessions = [
        CourseSession(
            course=course,
            starts_at=_at(d, start_hour),
            ends_at=_at(d, start_hour + int(Decimal(hours)) + 1),
            hours=Decimal(hours),
            place=place,
            mode=mode,
        )
        for d in days
    ]
    db.session.add_all(sessions)
    return sessions


def _enrol(course: Course, person_ids: list[int]) -> None:
    now = utcnow()
    db.session.execute(
        insert(Enrolment),
        [
            {"course_id": course.id, "person_id": pid, "status": "enrolled", "enrolled_at": now, "updated_at": now}
            for pid in person_ids
        ],
    )
    course.seats_taken = len(person_ids)


def _attend(session: CourseSession, statuses: dict[int, tuple[str, str | None]]) -> None:
    when = session.ends_at
    db.session.execute(
        insert(Attendance),
        [
            {
                "session_id": session.id,
                "person_id": pid,
                "status": s,
                "reason": r,
                "method": "roster",
                "marked_by_id": None,
                "marked_at": when,
            }
            for pid, (s, r) in statuses.items()
        ],
    )


def _gongshu_programs(gongshu) -> tuple[Program, Program, Program]:
    """Create 拱墅区's three 2022 programs: the camp, the 五社联动 class and the supervision workshop."""
    camp = _program(
        gongshu,
        "项目社工特训营",
        "camp",
        "骨干",
        2022,
        date(2022, 4, 12),
        date(2022, 4, 14),
        "拟转岗项目社工的社区专职工作者",
    )
    wushe = _program(
        gongshu,
        "“五社联动”助共富培训班",
        "class",
        "骨干",
        2022,
        date(2022, 6, 21),
        date(2022, 6, 22),
        "项目社工、社工站工作人员",
    )
    workshop = _program(
        gongshu,
        "督导能力提升工作坊",
        "workshop",
        "领军",
        2022,
        date(2022, 9, 16),
        date(2022, 9, 16),
        "领军人才与督导助理",
    )
    return camp, wushe, workshop


def _second_day(rng: random.Random, selected: list[int]) -> dict[int, tuple[str, str | None]]:
    """The 五社联动 class's second day: all present but 7 drawn at random (4 excused, 3 absent)."""
    missing = rng.sample(selected, 7)
    second = {pid: ("present", None) for pid in selected}
    for i, pid in enumerate(missing):
        second[pid] = ("excused", "社区防疫值班") if i < 4 else ("absent", None)
    return second


def _gongshu_training(rng: random.Random, selected: list[int], leaders: list[int]) -> None:
    """拱墅区 2022: the 69 in the camp and the class, the 12 leaders in the workshop (350 person-times)."""
    gongshu = unit_by_code("330105")
    camp, wushe, workshop = _gongshu_programs(gongshu)
    c1 = _course(camp, "PSW-2022", "社会工作专业理念与方法", "12", 70, "cohort", "sw-values-methods")
    c2 = _course(wushe, "WS-2022", "“五社联动”实务", "8", 80, "coordinator", "five-social-linkage")
    c3 = _course(workshop, "SUP-2022", "督导与反思性实践", "8", 20, "coordinator", "supervision-reflective-practice")
    db.session.flush()
    s1 = _sessions(c1, [date(2022, 4, 12), date(2022, 4, 13), date(2022, 4, 14)], "4", "拱墅区社会工作指导中心")
    s2 = _sessions(c2, [date(2022, 6, 21), date(2022, 6, 22)], "4", "拱墅区民政局三楼会议室")
    s3 = _sessions(c3, [date(2022, 9, 16)], "6", "拱墅区社会工作指导中心", start_hour=9)
    db.session.flush()
    _enrol(c1, selected)
    _enrol(c2, selected)
    _enrol(c3, leaders)
    for s in s1:
        _attend(s, {pid: ("present", None) for pid in selected})
    _attend(s2[0], {pid: ("late" if i % 17 == 0 else "present", None) for i, pid in enumerate(selected)})
    _attend(s2[1], _second_day(rng, selected))
    _attend(s3[0], {pid: ("present", None) for pid in leaders})
    _camp_assessment(c1, selected)
    _camp_evaluation(c1, selected)


CAMP_COMMENTS = [
    "案例贴近社区实际，很实用",
    "希望增加小组工作的实操演练",
    "老师讲解清楚，互动很好",
    "时间安排稍紧，建议延长一天",
    "希望以后多组织类似培训",
    "伦理困境的讨论很有启发",
    "建议提供课件电子版",
]


def _camp_evaluation(camp: Course, selected: list[int]) -> None:
    """64 of the 69 answered the camp's 培训满意度测评 on its last day, mostly satisfied (a generator of its own)."""
    rng = random.Random(2023)
    ended = _at(date(2022, 4, 14), 17)
    for pid in rng.sample(selected, 64):
        answers = {
            key: rng.choices((5, 4, 3, 2), weights=weights)[0]
            for key, weights in (
                ("content", (60, 32, 7, 1)),
                ("instructor", (70, 25, 5, 0)),
                ("organisation", (45, 40, 13, 2)),
                ("overall", (62, 32, 6, 0)),
            )
        }
        if rng.random() < 0.3:
            answers["comments"] = rng.choice(CAMP_COMMENTS)
        respond(course=camp, person_id=pid, answers=answers, now=ended, today=ended.astimezone(TZ).date())


def _camp_assessment(camp: Course, selected: list[int]) -> None:
    """The camp ends with a 结业考核 that all 69 passed: 3 failed the first sitting and passed the retake.

    Scores come from a generator of their own, so the rest of the demo world draws what it drew before.
    """
    rng = random.Random(2022)
    final = create_assessment(course=camp, data={"title": "结业考核", "pass_mark": 60, "max_score": 100}, actor=None)
    retakes = set(rng.sample(selected, 3))
    first = [
        Entry(pid, 1, "scored", rng.randint(51, 59) if pid in retakes else rng.randint(66, 96)) for pid in selected
    ]
    save_results(assessment=final, entries=first, actor=None, source="roster")
    second = [Entry(pid, 2, "scored", rng.randint(64, 82)) for pid in sorted(retakes)]
    save_results(assessment=final, entries=second, actor=None, source="roster")
    sat = {1: _at(date(2022, 4, 14), 16), 2: _at(date(2022, 4, 28), 14)}  # the exam, and the retake a fortnight on
    for result in db.session.scalars(select(AssessmentResult).where(AssessmentResult.assessment_id == final.id)):
        result.entered_at = sat[result.attempt]


DONGSHENG_TITLES = [
    "社区治理与服务",
    "个案工作实务",
    "小组工作实务",
    "社区活动策划",
    "养老服务实务",
    "困境儿童关爱",
    "社工站运营管理",
    "社会工作伦理",
    "心理健康与危机干预",
    "政策法规解读",
    "项目申报与评估",
]


def _dongsheng_course(rng: random.Random, program: Program, i: int, title: str, people: list[int]) -> tuple[int, int]:
    """One course of the training base: 130 enrolled, 6 sessions; return (sessions, person-times)."""
    slug = "project-design" if title == "项目申报与评估" else None  # its lessons, and its online quiz
    course = _course(program, f"DS-{i + 1:02d}", title, "18", None, "coordinator", slug)
    db.session.flush()
    roster = sorted(rng.sample(people, 130))
    _enrol(course, roster)
    first = date(2023, 3, 6) + timedelta(weeks=4 * i)
    days = [first + timedelta(days=d) for d in range(6)]
    mode = "online" if i % 4 == 3 else "onsite"
    sessions_total = person_times = 0
    for s in _sessions(course, days, "3", "东胜区社会工作培训基地" if mode == "onsite" else "线上（腾讯会议）", mode):
        db.session.flush()
        present = {pid: ("present", None) for pid in roster if rng.random() < 0.885}
        _attend(s, present)
        sessions_total += 1
        person_times += len(present)
    return sessions_total, person_times


def _dongsheng_training(rng: random.Random) -> dict[str, int]:
    """东胜区: the training base's 2023 programme, 66 sessions across the year."""
    dongsheng = unit_by_code("150602")
    base = db.session.scalar(select(type(dongsheng)).where(type(dongsheng).name == "东胜区社会工作培训基地"))
    people = db.session.scalars(
        select(Person.id).where(
            Person.unit_id.in_(select(type(dongsheng).id).where(type(dongsheng).path.like(dongsheng.path + "%")))
        )
    ).all()
    program = _program(
        base,
        "东胜区社会工作人才培训基地2023年度轮训",
        "class",
        "新任",
        2023,
        date(2023, 3, 1),
        date(2023, 12, 20),
        "全区社区工作者与社工站工作人员",
    )
    sessions_total = 0
    person_times = 0
    for i, title in enumerate(DONGSHENG_TITLES):
        sessions, present = _dongsheng_course(rng, program, i, title, people)
        sessions_total += sessions
        person_times += present
    _dongsheng_quiz()
    return {"dongsheng_sessions": sessions_total, "dongsheng_person_times": person_times}


def _dongsheng_quiz() -> None:
    """项目申报与评估 is assessed by the online quiz of its content (项目设计与管理), not yet taken by anyone."""
    course = db.session.scalar(select(Course).where(Course.content_slug == "project-design"))
    create_assessment(
        course=course, data={"title": "在线测验", "kind": "quiz", "pass_mark": 60, "max_score": 100}, actor=None
    )


def load_training(rng: random.Random, selected: list[int], leaders: list[int]) -> dict[str, int]:
    """Create the demo's programs, sessions, enrolments and attendance (flushes)."""
    _gongshu_training(rng, selected, leaders)
    counts = _dongsheng_training(rng)
    db.session.flush()
    return counts
