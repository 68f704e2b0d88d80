from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.people.labels import CATEGORY_LABELS, LEVEL_LABELS, SERVICE_AREA_LABELS, TITLE_LABELS


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class PersonForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=64)])
    unit_id = SelectField(_l("Unit"), coerce=int)
    phone = StringField(_l("Mobile phone"), validators=[Optional(), Length(max=20)])
    id_number = StringField(
        _l("New ID number"),
        validators=[Optional(), Length(max=18)],
        description=_l("Leave empty to keep the current one."),
    )
    category = SelectField(_l("Category"), choices=list(CATEGORY_LABELS.items()))
    level = SelectField(_l("Qualification level"), choices=list(LEVEL_LABELS.items()))
    titles = MultiCheckboxField(_l("Titles"), choices=list(TITLE_LABELS.items()))
    service_areas = MultiCheckboxField(_l("Service areas"), choices=list(SERVICE_AREA_LABELS.items()))
    active = BooleanField(_l("Active"))


class ImportForm(FlaskForm):
    file = FileField(_l("Spreadsheet (CSV or XLSX)"), validators=[FileRequired()])
