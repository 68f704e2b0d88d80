from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DecimalField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional


class CohortForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    unit_id = SelectField(
        _l("Unit"), coerce=int, description=_l("Everyone of the chosen category in this unit and below.")
    )
    category = SelectField(_l("Category"), choices=[])
    year = IntegerField(_l("Year"), validators=[DataRequired(), NumberRange(2000, 2100)])
    min_training_hours = DecimalField(
        _l("Trained: at least these training hours"), places=1, validators=[Optional(), NumberRange(0, 10000)]
    )
    min_supervision_hours = DecimalField(
        _l("Supervised: at least these supervision hours"), places=1, validators=[Optional(), NumberRange(0, 10000)]
    )
    training_target = DecimalField(
        _l("Training target"),
        places=2,
        default=1,
        validators=[DataRequired(), NumberRange(0.01, 1)],
        description=_l("1 = 100%"),
    )
    supervision_target = DecimalField(
        _l("Supervision target"), places=2, default=1, validators=[DataRequired(), NumberRange(0.01, 1)]
    )
    freeze = BooleanField(_l("Freeze the member list now"))
