"""The 18-character resident ID number (居民身份证号码, GB 11643-1999): validation and masking."""

from __future__ import annotations

import re
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_SHAPE = re.compile(r"^\d{17}[\dX]$")


class InvalidIdNumber(ValueError):
    """The text is not a valid resident ID number; ``reason`` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def check_digit(first17: str) -> str:
    """Return the GB 11643 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def normalise_id_number(raw: str) -> str:
    """Return the canonical form (upper-case X, no spaces) or raise :class:`InvalidIdNumber`."""
    value = (raw or "").strip().replace(" ", "").upper()
    if not _SHAPE.match(value):
        raise InvalidIdNumber("format")
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise InvalidIdNumber("birthdate") from None
    if check_digit(value[:17]) != value[17]:
        raise InvalidIdNumber("check_digit")
    return value


def mask_id_number(value: str) -> str:
    """Mask all but the first four and last four characters: ``3301**********1234``."""
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def make_id_number(prefix6: str, birth: date, seq: int) -> str:
    """Build a valid ID number (for the demo world and tests)."""
    first17 = f"{prefix6}{birth:%Y%m%d}{seq % 1000:03d}"
    return first17 + check_digit(first17)
