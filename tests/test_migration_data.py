"""Migration data test: every revision keeps every row of every table, on SQLite and PostgreSQL.

For each revision R (found by Alembic, so a new revision is included without
editing this file): build the schema at R's parent, fill every table with the
rows in ``ROWS``, upgrade to head, and compare every row and every column that
existed before with what is stored afterwards. Values are compared as the
driver returns them, so a rebuild that changes how a value is stored fails too.

What a new revision asks of this file:

* a new table or column: give it realistic rows in ``ROWS`` (every table needs
  rows and every column a non-NULL value in at least one row; the test fails
  until it has them). Columns that a table has only at later revisions are left
  out when the rows go into an older schema.
* a constraint: keep ``ROWS`` valid under it (the rows also go into the head
  schema, in ``test_the_rows_fill_every_table_and_column_at_head``).
* a revision that changes stored values on purpose (encrypts a column, rewrites
  a code, drops a column): declare it in ``EXPECTED_CHANGES`` under its own
  revision id. Nothing else may change.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from alembic.script import Script, ScriptDirectory
from flask_migrate import upgrade
from sqlalchemy import Connection, column, create_engine, inspect, table, text
from sqlalchemy.engine import make_url

from shegong_academy.core.crypto import decrypt_text
from shegong_academy.extensions import db
from tests.conftest import MIGRATIONS, PG_URL, is_postgres, make_app

Row = dict[str, Any]
Snapshot = dict[str, tuple[list[str], dict[tuple, Row]]]  # table -> (column names, rows by primary key)
# A normaliser takes the value stored after the upgrade and the whole row as it
# was before, and returns the value to compare with the one stored before.
Normaliser = Callable[[Any, Mapping[str, Any]], Any]


class Dropped:
    """Marks a column (or, with column None, a table) that a revision removes on purpose."""


DROPPED = Dropped()

# Deliberate changes of stored values, by the revision that makes them:
#   {"<revision id>": {("<table>", "<column>"): normaliser or DROPPED, ("<table>", None): DROPPED}}
# A normaliser runs inside the app context, so it may use the app's keys. Example,
# for a revision that encrypts supervision notes with app.core.crypto:
#   "0008_supervision_notes": {
#       ("supervision_records", "notes"): lambda value, before: None if value is None else decrypt_text(value),
#   }
# When several applied revisions declare the same column, the newest runs first.
EXPECTED_CHANGES: dict[str, dict[tuple[str, str | None], Normaliser | Dropped]] = {
    # Notes are encrypted in place (a plain note left behind fails to decrypt, and fails the test).
    "0008_encrypt_supervision_notes": {
        ("supervision_records", "notes"): lambda value, before: None if value is None else decrypt_text(value),
    },
    # Notices move into the notifications (test_0022_moves_every_notice_into_the_notifications).
    "0022_notifications": {("person_notices", None): DROPPED},
}

T = datetime(2024, 3, 18, 1, 30, 0)  # naive UTC, as the app stores it
# An ID number encrypted under the tests' key (tests.conftest.TEST_CONFIG): 0008 refuses to encrypt
# notes under a key that decrypts none of the stored ID numbers.
FERNET = (
    "gAAAAABrDK_nZ7IZxcwLJyyeo-tft5BPmEFGCYU4KY-CURhBzwFV2VQ761Lb2FTX5RM-"
    "OqULsEW1JdHffChjHb_QQjsLfebSBckTsjFEfEHVWoHrYd-itEk="
)

# A content's quiz as synced from quiz.yaml: a sitting keeps the copy it was dealt.
QUIZ = {
    "title": "随堂测验",
    "time_limit_minutes": 15,
    "attempts": 2,
    "shuffle": True,
    "questions": [
        {"kind": "single", "text": "个案工作的第一步是？", "points": 10, "options": ["接案", "结案"], "answer": [0]},
        {"kind": "short", "text": "简述保密原则的例外。", "points": 20},
    ],
}

# Realistic rows for every table, in any order (foreign keys decide the insertion order).
ROWS: dict[str, list[Row]] = {
    "org_units": [
        {"id": 1, "code": "3301", "name": "杭州市", "kind": "city", "parent_id": None, "path": "/1/", "depth": 0},
        {
            "id": 2,
            "code": "330105",
            "name": "拱墅区",
            "kind": "district",
            "parent_id": 1,
            "path": "/1/2/",
            "depth": 1,
            "issuer_name": "杭州市拱墅区民政局",
            "seal_key": "seals/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08.png",
        },
        {
            "id": 3,
            "code": "330105001",
            "name": "米市巷街道",
            "kind": "street",
            "parent_id": 2,
            "path": "/1/2/3/",
            "depth": 2,
        },
        {
            "id": 4,
            "code": None,
            "name": "大兜路社区",
            "kind": "community",
            "parent_id": 3,
            "path": "/1/2/3/4/",
            "depth": 3,
            "code_generated": True,
            "closed_at": datetime(2024, 6, 30, 16, 0),
        },
    ],
    "people": [
        {
            "id": 1,
            "unit_id": 4,
            "name": "张伟",
            "phone": "13800000001",
            "id_number_hash": "a1" * 32,
            "id_number_enc": FERNET,
            "id_number_masked": "330105********1234",
            "category": "community_worker",
            "level": "assistant",
            "titles": ["助理社会工作师"],
            "service_areas": ["老年服务", "社区矫正"],
            "active": True,
            "created_at": T,
            "updated_at": T,
            "certified_on": date(2023, 11, 5),
        },
        {
            "id": 2,
            "unit_id": 3,
            "name": "李娜",
            "phone": None,
            "id_number_hash": "b2" * 32,
            "id_number_enc": FERNET[:-4] + "AA==",
            "id_number_masked": "330105********5678",
            "category": "project_social_worker",
            "level": "none",
            "titles": [],
            "service_areas": [],
            "active": False,
            "created_at": T,
            "updated_at": datetime(2024, 5, 2, 8, 0, 0),
            "certified_on": None,
        },
        {
            "id": 3,
            "unit_id": 2,
            "name": "王芳",
            "phone": "0571-88000000",
            "id_number_hash": "c3" * 32,
            "id_number_enc": FERNET[:-4] + "BB==",
            "id_number_masked": "330105********9012",
            "category": "other",
            "level": "senior",
            "titles": ["社会工作师", "心理咨询师"],
            "service_areas": ["督导"],
            "active": True,
            "created_at": T,
            "updated_at": T,
            "certified_on": date(2019, 6, 30),
        },
    ],
    "users": [
        {
            "id": 1,
            "username": "admin",
            "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2g",
            "person_id": None,
            "locale": "en",
            "is_enabled": True,
            "created_at": T,
            "password_changed_at": T,
            "notify_prefs": {"mail": True, "off": ["session.tomorrow"], "digest": False, "quiet": ["22:00", "07:00"]},
            "calendar_nonce": "3f9a1c0e5b7d2468ace0135792468bdf",
            "email": "admin@example.cn",
        },
        {
            "id": 2,
            "username": "zhangwei",
            "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdDI$aGFzaDI",
            "person_id": 1,
            "locale": "zh",
            "is_enabled": True,
            "created_at": T,
            "password_changed_at": T,
            "notify_prefs": {},
        },
        {
            "id": 3,
            "username": "wangfang",
            "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdDM$aGFzaDM",
            "person_id": 3,
            "locale": None,
            "is_enabled": False,
            "created_at": T,
            "password_changed_at": T,
            "notify_prefs": {},
        },
    ],
    "api_tokens": [
        {
            "id": 1,
            "user_id": 1,
            "name": "区民政局数据对接",
            "token_hash": "d4" * 32,
            "prefix": "lms_Q2xp",
            "created_at": T,
            "expires_at": datetime(2025, 3, 18),
            "last_used_at": datetime(2024, 4, 1, 2, 0),
            "revoked_at": datetime(2024, 6, 1),
        },
        {
            "id": 2,
            "user_id": 1,
            "name": "统计报表",
            "token_hash": "e5" * 32,
            "prefix": "lms_Zm9v",
            "created_at": T,
            "expires_at": None,
            "last_used_at": None,
            "revoked_at": None,
        },
    ],
    "login_sessions": [
        {
            "id": 1,
            "token_hash": "f6" * 32,
            "user_id": 2,
            "created_at": T,
            "last_seen_at": T,
            "ip": "10.0.0.8",
            "user_agent": "Mozilla/5.0 (iPhone) MicroMessenger/8.0",
        },
        {
            "id": 2,
            "token_hash": "07" * 32,
            "user_id": 1,
            "created_at": T,
            "last_seen_at": T,
            "ip": None,
            "user_agent": None,
        },
    ],
    "role_assignments": [
        {"id": 1, "user_id": 1, "role": "admin", "unit_id": 1, "created_at": T},
        {"id": 2, "user_id": 2, "role": "trainee", "unit_id": 4, "created_at": T},
        {"id": 3, "user_id": 3, "role": "supervisor", "unit_id": 2, "created_at": T},
    ],
    "audit_entries": [
        {
            "id": 1,
            "at": T,
            "actor_id": 1,
            "actor_name": "admin",
            "action": "person.create",
            "entity_type": "person",
            "entity_id": 1,
            "before": None,
            "after": {"name": "张伟", "category": "community_worker"},
            "ip": "127.0.0.1",
        },
        {
            "id": 2,
            "at": T,
            "actor_id": None,
            "actor_name": "系统",
            "action": "cohort.freeze",
            "entity_type": "cohort",
            "entity_id": 1,
            "before": {"frozen_at": None},
            "after": {"frozen_at": "2024-03-18T01:30:00+00:00"},
            "ip": None,
        },
    ],
    "course_contents": [
        {
            "id": 1,
            "slug": "case-work-basics",
            "quiz": QUIZ,
            "code": "SG-101",
            "title": "个案工作基础",
            "hours": Decimal("6.0"),
            "tier": "primary",
            "summary": "从接案到结案的完整流程。",
            "audience": "新入职社区工作者",
            "objectives": ["掌握接案面谈", "会写服务计划"],
            "checksum": "18" * 32,
            "synced_at": T,
        },
        {
            "id": 2,
            "slug": "ethics",
            "code": "SG-102",
            "title": "社会工作伦理",
            "hours": Decimal("1.5"),
            "tier": None,
            "summary": None,
            "audience": None,
            "objectives": [],
            "checksum": "29" * 32,
            "synced_at": T,
        },
    ],
    "lessons": [
        {
            "id": 1,
            "content_id": 1,
            "position": 1,
            "file": "01-intake.md",
            "title": "接案面谈",
            "hours": Decimal("2.0"),
            "body_html": "<h1>接案面谈</h1><p>建立专业关系。</p>",
        },
        {
            "id": 2,
            "content_id": 1,
            "position": 2,
            "file": "02-plan.md",
            "title": "服务计划",
            "hours": Decimal("4.0"),
            "body_html": "<p>目标要具体、可衡量。</p>",
        },
    ],
    "programs": [
        {
            "id": 1,
            "title": "2024年社区工作者初任培训",
            "kind": "camp",
            "tier": "primary",
            "unit_id": 2,
            "year": 2024,
            "starts_on": date(2024, 3, 1),
            "ends_on": date(2024, 6, 30),
            "audience": "新入职社区工作者",
            "created_at": T,
        },
        {
            "id": 2,
            "title": "督导沙龙",
            "kind": "salon",
            "tier": None,
            "unit_id": 3,
            "year": 2024,
            "starts_on": None,
            "ends_on": None,
            "audience": None,
            "created_at": T,
            "closed_at": datetime(2024, 12, 31, 8, 0),
        },
    ],
    "courses": [
        {
            "id": 1,
            "program_id": 1,
            "code": "C01",
            "title": "个案工作基础",
            "hours": Decimal("6.0"),
            "capacity": 40,
            "seats_taken": 1,
            "waitlist_seq": 1,
            "policy": "open",
            "min_attendance": Decimal("0.80"),
            "pass_mark": 60,
            "content_slug": "case-work-basics",
            "created_at": T,
        },
        {
            "id": 2,
            "program_id": 2,
            "code": "S01",
            "title": "个案转介经验分享",
            "hours": Decimal("1.5"),
            "capacity": None,
            "seats_taken": 0,
            "waitlist_seq": 0,
            "policy": "coordinator",
            "min_attendance": Decimal("1.00"),
            "pass_mark": None,
            "content_slug": None,
            "created_at": T,
            "closed_at": datetime(2024, 12, 31, 8, 0),
        },
    ],
    "course_sessions": [
        {
            "id": 1,
            "course_id": 1,
            "starts_at": datetime(2024, 3, 20, 1, 0),
            "ends_at": datetime(2024, 3, 20, 7, 0),
            "place": "拱墅区社会工作服务站301室",
            "mode": "onsite",
            "hours": Decimal("6.0"),
        },
        {
            "id": 2,
            "course_id": 2,
            "starts_at": datetime(2024, 4, 2, 6, 0),
            "ends_at": datetime(2024, 4, 2, 7, 30),
            "place": None,
            "mode": "online",
            "hours": Decimal("1.5"),
            "cancelled_at": datetime(2024, 4, 1, 9, 0),
            "cancel_reason": "暴雨红色预警，停课",
        },
    ],
    "enrolments": [
        {
            "id": 1,
            "course_id": 1,
            "person_id": 1,
            "status": "completed",
            "waitlist_position": None,
            "score": 86,
            "passed": True,
            "enrolled_at": T,
            "updated_at": T,
        },
        {
            "id": 2,
            "course_id": 1,
            "person_id": 2,
            "status": "waitlisted",
            "waitlist_position": 1,
            "score": None,
            "passed": False,
            "enrolled_at": T,
            "updated_at": T,
        },
    ],
    "quiz_attempts": [  # 张伟 sat assessment 1 online: the choice right, the short answer graded by hand
        {
            "id": 1,
            "assessment_id": 1,
            "person_id": 1,
            "sitting": 1,
            "quiz": QUIZ,
            "order": [[1, []], [0, [1, 0]]],
            "answers": {"0": [0], "1": "当服务对象有伤害自己或他人的危险时"},
            "marks": {"0": 10, "1": 16},
            "state": "graded",
            "started_at": T,
            "deadline_at": datetime(2024, 3, 18, 1, 45, 0),
            "submitted_at": datetime(2024, 3, 18, 1, 42, 0),
            "score": Decimal("86.7"),
        },
    ],
    "evaluation_receipts": [{"course_id": 1, "person_id": 1}],  # 张伟 answered course 1's evaluation …
    "evaluation_responses": [  # … and an answer, which names nobody
        {
            "id": "4f1c2d9a7b3e4c6d8e0f1a2b3c4d5e6f",
            "course_id": 1,
            "questionnaire": "default",
            "answers": {"content": 5, "instructor": 4, "organisation": 4, "overall": 5, "comments": "案例很实用"},
            "submitted_on": date(2024, 3, 20),
        },
    ],
    "lesson_progress": [  # 张伟 read the first lesson of course 1's content
        {"person_id": 1, "content_id": 1, "position": 1, "done_at": T},
    ],
    "assessments": [  # what 0013 makes of course 1's pass mark
        {
            "id": 1,
            "course_id": 1,
            "position": 1,
            "title": "结业考核",
            "kind": "exam",
            "max_score": Decimal("100.0"),
            "pass_mark": Decimal("60.0"),
            "weight": Decimal("1.00"),
            "retake_rule": "best",
            "created_at": T,
        },
    ],
    "assessment_results": [
        {
            "id": 1,
            "assessment_id": 1,
            "person_id": 1,
            "attempt": 1,
            "outcome": "scored",
            "score": Decimal("86.0"),
            "reason": None,
            "source": "roster",
            "entered_by_id": 1,
            "entered_at": T,
        },
        {
            "id": 2,
            "assessment_id": 1,
            "person_id": 2,
            "attempt": 1,
            "outcome": "excused",
            "score": None,
            "reason": "病假，持医院证明",
            "source": "import",
            "entered_by_id": None,
            "entered_at": T,
        },
    ],
    "attendance": [
        {
            "id": 1,
            "session_id": 1,
            "person_id": 1,
            "status": "present",
            "reason": None,
            "method": "qr",
            "marked_by_id": None,
            "marked_at": datetime(2024, 3, 20, 1, 2),
        },
        {
            "id": 2,
            "session_id": 1,
            "person_id": 2,
            "status": "excused",
            "reason": "社区疫苗接种值班",
            "method": "roster",
            "marked_by_id": 1,
            "marked_at": datetime(2024, 3, 20, 7, 5),
        },
    ],
    "supervision_records": [
        {
            "id": 1,
            "supervisor_id": 3,
            "unit_id": 2,
            "recorded_by_id": 1,
            "format": "group",
            "mode": "onsite",
            "kind": "overall",
            "held_on": date(2024, 4, 10),
            "hours": Decimal("2.0"),
            "topic": "个案转介流程督导",
            "functions": ["教育", "支持"],
            "advice": "转介前先与服务对象确认意愿。",
            "follow_up": "下月复盘两个转介个案。",
            "notes": "服务对象A家庭情况复杂，注意保密。",
            "created_at": T,
        },
        {
            "id": 2,
            "supervisor_id": 3,
            "unit_id": 3,
            "recorded_by_id": None,
            "format": "individual",
            "mode": "online",
            "kind": "peer",
            "held_on": date(2024, 5, 8),
            "hours": Decimal("0.5"),
            "topic": "情绪耗竭的自我照顾",
            "functions": [],
            "advice": None,
            "follow_up": None,
            "notes": None,
            "created_at": T,
            "voided_at": datetime(2024, 5, 9, 2, 0),
            "void_reason": "重复录入",
        },
    ],
    "supervision_credits": [
        {
            "id": 1,
            "record_id": 1,
            "person_id": 1,
            "hours": Decimal("2.0"),
            "status": "confirmed",
            "reason": None,
            "responded_at": datetime(2024, 4, 11, 2, 0),
        },
        {
            "id": 2,
            "record_id": 1,
            "person_id": 2,
            "hours": Decimal("2.0"),
            "status": "disputed",
            "reason": "当天请假，未参加",
            "responded_at": datetime(2024, 4, 12, 3, 0),
        },
        {
            "id": 3,
            "record_id": 2,
            "person_id": 2,
            "hours": Decimal("0.5"),
            "status": "unconfirmed",
            "reason": None,
            "responded_at": None,
        },
    ],
    "cohorts": [
        {
            "id": 1,
            "name": "2024年社区工作者持证培训",
            "unit_id": 2,
            "year": 2024,
            "category": "community_worker",
            "include_rule": True,
            "added_ids": [2],
            "excluded_ids": [3],
            "min_training_hours": Decimal("24.0"),
            "min_courses": 2,
            "program_ids": [1],
            "require_passing": True,
            "min_supervision_hours": Decimal("4.0"),
            "min_supervision_sessions": 2,
            "training_target": Decimal("0.900"),
            "supervision_target": Decimal("0.800"),
            "frozen_at": datetime(2024, 3, 31, 16, 0),
            "created_at": T,
        },
        {
            "id": 2,
            "name": "2023年项目社工转岗人员",
            "unit_id": 3,
            "year": 2023,
            "category": None,
            "include_rule": False,
            "added_ids": [1, 2],
            "excluded_ids": [],
            "min_training_hours": None,
            "min_courses": None,
            "program_ids": [],
            "min_supervision_hours": None,
            "min_supervision_sessions": None,
            "training_target": Decimal("1.000"),
            "supervision_target": Decimal("0.500"),
            "frozen_at": None,
            "created_at": T,
        },
    ],
    "cohort_members": [  # the members of a frozen cohort cannot be rebuilt: issue 12
        {"id": 1, "cohort_id": 1, "person_id": 1},
        {"id": 2, "cohort_id": 1, "person_id": 2},
        {"id": 3, "cohort_id": 2, "person_id": 2},
    ],
    "person_months": [
        {
            "person_id": 1,
            "month": 202403,
            "training_hours": Decimal("6.0"),
            "training_sessions": 1,
            "courses_completed": 1,
            "supervision_hours_confirmed": Decimal("0.0"),
            "supervision_sessions_confirmed": 0,
            "supervision_hours_unconfirmed": Decimal("0.0"),
            "supervision_sessions_unconfirmed": 0,
        },
        {
            "person_id": 1,
            "month": 202404,
            "training_hours": Decimal("0.0"),
            "training_sessions": 0,
            "courses_completed": 0,
            "supervision_hours_confirmed": Decimal("2.0"),
            "supervision_sessions_confirmed": 1,
            "supervision_hours_unconfirmed": Decimal("0.5"),
            "supervision_sessions_unconfirmed": 1,
        },
        {  # 李娜 in 2023: a session and a confirmed supervision, which meet the 2023 cohort's rule (any of each)
            "person_id": 2,
            "month": 202309,
            "training_hours": Decimal("3.0"),
            "training_sessions": 1,
            "courses_completed": 0,
            "supervision_hours_confirmed": Decimal("1.5"),
            "supervision_sessions_confirmed": 1,
            "supervision_hours_unconfirmed": Decimal("0.0"),
            "supervision_sessions_unconfirmed": 0,
        },
    ],
    "serial_counters": [
        {"id": 1, "issuer_code": "GSPX", "year": 2024, "last_seq": 2},
        {"id": 2, "issuer_code": "GSMZ", "year": 2023, "last_seq": 117},
    ],
    "credential_types": [
        {
            "id": 1,
            "name": "sg-transition-2024",
            "title": "项目社工转岗培训合格证明",
            "language": "zh_CN",
            "design": "transition-zh",
            "issuer_unit_id": 2,
            "issuer_name": "杭州市拱墅区民政局",
            "issuer_code": "GSPX",
            "serial_format": "{issuer_code}-{year}-{seq:05d}",
            "required_program_ids": [1],
            "min_training_hours": Decimal("24.0"),
            "min_supervision_hours": Decimal("4.0"),
            "period_year": 2024,
            "transition_from": "project_social_worker",
            "transition_to": "community_worker",
            "validity_months": 36,
            "created_at": T,
            "title_en": "Project social worker transition certificate",
            "required_tiers": ["骨干"],
            "required_assessment_ids": [1],
            "min_average_score": Decimal("75.0"),
            "seal_key": "seals/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08.png",
            "renewal_min_hours": Decimal("72.0"),
            "renewal_assessment_ids": [1],
            "ce_period": False,
        },
        {
            "id": 2,
            "name": "completion",
            "title": "培训结业证书",
            "language": "zh_CN",
            "design": "completion-zh",
            "issuer_unit_id": 1,
            "issuer_name": "杭州市民政局",
            "issuer_code": "GSMZ",
            "serial_format": "{issuer_code}{year}{seq:04d}",
            "required_program_ids": [],
            "min_training_hours": None,
            "min_supervision_hours": None,
            "period_year": None,
            "transition_from": None,
            "transition_to": None,
            "validity_months": None,
            "created_at": T,
        },
    ],
    "certificates": [  # a revoked certificate and the one that replaced it
        {
            "id": 1,
            "credential_id": 1,
            "person_id": 1,
            "serial": "GSPX-2024-00001",
            "verification_code": "MFRG-GZDF-MZTW-Q2LK-NNRW-C3TP-OBYX-E43U",
            "status": "revoked",
            "issued_at": datetime(2024, 7, 1, 2, 0),
            "expires_at": datetime(2027, 7, 1, 2, 0),
            "revoked_at": datetime(2024, 7, 3, 6, 0),
            "revoke_reason": "姓名有误，已重新颁发",
            "replaces_id": None,
            "superseded_by_id": 2,
            "claims": {"name": "张伟", "hours": "26.0", "programs": ["2024年社区工作者初任培训"]},
            "design": "transition-zh",
            "design_version": "3",
            "pdf_path": "2024/GSPX-2024-00001.pdf",
            "pdf_sha256": "3a" * 32,
            "issued_by_id": 1,
            "replaced_at": datetime(2024, 7, 3, 6, 0),
            "issuer_unit_id": 2,
            "serial_key": "GSPX202400001",
            "status_index": 88211,
        },
        {
            "id": 2,
            "credential_id": 1,
            "person_id": 1,
            "serial": "GSPX-2024-00002",
            "verification_code": "GEZD-GNBV-GY3T-QOJQ-GEZD-GNBV-GY3T-QOJQ",
            "status": "valid",
            "issued_at": datetime(2024, 7, 3, 6, 0),
            "expires_at": None,
            "revoked_at": None,
            "revoke_reason": None,
            "replaces_id": 1,
            "superseded_by_id": None,
            "claims": {"name": "张伟", "hours": "26.0"},
            "design": "transition-zh",
            "design_version": "3",
            "pdf_path": None,
            "pdf_sha256": None,
            "issued_by_id": None,
            "replaced_at": None,
            "job_id": 1,
            "issuer_unit_id": 2,
            "serial_key": "GSPX202400002",
            "status_index": 4107,
        },
    ],
    "issuer_keys": [  # 拱墅区's first key, retired by a rotation, and the one that signs now
        {
            "id": 1,
            "unit_id": 2,
            "kid": "b1kVJ0s1Vf6mXh2r9a6rVJxk3k2R8ZtH0m6uZQx7cQk",
            "algorithm": "ES256",
            "public_jwk": {
                "kty": "EC",
                "crv": "P-256",
                "x": "aKgNTf7E8Wce96vpRiGXPJZRXp96FIGVkTNZuUc7uFo",
                "y": "B67kpeqfZoALEHBhrN9utCqDXvmlNEcD43epg_Qv1OU",
                "kid": "b1kVJ0s1Vf6mXh2r9a6rVJxk3k2R8ZtH0m6uZQx7cQk",
                "alg": "ES256",
                "use": "sig",
            },
            "private_key_enc": "gAAAAABnY2lwaGVydGV4dC1vZi1hLXBlbS1rZXktdGhhdC1pcy1ub3QtcmVhZGFibGU=",
            "certificate_pem": (
                "-----BEGIN CERTIFICATE-----\nMIIBkTCCATegAwIBAgIUb1kVJ0s1Vf6mXh2r\n-----END CERTIFICATE-----\n"
            ),
            "created_at": datetime(2024, 7, 1, 2, 0),
            "retired_at": datetime(2025, 1, 2, 3, 0),
        },
        {
            "id": 2,
            "unit_id": 2,
            "kid": "aGeJWvcmC6kKd4WQjgWDKQ98CnnZbRm_HL18_mQMCCQ",
            "algorithm": "ES256",
            "public_jwk": {
                "kty": "EC",
                "crv": "P-256",
                "x": "HM8NiP7-WcUeilQMDHwcEkRK7z379297yVx03XCBeGY",
                "y": "Ld0rL9R3zq0Q3ZB0H2M9cWJpJ0yq3T8cY8b9e2dSx1o",
                "kid": "aGeJWvcmC6kKd4WQjgWDKQ98CnnZbRm_HL18_mQMCCQ",
                "alg": "ES256",
                "use": "sig",
            },
            "private_key_enc": "gAAAAABnZXQtYW5vdGhlci1jaXBoZXJ0ZXh0LW9mLWEtcGVtLWtleS1mb3ItdGVzdHM=",
            "certificate_pem": (
                "-----BEGIN CERTIFICATE-----\nMIIBkjCCATigAwIBAgIUaGeJWvcmC6kKd4WQ\n-----END CERTIFICATE-----\n"
            ),
            "created_at": datetime(2025, 1, 2, 3, 0),
            "retired_at": None,
        },
    ],
    "notifications": [  # a coordinator's digest, mailed; a person's reminder, held for a daily digest
        {
            "id": 11,
            "key": "digest.weekly:2024W12:4:u1",
            "kind": "digest.weekly",
            "person_id": None,
            "user_id": 1,
            "params": {"unit": "拱墅区", "week": "2024-W12", "cohorts": [], "sessions": 2},
            "link": "/coverage/?unit=4",
            "created_at": T,
            "read_at": T,
            "mail_state": "sent",
            "mail_due_at": T,
            "mail_attempts": 1,
            "mail_error": "SMTPRecipientsRefused: 451",
            "mail_sent_at": T,
        },
        {
            "id": 12,
            "key": "session.tomorrow:s1:2024-04-02:p1",
            "kind": "session.tomorrow",
            "person_id": 1,
            "user_id": None,
            "params": {"course": "个案转介经验分享", "starts_at": "2024-04-02T06:00:00+00:00", "place": "社工站"},
            "link": "/my/courses/1",
            "created_at": T,
            "read_at": None,
            "mail_state": "held",
            "mail_due_at": None,
            "mail_attempts": 0,
            "mail_error": None,
            "mail_sent_at": None,
        },
    ],
    "person_notices": [  # one unread, one read
        {
            "id": 1,
            "person_id": 1,
            "kind": "session.cancelled",
            "params": {"course": "个案转介经验分享", "starts_at": "2024-04-02T06:00:00+00:00", "reason": "暴雨"},
            "created_at": datetime(2024, 4, 1, 9, 0),
            "read_at": None,
        },
        {
            "id": 2,
            "person_id": 2,
            "kind": "supervision.voided",
            "params": {"held_on": "2024-05-08", "topic": "情绪耗竭的自我照顾", "reason": "重复录入"},
            "created_at": datetime(2024, 5, 9, 2, 0),
            "read_at": datetime(2024, 5, 9, 3, 0),
        },
    ],
    "unit_years": [  # what person 1's months make of unit 4's 2024 (0011 computes the same from them)
        {
            "unit_id": 4,
            "year": 2024,
            "training_person_times": 1,
            "supervision_person_times": 1,
            "supervision_person_times_unconfirmed": 1,
            "people_trained": 1,
            "people_supervised": 1,
            "people_supervised_any": 1,
        },
    ],
    "unit_people": [{"unit_id": 4, "people": 1}],
    "cohort_people": [  # what 0012 computes of the two cohorts from the rows above
        {
            "cohort_id": 1,
            "person_id": 1,
            "trained": False,
            "supervised": False,
            "supervised_any": False,
            "trained_month": None,
            "supervised_month": None,
            "supervised_any_month": None,
            "unit_id": 4,
        },
        {
            "cohort_id": 2,
            "person_id": 2,
            "trained": True,
            "supervised": True,
            "supervised_any": True,
            "trained_month": 202309,
            "supervised_month": 202309,
            "supervised_any_month": 202309,
            "unit_id": 3,
        },
    ],
    "jobs": [  # a finished print job and an issuing job that failed
        {
            "id": 1,
            "kind": "credentials.print",
            "key": "5f" * 32,
            "state": "done",
            "user_id": 1,
            "unit_id": 2,
            "params": {"credential_id": 1, "unit_id": 2},
            "progress": 69,
            "total": 69,
            "result": {"file": "jobs/1/certificates.pdf", "pages": 69},
            "error": "打印失败：证书存储目录已满",
            "attempts": 2,
            "request_id": "0b6c8f0e4a1d4c2e9f3a7b5d1e2c4a6f",
            "locale": "zh_CN",
            "created_at": datetime(2024, 7, 1, 2, 0),
            "started_at": datetime(2024, 7, 1, 2, 0, 1),
            "heartbeat_at": datetime(2024, 7, 1, 2, 0, 40),
            "finished_at": datetime(2024, 7, 1, 2, 0, 41),
        },
    ],
}


def revisions() -> list[Script]:
    """Every revision that has a parent, oldest first, as Alembic finds them in migrations/versions."""
    script = ScriptDirectory(MIGRATIONS)
    return [r for r in reversed(list(script.walk_revisions())) if r.down_revision is not None]


def parents(revision: Script) -> tuple[str, ...]:
    """The revision ids ``revision`` follows (two or more for a merge)."""
    down = revision.down_revision
    return (down,) if isinstance(down, str) else tuple(down)


def applied_by_upgrade(revision: Script) -> list[str]:
    """The revisions an upgrade from the parents of ``revision`` to head runs, oldest first."""
    script = ScriptDirectory(MIGRATIONS)
    before: set[str] = set()
    todo = list(parents(revision))
    while todo:
        rev = script.get_revision(todo.pop())
        if rev.revision not in before:
            before.add(rev.revision)
            todo.extend(parents(rev) if rev.down_revision else ())
    return [r.revision for r in reversed(list(script.walk_revisions())) if r.revision not in before]


def fill(conn: Connection, rows: Mapping[str, list[Row]] = ROWS) -> None:
    """Insert ``rows`` into every table of the database; fail if a table or column would stay empty."""
    inspector = inspect(conn)
    missing = coverage_gaps(inspector, rows)
    assert not missing, "\n".join(missing)
    order = [name for name, _fks in inspector.get_sorted_table_and_fkc_names() if name and name in rows]
    for name in order:
        columns = {c["name"]: c["type"] for c in inspector.get_columns(name)}
        target = table(name, *(column(n, t) for n, t in columns.items()))
        # references within a table (org_units.parent_id, a certificate and its replacement) go in afterwards
        fks = inspector.get_foreign_keys(name)
        own = [c for fk in fks if fk["referred_table"] == name for c in fk["constrained_columns"]]
        pk = inspector.get_pk_constraint(name)["constrained_columns"]
        for row in rows[name]:
            values = {k: v for k, v in row.items() if k in columns}
            conn.execute(target.insert().values({k: (None if k in own else v) for k, v in values.items()}))
        for row in rows[name]:
            late = {k: row[k] for k in own if row.get(k) is not None}
            if late:
                where = [target.c[k] == row[k] for k in pk]
                conn.execute(target.update().where(*where).values(late))


def coverage_gaps(inspector, rows: Mapping[str, list[Row]] = ROWS) -> list[str]:
    """Name every table without rows and every column without a non-NULL value in ``rows``."""
    gaps = []
    for name in sorted(inspector.get_table_names()):
        if name == "alembic_version":
            continue
        if not rows.get(name):
            gaps.append(f"table {name} has no rows in ROWS (tests/test_migration_data.py): add realistic ones")
            continue
        for c in inspector.get_columns(name):
            if all(row.get(c["name"]) is None for row in rows[name]):
                gaps.append(f"column {name}.{c['name']} has no non-NULL value in ROWS: give it one")
    return gaps


def snapshot(conn: Connection) -> Snapshot:
    """Every row of every table, as the driver returns it, by primary key."""
    inspector = inspect(conn)
    out: Snapshot = {}
    for name in inspector.get_table_names():
        if name == "alembic_version":
            continue
        result = conn.execute(text(f'SELECT * FROM "{name}"'))
        names = list(result.keys())
        pk = inspector.get_pk_constraint(name)["constrained_columns"] or names
        rows = [dict(zip(names, values, strict=True)) for values in result]
        out[name] = (names, {tuple(row[k] for k in pk): row for row in rows})
    return out


def triggers(conn: Connection) -> set[str]:
    """The names of the database's triggers (audit_entries is append-only through them)."""
    if conn.dialect.name == "sqlite":
        return set(conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").scalars())
    return set(
        conn.exec_driver_sql(
            "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace"
        ).scalars()
    )


def differences(
    before: Snapshot, after: Snapshot, changes: Mapping[tuple[str, str | None], list[Normaliser | Dropped]]
) -> list[str]:
    """Describe every row lost and every value changed, except the changes declared in ``changes``."""
    out = []
    for name, (columns, rows) in before.items():
        if name not in after:
            if not any(isinstance(c, Dropped) for c in changes.get((name, None), ())):
                out.append(f"table {name} is gone with its {len(rows)} rows")
            continue
        after_columns, after_rows = after[name]
        kept = []
        for col in columns:
            declared = changes.get((name, col), [])
            if col in after_columns:
                kept.append((col, [n for n in declared if not isinstance(n, Dropped)]))
            elif not any(isinstance(n, Dropped) for n in declared):
                out.append(f"column {name}.{col} is gone")
        for key, row in rows.items():
            now = after_rows.get(key)
            if now is None:
                out.append(f"{name} {key} is lost: {row}")
                continue
            for col, normalisers in kept:
                value = now[col]
                for normalise in normalisers:
                    value = normalise(value, row)
                if value != row[col]:
                    out.append(f"{name} {key}.{col} changed: {row[col]!r} -> {now[col]!r}")
    return out


def declared_changes(applied: list[str]) -> dict[tuple[str, str | None], list[Normaliser | Dropped]]:
    """The declared changes of the applied revisions, newest first for each column."""
    out: dict[tuple[str, str | None], list[Normaliser | Dropped]] = {}
    for rev in reversed(applied):
        for key, change in EXPECTED_CHANGES.get(rev, {}).items():
            out.setdefault(key, []).append(change)
    return out


SCHEMA = "migration_data"


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str | None]:
    """A schema of its own in the PostgreSQL test database (cheaper than a database), dropped at the end."""
    if not is_postgres():
        yield None
        return
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={SCHEMA}"})
    yield url.render_as_string(hide_password=False)
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
    engine.dispose()


@pytest.fixture
def empty_url(pg_url, tmp_path) -> str:
    """An empty database: a new SQLite file, or the PostgreSQL schema emptied."""
    if pg_url is None:
        return f"sqlite:///{tmp_path / 'data.db'}"
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{SCHEMA}"'))
    engine.dispose()
    return pg_url


@pytest.mark.parametrize("revision", revisions(), ids=lambda r: r.revision)
def test_upgrading_keeps_every_row(revision, empty_url):
    app = make_app(empty_url)
    with app.app_context():
        for parent in parents(revision):
            upgrade(directory=MIGRATIONS, revision=parent)
        with db.engine.begin() as conn:
            fill(conn)
        with db.engine.connect() as conn:
            before, triggers_before = snapshot(conn), triggers(conn)
        upgrade(directory=MIGRATIONS)
        with db.engine.connect() as conn:
            after, triggers_after = snapshot(conn), triggers(conn)
        problems = differences(before, after, declared_changes(applied_by_upgrade(revision)))
        db.engine.dispose()
    assert before and all(rows for _cols, rows in before.values())
    assert not problems, "\n".join(problems)
    # a SQLite table rebuild drops the table's triggers: a revision that rebuilds audit_entries must recreate them
    assert triggers_before <= triggers_after


def test_the_rows_fill_every_table_and_column_at_head(app):
    with app.app_context(), db.engine.begin() as conn:
        fill(conn)  # fails on a table or column without rows, or rows the head schema refuses
        stored = snapshot(conn)
    # (tables dropped by a revision, person_notices, have rows for the schemas before it only)
    assert {name: len(rows) for name, (_cols, rows) in stored.items()} == {
        name: len(rows) for name, rows in ROWS.items() if name != "person_notices"
    }


def test_a_table_without_rows_fails_the_test(app):
    rows = {name: r for name, r in ROWS.items() if name != "cohort_members"}
    with app.app_context(), db.engine.connect() as conn:
        gaps = coverage_gaps(inspect(conn), rows)
    assert gaps == ["table cohort_members has no rows in ROWS (tests/test_migration_data.py): add realistic ones"]


def test_a_column_without_a_value_fails_the_test(app):
    rows = {**ROWS, "supervision_records": [{**row, "notes": None} for row in ROWS["supervision_records"]]}
    with app.app_context(), db.engine.connect() as conn:
        gaps = coverage_gaps(inspect(conn), rows)
    assert gaps == ["column supervision_records.notes has no non-NULL value in ROWS: give it one"]


def test_only_declared_changes_pass():
    before = {
        "supervision_records": (["id", "notes", "topic"], {(1,): {"id": 1, "notes": "保密", "topic": "督导"}}),
        "cohort_members": (["id"], {(1,): {"id": 1}, (2,): {"id": 2}}),
    }
    after = {
        "supervision_records": (["id", "notes"], {(1,): {"id": 1, "notes": "enc:保密"}}),
        "cohort_members": (["id"], {(1,): {"id": 1}}),
    }
    assert differences(before, after, {}) == [
        "column supervision_records.topic is gone",
        "supervision_records (1,).notes changed: '保密' -> 'enc:保密'",
        "cohort_members (2,) is lost: {'id': 2}",
    ]

    def decrypt(value, row):
        return value.removeprefix("enc:")

    declared = {("supervision_records", "notes"): [decrypt], ("supervision_records", "topic"): [DROPPED]}
    assert differences(before, after, declared) == ["cohort_members (2,) is lost: {'id': 2}"]


def test_declared_changes_apply_to_the_revisions_an_upgrade_runs(monkeypatch):
    def decrypt(value, row):
        return value

    first, *rest = revisions()
    last = rest[-1] if rest else first
    # only this declaration, whatever the real revisions declare
    monkeypatch.setattr(
        sys.modules[__name__], "EXPECTED_CHANGES", {last.revision: {("supervision_records", "notes"): decrypt}}
    )
    assert declared_changes(applied_by_upgrade(first)) == {("supervision_records", "notes"): [decrypt]}
    assert applied_by_upgrade(first)[0] == first.revision
    assert applied_by_upgrade(last) == [last.revision]


def test_0011_fills_the_unit_figures_from_the_rollups(empty_url):
    """The figures the upgrade computes are the ones the application recomputes from the same rows."""
    from shegong_academy.ledger import unit_figures

    app = make_app(empty_url)
    with app.app_context():
        upgrade(directory=MIGRATIONS, revision="0010_day_two")
        with db.engine.begin() as conn:
            fill(conn)
        upgrade(directory=MIGRATIONS)
        years, people = unit_figures.stored()
        assert (years, people) == unit_figures.computed()
        # 李娜 on unit 3 is inactive: her 2023 months count on her unit, she is not among its active people
        assert years == {(4, 2024): (1, 1, 1, 1, 1, 1), (3, 2023): (1, 1, 0, 1, 1, 1)} and people == {2: 1, 4: 1}
        db.session.remove()
        db.engine.dispose()


def test_0012_fills_the_cohort_standings_from_the_rules_and_rollups(empty_url):
    """The standings the upgrade computes are the ones the application recomputes from the same rows."""
    from shegong_academy.coverage import standing
    from shegong_academy.coverage.models import Cohort

    app = make_app(empty_url)
    with app.app_context():
        upgrade(directory=MIGRATIONS, revision="0011_unit_figures")
        with db.engine.begin() as conn:
            fill(conn)
        upgrade(directory=MIGRATIONS)
        kept = {c.id: standing.stored(c) for c in db.session.scalars(db.select(Cohort))}
        assert kept == {c.id: standing.computed(c) for c in db.session.scalars(db.select(Cohort))}
        # the frozen 2024 cohort: 张伟's 6 hours and 2 of supervision are short of its 24 and 4;
        # the listed 2023 cohort (no rule: any session, any supervision): 李娜 met both in September
        assert kept == {
            1: {1: (False, False, False, None, None, None, 4), 2: (False, False, False, None, None, None, 3)},
            2: {2: (True, True, True, 202309, 202309, 202309, 3)},
        }
        db.session.remove()
        db.engine.dispose()


def test_0013_makes_a_pass_mark_an_assessment_and_a_stored_score_its_first_sitting(empty_url):
    """A course's pass mark becomes its 结业考核 and the scores stored on enrolments its first sitting, so
    what passed before passes now, and the completions are the same."""
    from shegong_academy.ledger.queries import completions
    from shegong_academy.training import grading
    from shegong_academy.training.models import Assessment, AssessmentResult, Course, Enrolment

    app = make_app(empty_url)
    with app.app_context():
        upgrade(directory=MIGRATIONS, revision="0012_cohort_standings")
        with db.engine.begin() as conn:
            fill(conn)
        upgrade(directory=MIGRATIONS, revision="0013_assessments")
        assessments = db.session.scalars(db.select(Assessment)).all()
        assert [
            (a.course_id, a.title, a.kind, a.max_score, a.pass_mark, a.weight, a.retake_rule) for a in assessments
        ] == [(1, "结业考核", "exam", Decimal("100.0"), Decimal("60.0"), Decimal("1.00"), "best")]
        results = db.session.scalars(db.select(AssessmentResult)).all()
        assert [(r.assessment_id, r.person_id, r.attempt, r.outcome, r.score) for r in results] == [
            (assessments[0].id, 1, 1, "scored", Decimal("86.0"))
        ]
        stored = {e.id: (e.score, e.passed) for e in db.session.scalars(db.select(Enrolment))}
        assert stored == {1: (86, True), 2: (None, False)}
        # the application's own grading agrees with what the upgrade stored
        grading.regrade(db.session.get(Course, 1))
        assert {e.id: (e.score, e.passed) for e in db.session.scalars(db.select(Enrolment))} == stored
        # 张伟 attended course 1's only session: completed, as before (score 86 ≥ 60)
        assert sorted(db.session.execute(completions(None)).all()) == [(1, 1)]
        db.session.remove()
        db.engine.dispose()


def test_0018_gives_each_certificate_its_credential_types_issuing_unit(empty_url):
    """The certificates issued before signing existed belong to the unit their credential type names."""
    app = make_app(empty_url)
    with app.app_context():
        upgrade(directory=MIGRATIONS, revision="0017_quizzes")
        with db.engine.begin() as conn:
            fill(conn)
            conn.execute(text("UPDATE credential_types SET issuer_unit_id = 1 WHERE id = 2"))
            conn.execute(text("UPDATE certificates SET credential_id = 2 WHERE id = 2"))
        upgrade(directory=MIGRATIONS, revision="0018_issuer_keys")
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT id, issuer_unit_id FROM certificates ORDER BY id")).all()
            assert conn.execute(text("SELECT count(*) FROM issuer_keys")).scalar() == 0
        assert [tuple(r) for r in rows] == [(1, 2), (2, 1)]
        db.session.remove()
        db.engine.dispose()


def test_0020_gives_each_issuing_unit_the_name_and_seal_of_its_newest_type(empty_url):
    """A unit issues under one name: its newest type's, which its other types then print too."""
    app = make_app(empty_url)
    with app.app_context():
        upgrade(directory=MIGRATIONS, revision="0019_renewal_rules")
        with db.engine.begin() as conn:
            fill(conn)
            conn.execute(text("UPDATE credential_types SET issuer_unit_id = 2, seal_key = NULL WHERE id = 2"))
        upgrade(directory=MIGRATIONS, revision="0020_unit_issuer")
        with db.engine.connect() as conn:
            units = conn.execute(text("SELECT id, issuer_name, seal_key FROM org_units ORDER BY id")).all()
            kinds = conn.execute(text("SELECT id, issuer_name, seal_key FROM credential_types ORDER BY id")).all()
        # The newest type's name; its seal-less newest type does not take away the seal the older one printed.
        seal = ROWS["credential_types"][0]["seal_key"]
        assert [tuple(u) for u in units] == [
            (1, None, None),
            (2, "杭州市民政局", seal),
            (3, None, None),
            (4, None, None),
        ]
        assert [tuple(k) for k in kinds] == [(1, "杭州市民政局", seal), (2, "杭州市民政局", seal)]
        db.session.remove()
        db.engine.dispose()


def test_0021_gives_each_certificate_its_lookup_key_and_a_random_distinct_status_entry(empty_url):
    app = make_app(empty_url)
    with app.app_context():
        upgrade(directory=MIGRATIONS, revision="0020_unit_issuer")
        with db.engine.begin() as conn:
            fill(conn)
        upgrade(directory=MIGRATIONS, revision="0021_certificate_lookup")
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT id, serial_key, status_index FROM certificates ORDER BY id")).all()
        assert [(r[0], r[1]) for r in rows] == [(1, "GSPX202400001"), (2, "GSPX202400002")]
        indexes = [r[2] for r in rows]
        assert len(set(indexes)) == 2 and all(0 <= i < 131_072 for i in indexes)
        db.session.remove()
        db.engine.dispose()


def test_0022_moves_every_notice_into_the_notifications(empty_url):
    app = make_app(empty_url)
    with app.app_context():
        upgrade(directory=MIGRATIONS, revision="0021_certificate_lookup")
        with db.engine.begin() as conn:
            fill(conn)
        upgrade(directory=MIGRATIONS, revision="0022_notifications")
        with db.engine.connect() as conn:
            moved = conn.execute(
                text("SELECT key, kind, person_id, user_id, read_at, mail_state FROM notifications ORDER BY id")
            ).all()
            prefs = conn.execute(text("SELECT email, notify_prefs FROM users ORDER BY id")).all()
        notices = ROWS["person_notices"]
        assert [(r[0], r[1], r[2], r[3], r[5]) for r in moved] == [
            (f"notice:{n['id']}", n["kind"], n["person_id"], None, "none") for n in notices
        ]
        assert [r[4] is None for r in moved] == [n["read_at"] is None for n in notices]
        assert {(email, str(p)) for email, p in prefs} == {(None, "{}")}
        db.session.remove()
        db.engine.dispose()
