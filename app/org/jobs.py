"""A large unit spreadsheet, imported by a worker."""

from __future__ import annotations

from flask import url_for

from ..core.i18n import _, _l
from ..jobs.imports import stored_import
from ..jobs.services import job_handler
from .imports import import_units


def _summary(job) -> list[str]:
    created, updated = (job.result or {}).get("imported", [0, 0])
    return [_("Units created: %(created)d, renamed: %(updated)d.", created=created, updated=updated)]


job_handler(
    "org.import",
    title=_l("Importing units"),
    name=_l("Unit import"),
    summary=_summary,
    back_url=lambda job: url_for("org.index"),
)(stored_import(import_units))
