"""The credential type form: key, names, design, issuer and seal, rule, transition, validity."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, IntegerField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..core.i18n import _l
from ..core.numbers import FiniteDecimalField
from ..core.ranges import FIRST_YEAR, LAST_YEAR

# A choice the list does not offer (a page left open while the list changed, or another year's listing).
NOT_LISTED = _l("One of the chosen is not in this list: choose again from it.")


class CredentialTypeForm(FlaskForm):
    name = StringField(
        _l("Key"),
        validators=[DataRequired(), Length(max=64)],
        description=_l("Lowercase letters, digits and hyphens; used by the API, e.g. project-social-worker."),
    )
    title = StringField(_l("Title (Chinese)"), validators=[DataRequired(), Length(max=120)])
    title_en = StringField(_l("Title (English)"), validators=[Optional(), Length(max=120)])
    design = SelectField(_l("Design"), choices=[])
    issuer_unit_id = SelectField(_l("Issuing unit"), coerce=int)
    issuer_name = StringField(
        _l("Issuer as printed"),
        validators=[DataRequired(), Length(max=120)],
        description=_l(
            "e.g. 杭州市拱墅区民政局. The name and seal belong to the issuing unit: every credential it issues "
            "prints them, so a change here applies to all its credentials (certificates already issued keep theirs)."
        ),
    )
    issuer_code = StringField(
        _l("Issuer code"),
        validators=[DataRequired(), Length(max=32)],
        description=_l("Capital letters or digits; serial numbers start with it, e.g. GSMZ-2026-00001."),
    )
    seal = FileField(_l("Seal (PNG or SVG, at most 256 KB)"))
    drop_seal = BooleanField(_l("Remove the seal"))
    required_program_ids = SelectMultipleField(
        _l("Programs to complete"), coerce=int, choices=[], invalid_choice_message=NOT_LISTED
    )
    required_tiers = SelectMultipleField(_l("Tiers to complete"), choices=[])
    min_training_hours = FiniteDecimalField(
        _l("Minimum training hours"), places=1, validators=[Optional(), NumberRange(0, 1000)]
    )
    min_supervision_hours = FiniteDecimalField(
        _l("Minimum supervision hours"), places=1, validators=[Optional(), NumberRange(0, 1000)]
    )
    required_assessment_ids = SelectMultipleField(
        _l("Assessments to pass"), coerce=int, choices=[], invalid_choice_message=NOT_LISTED
    )
    min_average_score = FiniteDecimalField(
        _l("Minimum average score"),
        places=1,
        validators=[Optional(), NumberRange(0, 100)],
        description=_l("Of the course scores (0-100) of the programs required, or of the year's programs."),
    )
    period_year = IntegerField(
        _l("Counted in the year"),
        validators=[Optional(), NumberRange(FIRST_YEAR, LAST_YEAR)],
        description=_l("Empty: all hours, whenever earned."),
    )
    transition_from = SelectField(_l("Holders move from"), choices=[])
    transition_to = SelectField(_l("to"), choices=[])
    validity_years = IntegerField(
        _l("Valid for (years)"), validators=[Optional(), NumberRange(1, 50)], description=_l("Empty: no expiry.")
    )
    renewal_min_hours = FiniteDecimalField(
        _l("To renew: hours since it was issued"),
        places=1,
        validators=[Optional(), NumberRange(0, 1000)],
        description=_l("Continuing-education hours (training and supervision, as counted) earned since issue."),
    )
    renewal_assessment_ids = SelectMultipleField(
        _l("To renew: assessments passed again"),
        coerce=int,
        choices=[],
        invalid_choice_message=NOT_LISTED,
        description=_l(
            "Passed again: a passing sitting entered after the certificate was issued. "
            "With neither set, renewing asks the issuing rule again."
        ),
    )
    ce_period = BooleanField(
        _l("A statement of the holder's registration period"),
        description=_l(
            "The hours of the holder's current registration period, the minimum for their level and "
            "whether it is met (继续教育学时证明)."
        ),
    )


class RevokeBatchForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=255)])


class VerifyPdfForm(FlaskForm):
    """A certificate PDF to check: is it the unaltered original the academy issued?"""

    pdf = FileField(_l("Certificate PDF"), validators=[FileRequired(_l("Choose the PDF file to check."))])
