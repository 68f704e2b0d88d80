"""Ledger work that runs as a job: rebuilding every person's monthly rollups."""

from __future__ import annotations

from sqlalchemy import select

from ..core.i18n import _, _l
from ..core.uow import commit
from ..coverage import standing
from ..extensions import db
from ..jobs.services import job_handler
from ..people.models import Person
from . import unit_figures
from .rollups import CHUNK, refresh_people


def _summary(job) -> list[str]:
    return [_("Monthly hours recomputed for %(n)s people.", n=f"{(job.result or {}).get('people', 0):,}")]


@job_handler(
    "ledger.rebuild",
    title=_l("Rebuilding the hours ledger"),
    name=_l("Hours ledger rebuild"),
    summary=_summary,
)
def rebuild_ledger(job, progress) -> dict:
    """Recompute every person's monthly rollups, a chunk per transaction, then every unit's figures."""
    ids = db.session.scalars(select(Person.id).order_by(Person.id)).all()
    progress(0, len(ids))
    for start in range(0, len(ids), CHUNK):
        refresh_people(ids[start : start + CHUNK])
        commit()  # a chunk is kept: a retried job redoes at most one chunk (and redoing is harmless)
        progress(min(start + CHUNK, len(ids)), len(ids))
    unit_figures.rebuild()  # then every unit's figures and every cohort member's standing, from the rollups
    standing.rebuild()
    commit()
    return {"people": len(ids)}
