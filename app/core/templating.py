"""Template helpers: local time, thousands, the page's language."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app, render_template, request
from flask_babel import get_locale

from .i18n import page_gettext
from .numbers import points


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Format an aware datetime in the deployment's time zone."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(current_app.config["LMS_TIMEZONE"])).strftime(fmt)


def page_context() -> dict:
    """What every academy page knows: its language and its own address."""
    # Babel spells Simplified Chinese zh_Hans_CN; pages use the switch's codes.
    lang = "zh_CN" if str(get_locale() or "zh").startswith("zh") else "en"
    return {
        "lang": lang,
        "html_lang": "zh-CN" if lang == "zh_CN" else "en",
        "current_path": request.full_path.rstrip("?") if request else "/",
        **page_gettext(),
    }


def academy_context() -> dict:
    """What every academy template receives: the page's language and what the academy registered."""
    context: dict = {}
    for provider in current_app.extensions.get("lms_page_context", ()):
        context.update(provider())
    return context


def render_page(template: str, **context) -> str:
    """Render an academy template, also outside the academy's blueprints (an error answered for no route)."""
    if request and request.blueprint is None:
        context = {**academy_context(), **context}
    return render_template(template, **context)


def init_app(app: Flask, *, standalone: bool, page_context_providers=()) -> None:
    """Add the academy's filters to the Jinja environment (a host's own filters of those names win)."""
    app.jinja_env.filters.setdefault("local_time", local_time)
    app.jinja_env.filters.setdefault("thousands", lambda n: f"{n:,}")
    app.jinja_env.filters.setdefault("points", points)
    app.jinja_env.add_extension("jinja2.ext.do")
    app.extensions["lms_page_context"] = (page_context, *page_context_providers)
    if standalone:  # a host's templates keep the whitespace rules they were written for
        app.jinja_env.trim_blocks = True
        app.jinja_env.lstrip_blocks = True
