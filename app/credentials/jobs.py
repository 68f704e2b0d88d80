"""Issuing in bulk and printing: jobs a worker runs, whose state every web process reads.

Issuing is per person and idempotent (a person who already holds a valid
certificate is counted as holding it, not issued another), and each chunk of
people is committed before progress is reported: a worker killed mid-job
leaves whole certificates only, and the retried job finishes the rest. A
chunk is one rendering batch: its certificates are laid out together and each
PDF is stored before the chunk is committed.
Printing renders one PDF into the store under ``jobs/<id>/``; such results are
deleted after ``LMS_PRINT_RESULT_DAYS`` (see ``jobs/results.py``).
"""

from __future__ import annotations

from flask import current_app, url_for

from ..auth.models import User
from ..core.i18n import _, _l, ngettext
from ..core.storage import storage
from ..core.uow import commit
from ..extensions import db
from ..jobs.models import Job
from ..jobs.results import RESULTS, expire_files
from ..jobs.services import JobRefused, job_handler, submit_job
from . import services
from .models import CredentialType
from .printing import render_certificates

ISSUE_CHUNK = services.RENDER_BATCH  # people per transaction: kept before progress is reported


def start_issuing(credential: CredentialType, person_ids: list[int], actor, renew: bool = False) -> Job:
    """Submit the issuing of ``credential`` to these people (``renew``: renewing what they hold, when due)."""
    params = {"credential_id": credential.id, "person_ids": person_ids} | ({"renew": True} if renew else {})
    return submit_job(
        kind="credentials.issue",
        params=params,
        actor=actor,
        unit=credential.issuer_unit,
        total=len(person_ids),
    )


def start_printing(credential: CredentialType, certificate_ids: list[int], actor) -> Job:
    """Submit the printing of these certificates of ``credential`` into one PDF."""
    return submit_job(
        kind="credentials.print",
        params={"credential_id": credential.id, "certificate_ids": certificate_ids},
        actor=actor,
        unit=credential.issuer_unit,
        total=len(certificate_ids),
    )


def _issue_summary(job) -> list[str]:
    result = job.result or {}
    lines = [ngettext("Issued %(num)d certificate.", "Issued %(num)d certificates.", result.get("issued", 0))]
    if result.get("held"):
        lines.append(_("%(n)d already held a valid certificate: none was issued to them again.", n=result["held"]))
    if result.get("refused_count"):
        lines.append(_("%(n)d could not be issued:", n=result["refused_count"]))
        lines.extend(result.get("refused", []))
    return lines


def _back_to_credential(job) -> str | None:
    return url_for("credentials.credential", credential_id=job.params["credential_id"], show="issued")


def _credential_title(job) -> str | None:
    credential = db.session.get(CredentialType, job.params["credential_id"])
    return credential.title if credential is not None else None


def _load(job) -> tuple[CredentialType, User]:
    credential = db.session.get(CredentialType, job.params["credential_id"])
    actor = db.session.get(User, job.user_id) if job.user_id else None
    if credential is None or actor is None or not actor.is_active:
        raise JobRefused(_l("The credential or the person who asked for this no longer exists."))
    return credential, actor


@job_handler(
    "credentials.issue",
    title=_l("Issuing certificates"),
    name=_l("Certificate issue"),
    summary=_issue_summary,
    back_url=_back_to_credential,
    subject=_credential_title,
)
def issue_job(job, progress) -> dict:
    """Issue the credential to the listed people, a committed chunk at a time."""
    job_id, person_ids = job.id, list(job.params["person_ids"])
    credential, actor = _load(job)
    total, issued, held, refused = len(person_ids), 0, 0, []
    progress(0, total)
    for start in range(0, total, ISSUE_CHUNK):
        summary = services.issue_to_people(
            credential=credential,
            person_ids=person_ids[start : start + ISSUE_CHUNK],
            actor=actor,
            job_id=job_id,
            renew=bool(job.params.get("renew")),
        )
        if summary.stopped:
            raise JobRefused(summary.stopped)
        commit()  # the chunk's certificates are kept before anyone is told
        issued, held = issued + summary.issued, held + summary.held
        refused += [str(message) for message in summary.refused]
        progress(min(start + ISSUE_CHUNK, total), total)
        credential, actor = _load(job) if start + ISSUE_CHUNK < total else (credential, actor)
    current_app.logger.info("job %s issued %s, %s already held, %s refused", job_id, issued, held, len(refused))
    return {"issued": issued, "held": held, "refused": refused[:20], "refused_count": len(refused)}


def _print_summary(job) -> list[str]:
    count = (job.result or {}).get("count", 0)
    return [ngettext("%(num)d certificate in one PDF.", "%(num)d certificates in one PDF.", count)]


@job_handler(
    "credentials.print",
    title=_l("Printing certificates"),
    name=_l("Certificate printing"),
    summary=_print_summary,
    back_url=_back_to_credential,
    subject=_credential_title,
)
def print_job(job, progress) -> dict:
    """Render the certificates into one PDF in the store; the job's page offers it for download."""
    job_id = job.id
    expire_files()
    try:
        pdf, count = render_certificates(list(job.params["certificate_ids"]), progress=progress)
    except ValueError as exc:
        raise JobRefused(_l("Nothing to print.")) from exc
    key = f"{RESULTS}{job_id}/certificates.pdf"
    try:
        storage().put(key, pdf, "application/pdf")
    except OSError as exc:
        current_app.logger.error("print result could not be stored: %s", exc)
        raise JobRefused(_l("The PDF could not be saved. Please tell the administrator.")) from exc
    return {"file": key, "filename": "certificates.pdf", "content_type": "application/pdf", "count": count}
