"""Job figures for Prometheus: how many finished (by kind and state), how long they took, how many wait."""

from __future__ import annotations

from flask import Flask, current_app, request
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import func, select

from ..extensions import db
from .models import Job

JOBS_FINISHED = Counter("lms_jobs_finished_total", "Jobs finished, by kind and state", ["kind", "state"])
JOB_SECONDS = Histogram(
    "lms_job_duration_seconds", "How long jobs ran", ["kind"], buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900)
)
QUEUE_DEPTH = Gauge("lms_jobs_queued", "Jobs waiting for a worker", multiprocess_mode="mostrecent")


def observe(kind: str, state: str, seconds: float) -> None:
    """Count a finished job and its duration."""
    JOBS_FINISHED.labels(kind=kind, state=state).inc()
    JOB_SECONDS.labels(kind=kind).observe(seconds)


def init_app(app: Flask) -> None:
    """Refresh the queue depth when Prometheus scrapes."""
    path = f"{app.config.get('LMS_URL_PREFIX', '')}/metrics"

    @app.before_request
    def _queue_depth():
        if request.path == path:
            QUEUE_DEPTH.set(db.session.scalar(select(func.count()).where(Job.state == "queued")) or 0)
            current_app.logger.debug("queue depth refreshed")
