"""What a new password must be: 10 characters or more, not a common password, not the username.

The common passwords are the list Django ships (19,640 of them, from breached
accounts; see ``common-passwords.LICENSE.txt`` beside this file). A password
is compared case-insensitively, and also without the digits and punctuation
at its end, since ``Password1234`` and ``qwertyuiop2024!`` are what guessing
tools try right after ``password`` and ``qwertyuiop``.
"""

from __future__ import annotations

import gzip
import re
from functools import cache
from pathlib import Path

from ..core.i18n import _l

MIN_LENGTH = 10
MAX_LENGTH = 256
_LIST = Path(__file__).resolve().parent / "common-passwords.txt.gz"
_TAIL = re.compile(r"[\W\d_]+$")
_MIN_STEM = 4  # shorter stems ("abc" of "abc-secret-77") say nothing

MESSAGES = {
    "password_too_short": _l("The password needs at least %(n)d characters.", n=MIN_LENGTH),
    "password_too_long": _l("The password may have at most %(n)d characters.", n=MAX_LENGTH),
    "password_too_common": _l(
        "This password is one of the most common passwords (or one with digits added); choose another."
    ),
    "password_is_username": _l("The password must not be the username."),
}


@cache
def common_passwords() -> frozenset[str]:
    """Return the shipped list of common passwords, lowercased."""
    with gzip.open(_LIST, "rt", encoding="utf-8") as fh:
        return frozenset(line.strip() for line in fh if line.strip())


def password_problem(password: str, username: str | None = None) -> str | None:
    """Return why ``password`` may not be used (a key of MESSAGES), or None when it may."""
    if len(password) < MIN_LENGTH:
        return "password_too_short"
    if len(password) > MAX_LENGTH:
        return "password_too_long"
    folded = password.strip().casefold()
    if username and folded == username.strip().casefold():
        return "password_is_username"
    common = common_passwords()
    stem = _TAIL.sub("", folded)
    if folded in common or (len(stem) >= _MIN_STEM and stem in common):
        return "password_too_common"
    return None
