"""Languages: Simplified Chinese and English, from the user, the session or Accept-Language."""

from __future__ import annotations

from flask import Flask, current_app, has_request_context, request, session
from flask_login import current_user

from app.extensions import babel

SUPPORTED = ("zh_CN", "en")


def select_locale() -> str:
    """Pick the user's remembered language, then the page switch, then the browser's."""
    if not has_request_context():  # command line, jobs
        return current_app.config["LMS_DEFAULT_LANGUAGE"]
    if _is_api_request():
        # API clients ask with Accept-Language; without it they get English, the API's stable default.
        return _from_accept_language() or "en"
    if current_user and getattr(current_user, "is_authenticated", False) and current_user.locale in SUPPORTED:
        return current_user.locale
    if session.get("lang") in SUPPORTED:
        return session["lang"]
    return _from_accept_language() or current_app.config["LMS_DEFAULT_LANGUAGE"]


def _from_accept_language() -> str | None:
    """The first language of Accept-Language, by quality, that the academy speaks: ``en-US, zh;q=0.1`` is
    English (werkzeug's best_match would take the exact ``zh`` over ``en-US``)."""
    for value, quality in request.accept_languages:  # highest quality first
        primary = value.replace("_", "-").split("-")[0].lower()
        if quality > 0 and primary == "zh":
            return "zh_CN"
        if quality > 0 and primary == "en":
            return "en"
    return None


def _is_api_request() -> bool:
    from app.core.errors import is_api_request

    return is_api_request()


def init_app(app: Flask) -> None:
    from pathlib import Path

    translations = Path(__file__).resolve().parent.parent / "translations"
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(translations))
    babel.init_app(app, locale_selector=select_locale)
