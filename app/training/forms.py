from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import DateField, DateTimeLocalField, IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ..core.i18n import _l
from ..core.numbers import FiniteDecimalField
from ..core.routing import MAX_ID

KIND_LABELS = {
    "camp": _l("Training camp"),
    "class": _l("Training class"),
    "workshop": _l("Workshop"),
    "salon": _l("Salon"),
    "forum": _l("Forum"),
}
POLICY_LABELS = {
    "open": _l("Open: trainees enrol themselves"),
    "coordinator": _l("By coordinator"),
    "cohort": _l("Whole cohort"),
}
MODE_LABELS = {"onsite": _l("On site"), "online": _l("Online")}
STATUS_LABELS = {"present": _l("Present"), "late": _l("Late"), "excused": _l("Excused"), "absent": _l("Absent")}
ENROLMENT_LABELS = {
    "enrolled": _l("Enrolled"),
    "waitlisted": _l("Waitlisted"),
    "withdrawn": _l("Withdrawn"),
    "completed": _l("Completed"),
    "not_completed": _l("Not completed"),
}
TIERS = ("新任", "骨干", "领军")


def choices(labels: dict) -> list[SelectChoice]:
    return [SelectChoice(code, label) for code, label in labels.items()]


class ProgramForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=120)])
    kind = SelectField(_l("Kind"), choices=choices(KIND_LABELS))
    tier = SelectField(_l("Tier"), choices=[SelectChoice("", "—")] + [SelectChoice(t, t) for t in TIERS])
    unit_id = SelectField(_l("Organising unit"), coerce=int)
    year = IntegerField(_l("Year"), validators=[InputRequired(), NumberRange(2000, 2100)])
    starts_on = DateField(_l("Starts on"), validators=[Optional()])
    ends_on = DateField(_l("Ends on"), validators=[Optional()])
    audience = StringField(_l("Audience"), validators=[Optional(), Length(max=255)])


class CourseForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=32)])
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=120)])
    hours = FiniteDecimalField(
        _l("Credit hours"), places=1, validators=[InputRequired(), NumberRange(Decimal("0.1"), Decimal("200"))]
    )
    capacity = IntegerField(
        _l("Capacity"), validators=[Optional(), NumberRange(1, 100000)], description=_l("Empty: no limit.")
    )
    policy = SelectField(_l("Enrolment"), choices=choices(POLICY_LABELS))
    min_attendance = FiniteDecimalField(
        _l("Minimum attended share"),
        places=2,
        default=0.8,
        validators=[InputRequired(), NumberRange(Decimal("0.01"), Decimal("1"))],
        description=_l("Of all scheduled sessions of the course, e.g. 0.8 for 80%."),
    )
    pass_mark = IntegerField(_l("Pass mark"), validators=[Optional(), NumberRange(0, 100)])
    content_slug = SelectField(_l("Course content"), choices=[])


class SessionForm(FlaskForm):
    starts_at = DateTimeLocalField(_l("Starts"), validators=[DataRequired()])
    ends_at = DateTimeLocalField(_l("Ends"), validators=[DataRequired()])
    hours = FiniteDecimalField(
        _l("Credited hours"), places=1, validators=[InputRequired(), NumberRange(Decimal("0.1"), Decimal("24"))]
    )
    mode = SelectField(_l("Mode"), choices=choices(MODE_LABELS))
    place = StringField(_l("Place"), validators=[Optional(), Length(max=120)])


class EnrolManyForm(FlaskForm):
    unit_id = SelectField(_l("Unit"), coerce=int)
    category = SelectField(_l("Category"), choices=[])


class EnrolOneForm(FlaskForm):
    person_id = IntegerField(_l("Person number"), validators=[DataRequired(), NumberRange(1, MAX_ID)])
