"""Forms every feature uses: a button that posts, a spreadsheet upload; choices from an enumeration."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectChoice

from .i18n import _l


def choices(codes: Iterable[str], labels: Mapping[str, object]) -> list[SelectChoice]:
    """Return WTForms choices for ``codes`` (a model's enumeration), each shown with its label."""
    return [SelectChoice(code, labels[code]) for code in codes]


class ActionForm(FlaskForm):
    """A form with only the CSRF token: buttons that POST."""


class UploadForm(FlaskForm):
    """One spreadsheet to import."""

    file = FileField(_l("Spreadsheet (CSV or XLSX)"), validators=[FileRequired()])
