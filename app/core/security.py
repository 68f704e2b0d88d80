"""Response security headers (a strict CSP without inline script, frame denial, nosniff); input no field can
hold (NUL characters, lone surrogates, JSON nested too deep) refused."""

from __future__ import annotations

import json
import re

from flask import abort, current_app, request

from .i18n import _

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


# API bodies nest two or three levels. Python's JSON parser gives up near 1,000 levels with a
# RecursionError, and walking what it did parse recursively fails far earlier.
MAX_JSON_DEPTH = 32
_SURROGATE = re.compile("[\ud800-\udfff]")  # a lone half of a UTF-16 pair: no database stores it


def _unstorable(value) -> str | None:
    """Why ``value`` (query, form or JSON data) cannot be stored: "nul", "surrogate" or "depth"; else None."""
    stack = [(value, 0)]
    while stack:  # a loop, not recursion: any depth is walked safely
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "nul"
            if _SURROGATE.search(item):
                return "surrogate"
        elif isinstance(item, dict | list) and depth >= MAX_JSON_DEPTH:
            return "depth"
        elif isinstance(item, dict):
            stack.extend((key, depth) for key in item)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return None


def _unstorable_json_body() -> str | None:
    """Why the request's JSON body cannot be stored, like :func:`_unstorable`; malformed JSON is left
    to the API's parser, which says what is wrong with it."""
    if not request.is_json:
        return None
    try:
        body = json.loads(request.get_data(cache=True))
    except RecursionError:
        return "depth"
    except ValueError:
        return None
    return _unstorable(body)


def refuse_unstorable_input():
    """Answer 400 to input no field can hold: a NUL character (PostgreSQL cannot store one), a lone
    surrogate (no UTF-8 database can), JSON nested deeper than MAX_JSON_DEPTH. Otherwise they fail
    deep inside a parser or a write, as a 500, instead of with a message."""
    try:
        request.query_string.decode()
    except UnicodeDecodeError:
        # Raw bytes that are not UTF-8 (a browser would have percent-encoded them): read them as if they
        # were, which keeps them percent-encoded in the arguments, instead of failing wherever they are read.
        request.query_string = request.query_string.decode(errors="werkzeug.url_quote").encode()
    found = "nul" if "\x00" in request.path else _unstorable(request.args.to_dict(flat=False))
    if not found and request.method in ("POST", "PUT", "PATCH"):
        found = _unstorable(request.form.to_dict(flat=False)) or _unstorable_json_body()
    if found == "nul":
        abort(400, description=_("The request contains a NUL character."))
    if found == "surrogate":
        abort(400, description=_("The request contains text that is not valid Unicode."))
    if found == "depth":
        abort(400, description=_("The request body is nested too deeply."))


def security_headers(response):
    """Add the academy's security headers to one of its responses (a host's own routes keep theirs)."""
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if current_app.config.get("LMS_SESSION_COOKIE_SECURE"):
        h.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response
