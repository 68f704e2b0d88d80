"""The API's validation messages in the caller's language.

marshmallow and webargs write their messages in English, formatted from
templates such as ``Length must be between {min} and {max}.``. Each template
below is a message id in the catalogues; :func:`translate` recognises a
formatted message by its template, translates the template and puts the
values back. Messages the academy writes itself are already translated.
"""

from __future__ import annotations

import re
from functools import cache

from ..core.i18n import gettext


def N_(message: str) -> str:  # noqa: N802  (marks a message for extraction: ``pybabel extract -k N_``)
    return message


TEMPLATES = (
    N_("Missing data for required field."),
    N_("Field may not be null."),
    N_("Invalid value."),
    N_("Invalid type."),
    N_("Invalid input type."),
    N_("Invalid input."),
    N_("Unknown field."),
    N_("Invalid JSON body."),
    N_("Not a valid list."),
    N_("Not a valid string."),
    N_("Not a valid utf-8 string."),
    N_("Not a valid number."),
    N_("Number too large."),
    N_("Not a valid integer."),
    N_("Not a valid boolean."),
    N_("Not a valid date."),
    N_("Not a valid datetime."),
    N_("Not a valid mapping type."),
    N_("Special numeric values (nan or infinity) are not permitted."),
    N_("Must be one of: {choices}."),
    N_("Must be greater than or equal to {min}."),
    N_("Must be greater than {min}."),
    N_("Must be less than or equal to {max}."),
    N_("Must be less than {max}."),
    N_("Must be greater than or equal to {min} and less than or equal to {max}."),
    N_("Must be greater than {min} and less than or equal to {max}."),
    N_("Must be greater than or equal to {min} and less than {max}."),
    N_("Must be greater than {min} and less than {max}."),
    N_("Shorter than minimum length {min}."),
    N_("Longer than maximum length {max}."),
    N_("Length must be between {min} and {max}."),
    N_("Length must be {equal}."),
)


@cache
def _patterns() -> list[tuple[re.Pattern, str]]:
    patterns = []
    for template in TEMPLATES:
        parts = re.split(r"\{(\w+)\}", template)
        regex = "".join(f"(?P<{p}>.+?)" if i % 2 else re.escape(p) for i, p in enumerate(parts))
        patterns.append((re.compile(f"^{regex}$", re.S), template))
    # The most specific template first: "Must be … {min} and … {max}." before "Must be … {min}.".
    return sorted(patterns, key=lambda p: -len(re.sub(r"\{\w+\}", "", p[1])))


def translate(message: str) -> str:
    """Return ``message`` in the request's language if it is one of the library messages, else unchanged."""
    for pattern, template in _patterns():
        match = pattern.match(message)
        if match:
            return gettext(template).format(**match.groupdict())
    return message


def field_errors(messages, prefix: str = "") -> dict[str, list[str]]:
    """Flatten marshmallow's nested messages into ``{"items.0.status": [...]}``, translated."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, dict):
                out.update(field_errors(value, name))
            else:
                out[name] = [translate(str(m)) for m in (value if isinstance(value, list) else [value])]
    else:
        out[prefix or "_schema"] = [translate(str(m)) for m in (messages if isinstance(messages, list) else [messages])]
    return out
