"""Submit, claim, advance and finish jobs.

A job is submitted in the caller's transaction and handed to the queue only
once that transaction is committed (a worker must find the row). A worker
*claims* it with a conditional UPDATE, so two deliveries of one message run
it once; it reports progress on a connection of its own (visible at once to
every web process) and beats a heartbeat with it. A job whose worker died
(``kill -9``) stops beating: it is handed to the queue again, at most
``LMS_JOB_MAX_ATTEMPTS`` times, then marked failed. Handlers are idempotent
per item (issuing never issues twice), so a retried job finishes the work
without repeating it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, g, has_request_context
from flask_babel import get_locale
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from ..core.db import utcnow
from ..core.i18n import _l
from ..core.uow import after_commit, commit
from ..extensions import db
from .models import ACTIVE_STATES, Job

# A handler does the work of one kind of job: handler(job, progress) -> result (a JSON-able dict).
Handler = Callable[[Job, Callable[[int, int], None]], dict]


@dataclass(frozen=True)
class JobKind:
    """One kind of job: what runs it, what its page is called while it runs and once finished (and in the list of
    jobs), how its result reads, where to go back to."""

    run: Handler
    title: object  # a lazy string: what the page says while the work goes on ("Issuing certificates")
    name: object  # a lazy string: the work itself, finished or not ("Certificate issue")
    summary: Callable[[Job], list[str]] | None = None
    back_url: Callable[[Job], str | None] | None = None
    subject: Callable[[Job], str | None] | None = None  # what the work was on, for the list: a title, a file


def job_subject(job: Job) -> str | None:
    """What the job worked on, as its kind says, else the name of the file it imported (or None)."""
    kind = KINDS.get(job.kind)
    if kind is not None and kind.subject is not None:
        return kind.subject(job)
    return (job.params or {}).get("filename")


KINDS: dict[str, JobKind] = {}


class JobRefused(RuntimeError):
    """The job cannot go on; ``message`` is shown as its error, ``details`` (JSON-able) kept as its result."""

    def __init__(self, message, details: dict | None = None):
        super().__init__(str(message))
        self.message = message
        self.details = details


def job_handler(kind: str, *, title, name, summary=None, back_url=None, subject=None) -> Callable[[Handler], Handler]:
    """Register the function that runs jobs of ``kind``, with the page's titles and the result's summary."""

    def register(func: Handler) -> Handler:
        KINDS[kind] = JobKind(func, title, name, summary, back_url, subject)
        return func

    return register


def job_key(kind: str, params: dict, unit_id: int | None, user_id: int | None = None) -> str:
    """The identity of a piece of work: the same kind, parameters, unit and submitter make the same job.

    (The submitter is part of it: another person asking for the same work could not see the first one's job.)
    """
    text = json.dumps(
        {"kind": kind, "params": params, "unit": unit_id, "user": user_id}, sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(text.encode()).hexdigest()


def active_job(key: str) -> Job | None:
    """The queued or running job doing this work, if any."""
    return db.session.scalar(select(Job).where(Job.key == key, Job.state.in_(ACTIVE_STATES)))


def submit_job(*, kind: str, params: dict, actor, unit=None, total: int = 0, queue: bool = True) -> Job:
    """Queue a job (after the caller's commit); the same work already queued or running is returned instead.

    ``queue=False`` leaves it to the caller to run it here (a command shows its progress itself).
    """
    if kind not in KINDS:
        raise ValueError(f"no handler for jobs of kind {kind!r}")
    unit_id = getattr(unit, "id", None)
    key = job_key(kind, params, unit_id, getattr(actor, "id", None))
    existing = active_job(key)
    if existing is not None:
        return existing
    job = Job(
        kind=kind,
        key=key,
        params=params,
        user_id=getattr(actor, "id", None),
        unit_id=unit_id,
        total=total,
        request_id=g.get("request_id") if has_request_context() else None,
        locale=str(get_locale()) if has_request_context() else None,
    )
    try:
        with db.session.begin_nested():
            db.session.add(job)
    except IntegrityError:
        # The same work was submitted at the same moment: that one is the job.
        winner = active_job(key)
        if winner is None:
            raise
        return winner
    if queue:
        after_commit(lambda job_id=job.id: enqueue(job_id))
    return job


def enqueue(job_id: int) -> None:
    """Hand the job to the queue (a worker, or at once in the eager mode of tests)."""
    from ..core.queue import celery_for
    from .tasks import run_job

    celery_for(current_app)  # this application's queue (several may share a test's process)
    run_job.delay(job_id)


def claim_job(job_id: int) -> Job | None:
    """Take the job for this worker; None when it is finished or another worker is alive on it."""
    now = utcnow()
    stale = now - timedelta(seconds=current_app.config["LMS_JOB_STALE_SECONDS"])
    taken = db.session.execute(
        update(Job)
        .where(
            Job.id == job_id,
            or_(Job.state == "queued", (Job.state == "running") & (Job.heartbeat_at < stale)),
        )
        .values(state="running", started_at=now, heartbeat_at=now, attempts=Job.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not taken:
        return None
    job = db.session.get(Job, job_id, populate_existing=True)
    if job.attempts > current_app.config["LMS_JOB_MAX_ATTEMPTS"]:
        fail_job(job, _l("The job was interrupted too many times."))
        return None
    return job


def report_progress(job_id: int, done: int, total: int) -> None:
    """Record progress and a heartbeat, and commit: every web process sees it at once.

    The commit also keeps what the handler did so far, so handlers report progress only at points where
    their work may be kept (after a chunk; a read-only job anywhere).
    """
    db.session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state == "running")
        .values(progress=done, total=total, heartbeat_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    commit()


def finish_job(job: Job, result: dict) -> None:
    """Mark the job done with its result (flushes)."""
    job.state = "done"
    job.result = result
    job.progress = max(job.progress, job.total)
    job.finished_at = utcnow()
    db.session.flush()


def fail_job(job: Job, message, details: dict | None = None) -> None:
    """Mark the job failed with a message a person can read, and what it found (flushes)."""
    job.state = "failed"
    job.error = str(message)[:2000]
    job.result = details
    job.finished_at = utcnow()
    db.session.flush()


def revive_stale_jobs() -> list[int]:
    """Queue again the running jobs whose worker stopped beating (or fail those tried too often); return their ids."""
    stale = utcnow() - timedelta(seconds=current_app.config["LMS_JOB_STALE_SECONDS"])
    revived = []
    for job in db.session.scalars(select(Job).where(Job.state == "running", Job.heartbeat_at < stale)):
        if job.attempts >= current_app.config["LMS_JOB_MAX_ATTEMPTS"]:
            fail_job(job, _l("The worker running this job stopped, too many times."))
            continue
        revived.append(job.id)
        after_commit(lambda job_id=job.id: enqueue(job_id))
    return revived
