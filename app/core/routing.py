"""URL converters of the academy."""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1  # the largest value of an INTEGER key on PostgreSQL (and what SQLite keeps exactly)


class IdConverter(IntegerConverter):
    """A database id in a URL: 1 … 2³¹−1. Anything else does not match, so the answer is 404, never an overflow."""

    def __init__(self, map, fixed_digits=0, min=1, max=MAX_ID, signed=False):  # noqa: A002  (werkzeug's names)
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def init_app(app: Flask) -> None:
    existing = app.url_map.converters.get("id")
    if existing is not None and existing is not IdConverter:
        raise RuntimeError("the host application already has a URL converter named 'id'")
    app.url_map.converters["id"] = IdConverter
