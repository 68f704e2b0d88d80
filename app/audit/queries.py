"""Reading the audit trail: filtered by who, what, object and time, and kept to the reader's units.

An administrator reads every entry. A coordinator reads the entries made by the accounts they manage
(themselves included) and the entries about what lies in their units: people, accounts, units,
programs, courses and sessions, enrolments and attendance, supervision, cohorts, credential types and
certificates. Entries about another district's objects by another district's accounts stay out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.orm import aliased

from ..auth.models import RoleAssignment, User
from ..auth.permissions import MANAGE, roles_for
from ..coverage.models import Cohort
from ..credentials.models import Certificate, CredentialType
from ..extensions import db
from ..org.models import OrgUnit
from ..org.queries import in_scope
from ..people.models import Person
from ..supervision.models import SupervisionCredit, SupervisionRecord
from ..training.models import Attendance, Course, CourseSession, Enrolment, Program
from .models import AuditEntry

MANAGERS = roles_for(MANAGE)
ENTITY_TYPES = (
    "person",
    "user",
    "org_unit",
    "program",
    "course",
    "course_session",
    "enrolment",
    "attendance",
    "supervision_record",
    "supervision_credit",
    "cohort",
    "credential_type",
    "certificate",
    "api_token",
    "system",
)


@dataclass
class AuditFilters:
    who: str | None = None  # a username, exactly
    action: str | None = None  # an action, or its start ("course." for every course change)
    entity_type: str | None = None
    entity_id: int | None = None
    day_from: date | None = None
    day_to: date | None = None  # inclusive


def _about(entity_type: str, ids: Select) -> ColumnElement[bool]:
    return and_(AuditEntry.entity_type == entity_type, AuditEntry.entity_id.in_(ids))


def _in_scope(viewer) -> ColumnElement[bool]:
    here = in_scope(viewer, OrgUnit.id, MANAGERS)
    units = select(OrgUnit.id).where(here)
    people = select(Person.id).where(Person.unit_id.in_(units))
    programs = select(Program.id).where(Program.unit_id.in_(units))
    courses = select(Course.id).where(Course.program_id.in_(programs))
    sessions = select(CourseSession.id).where(CourseSession.course_id.in_(courses))
    records = select(SupervisionRecord.id).where(SupervisionRecord.unit_id.in_(units))
    # accounts with a role or a person here (the pages' stricter rule decides who manages them)
    accounts = select(User.id).where(
        or_(
            User.id.in_(select(RoleAssignment.user_id).where(RoleAssignment.unit_id.in_(units))),
            User.person_id.in_(people),
        )
    )
    return or_(
        AuditEntry.actor_id == viewer.id,
        AuditEntry.actor_id.in_(accounts),
        _about("person", people),
        _about("user", accounts),
        _about("org_unit", units),
        _about("program", programs),
        _about("course", courses),
        _about("course_session", sessions),
        _about("enrolment", select(Enrolment.id).where(Enrolment.course_id.in_(courses))),
        _about("attendance", select(Attendance.id).where(Attendance.session_id.in_(sessions))),
        _about("supervision_record", records),
        _about("supervision_credit", select(SupervisionCredit.id).where(SupervisionCredit.record_id.in_(records))),
        _about("cohort", select(Cohort.id).where(Cohort.unit_id.in_(units))),
        _about("credential_type", select(CredentialType.id).where(CredentialType.issuer_unit_id.in_(units))),
        _about("certificate", select(Certificate.id).where(Certificate.person_id.in_(people))),
    )


def audit_query(viewer, filters: AuditFilters) -> Select:
    """Select the entries ``viewer`` may read that match ``filters``, newest first."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc())
    if not viewer.is_admin:
        stmt = stmt.where(_in_scope(viewer))
    if filters.who:
        stmt = stmt.where(AuditEntry.actor_name == filters.who)
    if filters.action:
        action = filters.action
        stmt = stmt.where(
            AuditEntry.action.startswith(action, autoescape=True)
            if action.endswith(".")
            else AuditEntry.action == action
        )
    if filters.entity_type:
        stmt = stmt.where(AuditEntry.entity_type == filters.entity_type)
    if filters.entity_id is not None:
        stmt = stmt.where(AuditEntry.entity_id == filters.entity_id)
    tz = ZoneInfo(current_app.config["LMS_TIMEZONE"])
    if filters.day_from:
        stmt = stmt.where(AuditEntry.at >= datetime.combine(filters.day_from, time.min, tz))
    if filters.day_to:
        stmt = stmt.where(AuditEntry.at < datetime.combine(filters.day_to + timedelta(days=1), time.min, tz))
    return stmt


NAMES_CHUNK = 1000


def entry_names(viewer, entries) -> dict[tuple[str, int | str], str]:
    """The names of the people, units, courses and programs these entries refer to by number (units and
    credentials also by key), of those the viewer may see: {("person", 12): "李四", ("unit", 7): "拱墅区",
    ("credential_key", "completion"): "培训结业证书", ...}. One statement a kind named (a thousand at a time)."""
    from .labels import referenced

    wanted = referenced(entries)
    names: dict[tuple[str, int], str] = {}
    lookups = {
        "person": (select(Person.id, Person.name).where(in_scope(viewer, Person.unit_id)), Person.id),
        "unit": (select(OrgUnit.id, OrgUnit.name).where(in_scope(viewer, OrgUnit.id)), OrgUnit.id),
        "unit_code": (select(OrgUnit.code, OrgUnit.name).where(in_scope(viewer, OrgUnit.id)), OrgUnit.code),
        "program": (select(Program.id, Program.title).where(in_scope(viewer, Program.unit_id)), Program.id),
        "course": (
            select(Course.id, Course.title)
            .join(Program, Program.id == Course.program_id)
            .where(in_scope(viewer, Program.unit_id)),
            Course.id,
        ),
        # a credential's title is printed on each of its certificates and shown by verifying them: any reader
        # of an entry about one of them may read it
        "credential_key": (select(CredentialType.name, CredentialType.title), CredentialType.name),
    }
    for kind, (stmt, key) in lookups.items():
        numbers = sorted(wanted.get(kind) or ())
        for start in range(0, len(numbers), NAMES_CHUNK):  # an export's thousands, in bounded statements
            for number, name in db.session.execute(stmt.where(key.in_(numbers[start : start + NAMES_CHUNK]))):
                names[(kind, number)] = name
    _name_parents_of_namesakes(names)
    return names


def _name_parents_of_namesakes(names: dict) -> None:
    """Units of one name among those named (两个杏花社区 in two streets) are told apart by their parent, as the
    breadcrumbs name it: 米市巷街道 › 杏花社区 → 湖墅街道 › 杏花社区, where 杏花社区 → 杏花社区 said nothing."""
    units = {key[1]: name for key, name in names.items() if key[0] == "unit"}
    seen = Counter(units.values())
    namesakes = sorted(number for number, name in units.items() if seen[name] > 1)
    parent = aliased(OrgUnit)
    for start in range(0, len(namesakes), NAMES_CHUNK):
        chunk = namesakes[start : start + NAMES_CHUNK]
        stmt = select(OrgUnit.id, parent.name).join(parent, parent.id == OrgUnit.parent_id).where(OrgUnit.id.in_(chunk))
        for number, parent_name in db.session.execute(stmt):
            names[("unit", number)] = f"{parent_name} › {units[number]}"
