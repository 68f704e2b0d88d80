"""The notification preferences form."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, TimeField
from wtforms.validators import Length, Optional, Regexp

from ..core.forms import MultiCheckboxField, choices
from ..core.i18n import _l
from .models import KINDS
from .wording import KIND_LABELS


class PreferencesForm(FlaskForm):
    email = EmailField(
        _l("Mail address"),
        validators=[
            Optional(),
            Length(max=254),
            Regexp(
                r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$", message=_l("Enter a mail address such as name@example.cn.")
            ),
        ],
        description=_l("Leave empty to be told in the app only."),
    )
    mail = BooleanField(_l("Send me mail"))
    mailed = MultiCheckboxField(_l("By mail as well"), choices=choices(KINDS, KIND_LABELS))
    digest = BooleanField(
        _l("One mail a day instead of a mail for each"),
        description=_l("Everything of the day comes in one digest in the morning."),
    )
    quiet_from = TimeField(_l("Quiet from"), validators=[Optional()])
    quiet_to = TimeField(_l("until"), validators=[Optional()])

    def validate(self, extra_validators=None) -> bool:
        # Not an inline validator: Optional() stops those on an empty field, and one end alone is the error.
        valid = super().validate(extra_validators)
        start, end = self.quiet_from.data, self.quiet_to.data
        if (start is None) != (end is None):
            self.quiet_to.errors = [*self.quiet_to.errors, _l("Give both ends of the quiet hours, or neither.")]
            return False
        if start is not None and start == end:
            self.quiet_to.errors = [
                *self.quiet_to.errors,
                _l("The quiet hours must end at another time than they start."),
            ]
            return False
        return valid
