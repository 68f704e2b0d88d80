"""Template helpers: labels, local time, the page's language."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app, request
from flask_babel import get_locale

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

    @app.context_processor
    def _globals():
        locale = str(get_locale() or "zh_CN")
        return {
            "lang": locale,
            "html_lang": "zh-CN" if locale.startswith("zh") else "en",
            "CATEGORY_LABELS": CATEGORY_LABELS,
            "LEVEL_LABELS": LEVEL_LABELS,
            "TITLE_LABELS": TITLE_LABELS,
            "SERVICE_AREA_LABELS": SERVICE_AREA_LABELS,
            "current_path": request.full_path.rstrip("?") if request else "/",
        }
