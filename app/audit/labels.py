"""How an audit entry's fields and coded values are named on the pages.

An entry keeps what the code wrote (``unit_id``, ``community_worker``). The pages, and the exports' words
columns, name a field as its form does and a code as its select does; a field or a code not named here is
shown as written. The exports keep what was written beside the words, for a machine to read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal

from flask_babel import get_locale

from ..auth.labels import ROLE_LABELS
from ..core.i18n import _, _l
from ..core.numbers import points
from ..org.labels import KIND_LABELS as UNIT_KIND_LABELS
from ..people.labels import CATEGORY_LABELS, LEVEL_LABELS, SERVICE_AREA_LABELS, TITLE_LABELS
from ..supervision import labels as supervision
from ..training import labels as training

# A field's name, whatever the object; then, where one name means another thing for an object, its own.
FIELDS = {
    "active": _l("Active"),
    "advice": _l("Advice"),
    "after": _l("After"),
    "audience": _l("Audience"),
    "cancelled": _l("Cancelled"),
    "before": _l("Before"),
    "capacity": _l("Capacity"),
    "category": _l("Category"),
    "ce_period": _l("A statement of the holder's registration period"),
    "certified_on": _l("Registered on"),
    "changes": _l("Changes"),
    "closed": _l("Closed"),
    "code": _l("Code"),
    "content_slug": _l("Course content"),
    "course_id": _l("Course"),
    "created": _l("Added"),
    "credential": _l("Credential"),
    "credential_types": _l("Credentials"),
    "date": _l("Date"),
    "design": _l("Design"),
    "email": _l("Mail address"),
    "ends_at": _l("Ends"),
    "ends_on": _l("Ends on"),
    "file": _l("File"),
    "follow_up": _l("Follow-up"),
    "format": _l("Format"),
    "functions": _l("Functions"),
    "generated": _l("generated code"),
    "held_on": _l("Date"),
    "hours": _l("Hours"),
    "id_number": _l("ID number"),
    "include_rule": _l("Everyone of the category"),
    "issuer_code": _l("Issuer code"),
    "issuer_name": _l("Issuer as printed"),
    "issuer_unit_id": _l("Issuing unit"),
    "kind": _l("Kind"),
    "level": _l("Qualification level"),
    "max_score": _l("Maximum score"),
    "method": _l("Recorded by"),
    "min_attendance": _l("Minimum attended share"),
    "min_average_score": _l("Minimum average score"),
    "min_supervision_hours": _l("Minimum supervision hours"),
    "min_training_hours": _l("Minimum training hours"),
    "mode": _l("Mode"),
    "name": _l("Name"),
    "notes": _l("Confidential notes"),
    "parent_id": _l("Under"),
    "pass_mark": _l("Pass mark"),
    "people": _l("People"),
    "period_year": _l("Counted in the year"),
    "person_id": _l("Person"),
    "phone": _l("Mobile phone"),
    "place": _l("Place"),
    "policy": _l("Enrolment"),
    "position": _l("Waitlist position"),
    "program_id": _l("Program"),
    "reason": _l("Reason"),
    "renewal_assessment_ids": _l("To renew: assessments passed again"),
    "renewal_min_hours": _l("To renew: hours since it was issued"),
    "renews": _l("Renews"),
    "replaces": _l("Replaces"),
    "require_passing": _l("Passed their assessments"),
    "required_assessment_ids": _l("Assessments to pass"),
    "required_program_ids": _l("Programs to complete"),
    "required_tiers": _l("Tiers to complete"),
    "retake_rule": _l("When sat more than once"),
    "role": _l("Role"),
    "rows": _l("Rows"),
    "seal_key": _l("Seal"),
    "serial": _l("Serial"),
    "service_areas": _l("Service areas"),
    "source": _l("Recorded by"),
    "starts_at": _l("Starts"),
    "starts_on": _l("Starts on"),
    "status": _l("Status"),
    "supervisees": _l("Supervisees"),
    "supervision_target": _l("Supervision goal"),
    "supervisor_id": _l("Supervised by"),
    "tier": _l("Tier"),
    "title": _l("Title"),
    "title_en": _l("Title (English)"),
    "titles": _l("Titles"),
    "told": _l("People told"),
    "tokens_revoked": _l("Tokens revoked"),
    "topic": _l("Topic"),
    "training_target": _l("Training goal"),
    "transition_from": _l("Holders move from"),
    "transition_to": _l("to"),
    "undone": _l("Revoked certificate"),
    "unit": _l("Unit"),
    "unit_id": _l("Unit"),
    "updated": _l("Updated"),
    "user": _l("Username"),
    "username": _l("Username"),
    "validity_months": _l("Valid for (months)"),
    "void": _l("Void"),
    "weight": _l("Weight"),
    "year": _l("Year"),
}
OBJECT_FIELDS = {
    "api_token": {"name": _l("Token name")},
    "cohort": {
        "name": _l("Cohort name"),
        "min_training_hours": _l("Trained: at least these training hours"),
        "min_supervision_hours": _l("Supervised: at least these supervision hours"),
    },
    "course": {"hours": _l("Credit hours"), "pass_mark": _l("Overall pass mark")},
    "credential_type": {"name": _l("Key")},
    "course_session": {"hours": _l("Credited hours")},
    "supervision_record": {"hours": _l("Duration (hours)"), "kind": _l("Supervision kind")},
    "org_unit": {"name": _l("Name of the unit")},
    "user": {"unit_id": _l("Unit covered")},
}

METHODS = {"roster": _l("roster"), "qr": _l("QR"), "import": _l("import"), "api": _l("API"), "quiz": _l("Online quiz")}
# A field's codes, whatever the object; then, where one field holds another object's codes, its own.
CODES: dict[str, Mapping] = {
    "category": CATEGORY_LABELS,
    "transition_from": CATEGORY_LABELS,
    "transition_to": CATEGORY_LABELS,
    "level": LEVEL_LABELS,
    "titles": TITLE_LABELS,
    "service_areas": SERVICE_AREA_LABELS,
    "role": ROLE_LABELS,
    "format": supervision.FORMAT_LABELS,
    "functions": supervision.FUNCTION_LABELS,
    "mode": training.MODE_LABELS,
    "policy": training.POLICY_LABELS,
    "retake_rule": training.RETAKE_LABELS,
    "method": METHODS,
    "source": METHODS,
    "status": training.STATUS_LABELS,
    "outcome": training.OUTCOME_LABELS,
    "tier": training.TIER_LABELS,
    "required_tiers": training.TIER_LABELS,
}
OBJECT_CODES: dict[str, dict[str, Mapping]] = {
    "org_unit": {"kind": UNIT_KIND_LABELS},
    "program": {"kind": training.KIND_LABELS},
    "assessment": {"kind": training.ASSESSMENT_KIND_LABELS},
    "supervision_record": {"kind": supervision.KIND_LABELS, "notes": {"changed": _l("Changed (not shown)")}},
    "supervision_credit": {"status": supervision.CREDIT_LABELS},
    "enrolment": {"status": training.ENROLMENT_LABELS},
}


def field_label(entity_type: str | None, key: str) -> str:
    """The name of an entry's field as the pages give it (the key itself if it has none)."""
    label = OBJECT_FIELDS.get(entity_type or "", {}).get(key) or FIELDS.get(key)
    return str(label) if label is not None else key


def code_label(entity_type: str | None, key: str, value):
    """A coded value of a field as the pages name it; any other value as it is."""
    if not isinstance(value, str):
        return value
    codes = OBJECT_CODES.get(entity_type or "", {}).get(key) or CODES.get(key)
    label = codes.get(value) if codes else None
    return str(label) if label is not None else value


# Fields that hold the number of another object, and which: shown by its name where the reader may see it.
REFERENCES = {
    "person_id": "person",
    "supervisor_id": "person",
    "supervisees": "person",
    "unit_id": "unit",
    "parent_id": "unit",
    "issuer_unit_id": "unit",
    "course_id": "course",
    "program_id": "program",
    "required_program_ids": "program",
    "unit": "unit",  # a unit's number, or (as an account's creation writes it) its code
}
# Fields that hold another object's key, as text, and which kind of key: shown by the object's name.
KEY_REFERENCES = {
    "unit": "unit_code",
    "credential": "credential_key",  # a certificate's credential type, by its key (completion): its title
}
OBJECTS = {
    "person": _l("Person"),
    "user": _l("Account"),
    "org_unit": _l("Organisation unit"),
    "program": _l("Program"),
    "course": _l("Course"),
    "course_session": _l("Session"),
    "enrolment": _l("Course enrolment"),
    "attendance": _l("Attendance"),
    "supervision_record": _l("Supervision record"),
    "assessment": _l("Assessment"),
    "supervision_credit": _l("Supervision confirmation"),
    "cohort": _l("Cohort"),
    "credential_type": _l("Credential type"),
    "certificate": _l("Certificate"),
    "api_token": _l("API token"),
    "system": _l("System"),
}


# What an entry records, as the pages say it; the log, its filter and its exports keep the code.
ACTIONS = {
    "assessment.create": _l("Assessment added"),
    "assessment.delete": _l("Assessment deleted"),
    "assessment.results": _l("Scores recorded"),
    "assessment.update": _l("Assessment edited"),
    "attendance.batch": _l("Attendance recorded in a batch"),
    "attendance.import": _l("Attendance imported"),
    "attendance.mark": _l("Attendance marked"),
    "attendance.qr": _l("Checked in by QR code"),
    "attendance.roster": _l("Attendance taken by roster"),
    "calendar.reset": _l("Calendar address reset"),
    "certificate.issue": _l("Certificate issued"),
    "certificate.reissue": _l("Certificate reissued"),
    "certificate.renew": _l("Certificate renewed"),
    "certificate.revoke": _l("Certificate revoked"),
    "cohort.create": _l("Cohort added"),
    "cohort.freeze": _l("Cohort frozen"),
    "cohort.update": _l("Cohort edited"),
    "course.close": _l("Course closed"),
    "course.create": _l("Course added"),
    "course.delete": _l("Course deleted"),
    "course.reopen": _l("Course reopened"),
    "course.update": _l("Course edited"),
    "credential_type.create": _l("Credential type added"),
    "credential_type.update": _l("Credential type edited"),
    "data_key.rotate": _l("Data key rotated"),
    "enrolment.enrolled": _l("Enrolled"),
    "enrolment.promote": _l("Moved up from the waitlist"),
    "enrolment.waitlisted": _l("Put on the waitlist"),
    "enrolment.withdraw": _l("Enrolment withdrawn"),
    "issuer_key.rotate": _l("Signing key rotated"),
    "person.category": _l("Category changed"),
    "person.create": _l("Person added"),
    "person.import": _l("People imported"),
    "person.reveal_id": _l("Full ID number viewed"),
    "person.update": _l("Person edited"),
    "program.close": _l("Program closed"),
    "program.create": _l("Program added"),
    "program.delete": _l("Program deleted"),
    "program.reopen": _l("Program reopened"),
    "program.update": _l("Program edited"),
    "role.grant": _l("Role granted"),
    "role.revoke": _l("Role revoked"),
    "session.cancel": _l("Session cancelled"),
    "session.create": _l("Session added"),
    "session.restore": _l("Session restored"),
    "session.update": _l("Session edited"),
    "supervision.confirmed": _l("Supervision confirmed"),
    "supervision.correct": _l("Supervision corrected"),
    "supervision.disputed": _l("Supervision disputed"),
    "supervision.record": _l("Supervision recorded"),
    "supervision.void": _l("Supervision voided"),
    "token.create": _l("API token created"),
    "token.revoke": _l("API token revoked"),
    "token.use": _l("API token used"),
    "unit.close": _l("Unit closed"),
    "unit.create": _l("Unit added"),
    "unit.import": _l("Units imported"),
    "unit.issuer": _l("Certificate issuer set"),
    "unit.move": _l("Unit moved"),
    "unit.rename": _l("Unit renamed"),
    "unit.reopen": _l("Unit reopened"),
    "user.create": _l("Account created"),
    "user.disable": _l("Account disabled"),
    "user.enable": _l("Account enabled"),
    "user.notifications": _l("Notification settings changed"),
    "user.password": _l("Password changed"),
    "user.password_link": _l("Password link sent"),
    "user.person": _l("Account linked to a person"),
    "user.signout": _l("Signed out everywhere"),
}


def action_label(action: str | None) -> str:
    """What an entry records, as the pages say it (the code itself where it has no words)."""
    label = ACTIONS.get(action or "")
    return str(label) if label is not None else (action or "")


def object_label(entity_type: str | None) -> str:
    """What kind of object an entry is about, as the pages name it."""
    label = OBJECTS.get(entity_type or "")
    return str(label) if label is not None else (entity_type or "")


def referenced(entries) -> dict[str, set[int]]:
    """The numbers of the people, units, courses and programs these entries name, by kind."""
    found: dict[str, set[int]] = {kind: set() for kind in set(REFERENCES.values())}
    for entry in entries:
        if entry.entity_type == "assessment" and isinstance(entry.after, dict):
            found["person"].update(person for person, _sitting, _old, _new in _sittings(entry.after.get("changes")))
        for side in (entry.before, entry.after):
            for key, value in (side or {}).items() if isinstance(side, dict) else ():
                kind, keyed = REFERENCES.get(key), KEY_REFERENCES.get(key)
                if kind is None and keyed is None:
                    continue
                for number in value if isinstance(value, list) else [value]:
                    if kind is not None and isinstance(number, int) and not isinstance(number, bool):
                        found[kind].add(number)
                    elif keyed is not None and isinstance(number, str) and number:
                        found.setdefault(keyed, set()).add(number)
    return found


def shown(entity_type: str | None, key: str, value, names: Mapping | None = None):
    """A scalar value of an entry's field as the pages show it: another object by its name (when ``names``,
    the reader's, has it), a code by its label, anything else as it is."""
    kind, keyed = REFERENCES.get(key), KEY_REFERENCES.get(key)
    if kind is not None and names and isinstance(value, int) and not isinstance(value, bool):
        return names.get((kind, value), value)
    if keyed is not None and names and isinstance(value, str):
        return names.get((keyed, value), value)
    return code_label(entity_type, key, value)


def value_text(value, entity_type: str | None, key: str, names: Mapping | None = None) -> str:
    """A field's value in words: "—" for nothing, yes or no for a switch, a list's items joined, a record's
    fields named, a reference by its name, a code by its label."""
    if value is None:
        return "—"
    if value is True or value is False:
        return str(_("Yes") if value else _("No"))
    if isinstance(value, str | int | float | Decimal):
        return str(shown(entity_type, key, value, names))
    if isinstance(value, Mapping):
        return ", ".join(
            f"{field_label(entity_type, k)}={value_text(v, entity_type, k, names)}" for k, v in value.items()
        )
    if isinstance(value, list | tuple):
        return _list_separator().join(value_text(v, entity_type, key, names) for v in value) or "—"
    return str(value)


def _list_separator() -> str:
    """A list's items as the reader's language separates them: 助残服务、养老服务; Disability support, Elderly care."""
    locale = get_locale()
    return "、" if locale is None or locale.language == "zh" else ", "


def _same(before, after) -> bool:
    """Whether a field kept its value: a list holding the same items in another order did (the form's ticks)."""
    if isinstance(before, list) and isinstance(after, list):
        try:
            return sorted(map(json.dumps, before)) == sorted(map(json.dumps, after))
        except TypeError:
            return before == after
    return before == after


def change_lines(entry, names: Mapping | None = None) -> list[tuple[str | None, str]]:
    """An entry's fields as (label, words) lines: "before → after" where both sides hold the field and it
    changed, the value alone where it did not (or only one side was written). Recorded scores read a line a
    sitting, with no label."""
    after, before = entry.after, entry.before
    fields = after or before or {}
    if not isinstance(fields, Mapping):
        return [(None, str(fields))]
    lines: list[tuple[str | None, str]] = []
    for key, value in fields.items():
        scores = score_changes(value, names) if entry.entity_type == "assessment" and key == "changes" else None
        if scores:
            lines.extend((None, line) for line in scores)
            continue
        text = value_text(value, entry.entity_type, key, names)
        if after and isinstance(before, Mapping) and key in before and not _same(before[key], value):
            text = f"{value_text(before[key], entry.entity_type, key, names)} → {text}"
        lines.append((_("%(field)s:", field=field_label(entry.entity_type, key)), text))
    return lines


def change_text(entry, names: Mapping | None = None) -> str:
    """An entry's change for an export's cell, a line a field: "Category: Community worker → Project social
    worker" (人员类别：社区专职工作者 → 项目社工)."""
    return "\n".join(_labelled(label, text) for label, text in change_lines(entry, names))


def _labelled(label: str | None, text: str) -> str:
    if not label:
        return text
    return f"{label}{text}" if label.endswith("：") else f"{label} {text}"


def recorded(side) -> str | None:
    """One side of an entry as it was written (JSON), for a machine reading an export."""
    return json.dumps(side, ensure_ascii=False, sort_keys=True, default=str) if side else None


def _sittings(changes) -> list[tuple[int, int, list | None, list | None]]:
    """An assessment's recorded scores, as written (``{"person#sitting": [before, after]}``, each side
    ``[outcome, score, reason]`` or None): (person, sitting, before, after), anything else left out."""
    found = []
    for key, sides in changes.items() if isinstance(changes, dict) else ():
        person, _hash, sitting = str(key).partition("#")
        if person.isdigit() and sitting.isdigit() and isinstance(sides, list) and len(sides) == 2:
            found.append((int(person), int(sitting), sides[0], sides[1]))
    return found


def _sitting_result(side) -> str:
    if not isinstance(side, list) or not side:
        return "—"
    outcome, score, reason = (list(side) + [None, None, None])[:3]
    text = points(score) if outcome == "scored" and score is not None else code_label(None, "outcome", outcome)
    return f"{text} ({reason})" if reason else str(text)


def score_changes(changes, names: Mapping | None = None) -> list[str] | None:
    """The scores an ``assessment.results`` entry records, a line each: "张三, sitting 1: — → 83"; the person
    by name where the reader may see them. None if the value is not such a record (it is then shown as any
    other)."""
    sittings = _sittings(changes)
    if not sittings or len(sittings) != len(changes):
        return None
    lines = []
    for person, sitting, before, after in sorted(sittings):
        who = (names or {}).get(("person", person), person)
        lines.append(
            _(
                "%(who)s, sitting %(n)d: %(before)s → %(after)s",
                who=who,
                n=sitting,
                before=_sitting_result(before),
                after=_sitting_result(after),
            )
        )
    return lines
