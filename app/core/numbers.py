"""Numbers typed by people and integrations, rounded the way their column stores them."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from wtforms import DecimalField
from wtforms.validators import StopValidation

# Past this a value is out of every range the academy has; it is returned unrounded so the caller's
# range check refuses it (quantize would raise on a huge exponent such as 1E+900).
_HUGE = Decimal(10) ** 12


def parse_decimal(value, places: str) -> Decimal | None:
    """Return ``value`` as a Decimal rounded half-up to ``places`` (e.g. ``"0.1"``), or None if it is not a
    finite number.

    Range checks must run on the rounded value: 0.01 hours is more than 0, but the column keeps one
    decimal place and would store 0.0, which its CHECK constraint refuses.
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite():
        return None
    if number.copy_abs() >= _HUGE:
        return number
    rounded = number.quantize(Decimal(places), rounding=ROUND_HALF_UP)
    return rounded.copy_abs() if rounded.is_zero() else rounded  # -0.04 rounds to 0.0, not "-0.0"


class FiniteDecimalField(DecimalField):
    """WTForms' DecimalField that refuses NaN and infinities as "not a valid decimal value", and says only
    that when a value is not a number.

    (WTForms' NumberRange calls ``math.isnan`` on the value, which raises on a signalling ``sNaN``.)
    Bounds given to NumberRange must be Decimals too: ``Decimal("0.1") < 0.1`` is true.
    """

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if isinstance(self.data, Decimal) and not self.data.is_finite():
            self.data = None
            raise ValueError(self.gettext("Not a valid decimal value."))

    def pre_validate(self, form):
        # Something typed that is not a number: that says it all, no range message on top of it. (An empty
        # field goes on to Optional / InputRequired, which decide about it.)
        if self.process_errors and self.raw_data and str(self.raw_data[0]).strip():
            raise StopValidation()


def points(value) -> str:
    """A score or mark as people write it: 60 rather than 60.0, 86.5 as it is (empty for None)."""
    if value is None:
        return ""
    text = f"{value:f}" if isinstance(value, Decimal) else str(value)
    return text.rstrip("0").rstrip(".") if "." in text else text
