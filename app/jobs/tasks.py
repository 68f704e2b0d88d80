"""The one task: run a job by its id (jobs receive ids, not objects).

While a handler runs, a heartbeat thread stamps the job every third of
``LMS_JOB_STALE_SECONDS`` on a connection of its own: the job is "running" for
as long as its worker process lives, however long one step of the handler
takes. A killed worker stops beating, and the job is handed on (``revive_stale_jobs``).
A run that was handed on meanwhile does not write its outcome over the newer run's.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

from celery import shared_task
from flask import current_app
from flask_babel import force_locale
from sqlalchemy import update

from ..core.db import utcnow
from ..core.i18n import _l
from ..core.observability import job_context, request_context
from ..core.uow import rollback, transaction
from ..extensions import db
from .metrics import observe
from .models import Job
from .services import KINDS, JobRefused, claim_job, fail_job, finish_job, report_progress


@shared_task(name="lms.run_job", acks_late=True, reject_on_worker_lost=True)
def run_job(job_id: int) -> None:
    """Claim the job, run its handler, record the result or the failure."""
    with transaction():
        job = claim_job(job_id)
    if job is None:
        return  # finished already, or another worker is alive on it
    kind, started = job.kind, time.perf_counter()
    job_token, request_token = job_context.set(job_id), request_context.set(job.request_id)
    try:
        with force_locale(job.locale or current_app.config["LMS_DEFAULT_LANGUAGE"]), _heartbeat(job_id):
            state = _run(job)
    finally:
        job_context.reset(job_token)
        request_context.reset(request_token)
    observe(kind, state, time.perf_counter() - started)


@contextmanager
def _heartbeat(job_id: int):
    """Stamp the job as alive from a thread of its own until the block ends."""
    app, stop = current_app._get_current_object(), threading.Event()
    interval = max(1.0, app.config["LMS_JOB_STALE_SECONDS"] / 3)
    if db.engine.dialect.name == "sqlite":
        # One writer at a time: a beat would wait for the job's own transaction. The embedded mode runs one
        # worker, one job at a time, and its progress reports beat instead.
        yield
        return

    def beat():
        while not stop.wait(interval):
            try:
                with app.app_context(), db.engine.begin() as connection:
                    connection.execute(
                        update(Job).where(Job.id == job_id, Job.state == "running").values(heartbeat_at=utcnow())
                    )
            except Exception:  # noqa: BLE001 - a missed beat is retried; a long one only delays a takeover
                app.logger.warning("job %s: heartbeat not written", job_id, exc_info=True)

    thread = threading.Thread(target=beat, name=f"lms-job-{job_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)  # a beat in flight finishes on its own; its UPDATE matches no running job


def _run(job: Job) -> str:
    job_id, attempt = job.id, job.attempts
    current_app.logger.info("job %s (%s) started, attempt %s", job_id, job.kind, attempt)
    try:
        result = KINDS[job.kind].run(job, lambda done, total: report_progress(job_id, done, total))
    except JobRefused as exc:
        return _failed(job_id, attempt, exc.message, exc.details)
    except Exception:  # noqa: BLE001 - whatever went wrong is reported on the job, and logged
        current_app.logger.exception("job %s failed", job_id)
        return _failed(job_id, attempt, _l("Something went wrong on our side. The error has been logged."))
    with transaction():
        job = _still_ours(job_id, attempt)
        if job is None:
            return "superseded"
        finish_job(job, result)
    current_app.logger.info("job %s done", job_id)
    return "done"


def _still_ours(job_id: int, attempt: int) -> Job | None:
    """The job, unless another run took it over since this one started (then the outcome is that run's)."""
    job = db.session.get(Job, job_id, populate_existing=True)
    if job.state != "running" or job.attempts != attempt:
        current_app.logger.warning("job %s: attempt %s was taken over; its outcome is not recorded", job_id, attempt)
        return None
    return job


def _failed(job_id: int, attempt: int, message, details: dict | None = None) -> str:
    rollback()
    with transaction():
        job = _still_ours(job_id, attempt)
        if job is None:
            return "superseded"
        fail_job(job, message, details)
    return "failed"
