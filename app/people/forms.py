"""People forms: edit a person, give the supervisor assignment."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from ..core.forms import MultiCheckboxField, choices
from ..core.i18n import _l
from .labels import CATEGORY_LABELS, LEVEL_LABELS, SERVICE_AREA_LABELS, TITLE_LABELS
from .models import CATEGORIES, LEVELS, SERVICE_AREAS, TITLES

# The PersonForm fields handed to services.update_person (the unit goes on its own).
PERSON_FIELDS = (
    "name",
    "phone",
    "id_number",
    "category",
    "level",
    "certified_on",
    "titles",
    "service_areas",
    "active",
)


class PersonForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=64)])
    unit_id = SelectField(_l("Unit"), coerce=int)
    phone = StringField(_l("Mobile phone"), validators=[Optional(), Length(max=20)])
    id_number = StringField(
        _l("New ID number"),
        validators=[Optional(), Length(max=18)],
        description=_l("Leave empty to keep the current one."),
    )
    category = SelectField(_l("Category"), choices=choices(CATEGORIES, CATEGORY_LABELS))
    level = SelectField(_l("Qualification level"), choices=choices(LEVELS, LEVEL_LABELS))
    certified_on = DateField(
        _l("Registered on"),
        validators=[Optional()],
        description=_l("When the qualification was registered: continuing-education periods count from it."),
    )
    titles = MultiCheckboxField(_l("Titles"), choices=choices(TITLES, TITLE_LABELS))
    service_areas = MultiCheckboxField(_l("Service areas"), choices=choices(SERVICE_AREAS, SERVICE_AREA_LABELS))
    active = BooleanField(_l("Active"))


class SupervisorForm(FlaskForm):
    """Give the supervisor assignment; username and password only when the person has no account."""

    username = StringField(_l("Username"), validators=[Optional(), Length(max=64)])
    password = StringField(_l("Initial password"), validators=[Optional(), Length(min=10, max=256)])
