"""The request side of every spreadsheet import: run it, or report what was wrong."""

from __future__ import annotations

from flask import current_app

from ..extensions import db
from .tabular import ImportRejected, TableError, forget_columns


def run_upload_import(form, importer, *, actor, data: bytes | None = None, **kwargs):
    """Run ``importer`` on the form's uploaded file for ``actor``; the request's unit of work commits it.

    Returns ``(result, row_errors)``: the importer's result, or None with the
    row report (a whole-file problem goes onto the form's field). Nothing is
    kept unless every row is good: a refused file is rolled back to a savepoint.
    """
    upload = form.file.data
    forget_columns()
    savepoint = db.session.begin_nested()
    try:
        result = importer(
            filename=upload.filename or "",
            data=upload.read() if data is None else data,
            actor=actor,
            max_rows=current_app.config["LMS_IMPORT_MAX_ROWS"],
            **kwargs,
        )
    except TableError as exc:
        savepoint.rollback()
        form.file.errors.append(str(exc.message))
        return None, None
    except ImportRejected as exc:
        savepoint.rollback()
        return None, exc.errors
    except BaseException:
        savepoint.rollback()
        raise
    savepoint.commit()
    return result, None
