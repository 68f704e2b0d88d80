"""Marshmallow schemas of the API: they validate input and document the OpenAPI contract."""

from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import INCLUDE, Schema, ValidationError, fields, validate

from ..auth.permissions import ROLES
from ..core.i18n import gettext
from ..core.ranges import FIRST_YEAR, LAST_YEAR, MAX_ID
from ..core.routing import MAX_PAGE
from ..credentials.models import (
    BADGE_FORMATS,
    PDF_CHECK_STATUSES,
    PDF_SIGNATURES,
    SHOWN_STATUSES,
    STATUS_LIST_ENTRIES,
)
from ..jobs.models import JOB_STATES
from ..org.models import UNIT_KINDS
from ..people.models import CATEGORIES
from ..supervision.models import CREDIT_STATUSES, FORMATS, FUNCTIONS, KINDS
from ..supervision.models import MODES as SUPERVISION_MODES
from ..training.models import (
    ASSESSMENT_KINDS,
    ATTENDANCE_STATUSES,
    ENROLMENT_STATUSES,
    MAX_ASSESSMENT_SCORE,
    MAX_ATTEMPTS,
    MAX_WEIGHT,
    POLICIES,
    PROGRAM_KINDS,
    RESULT_OUTCOMES,
    RETAKE_RULES,
)
from ..training.models import MODES as SESSION_MODES

MAX_JOB_ITEMS = 100_000  # people in one issuing job


def _within_years(value) -> None:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValidationError(gettext("Must lie between %(first)d and %(last)d.", first=FIRST_YEAR, last=LAST_YEAR))


def Id(**kwargs) -> fields.Integer:  # noqa: N802  (a field factory, read like a field class)
    """A database id: 1 … 2³¹−1 (a larger number would overflow the column, not just miss)."""
    return fields.Integer(validate=validate.Range(min=1, max=MAX_ID), **kwargs)


def Day(**kwargs) -> fields.Date:  # noqa: N802
    return fields.Date(validate=_within_years, **kwargs)


def Moment(**kwargs) -> fields.DateTime:  # noqa: N802
    return fields.DateTime(validate=_within_years, **kwargs)


def Year(**kwargs) -> fields.Integer:  # noqa: N802
    """A year the academy records: FIRST_YEAR … LAST_YEAR."""
    return fields.Integer(validate=validate.Range(min=FIRST_YEAR, max=LAST_YEAR), **kwargs)


def Choice(choices: tuple[str, ...], **kwargs) -> fields.String:  # noqa: N802
    """One of a model's enumerated values (the model's constant, never a copy of it)."""
    return fields.String(validate=validate.OneOf(choices), **kwargs)


class Decimal(fields.Decimal):
    """Loads exact decimals; dumps (and documents its bounds) as JSON numbers."""

    def _serialize(self, value, attr, obj, **kwargs):
        number = super()._serialize(value, attr, obj, **kwargs)
        return None if number is None else float(number)


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100))


class UnitArgs(PageArgs):
    code = fields.String(validate=validate.Length(max=32))


class UnitSchema(Schema):
    id = fields.Integer(required=True)
    code = fields.String(allow_none=True)
    name = fields.String(required=True)
    kind = Choice(UNIT_KINDS, required=True)
    parent_id = fields.Integer(allow_none=True)


class UnitPage(Schema):
    items = fields.List(fields.Nested(UnitSchema), required=True)
    total = fields.Integer(required=True)


class PeopleArgs(PageArgs):
    unit = fields.String(validate=validate.Length(max=32), metadata={"description": "unit code; its whole subtree"})
    category = Choice(CATEGORIES)


class PersonSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    unit_code = fields.String(allow_none=True)
    category = fields.String(required=True)
    level = fields.String(required=True)
    id_number = fields.String(required=True, metadata={"description": "masked: 3301**********1234"})
    phone = fields.String(allow_none=True)
    active = fields.Boolean(required=True)
    certified_on = fields.Date(allow_none=True)


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
    certified_on = fields.Date(
        load_default=None,
        allow_none=True,
        metadata={"description": "when the qualification was registered; continuing education counts from it"},
    )


class Created(Schema):
    id = fields.Integer(required=True)


class Problem(Schema):
    """RFC 9457 problem details, as every API error is answered."""

    type = fields.String(required=True, metadata={"description": "about:blank"})
    title = fields.String(required=True, metadata={"description": "the HTTP status's phrase"})
    status = fields.Integer(required=True)
    detail = fields.String(required=True, metadata={"description": "in the caller's language (Accept-Language)"})
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "field → messages; items of a list are named like items.3.status"},
    )


class ProgramCreate(Schema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=120))
    kind = Choice(PROGRAM_KINDS, required=True)
    unit_code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    year = Year(required=True, strict=True)
    tier = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=16))
    starts_on = Day(load_default=None, allow_none=True)
    ends_on = Day(load_default=None, allow_none=True)
    audience = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=255))


class CourseCreate(Schema):
    program_id = Id(required=True, strict=True)
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    title = fields.String(required=True, validate=validate.Length(min=1, max=120))
    hours = Decimal(
        required=True, places=1, as_string=False, validate=validate.Range(min=0, min_inclusive=False, max=200)
    )
    capacity = fields.Integer(
        load_default=None, allow_none=True, strict=True, validate=validate.Range(min=1, max=100000)
    )
    policy = Choice(POLICIES, load_default="open")
    min_attendance = Decimal(
        load_default=None, allow_none=True, validate=validate.Range(min=0, min_inclusive=False, max=1)
    )
    pass_mark = fields.Integer(load_default=None, allow_none=True, strict=True, validate=validate.Range(min=0, max=100))
    content_slug = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))


class SessionCreate(Schema):
    course_id = Id(required=True, strict=True)
    starts_at = Moment(
        required=True, metadata={"description": "ISO 8601; without an offset, local time of the deployment"}
    )
    ends_at = Moment(required=True)
    hours = Decimal(required=True, validate=validate.Range(min=0, min_inclusive=False, max=24))
    mode = Choice(SESSION_MODES, load_default="onsite")
    place = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=120))


class ProgramUpdate(Schema):
    """The fields to change; those left out stay as they are."""

    title = fields.String(validate=validate.Length(min=1, max=120))
    kind = Choice(PROGRAM_KINDS)
    year = Year(strict=True)
    tier = fields.String(allow_none=True, validate=validate.Length(max=16))
    starts_on = Day(allow_none=True)
    ends_on = Day(allow_none=True)
    audience = fields.String(allow_none=True, validate=validate.Length(max=255))
    closed = fields.Boolean(metadata={"description": "closed: no more enrolment or sessions, history kept"})


class CourseUpdate(Schema):
    """The fields to change; those left out stay as they are."""

    code = fields.String(validate=validate.Length(min=1, max=32))
    title = fields.String(validate=validate.Length(min=1, max=120))
    hours = Decimal(places=1, as_string=False, validate=validate.Range(min=0, min_inclusive=False, max=200))
    capacity = fields.Integer(allow_none=True, strict=True, validate=validate.Range(min=1, max=100000))
    policy = Choice(POLICIES)
    min_attendance = Decimal(validate=validate.Range(min=0, min_inclusive=False, max=1))
    pass_mark = fields.Integer(allow_none=True, strict=True, validate=validate.Range(min=0, max=100))
    content_slug = fields.String(allow_none=True, validate=validate.Length(max=64))
    closed = fields.Boolean(metadata={"description": "closed: no more enrolment or sessions, history kept"})


class SessionUpdate(Schema):
    """The fields to change (a new time or place is told to the enrolled trainees)."""

    starts_at = Moment(metadata={"description": "ISO 8601; without an offset, local time of the deployment"})
    ends_at = Moment()
    hours = Decimal(validate=validate.Range(min=0, min_inclusive=False, max=24))
    mode = Choice(SESSION_MODES)
    place = fields.String(allow_none=True, validate=validate.Length(max=120))


class Cancellation(Schema):
    reason = fields.String(
        required=True, validate=validate.Length(min=1, max=255), metadata={"description": "told to the trainees"}
    )


class EnrolmentCreate(Schema):
    person_id = Id(required=True, strict=True)


class EnrolmentSchema(Schema):
    id = fields.Integer(required=True)
    course_id = fields.Integer(required=True)
    person_id = fields.Integer(required=True)
    status = fields.String(required=True)
    waitlist_position = fields.Integer(allow_none=True)


class AttendanceUpdate(Schema):
    status = Choice(ATTENDANCE_STATUSES, required=True)
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=255))


class AttendanceSchema(Schema):
    session_id = fields.Integer(required=True)
    person_id = fields.Integer(required=True)
    status = fields.String(required=True)
    reason = fields.String(allow_none=True)
    method = fields.String(required=True)


class HoursArgs(Schema):
    year = Year(load_default=None, allow_none=True)


class HoursSchema(Schema):
    person_id = fields.Integer(required=True)
    year = fields.Integer(allow_none=True)
    training_hours = fields.Float(required=True)
    supervision_hours = fields.Float(required=True)
    courses_completed = fields.Integer(required=True)
    sessions_attended = fields.Integer(required=True)
    supervision_sessions = fields.Integer(required=True)


class SupervisionCreate(Schema):
    supervisor_id = Id(required=True, strict=True)
    supervisee_ids = fields.List(Id(strict=True), required=True, validate=validate.Length(min=1, max=200))
    format = Choice(FORMATS, required=True)
    mode = Choice(SUPERVISION_MODES, required=True)
    kind = Choice(KINDS, load_default="special")
    date = Day(required=True)
    hours = Decimal(required=True, validate=validate.Range(min=0, min_inclusive=False, max=8))
    topic = fields.String(required=True, validate=validate.Length(min=1, max=200))
    functions = fields.List(Choice(FUNCTIONS), load_default=list)
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
    void = fields.Boolean(required=True, metadata={"description": "a void record credits nobody"})
    void_reason = fields.String(allow_none=True)


class SupervisionUpdate(Schema):
    """What the author corrects; those left out stay. A new date or duration asks each supervisee again."""

    mode = Choice(SUPERVISION_MODES)
    kind = Choice(KINDS)
    date = Day()
    hours = Decimal(validate=validate.Range(min=0, min_inclusive=False, max=8))
    topic = fields.String(validate=validate.Length(min=1, max=200))
    functions = fields.List(Choice(FUNCTIONS))
    advice = fields.String(allow_none=True, validate=validate.Length(max=5000))
    follow_up = fields.String(allow_none=True, validate=validate.Length(max=5000))


class Voiding(Schema):
    reason = fields.String(
        required=True, validate=validate.Length(min=1, max=255), metadata={"description": "told to the supervisees"}
    )


class SupervisionPage(Schema):
    items = fields.List(fields.Nested(SupervisionSchema), required=True)
    total = fields.Integer(required=True)


class SupervisionArgs(PageArgs):
    year = Year()
    format = Choice(FORMATS)
    mode = Choice(SUPERVISION_MODES)
    supervisor_id = Id()
    supervisee_id = Id(metadata={"description": "records crediting this person"})
    status = Choice(
        CREDIT_STATUSES,
        metadata={"description": "records with at least one credit in this state"},
    )
    unit = fields.String(
        validate=validate.Length(max=32), metadata={"description": "unit code: records crediting people of its subtree"}
    )


class ReportArgs(Schema):
    unit = fields.String(required=True, validate=validate.Length(min=1, max=32))
    year = Year(required=True)


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
    year = Year(required=True, strict=True)
    member_ids = fields.List(
        Id(strict=True),
        load_default=list,
        validate=validate.Length(max=10000),
        metadata={"description": "people listed by id (at most 10,000; a larger group is a category rule)"},
    )
    category = Choice(CATEGORIES, load_default=None, allow_none=True)
    min_training_hours = Decimal(load_default=None, allow_none=True, validate=validate.Range(min=0, max=10000))
    min_supervision_hours = Decimal(load_default=None, allow_none=True, validate=validate.Range(min=0, max=10000))
    min_courses = fields.Integer(
        load_default=None, allow_none=True, strict=True, validate=validate.Range(min=0, max=1000)
    )
    min_supervision_sessions = fields.Integer(
        load_default=None, allow_none=True, strict=True, validate=validate.Range(min=0, max=1000)
    )
    program_ids = fields.List(Id(strict=True), load_default=list, validate=validate.Length(max=1000))
    require_passing = fields.Boolean(
        load_default=False,
        metadata={"description": "trained also needs a pass in the assessments of the year's courses"},
    )
    training_target = Decimal(load_default=1, validate=validate.Range(min=0, min_inclusive=False, max=1))
    supervision_target = Decimal(load_default=1, validate=validate.Range(min=0, min_inclusive=False, max=1))


class CohortCreated(Schema):
    id = fields.Integer(required=True)
    members = fields.Integer(required=True)


class VerifyClaims(Schema):
    training_hours = fields.Float(required=True)
    supervision_hours = fields.Float(required=True)
    programs = fields.List(fields.String(), required=True)
    transition = fields.Dict(allow_none=True, required=True)
    period = fields.Dict(allow_none=True, metadata={"description": "a statement's registration period: start, end"})
    ce = fields.Dict(
        allow_none=True,
        metadata={"description": "a statement's minimum: level, minimum_hours, hours, met, short_hours"},
    )


class DigitalCheck(Schema):
    key = fields.String(
        required=True, metadata={"description": "the id (JWK thumbprint) of the issuer's published key that signs"}
    )
    status_list = Choice(
        STATUS_LIST_ENTRIES,
        required=True,
        metadata={"description": "its bit in the issuer's status list: ok, or revoked (revoked or superseded)"},
    )


class VerifySchema(Schema):
    status = Choice(SHOWN_STATUSES, required=True)
    serial = fields.String(required=True)
    credential = fields.String(required=True)
    holder = fields.String(required=True, metadata={"description": "the holder's name, as the paper shows it"})
    unit = fields.String(allow_none=True, metadata={"description": "the holder's unit when issued"})
    id_number = fields.String(allow_none=True, metadata={"description": "masked ID number, as printed"})
    issuer = fields.String(required=True)
    issued_on = fields.String(required=True)
    expires_on = fields.String(allow_none=True)
    claims = fields.Nested(VerifyClaims, required=True)
    revoked_on = fields.String(allow_none=True)
    revoke_reason = fields.String(allow_none=True)
    superseded_by = fields.String(allow_none=True)
    full = fields.Boolean(required=True, metadata={"description": "true: reached with the verification code"})
    digital = fields.Nested(DigitalCheck, metadata={"description": "the signed credential, checked as anyone can"})


class PdfUpload(Schema):
    pdf = Upload(required=True, metadata={"description": "the certificate PDF to check (at most LMS_MAX_UPLOAD_BYTES)"})


class PdfCheckSchema(Schema):
    status = Choice(
        PDF_CHECK_STATUSES,
        required=True,
        metadata={"description": "the certificate's status; unknown when the file is no certificate of ours"},
    )
    serial = fields.String(allow_none=True, required=True, metadata={"description": "the certificate it is or claims"})
    intact = fields.Boolean(required=True, metadata={"description": "an unaltered original of an issued certificate"})
    signature = Choice(
        PDF_SIGNATURES,
        required=True,
        metadata={"description": "intact: an issuer's signature over the whole file; altered: changed after signing"},
    )


class FormatArgs(Schema):
    format = Choice(
        BADGE_FORMATS,
        load_default="json",
        metadata={"description": "json: the credential with an embedded ecdsa-jcs-2019 proof; jwt: the VC-JWT"},
    )


class LinkedDataDocument(Schema):
    """A JSON-LD document (a credential, a profile, a DID document): its fields are the standard's, not ours.

    Only documentation: the routes answer the document as built, every field of it.
    """

    class Meta:
        unknown = INCLUDE

    id = fields.String(required=True)


class KeySetSchema(Schema):
    keys = fields.List(fields.Dict(), required=True, metadata={"description": "public JWKs (ES256), retired ones too"})


# --- read-back: what an integrating platform wrote, as the API shows it ----------------------------------------


class ProgramArgs(PageArgs):
    year = Year()
    unit = fields.String(validate=validate.Length(max=32), metadata={"description": "unit code; its whole subtree"})


class ProgramSchema(Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    kind = fields.String(required=True)
    unit_code = fields.String(allow_none=True)
    year = fields.Integer(required=True)
    tier = fields.String(allow_none=True)
    starts_on = fields.Date(allow_none=True)
    ends_on = fields.Date(allow_none=True)
    audience = fields.String(allow_none=True)
    closed = fields.Boolean(required=True)


class ProgramPage(Schema):
    items = fields.List(fields.Nested(ProgramSchema), required=True)
    total = fields.Integer(required=True)


class CourseArgs(PageArgs):
    program_id = Id()


class CourseSchema(Schema):
    id = fields.Integer(required=True)
    program_id = fields.Integer(required=True)
    code = fields.String(required=True)
    title = fields.String(required=True)
    hours = fields.Float(required=True)
    capacity = fields.Integer(allow_none=True)
    policy = fields.String(required=True)
    min_attendance = fields.Float(required=True)
    pass_mark = fields.Integer(allow_none=True)
    content_slug = fields.String(allow_none=True)
    enrolled = fields.Integer(required=True, metadata={"description": "people holding a seat"})
    waitlisted = fields.Integer(required=True)
    closed = fields.Boolean(required=True)


class CoursePage(Schema):
    items = fields.List(fields.Nested(CourseSchema), required=True)
    total = fields.Integer(required=True)


class ProgramDetail(ProgramSchema):
    courses = fields.List(fields.Nested(CourseSchema), required=True)


class SessionArgs(PageArgs):
    course_id = Id()
    starts_from = Day(data_key="from", metadata={"description": "sessions starting on or after this day"})
    starts_to = Day(data_key="to", metadata={"description": "sessions starting on or before this day"})


class SessionSchema(Schema):
    id = fields.Integer(required=True)
    course_id = fields.Integer(required=True)
    starts_at = fields.DateTime(required=True, metadata={"description": "ISO 8601 with the deployment's offset"})
    ends_at = fields.DateTime(required=True)
    hours = fields.Float(required=True)
    mode = fields.String(required=True)
    place = fields.String(allow_none=True)
    cancelled = fields.Boolean(required=True, metadata={"description": "attendance kept, never counted"})
    cancel_reason = fields.String(allow_none=True)


class SessionPage(Schema):
    items = fields.List(fields.Nested(SessionSchema), required=True)
    total = fields.Integer(required=True)


class EnrolmentArgs(PageArgs):
    status = Choice(ENROLMENT_STATUSES)


class EnrolmentPage(Schema):
    items = fields.List(fields.Nested(EnrolmentSchema), required=True)
    total = fields.Integer(required=True)


class AttendancePage(Schema):
    """Attendance rows and how many there are: a page of a session's list, or every row a batch wrote."""

    items = fields.List(fields.Nested(AttendanceSchema), required=True)
    total = fields.Integer(required=True)


class AttendanceItem(AttendanceUpdate):
    person_id = Id(required=True, strict=True)


class AttendanceBatch(Schema):
    items = fields.List(fields.Nested(AttendanceItem), required=True, validate=validate.Length(min=1, max=1000))


class CohortArgs(PageArgs):
    unit = fields.String(validate=validate.Length(max=32), metadata={"description": "unit code; its whole subtree"})
    year = Year()


class CohortSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    unit_code = fields.String(allow_none=True)
    year = fields.Integer(required=True)
    category = fields.String(allow_none=True)
    members = fields.Integer(required=True)
    min_training_hours = fields.Float(allow_none=True)
    min_courses = fields.Integer(allow_none=True)
    program_ids = fields.List(fields.Integer(), required=True)
    require_passing = fields.Boolean(required=True)
    min_supervision_hours = fields.Float(allow_none=True)
    min_supervision_sessions = fields.Integer(allow_none=True)
    training_target = fields.Float(required=True)
    supervision_target = fields.Float(required=True)
    frozen = fields.Boolean(required=True)


class CohortPage(Schema):
    items = fields.List(fields.Nested(CohortSchema), required=True)
    total = fields.Integer(required=True)


class CohortDetail(CohortSchema):
    member_ids = fields.List(fields.Integer(), required=True)


class CertificateSchema(Schema):
    id = fields.Integer(required=True)
    serial = fields.String(required=True)
    credential = fields.String(required=True, metadata={"description": "the credential type's name"})
    title = fields.String(required=True)
    status = Choice(SHOWN_STATUSES, required=True)
    issued_on = fields.Date(required=True)
    expires_on = fields.Date(allow_none=True)
    revoked_on = fields.Date(allow_none=True)
    revoke_reason = fields.String(allow_none=True)
    verification_code = fields.String(required=True)
    verify_url = fields.String(required=True)


class CertificatePage(Schema):
    items = fields.List(fields.Nested(CertificateSchema), required=True)
    total = fields.Integer(required=True)


# --- jobs: heavy work the API starts and reports on ---------------------------------------------------------------


class IssueRequest(Schema):
    person_ids = fields.List(
        Id(),
        validate=validate.Length(min=1, max=MAX_JOB_ITEMS),
        metadata={"description": "the people to issue to; omit with all=true"},
    )
    all = fields.Boolean(load_default=False, metadata={"description": "everyone eligible in the caller's scope"})


class JobSchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    state = Choice(JOB_STATES, required=True)
    progress = fields.Integer(required=True)
    total = fields.Integer(required=True)
    result = fields.Dict(allow_none=True, required=True)
    result_url = fields.String(allow_none=True, required=True)
    error = fields.String(allow_none=True, required=True)
    created_at = fields.String(required=True)
    finished_at = fields.String(allow_none=True, required=True)


class RoleSchema(Schema):
    id = fields.Integer(required=True)
    role = fields.String(required=True)
    unit_code = fields.String(allow_none=True)
    unit_id = fields.Integer(required=True)


class UserSchema(Schema):
    id = fields.Integer(required=True)
    username = fields.String(required=True)
    enabled = fields.Boolean(required=True)
    person_id = fields.Integer(allow_none=True)
    roles = fields.List(fields.Nested(RoleSchema), required=True)


class UserPage(Schema):
    items = fields.List(fields.Nested(UserSchema), required=True)
    total = fields.Integer(required=True)


class UserArgs(PageArgs):
    q = fields.String(validate=validate.Length(max=64), metadata={"description": "username or the person's name"})


class UserCreate(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    role = Choice(ROLES, required=True)
    unit_code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    person_id = Id(load_default=None, allow_none=True, strict=True)


class UserUpdate(Schema):
    enabled = fields.Boolean(metadata={"description": "false: signed out everywhere, API tokens revoked"})
    person_id = Id(allow_none=True, strict=True)


class RoleGrant(Schema):
    role = Choice(ROLES, required=True)
    unit_code = fields.String(required=True, validate=validate.Length(min=1, max=32))


class PasswordLink(Schema):
    password_link = fields.String(
        required=True, metadata={"description": "for the account's owner: sets the password once, then expires"}
    )
    expires_in_hours = fields.Integer(required=True)


class UserCreated(UserSchema):
    password_link = fields.String(required=True)
    expires_in_hours = fields.Integer(required=True)


class SignedOut(Schema):
    sessions_ended = fields.Integer(required=True)


class AssessmentUpdate(Schema):
    """An assessment's fields; those left out of a PATCH stay as they are."""

    title = fields.String(validate=validate.Length(min=1, max=120))
    kind = Choice(ASSESSMENT_KINDS)
    max_score = Decimal(places=1, as_string=False, validate=validate.Range(min=0.1, max=MAX_ASSESSMENT_SCORE))
    pass_mark = Decimal(places=1, as_string=False, validate=validate.Range(min=0, max=MAX_ASSESSMENT_SCORE))
    weight = Decimal(places=2, as_string=False, validate=validate.Range(min=0.01, max=MAX_WEIGHT))
    retake_rule = Choice(RETAKE_RULES, metadata={"description": "which sitting counts: the best or the last"})


class AssessmentCreate(AssessmentUpdate):
    title = fields.String(required=True, validate=validate.Length(min=1, max=120))
    pass_mark = Decimal(
        places=1, as_string=False, required=True, validate=validate.Range(min=0, max=MAX_ASSESSMENT_SCORE)
    )


class AssessmentSchema(Schema):
    id = fields.Integer(required=True)
    course_id = fields.Integer(required=True)
    position = fields.Integer(required=True)
    title = fields.String(required=True)
    kind = fields.String(required=True)
    max_score = Decimal(required=True)
    pass_mark = Decimal(required=True)
    weight = Decimal(required=True)
    retake_rule = fields.String(required=True)


class AssessmentList(Schema):
    items = fields.List(fields.Nested(AssessmentSchema), required=True)


class ResultUpdate(Schema):
    """One sitting of one person: a score, or absent, or excused with a reason; outcome null clears the
    person's latest sitting."""

    sitting = fields.Integer(load_default=1, strict=True, validate=validate.Range(min=1, max=MAX_ATTEMPTS))
    outcome = Choice(RESULT_OUTCOMES, load_default="scored", allow_none=True)
    score = Decimal(places=1, as_string=False, load_default=None, allow_none=True)
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=255))


class SittingSchema(Schema):
    sitting = fields.Integer(required=True)
    outcome = fields.String(required=True)
    score = Decimal(allow_none=True)
    reason = fields.String(allow_none=True)
    source = fields.String(required=True)


class ResultSchema(Schema):
    """A person's sittings of an assessment, what counts, and their course result."""

    assessment_id = fields.Integer(required=True)
    person_id = fields.Integer(required=True)
    sittings = fields.List(fields.Nested(SittingSchema), required=True)
    counted_outcome = fields.String(allow_none=True, metadata={"description": "scored, absent, excused or null"})
    counted_score = Decimal(allow_none=True)
    passed = fields.Boolean(required=True, metadata={"description": "the counted score reaches the pass mark"})
    course_score = fields.Integer(allow_none=True, metadata={"description": "weighted, 0-100"})
    course_passed = fields.Boolean(required=True)


class ResultList(Schema):
    items = fields.List(fields.Nested(ResultSchema), required=True)


class RatingResult(Schema):
    key = fields.String(required=True)
    question = fields.String(required=True)
    answered = fields.Integer(required=True)
    average = fields.Float(allow_none=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


class CommentResult(Schema):
    key = fields.String(required=True)
    question = fields.String(required=True)
    comments = fields.List(fields.String(), required=True)


class EvaluationSchema(Schema):
    """A course's training evaluation: aggregates only, and none until enough people answered."""

    course_id = fields.Integer(required=True)
    questionnaire = fields.String(required=True)
    responses = fields.Integer(required=True)
    seated = fields.Integer(required=True)
    shown = fields.Boolean(required=True, metadata={"description": "false until 5 people have answered"})
    ratings = fields.List(fields.Nested(RatingResult), required=True)
    comments = fields.List(fields.Nested(CommentResult), required=True)
