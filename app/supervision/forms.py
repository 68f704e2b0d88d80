"""Supervision forms: record a session, dispute a credit."""

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..core.forms import MultiCheckboxField, choices
from ..core.i18n import _l
from ..core.numbers import FiniteDecimalField
from .labels import FORMAT_LABELS, FUNCTION_LABELS, KIND_LABELS, MODE_LABELS
from .models import FORMATS, FUNCTIONS, KINDS, MAX_HOURS, MIN_HOURS, MODES


class SupervisionForm(FlaskForm):
    supervisor_id = SelectField(_l("Supervisor"), coerce=int)
    supervisee_ids = SelectMultipleField(_l("Supervisees"), coerce=int, validators=[DataRequired()])
    format = SelectField(_l("Format"), choices=choices(FORMATS, FORMAT_LABELS))
    mode = SelectField(_l("Mode"), choices=choices(MODES, MODE_LABELS))
    kind = SelectField(_l("Kind"), choices=choices(KINDS, KIND_LABELS))
    held_on = DateField(_l("Date"), validators=[DataRequired()])
    hours = FiniteDecimalField(
        _l("Duration (hours)"), places=1, validators=[DataRequired(), NumberRange(MIN_HOURS, MAX_HOURS)]
    )
    topic = StringField(_l("Topic"), validators=[DataRequired(), Length(max=200)])
    functions = MultiCheckboxField(_l("Functions"), choices=choices(FUNCTIONS, FUNCTION_LABELS))
    advice = TextAreaField(_l("Advice"), validators=[Optional(), Length(max=5000)])
    follow_up = TextAreaField(_l("Follow-up"), validators=[Optional(), Length(max=5000)])
    notes = TextAreaField(
        _l("Confidential notes"),
        validators=[Optional(), Length(max=10000)],
        description=_l("Only the session's supervisor ever sees these notes: not coordinators, not administrators."),
    )


class DisputeForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=255)])


class CorrectionForm(FlaskForm):
    """The facts of a record its author may correct (the people stay; void and record again for those)."""

    held_on = SupervisionForm.held_on
    mode = SupervisionForm.mode
    kind = SupervisionForm.kind
    hours = SupervisionForm.hours
    topic = SupervisionForm.topic
    functions = SupervisionForm.functions
    advice = SupervisionForm.advice
    follow_up = SupervisionForm.follow_up
    notes = SupervisionForm.notes  # removed from the form for anyone but the session's supervisor


class VoidForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=255)])
