"""Training forms: programs, courses, sessions, enrolment; choices and bounds come from the models."""

from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import DateField, DateTimeLocalField, IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ..core.forms import choices
from ..core.i18n import _l
from ..core.numbers import FiniteDecimalField
from ..core.ranges import FIRST_YEAR, LAST_YEAR, MAX_ID
from .labels import ASSESSMENT_KIND_LABELS, KIND_LABELS, MODE_LABELS, POLICY_LABELS, RETAKE_LABELS, TIER_LABELS
from .models import (
    ASSESSMENT_KINDS,
    DEFAULT_MIN_ATTENDANCE,
    MAX_ASSESSMENT_SCORE,
    MAX_CAPACITY,
    MAX_COURSE_HOURS,
    MAX_PASS_MARK,
    MAX_SESSION_HOURS,
    MAX_WEIGHT,
    MIN_HOURS,
    MODES,
    POLICIES,
    PROGRAM_KINDS,
    RETAKE_RULES,
    TIERS,
)


class ProgramForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=120)])
    kind = SelectField(_l("Kind"), choices=choices(PROGRAM_KINDS, KIND_LABELS))
    tier = SelectField(_l("Tier"), choices=[SelectChoice("", "—")] + [SelectChoice(t, TIER_LABELS[t]) for t in TIERS])
    unit_id = SelectField(_l("Organising unit"), coerce=int)
    year = IntegerField(_l("Year"), validators=[InputRequired(), NumberRange(FIRST_YEAR, LAST_YEAR)])
    starts_on = DateField(_l("Starts on"), validators=[Optional()])
    ends_on = DateField(_l("Ends on"), validators=[Optional()])
    audience = StringField(_l("Audience"), validators=[Optional(), Length(max=255)])


class CourseForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=32)])
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=120)])
    hours = FiniteDecimalField(
        _l("Credit hours"), places=1, validators=[InputRequired(), NumberRange(MIN_HOURS, MAX_COURSE_HOURS)]
    )
    capacity = IntegerField(
        _l("Capacity"), validators=[Optional(), NumberRange(1, MAX_CAPACITY)], description=_l("Empty: no limit.")
    )
    policy = SelectField(_l("Enrolment"), choices=choices(POLICIES, POLICY_LABELS))
    # In percent, as the course page shows it (80%); the services and the API keep the share (0.80).
    min_attendance = FiniteDecimalField(
        _l("Minimum attendance (%)"),
        places=0,
        default=DEFAULT_MIN_ATTENDANCE * 100,
        validators=[InputRequired(), NumberRange(Decimal(1), Decimal(100))],  # models' share bounds, 0.01 and 1
        description=_l("Of all scheduled sessions of the course, from 1 to 100, e.g. 80."),
    )
    pass_mark = IntegerField(
        _l("Overall pass mark"),
        validators=[Optional(), NumberRange(0, MAX_PASS_MARK)],
        description=_l("Of the weighted score, 0 to 100. A course without assessments gets a 结业考核 out of 100."),
    )
    content_slug = SelectField(_l("Course content"), choices=[])


# What a browser's datetime-local input sends and shows: "2022-05-11T09:00" (the first format renders a value).
LOCAL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]


class SessionForm(FlaskForm):
    starts_at = DateTimeLocalField(_l("Starts"), format=LOCAL_FORMATS, validators=[DataRequired()])
    ends_at = DateTimeLocalField(_l("Ends"), format=LOCAL_FORMATS, validators=[DataRequired()])
    hours = FiniteDecimalField(
        _l("Credited hours"), places=1, validators=[InputRequired(), NumberRange(MIN_HOURS, MAX_SESSION_HOURS)]
    )
    mode = SelectField(_l("Mode"), choices=choices(MODES, MODE_LABELS))
    place = StringField(_l("Place"), validators=[Optional(), Length(max=120)])


class EnrolManyForm(FlaskForm):
    unit_id = SelectField(_l("Unit"), coerce=int)
    category = SelectField(_l("Category"), choices=[])


class EnrolOneForm(FlaskForm):
    person_id = IntegerField(_l("Person"), validators=[Optional(), NumberRange(1, MAX_ID)])


class ReasonForm(FlaskForm):
    """A reason that the people concerned will read (cancelling a session, voiding a record)."""

    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=255)])


class AssessmentForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=120)])
    kind = SelectField(_l("Kind"), choices=choices(ASSESSMENT_KINDS, ASSESSMENT_KIND_LABELS))
    max_score = FiniteDecimalField(
        _l("Maximum score"), places=1, default=100, validators=[InputRequired(), NumberRange(0.1, MAX_ASSESSMENT_SCORE)]
    )
    pass_mark = FiniteDecimalField(
        _l("Pass mark"), places=1, default=60, validators=[InputRequired(), NumberRange(0, MAX_ASSESSMENT_SCORE)]
    )
    weight = FiniteDecimalField(
        _l("Weight"),
        places=2,
        default=1,
        validators=[InputRequired(), NumberRange(0.01, MAX_WEIGHT)],
        description=_l("Its share of the course's weighted score, beside the other assessments' weights."),
    )
    retake_rule = SelectField(_l("When sat more than once"), choices=choices(RETAKE_RULES, RETAKE_LABELS))
