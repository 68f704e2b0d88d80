from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, NumberRange, Optional

from ..core.i18n import _l
from ..core.ranges import MAX_ID


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=256)])
    # Length and the common-password list are checked by the service (app/auth/passwords.py).
    new = PasswordField(
        _l("New password"),
        validators=[DataRequired()],
        description=_l("At least 10 characters; common passwords are refused. A few unrelated words work well."),
    )
    confirm = PasswordField(
        _l("Repeat the new password"), validators=[DataRequired(), EqualTo("new", message=_l("The passwords differ."))]
    )
    revoke_tokens = BooleanField(default=True)  # labelled with the count on the page


class TokenForm(FlaskForm):
    name = StringField(
        _l("Token name"),
        validators=[DataRequired(), Length(max=64)],
        description=_l("What the token is for, e.g. the district platform."),
    )
    days = IntegerField(
        _l("Valid for (days)"), validators=[Optional(), NumberRange(1, 3650)], description=_l("Empty: until revoked.")
    )


class InviteForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    role = SelectField(_l("Role"), choices=[])
    unit_id = SelectField(_l("Unit covered"), coerce=int, description=_l("The role covers this unit and all below it."))
    person_id = IntegerField(
        _l("Person"),
        validators=[Optional(), NumberRange(1, MAX_ID)],
        description=_l("Who the account belongs to: required for a trainee."),
    )


class GrantForm(FlaskForm):
    role = SelectField(_l("Role"), choices=[])
    unit_id = SelectField(_l("Unit covered"), coerce=int)


class LinkPersonForm(FlaskForm):
    person_id = IntegerField(_l("Person"), validators=[Optional(), NumberRange(1, MAX_ID)])


class SetPasswordForm(FlaskForm):
    new = PasswordField(
        _l("New password"),
        validators=[DataRequired()],
        description=_l("At least 10 characters; common passwords are refused. A few unrelated words work well."),
    )
    confirm = PasswordField(
        _l("Repeat the new password"), validators=[DataRequired(), EqualTo("new", message=_l("The passwords differ."))]
    )
