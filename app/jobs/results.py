"""A finished job's file, streamed from the store (pages and the API answer with it), and their expiry."""

from __future__ import annotations

from datetime import timedelta

from flask import Response, abort, current_app

from ..core.db import utcnow
from ..core.storage import storage

RESULTS = "jobs/"  # what jobs made: jobs/<id>/<file>
UPLOADS = "uploads/"  # spreadsheets waiting for (or kept after) their import job


def expire_files() -> int:
    """Delete job results and uploads older than ``LMS_PRINT_RESULT_DAYS``; return how many."""
    cutoff = utcnow() - timedelta(days=current_app.config["LMS_PRINT_RESULT_DAYS"])
    store, removed = storage(), 0
    for prefix in (RESULTS, UPLOADS):
        for item in list(store.list(prefix)):
            if item.modified < cutoff:
                store.delete(item.key)
                removed += 1
    return removed


def result_file(job) -> Response:
    """Stream a finished job's file from the store, under the name it was given."""
    details = job.result or {}
    if job.state != "done" or not details.get("file"):
        abort(404)
    try:
        body = storage().open(details["file"])
    except FileNotFoundError:
        abort(404)  # expired (LMS_PRINT_RESULT_DAYS) or removed
    name = details.get("filename") or details["file"].rsplit("/", 1)[-1]
    response = Response(_chunks(body), mimetype=details.get("content_type", "application/octet-stream"))
    response.headers["Content-Disposition"] = f"attachment; filename={name}"
    response.headers["Cache-Control"] = "no-store"
    return response


def _chunks(body):
    try:
        while chunk := body.read(256 * 1024):
            yield chunk
    finally:
        body.close()
