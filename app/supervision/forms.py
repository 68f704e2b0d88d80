from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import DateField, SelectChoice, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..core.i18n import _l
from ..core.numbers import FiniteDecimalField

FORMAT_LABELS = {"individual": _l("One-to-one"), "group": _l("Group")}
MODE_LABELS = {"onsite": _l("On site"), "online": _l("Online")}
KIND_LABELS = {"special": _l("Special"), "overall": _l("Overall"), "peer": _l("Peer")}
FUNCTION_LABELS = {
    "administrative": _l("Administrative"),
    "educational": _l("Educational"),
    "supportive": _l("Supportive"),
}
CREDIT_LABELS = {"unconfirmed": _l("Unconfirmed"), "confirmed": _l("Confirmed"), "disputed": _l("Disputed")}


def choices(labels: dict) -> list[SelectChoice]:
    return [SelectChoice(code, label) for code, label in labels.items()]


class SupervisionForm(FlaskForm):
    supervisor_id = SelectField(_l("Supervisor"), coerce=int)
    supervisee_ids = SelectMultipleField(_l("Supervisees"), coerce=int, validators=[DataRequired()])
    format = SelectField(_l("Format"), choices=choices(FORMAT_LABELS))
    mode = SelectField(_l("Mode"), choices=choices(MODE_LABELS))
    kind = SelectField(_l("Kind"), choices=choices(KIND_LABELS))
    held_on = DateField(_l("Date"), validators=[DataRequired()])
    hours = FiniteDecimalField(
        _l("Duration (hours)"), places=1, validators=[DataRequired(), NumberRange(Decimal("0.1"), Decimal("8"))]
    )
    topic = StringField(_l("Topic"), validators=[DataRequired(), Length(max=200)])
    functions = SelectMultipleField(
        _l("Functions"),
        choices=choices(FUNCTION_LABELS),
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    advice = TextAreaField(_l("Advice"), validators=[Optional(), Length(max=5000)])
    follow_up = TextAreaField(_l("Follow-up"), validators=[Optional(), Length(max=5000)])
    notes = TextAreaField(
        _l("Confidential notes"),
        validators=[Optional(), Length(max=10000)],
        description=_l("Only you will ever see these notes: not coordinators, not administrators."),
    )


class DisputeForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=255)])
