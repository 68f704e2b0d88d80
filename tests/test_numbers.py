"""parse_decimal: what people and integrations type, rounded as the column keeps it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shegong_academy.core.numbers import parse_decimal


@pytest.mark.parametrize(
    "value,places,expected",
    [
        (0.05, "0.1", Decimal("0.1")),  # half up, not to even
        (0.15, "0.1", Decimal("0.2")),
        ("1.25", "0.1", Decimal("1.3")),
        (" 2.5 ", "0.1", Decimal("2.5")),
        (0.01, "0.1", Decimal("0.0")),
        (-0.04, "0.1", Decimal("0.0")),
        ("0.855", "0.01", Decimal("0.86")),
        (3, "0.1", Decimal("3.0")),
        ("1E-900", "0.1", Decimal("0.0")),
        ("1E+900", "0.1", Decimal("1E+900")),  # left unrounded: every range check refuses it
    ],
)
def test_rounds_half_up_to_the_columns_places(value, places, expected):
    result = parse_decimal(value, places)
    assert result == expected and str(result) == str(expected)


@pytest.mark.parametrize("value", [None, True, False, "", "abc", "NaN", "inf", "-Infinity", "1,5", [], {}])
def test_what_is_not_a_finite_number_is_none(value):
    assert parse_decimal(value, "0.1") is None
