"""Training's heavy work for a worker: a large attendance spreadsheet, and loading course content."""

from __future__ import annotations

from pathlib import Path

from flask import url_for

from ..core import paths
from ..core.i18n import _, _l
from ..extensions import db
from ..jobs.imports import stored_import
from ..jobs.services import JobRefused, job_handler
from .content import ContentRejected, sync_content
from .imports import import_attendance
from .models import Assessment, CourseSession
from .score_imports import import_scores


def _session(job) -> dict:
    session = db.session.get(CourseSession, job.params["session_id"])
    if session is None:
        raise JobRefused(_l("The session no longer exists."))
    return {"session": session}


def _attendance_summary(job) -> list[str]:
    return [_("Attendance imported for %(count)d people.", count=(job.result or {}).get("imported", 0))]


job_handler(
    "training.import_attendance",
    title=_l("Importing attendance"),
    name=_l("Attendance import"),
    summary=_attendance_summary,
    back_url=lambda job: url_for("training.session_roster", session_id=job.params["session_id"]),
)(stored_import(import_attendance, _session))


def _assessment(job) -> dict:
    assessment = db.session.get(Assessment, job.params["assessment_id"])
    if assessment is None:
        raise JobRefused(_l("The assessment no longer exists."))
    return {"assessment": assessment}


def _scores_summary(job) -> list[str]:
    return [_("Scores imported for %(count)d people.", count=(job.result or {}).get("imported", 0))]


job_handler(
    "training.import_scores",
    title=_l("Importing scores"),
    name=_l("Score import"),
    summary=_scores_summary,
    back_url=lambda job: url_for("training.assessment_roster", assessment_id=job.params["assessment_id"]),
)(stored_import(import_scores, _assessment))


def _content_summary(job) -> list[str]:
    return [f"{key}: {value}" for key, value in (job.result or {}).items()]


@job_handler(
    "training.content_sync",
    title=_l("Loading course content"),
    name=_l("Course content load"),
    summary=_content_summary,
)
def content_sync(job, progress) -> dict:
    """Load the course content folder into the database: every course or none."""
    root = Path(job.params["root"]) if job.params.get("root") else paths.course_content()
    progress(0, 1)
    try:
        return sync_content(root)
    except ContentRejected as exc:
        errors = [str(e) for e in exc.errors]
        raise JobRefused(
            _l("The course content was not loaded: %(n)d error(s); nothing was synced.", n=len(errors)),
            {"errors": errors},
        ) from exc
