"""Template helpers: labels, local time, the page's language."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app, request
from flask_babel import get_locale
from flask_login import current_user

from app.org.queries import unit_in_scope
from app.people.labels import CATEGORY_LABELS, LEVEL_LABELS, SERVICE_AREA_LABELS, TITLE_LABELS


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Format an aware datetime in the deployment's time zone."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(current_app.config["LMS_TIMEZONE"])).strftime(fmt)


def init_app(app: Flask) -> None:
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.add_extension("jinja2.ext.do")

    app.jinja_env.globals["in_scope"] = lambda unit: unit_in_scope(current_user, unit)
    app.jinja_env.filters["thousands"] = lambda n: f"{n:,}"

    @app.context_processor
    def _globals():
        # Babel spells Simplified Chinese zh_Hans_CN; pages use the switch's codes.
        lang = "zh_CN" if str(get_locale() or "zh").startswith("zh") else "en"
        return {
            "lang": lang,
            "html_lang": "zh-CN" if lang == "zh_CN" else "en",
            "CATEGORY_LABELS": CATEGORY_LABELS,
            "LEVEL_LABELS": LEVEL_LABELS,
            "TITLE_LABELS": TITLE_LABELS,
            "SERVICE_AREA_LABELS": SERVICE_AREA_LABELS,
            "current_path": request.full_path.rstrip("?") if request else "/",
        }
