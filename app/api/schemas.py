"""Marshmallow schemas of the API: they validate input and document the OpenAPI contract."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.org.models import UNIT_KINDS


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100))


class UnitArgs(PageArgs):
    code = fields.String(validate=validate.Length(max=32))


class UnitSchema(Schema):
    id = fields.Integer(required=True)
    code = fields.String(allow_none=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(UNIT_KINDS))
    parent_id = fields.Integer(allow_none=True)


class UnitPage(Schema):
    items = fields.List(fields.Nested(UnitSchema), required=True)
    total = fields.Integer(required=True)


class PeopleArgs(PageArgs):
    unit = fields.String(validate=validate.Length(max=32), metadata={"description": "unit code; its whole subtree"})
    category = fields.String(
        validate=validate.OneOf(["community_worker", "project_social_worker", "station_worker", "other"])
    )


class PersonSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    unit_code = fields.String(allow_none=True)
    category = fields.String(required=True)
    level = fields.String(required=True)
    id_number = fields.String(required=True, metadata={"description": "masked: 3301**********1234"})
    phone = fields.String(allow_none=True)
    active = fields.Boolean(required=True)


class PersonPage(Schema):
    items = fields.List(fields.Nested(PersonSchema), required=True)
    total = fields.Integer(required=True)


class PersonCreate(Schema):
    unit_code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    id_number = fields.String(required=True, validate=validate.Length(min=1, max=32))
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=20))
    category = fields.String(load_default="community_worker", validate=validate.Length(max=32))
    level = fields.String(load_default="none", validate=validate.Length(max=32))


class Created(Schema):
    id = fields.Integer(required=True)


class Problem(Schema):
    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.Raw()


class ProgramCreate(Schema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=120))
    kind = fields.String(required=True, validate=validate.OneOf(["camp", "class", "workshop", "salon", "forum"]))
    unit_code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100))
    tier = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=16))
    starts_on = fields.Date(load_default=None, allow_none=True)
    ends_on = fields.Date(load_default=None, allow_none=True)
    audience = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=255))


class CourseCreate(Schema):
    program_id = fields.Integer(required=True, strict=True)
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    title = fields.String(required=True, validate=validate.Length(min=1, max=120))
    hours = fields.Decimal(
        required=True, places=1, as_string=False, validate=validate.Range(min=0, min_inclusive=False, max=200)
    )
    capacity = fields.Integer(
        load_default=None, allow_none=True, strict=True, validate=validate.Range(min=1, max=100000)
    )
    policy = fields.String(load_default="open", validate=validate.OneOf(["open", "coordinator", "cohort"]))
    min_attendance = fields.Decimal(
        load_default=None, allow_none=True, validate=validate.Range(min=0, min_inclusive=False, max=1)
    )
    pass_mark = fields.Integer(load_default=None, allow_none=True, strict=True, validate=validate.Range(min=0, max=100))
    content_slug = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))


class SessionCreate(Schema):
    course_id = fields.Integer(required=True, strict=True)
    starts_at = fields.DateTime(
        required=True, metadata={"description": "ISO 8601; without an offset, local time of the deployment"}
    )
    ends_at = fields.DateTime(required=True)
    hours = fields.Decimal(required=True, validate=validate.Range(min=0, min_inclusive=False, max=24))
    mode = fields.String(load_default="onsite", validate=validate.OneOf(["onsite", "online"]))
    place = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=120))


class EnrolmentCreate(Schema):
    person_id = fields.Integer(required=True, strict=True)


class EnrolmentSchema(Schema):
    id = fields.Integer(required=True)
    course_id = fields.Integer(required=True)
    person_id = fields.Integer(required=True)
    status = fields.String(required=True)
    waitlist_position = fields.Integer(allow_none=True)


class AttendanceUpdate(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["present", "late", "excused", "absent"]))
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=255))


class AttendanceSchema(Schema):
    session_id = fields.Integer(required=True)
    person_id = fields.Integer(required=True)
    status = fields.String(required=True)
    reason = fields.String(allow_none=True)
    method = fields.String(required=True)


class HoursArgs(Schema):
    year = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=2000, max=2100))


class HoursSchema(Schema):
    person_id = fields.Integer(required=True)
    year = fields.Integer(allow_none=True)
    training_hours = fields.Float(required=True)
    supervision_hours = fields.Float(required=True)
    courses_completed = fields.Integer(required=True)
    sessions_attended = fields.Integer(required=True)
    supervision_sessions = fields.Integer(required=True)


class SupervisionCreate(Schema):
    supervisor_id = fields.Integer(required=True, strict=True)
    supervisee_ids = fields.List(fields.Integer(strict=True), required=True, validate=validate.Length(min=1, max=200))
    format = fields.String(required=True, validate=validate.OneOf(["individual", "group"]))
    mode = fields.String(required=True, validate=validate.OneOf(["onsite", "online"]))
    kind = fields.String(load_default="special", validate=validate.OneOf(["special", "overall", "peer"]))
    date = fields.Date(required=True)
    hours = fields.Decimal(required=True, validate=validate.Range(min=0, min_inclusive=False, max=8))
    topic = fields.String(required=True, validate=validate.Length(min=1, max=200))
    functions = fields.List(
        fields.String(validate=validate.OneOf(["administrative", "educational", "supportive"])), load_default=list
    )
    advice = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=5000))
    follow_up = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=5000))
    notes = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=10000),
        metadata={"description": "confidential: never returned by the API"},
    )


class SupervisionCreated(Schema):
    id = fields.Integer(required=True)
    warnings = fields.List(fields.String(), required=True)


class CreditSchema(Schema):
    person_id = fields.Integer(required=True)
    hours = fields.Float(required=True)
    status = fields.String(required=True)


class SupervisionSchema(Schema):
    """A supervision record as the API shows it: never the confidential notes."""

    id = fields.Integer(required=True)
    supervisor_id = fields.Integer(required=True)
    format = fields.String(required=True)
    mode = fields.String(required=True)
    kind = fields.String(required=True)
    date = fields.Date(required=True)
    hours = fields.Float(required=True)
    topic = fields.String(required=True)
    credits = fields.List(fields.Nested(CreditSchema), required=True)


class SupervisionPage(Schema):
    items = fields.List(fields.Nested(SupervisionSchema), required=True)
    total = fields.Integer(required=True)


class SupervisionArgs(PageArgs):
    year = fields.Integer(validate=validate.Range(min=2000, max=2100))
    format = fields.String(validate=validate.OneOf(["individual", "group"]))
    mode = fields.String(validate=validate.OneOf(["onsite", "online"]))
    supervisor_id = fields.Integer()


class ReportArgs(Schema):
    unit = fields.String(required=True, validate=validate.Length(min=1, max=32))
    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100))


class ReportUnit(Schema):
    code = fields.String(allow_none=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)


class ReportCohort(Schema):
    name = fields.String(required=True)
    members = fields.Integer(required=True)
    trained = fields.Integer(required=True)
    supervised = fields.Integer(required=True)
    training_rate = fields.Float(allow_none=True, required=True)
    supervision_rate = fields.Float(allow_none=True, required=True)
    training_target = fields.Float(required=True)
    supervision_target = fields.Float(required=True)


class ChildReport(Schema):
    unit = fields.Nested(ReportUnit, required=True)
    year = fields.Integer(required=True)
    people = fields.Integer(required=True)
    programs = fields.Integer(required=True)
    course_sessions = fields.Integer(required=True)
    supervision_sessions = fields.Integer(required=True)
    training_person_times = fields.Integer(required=True)
    supervision_person_times = fields.Integer(required=True)
    people_trained = fields.Integer(required=True)
    people_supervised = fields.Integer(required=True)
    cohorts = fields.List(fields.Nested(ReportCohort), required=True)


class Report(ChildReport):
    children = fields.List(fields.Nested(ChildReport), required=True)


class CohortCreate(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    unit_code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100))
    member_ids = fields.List(fields.Integer(strict=True), load_default=list, validate=validate.Length(max=100000))
    category = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(["community_worker", "project_social_worker", "station_worker", "other"]),
    )
    min_training_hours = fields.Decimal(load_default=None, allow_none=True, validate=validate.Range(min=0, max=10000))
    min_supervision_hours = fields.Decimal(
        load_default=None, allow_none=True, validate=validate.Range(min=0, max=10000)
    )
    min_courses = fields.Integer(
        load_default=None, allow_none=True, strict=True, validate=validate.Range(min=0, max=1000)
    )
    min_supervision_sessions = fields.Integer(
        load_default=None, allow_none=True, strict=True, validate=validate.Range(min=0, max=1000)
    )
    program_ids = fields.List(fields.Integer(strict=True), load_default=list)
    training_target = fields.Decimal(load_default=1, validate=validate.Range(min=0, min_inclusive=False, max=1))
    supervision_target = fields.Decimal(load_default=1, validate=validate.Range(min=0, min_inclusive=False, max=1))


class CohortCreated(Schema):
    id = fields.Integer(required=True)
    members = fields.Integer(required=True)


class VerifyClaims(Schema):
    training_hours = fields.Float(required=True)
    supervision_hours = fields.Float(required=True)
    programs = fields.List(fields.String(), required=True)
    transition = fields.Dict(allow_none=True, required=True)


class VerifySchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["valid", "revoked", "superseded", "expired"]))
    serial = fields.String(required=True)
    credential = fields.String(required=True)
    holder = fields.String(required=True, metadata={"description": "masked name"})
    issuer = fields.String(required=True)
    issued_on = fields.String(required=True)
    expires_on = fields.String(allow_none=True)
    claims = fields.Nested(VerifyClaims, required=True)
    revoked_on = fields.String(allow_none=True)
    revoke_reason = fields.String(allow_none=True)
    superseded_by = fields.String(allow_none=True)
