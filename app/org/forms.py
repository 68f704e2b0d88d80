"""Unit forms: add, rename (and give a real code), move."""

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from ..core.i18n import _l
from .models import CODE_LENGTH, NAME_LENGTH


class UnitForm(FlaskForm):
    name = StringField(_l("Name of the unit"), validators=[DataRequired(), Length(max=NAME_LENGTH)])
    kind = SelectField(_l("Kind"), choices=[])
    parent_id = SelectField(_l("Under"), coerce=int)
    code = StringField(
        _l("Code"),
        validators=[Optional(), Length(max=CODE_LENGTH)],
        description=_l("The official code. A centre, station or room without one gets a generated code."),
    )


class RenameForm(FlaskForm):
    name = StringField(_l("Name of the unit"), validators=[DataRequired(), Length(max=NAME_LENGTH)])
    code = StringField(
        _l("Code"),
        validators=[Optional(), Length(max=CODE_LENGTH)],
        description=_l("Empty keeps a generated code; an official one replaces it."),
    )


class MoveForm(FlaskForm):
    parent_id = SelectField(_l("Move under"), coerce=int)
