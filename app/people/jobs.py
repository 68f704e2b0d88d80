"""A large people spreadsheet, imported by a worker."""

from __future__ import annotations

from flask import url_for

from ..core.i18n import _, _l
from ..jobs.imports import stored_import
from ..jobs.services import job_handler
from .imports import import_people


def _summary(job) -> list[str]:
    return [_("Imported %(count)d people.", count=(job.result or {}).get("imported", 0))]


job_handler(
    "people.import",
    title=_l("Importing people"),
    name=_l("People import"),
    summary=_summary,
    back_url=lambda job: url_for("people.index"),
)(stored_import(import_people))
