"""Forms every feature uses: a button that posts, a spreadsheet upload."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired

from .i18n import _l


class ActionForm(FlaskForm):
    """A form with only the CSRF token: buttons that POST."""


class UploadForm(FlaskForm):
    """One spreadsheet to import."""

    file = FileField(_l("Spreadsheet (CSV or XLSX)"), validators=[FileRequired()])
