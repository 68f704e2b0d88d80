from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..core.i18n import _l
from ..core.numbers import FiniteDecimalField


class CohortForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    unit_id = SelectField(
        _l("Unit"), coerce=int, description=_l("Everyone of the chosen category in this unit and below.")
    )
    category = SelectField(_l("Category"), choices=[])
    year = IntegerField(_l("Year"), validators=[DataRequired(), NumberRange(2000, 2100)])
    min_training_hours = FiniteDecimalField(
        _l("Trained: at least these training hours"),
        places=1,
        validators=[Optional(), NumberRange(Decimal("0"), Decimal("10000"))],
    )
    min_supervision_hours = FiniteDecimalField(
        _l("Supervised: at least these supervision hours"),
        places=1,
        validators=[Optional(), NumberRange(Decimal("0"), Decimal("10000"))],
    )
    training_target = FiniteDecimalField(
        _l("Training target"),
        places=2,
        default=1,
        validators=[DataRequired(), NumberRange(Decimal("0.01"), Decimal("1"))],
        description=_l("1 = 100%"),
    )
    supervision_target = FiniteDecimalField(
        _l("Supervision target"),
        places=2,
        default=1,
        validators=[DataRequired(), NumberRange(Decimal("0.01"), Decimal("1"))],
    )
    freeze = BooleanField(_l("Freeze the member list now"))
