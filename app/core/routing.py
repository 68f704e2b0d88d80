"""URL converters of the academy."""

from __future__ import annotations

from flask import Flask
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter, Rule, ValidationError

from .ranges import FIRST_YEAR, LAST_YEAR, MAX_ID


class IdConverter(IntegerConverter):
    """A database id in a URL: 1 … 2³¹−1, never an overflow in the driver.

    Digits outside that range answer 404 at once, whatever the method or body: an id no row can have.
    (Only refusing the match made werkzeug answer 405 to a GET whenever another rule with other methods
    shares the path, e.g. PATCH and DELETE beside GET.)
    """

    def __init__(self, map, fixed_digits=0, min=1, max=MAX_ID, signed=False):  # noqa: A002  (werkzeug's names)
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)

    def to_python(self, value: str) -> int:
        try:
            return super().to_python(value)
        except ValidationError:
            raise NotFound() from None


class LazyRule(Rule):
    """A URL rule that writes its URL builders when first asked to build, not when the app is made.

    Werkzeug generates and compiles two Python functions per rule as it is added: about two thirds of
    ``create_app`` (157 rules, ~70 of 105 ms), paid by every process and every test app, though a
    process builds URLs for a handful of endpoints. The builder is the same one, compiled on first use.
    """

    def _compile_builder(self, append_unknown: bool = True):
        compile_now = super()._compile_builder
        built = None

        def build(rule, /, *args, **kwargs):  # positional-only: a URL value may be named "rule"
            nonlocal built
            if built is None:
                built = compile_now(append_unknown).__get__(rule, None)
            return built(*args, **kwargs)

        return build


def init_app(app: Flask) -> None:
    existing = app.url_map.converters.get("id")
    if existing is not None and existing is not IdConverter:
        raise RuntimeError("the host application already has a URL converter named 'id'")
    app.url_map.converters["id"] = IdConverter


# Whole numbers read from query strings and forms. Used as ``request.args.get(name, type=id_arg)``:
# werkzeug turns the ValueError into the default, so a value that cannot be one (too large for its
# column, "NaN", "²", "-1") counts as absent instead of reaching the database, where a number beyond
# the column's range is an error (a 500), not a miss.
MAX_PAGE = 100_000  # far past the last page of any list


def _whole_number(text: str, low: int, high: int) -> int:
    digits = (text or "").strip()
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 12:
        raise ValueError(f"not a whole number from {low} to {high}")
    value = int(digits)
    if not low <= value <= high:
        raise ValueError(f"not a whole number from {low} to {high}")
    return value


def id_arg(text: str) -> int:
    """Read a database id (1 … 2³¹−1); raise ValueError for anything else."""
    return _whole_number(text, 1, MAX_ID)


def year_arg(text: str) -> int:
    """Read a year the academy records (2000 … 2100); raise ValueError for anything else."""
    return _whole_number(text, FIRST_YEAR, LAST_YEAR)


def page_arg(text: str) -> int:
    """Read a page number (1 … 100,000); raise ValueError for anything else."""
    return _whole_number(text, 1, MAX_PAGE)


def requested_page(stmt):
    """The page of ``stmt`` a list page's ``?page=N`` asks for (a bad number: the first; past the end: empty),
    ``LMS_PER_PAGE`` rows long."""
    from flask import current_app, request

    from ..extensions import db

    return db.paginate(
        stmt,
        page=request.args.get("page", 1, type=page_arg) or 1,
        per_page=current_app.config["LMS_PER_PAGE"],
        max_per_page=100,
        error_out=False,
    )
