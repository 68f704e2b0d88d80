"""Who may see a job, and what it looks like from outside."""

from __future__ import annotations

from flask import url_for
from sqlalchemy import ColumnElement, Select, or_, select

from ..auth.models import User
from ..auth.permissions import MANAGE, roles_for
from ..extensions import db
from ..org.queries import in_scope
from .models import Job


def visible(viewer) -> ColumnElement[bool]:
    """The jobs ``viewer`` submitted, and those of the units they manage."""
    return or_(Job.user_id == viewer.id, Job.unit_id.is_not(None) & in_scope(viewer, Job.unit_id, roles_for(MANAGE)))


def job_for(viewer, job_id: int) -> Job | None:
    """The job if ``viewer`` submitted it or manages its unit; else None (answered as not found)."""
    if not getattr(viewer, "is_authenticated", False):
        return None
    return db.session.scalar(select(Job).where(Job.id == job_id, visible(viewer)))


def jobs_for(viewer, kind: str | None = None) -> Select:
    """The jobs the viewer may see, newest first."""
    stmt = select(Job).where(visible(viewer)).order_by(Job.id.desc())
    return stmt.where(Job.kind == kind) if kind else stmt


def submitters(jobs) -> dict[int, str]:
    """Username by user id, for the jobs' submitters."""
    ids = {job.user_id for job in jobs if job.user_id is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.username).where(User.id.in_(ids))).all())


def job_view(job: Job, *, api: bool = False) -> dict:
    """The job as pages and the API show it."""
    has_file = job.state == "done" and bool((job.result or {}).get("file"))
    endpoint = "api.job_result" if api else "jobs.result"
    return {
        "id": job.id,
        "kind": job.kind,
        "state": job.state,
        "progress": job.progress,
        "total": job.total,
        "result": {k: v for k, v in (job.result or {}).items() if k != "file"} or None,
        "result_url": url_for(endpoint, job_id=job.id) if has_file else None,
        "error": job.error,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }
