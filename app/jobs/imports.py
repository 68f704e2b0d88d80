"""Spreadsheet imports too large for a request: the file goes to the store and a job imports it.

A file up to ``LMS_IMPORT_INLINE_BYTES`` is imported in the request as before
(all or nothing, the row report on the page). A larger one is kept under
``uploads/<sha256>/`` and imported by a worker with the same importer, all or
nothing too: a refused file fails the job, whose page lists the row errors.
The same file submitted again while it waits is the same job. Uploads expire
with the other stored job files (``LMS_PRINT_RESULT_DAYS``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import PurePosixPath

from flask import current_app, flash, redirect, url_for

from ..auth.models import User
from ..core.forms import show_refusal
from ..core.i18n import _l
from ..core.storage import storage
from ..core.tabular import (
    ImportRejected,
    TableError,
    check_file,
    forget_columns,
    unread_columns,
    unread_message,
)
from ..core.uow import attempt
from ..core.uploads import run_upload_import
from ..extensions import db
from .models import Job
from .services import JobRefused, submit_job

MAX_LISTED_ERRORS = 500


def import_upload(form, importer, *, kind: str, actor, unit=None, params: dict | None = None, **kwargs):
    """Import the form's file now, or hand it to a job when it is large; return ``(result, row_errors, job)``."""
    upload = form.file.data
    data = upload.read()
    if len(data) <= current_app.config["LMS_IMPORT_INLINE_BYTES"]:
        result, errors = run_upload_import(form, importer, actor=actor, data=data, **kwargs)
        return result, errors, None
    try:
        check_file(upload.filename or "", data, current_app.config["LMS_IMPORT_MAX_ROWS"])
    except TableError as exc:
        form.file.errors.append(str(exc.message))  # refused at once, on the form, as a small file would be
        return None, None, None
    name = PurePosixPath((upload.filename or "upload").replace("\\", "/")).name or "upload"
    key = f"uploads/{hashlib.sha256(data).hexdigest()}/{name}"
    storage().put(key, data, upload.mimetype or "application/octet-stream")
    job = submit_job(
        kind=kind, params={"upload": key, "filename": name, **(params or {})}, actor=actor, unit=unit, total=1
    )
    return None, None, job


def import_page(form, importer, *, kind: str, actor, done: str, said: Callable[[object], str], **kwargs):
    """Run an import page's upload: return a redirect — to the job of a large file, or to ``done`` with
    ``said(result)`` flashed — or None and the row errors to show on the page again (a refusal is flashed)."""
    result = errors = job = None
    with attempt() as outcome:
        result, errors, job = import_upload(form, importer, kind=kind, actor=actor, **kwargs)
    if job is not None:
        return redirect(url_for("jobs.job", job_id=job.id)), None
    if not outcome.ok:
        show_refusal(outcome.error)
    elif result is not None:
        flash(said(result), "success")
        if unread_columns():
            flash(unread_message(unread_columns()), "warning")
        return redirect(done), None
    return None, errors


def stored_import(importer: Callable, arguments: Callable[[Job], dict] | None = None) -> Callable:
    """A job handler that runs ``importer`` on the job's stored upload, all or nothing."""

    def run(job: Job, progress) -> dict:
        actor = db.session.get(User, job.user_id) if job.user_id else None
        if actor is None or not actor.is_active:
            raise JobRefused(_l("The person who asked for this import no longer has an account."))
        try:
            data = storage().get(job.params["upload"])
        except FileNotFoundError as exc:
            raise JobRefused(_l("The uploaded file is no longer kept; please upload it again.")) from exc
        progress(0, 1)
        forget_columns()
        savepoint = db.session.begin_nested()
        try:
            result = importer(
                filename=job.params["filename"],
                data=data,
                actor=actor,
                max_rows=current_app.config["LMS_IMPORT_MAX_ROWS"],
                **(arguments(job) if arguments else {}),
            )
        except TableError as exc:
            savepoint.rollback()
            raise JobRefused(exc.message) from exc
        except ImportRejected as exc:
            savepoint.rollback()
            errors = [e.as_dict() for e in exc.errors]
            raise JobRefused(
                _l("Nothing was imported: the file has %(n)d row error(s), listed below.", n=len(errors)),
                {"errors": errors[:MAX_LISTED_ERRORS], "error_count": len(errors)},
            ) from exc
        except BaseException:
            savepoint.rollback()
            raise
        savepoint.commit()
        answer = {"imported": result if isinstance(result, int) else list(result)}
        return {**answer, "unread": list(unread_columns())} if unread_columns() else answer

    return run
