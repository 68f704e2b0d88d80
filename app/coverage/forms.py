from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..core.i18n import _, _l
from ..core.numbers import FiniteDecimalField
from ..core.ranges import FIRST_YEAR, LAST_YEAR


class CohortForm(FlaskForm):
    name = StringField(
        _l("Cohort name"), validators=[DataRequired(), Length(max=120)], description=_l("e.g. 2026年项目社工转岗人员")
    )
    unit_id = SelectField(
        _l("Unit"), coerce=int, description=_l("Everyone of the chosen category in this unit and below.")
    )
    category = SelectField(_l("Category"), choices=[])
    year = IntegerField(_l("Year"), validators=[DataRequired(), NumberRange(FIRST_YEAR, LAST_YEAR)])
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
    require_passing = BooleanField(
        _l("Trained also needs a pass in the assessments of the year's courses one holds a seat in"),
    )
    # Targets are entered as percentages (100 = everyone) and stored as shares.
    training_target = FiniteDecimalField(
        _l("Training target (%)"),
        places=1,
        default=100,
        validators=[DataRequired(), NumberRange(Decimal("1"), Decimal("100"))],
        description=_l("The share of the cohort to be trained, e.g. 100."),
    )
    supervision_target = FiniteDecimalField(
        _l("Supervision target (%)"),
        places=1,
        default=100,
        validators=[DataRequired(), NumberRange(Decimal("1"), Decimal("100"))],
    )
    freeze = BooleanField(_l("Freeze the member list now"))

    def offer(self, units, categories: dict) -> None:
        """Offer these units (indented by depth) and categories, or everyone."""
        self.unit_id.choices = [SelectChoice(u.id, "　" * u.depth + u.name) for u in units]
        self.category.choices = [SelectChoice("", _("Everyone"))] + [SelectChoice(k, v) for k, v in categories.items()]

    def cohort_data(self) -> dict:
        """The cohort the form describes: everyone of the category in the unit's subtree, no listed people."""
        return {
            "name": self.name.data,
            "year": self.year.data if self.year else None,
            "include_rule": True,
            "category": self.category.data or None,
            "member_ids": [],
            "min_training_hours": self.min_training_hours.data,
            "min_supervision_hours": self.min_supervision_hours.data,
            "require_passing": bool(self.require_passing.data),
            "training_target": (self.training_target.data / 100).quantize(Decimal("0.001")),
            "supervision_target": (self.supervision_target.data / 100).quantize(Decimal("0.001")),
        }
