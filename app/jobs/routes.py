"""A job's page (a live progress bar), its state as JSON for the bar, and its result file."""

from __future__ import annotations

from flask import Blueprint, render_template

from ..auth.current import current_user, login_required
from ..core.access import found
from . import queries
from .results import result_file
from .services import KINDS

bp = Blueprint("jobs", __name__)


@bp.get("/jobs/<id:job_id>")
@login_required
def job(job_id: int):
    item = found(queries.job_for(current_user, job_id))
    kind = KINDS.get(item.kind)
    return render_template(
        "lms/jobs/job.html",
        job=item,
        view=queries.job_view(item),
        job_title=kind.title if kind else item.kind,
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
