"""Operations: a request id every log line and job carries, JSON logs, Prometheus metrics.

- Every request gets an id (``X-Request-ID`` from the proxy when it is a sane
  token, else a new one), answered in ``X-Request-ID``; a job keeps the id of
  the request that submitted it, and its log lines carry both.
- ``LMS_LOG_FORMAT=json`` (production's default) writes one JSON object per
  line (python-json-logger) with the request and job ids.
- ``LMS_METRICS=true`` serves Prometheus metrics at ``/metrics``
  (prometheus-flask-exporter): requests and latencies by endpoint, plus the
  jobs' counts and durations and the queue depth. Under gunicorn set
  ``PROMETHEUS_MULTIPROC_DIR`` so every worker process is counted.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import uuid

from flask import Flask, g, has_request_context, request

job_context: contextvars.ContextVar[int | None] = contextvars.ContextVar("lms_job", default=None)
request_context: contextvars.ContextVar[str | None] = contextvars.ContextVar("lms_request", default=None)
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def current_request_id() -> str | None:
    """The id of the request being served, or of the request whose job is running."""
    if has_request_context():
        return g.get("request_id")
    return request_context.get()


class ContextFilter(logging.Filter):
    """Put the request id and the job id on every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        record.job_id = job_context.get()
        return True


def _assign_request_id() -> None:
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if _SANE_ID.match(given) else uuid.uuid4().hex


def _answer_request_id(response):
    if g.get("request_id"):
        response.headers.setdefault("X-Request-ID", g.request_id)
    return response


def init_app(app: Flask, *, standalone: bool, is_academy_request) -> None:
    """Request ids always; JSON logs for the standalone application; metrics when asked for."""
    app.before_request(_assign_request_id)
    app.after_request(_answer_request_id)
    if standalone:
        _configure_logging(app)
    if app.config.get("LMS_METRICS"):
        _init_metrics(app, standalone=standalone)


def _configure_logging(app: Flask) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(ContextFilter())
    if app.config["LMS_LOG_FORMAT"] == "json":
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(job_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
        app.logger.handlers[:] = [handler]
        app.logger.propagate = False  # one JSON line per record, whatever the root logger does
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
        # Text for people: ours unless the process already logs somewhere (a test run, a host's setup).
        app.logger.handlers[:] = [] if logging.getLogger().handlers else [handler]
        # The logger is the process's, not the app's: an app configured for JSON earlier (another app in the
        # same process, a test) must not keep this one's records from the root logger.
        app.logger.propagate = True
    app.logger.setLevel(logging.INFO)


def _init_metrics(app: Flask, *, standalone: bool) -> None:
    prefix = app.config.get("LMS_URL_PREFIX", "")
    options = {"path": f"{prefix}/metrics", "group_by": "endpoint", "defaults_prefix": "lms"}
    if not standalone:  # only the academy's own routes are counted
        options["excluded_paths"] = [f"^(?!{re.escape(prefix)}/)"]
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics as Metrics
    else:
        from prometheus_flask_exporter import PrometheusMetrics as Metrics
    app.extensions["lms_metrics"] = Metrics(app, **options)
