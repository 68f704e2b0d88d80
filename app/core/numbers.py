"""Numbers typed by people and integrations, rounded the way their column stores them."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

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
