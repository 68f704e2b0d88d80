"""Heavy work through the API: issuing and printing start a job (202); any instance reports on it."""

from __future__ import annotations

from flask import abort, url_for

from ..auth.permissions import MANAGE, can
from ..core.errors import problem
from ..core.i18n import _
from ..credentials import queries as credential_queries
from ..credentials.jobs import start_issuing, start_printing
from ..jobs import queries
from ..jobs.results import result_file
from . import schemas
from .auth import api_user
from .routes import bp


def _credential(name: str):
    user = api_user()
    if not can(user, MANAGE):
        abort(403, description=_("Only coordinators and administrators issue and print certificates."))
    credential = credential_queries.credential_by_name(name)
    if credential is None or credential_queries.credential_for(user, credential.id) is None:
        abort(404, description=_("Unknown credential."))
    return user, credential


def _accepted(job):
    view = queries.job_view(job, api=True)
    return view, 202, {"Location": url_for("api.job", job_id=job.id)}


@bp.post("/credential-types/<string(maxlength=64):name>/issue")
@bp.arguments(schemas.IssueRequest)
@bp.response(202, schemas.JobSchema)
def issue_credential(data, name: str):
    """Issue the credential to the listed people (or everyone eligible) as a job; poll the job for the outcome."""
    user, credential = _credential(name)
    if data["all"] == bool(data.get("person_ids")):
        return problem(422, _("Invalid input."), {"person_ids": [_("List the people, or send all=true.")]})
    ids = credential_queries.eligible_ids(credential, user) if data["all"] else list(dict.fromkeys(data["person_ids"]))
    if not ids:
        return problem(422, _("Invalid input."), {"all": [_("Nobody in your units is eligible.")]})
    return _accepted(start_issuing(credential, ids, user))


@bp.post("/credential-types/<string(maxlength=64):name>/print")
@bp.response(202, schemas.JobSchema)
def print_credential(name: str):
    """Render the valid certificates of the credential in the caller's units into one PDF, as a job."""
    user, credential = _credential(name)
    ids = credential_queries.printable_ids(user, credential)
    if not ids:
        return problem(422, _("No valid certificates to print."))
    return _accepted(start_printing(credential, ids, user))


@bp.get("/jobs/<id:job_id>")
@bp.response(200, schemas.JobSchema)
def job(job_id: int):
    """A job's state, progress and result, the same from every instance."""
    found = queries.job_for(api_user(), job_id)
    if found is None:
        abort(404)
    return queries.job_view(found, api=True)


@bp.get("/jobs/<id:job_id>/result")
@bp.response(200, {"format": "binary", "type": "string"}, content_type="application/pdf")
def job_result(job_id: int):
    """The file a finished job made (a print job's PDF); 404 once it has expired."""
    found = queries.job_for(api_user(), job_id)
    if found is None:
        abort(404)
    return result_file(found)
