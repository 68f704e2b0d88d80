"""The list of jobs, a job's page (a live progress bar), its state as JSON for the bar, and its result file."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from ..auth.current import current_user, login_required, permission_required
from ..auth.permissions import STAFF
from ..core.access import found
from ..core.routing import requested_page
from ..core.tabular import unread_message
from . import queries
from .results import result_file
from .services import KINDS, job_subject

bp = Blueprint("jobs", __name__)


@bp.get("/jobs/")
@permission_required(STAFF)
def index():
    """The jobs the user submitted and those of the units they manage: found again after their page was left."""
    kind = request.args.get("kind") or None
    if kind is not None and kind not in KINDS:
        kind = None
    page = requested_page(queries.jobs_for(current_user, kind))
    return render_template(
        "lms/jobs/index.html",
        page=page,
        kind=kind,
        kinds={key: k.name for key, k in KINDS.items()},
        users=queries.submitters(page.items),
        subjects={job.id: job_subject(job) for job in page.items},
    )


@bp.get("/jobs/<id:job_id>")
@login_required
def job(job_id: int):
    item = found(queries.job_for(current_user, job_id))
    kind = KINDS.get(item.kind)
    return render_template(
        "lms/jobs/job.html",
        job=item,
        view=queries.job_view(item),
        job_title=(kind.name if item.finished else kind.title) if kind else item.kind,
        subject=job_subject(item),
        unread=unread_message(unread) if (unread := (item.result or {}).get("unread")) and item.finished else None,
        result_lines=kind.summary(item) if kind and kind.summary and item.state == "done" else [],
        back_url=kind.back_url(item) if kind and kind.back_url else None,
    )


@bp.get("/jobs/<id:job_id>.json")
@login_required
def state(job_id: int):
    response = queries.job_view(found(queries.job_for(current_user, job_id)))
    return response, 200, {"Cache-Control": "no-store"}


@bp.get("/jobs/<id:job_id>/result")
@login_required
def result(job_id: int):
    return result_file(found(queries.job_for(current_user, job_id)))
