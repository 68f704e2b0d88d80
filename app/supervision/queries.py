"""Read-only supervision queries, scoped to the viewer; notes are only ever read for their author."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Select, exists, select

from ..core.crypto import decrypt_text
from ..extensions import db
from ..org.queries import in_scope
from ..people.models import Person
from .models import SupervisionCredit, SupervisionRecord

VIEWERS = ("admin", "coordinator", "supervisor")


def can_read_notes(viewer, record: SupervisionRecord) -> bool:
    """Only the supervisor who wrote the record reads its confidential notes."""
    return bool(
        viewer is not None
        and getattr(viewer, "person_id", None) == record.supervisor_id
        and viewer.has_role("supervisor")
    )


def notes_for(viewer, record: SupervisionRecord) -> str | None:
    """Return the record's confidential notes, decrypted, to their author; None to anyone else."""
    if record.notes_enc is None or not can_read_notes(viewer, record):
        return None
    return decrypt_text(record.notes_enc)


def _credit_exists(condition):
    """EXISTS a credit of the record whose supervisee matches ``condition``."""
    return (
        select(SupervisionCredit.id)
        .join(Person, Person.id == SupervisionCredit.person_id)
        .where(SupervisionCredit.record_id == SupervisionRecord.id, condition)
        .exists()
    )


def records_for(
    viewer,
    *,
    year: int | None = None,
    format: str | None = None,
    mode: str | None = None,
    supervisor_id: int | None = None,
    status: str | None = None,
    unit=None,
    supervisee_id: int | None = None,
) -> Select:
    """Select the records the viewer may see: their own, or those touching their units."""
    touching = _credit_exists(in_scope(viewer, Person.unit_id, ("admin", "coordinator")))
    own = (
        SupervisionRecord.supervisor_id == getattr(viewer, "person_id", None)
        if getattr(viewer, "person_id", None)
        else False
    )
    stmt = select(SupervisionRecord).where(
        in_scope(viewer, SupervisionRecord.unit_id, ("admin", "coordinator")) | touching | own
    )
    if year:
        stmt = stmt.where(
            SupervisionRecord.held_on >= date(year, 1, 1), SupervisionRecord.held_on <= date(year, 12, 31)
        )
    if format:
        stmt = stmt.where(SupervisionRecord.format == format)
    if mode:
        stmt = stmt.where(SupervisionRecord.mode == mode)
    if supervisor_id:
        stmt = stmt.where(SupervisionRecord.supervisor_id == supervisor_id)
    if status:
        stmt = stmt.where(
            exists().where(SupervisionCredit.record_id == SupervisionRecord.id, SupervisionCredit.status == status)
        )
    if supervisee_id:
        stmt = stmt.where(_credit_exists(Person.id == supervisee_id))
    if unit is not None:
        from ..org.queries import subtree_ids

        stmt = stmt.where(_credit_exists(Person.unit_id.in_(subtree_ids(unit))))
    return stmt.order_by(SupervisionRecord.held_on.desc(), SupervisionRecord.id.desc())


def record_for(viewer, record_id: int) -> SupervisionRecord | None:
    """Return one record if the viewer may see it."""
    return db.session.scalar(records_for(viewer).where(SupervisionRecord.id == record_id))


def my_credits(person: Person) -> list[SupervisionCredit]:
    """Return a supervisee's credits, newest first."""
    return list(
        db.session.scalars(
            select(SupervisionCredit)
            .join(SupervisionRecord)
            .where(SupervisionCredit.person_id == person.id)
            .order_by(SupervisionRecord.held_on.desc())
        )
    )


def supervisee_options(viewer, limit: int = 3000) -> list[Person]:
    """People the viewer may record supervision for (active, in scope), by unit then name."""
    from ..org.models import OrgUnit

    return list(
        db.session.scalars(
            select(Person)
            .join(OrgUnit, OrgUnit.id == Person.unit_id)
            .where(in_scope(viewer, Person.unit_id, VIEWERS), Person.active.is_(True))
            .order_by(OrgUnit.path, Person.name)
            .limit(limit)
        )
    )
