"""The request side of every spreadsheet import: run it, commit, or report what was wrong."""

from __future__ import annotations

from flask import current_app
from flask_login import current_user

from app.core.tabular import ImportRejected, TableError
from app.extensions import db


def run_upload_import(form, importer, **kwargs):
    """Run ``importer`` on the form's uploaded file as the current user and commit.

    Returns ``(result, row_errors)``: the importer's result after a commit, or
    None with the row report (a whole-file problem goes onto the form's field).
    Nothing is written unless every row is good.
    """
    upload = form.file.data
    try:
        result = importer(
            filename=upload.filename or "",
            data=upload.read(),
            actor=current_user,
            max_rows=current_app.config["LMS_IMPORT_MAX_ROWS"],
            **kwargs,
        )
    except TableError as exc:
        db.session.rollback()
        form.file.errors.append(str(exc.message))
        return None, None
    except ImportRejected as exc:
        db.session.rollback()
        return None, exc.errors
    db.session.commit()
    return result, None
