"""Read-only supervision queries, scoped to the viewer; notes are only ever read for their author."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select, exists, false, select, union
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from ..auth.models import RoleAssignment, User
from ..auth.permissions import MANAGE, SUPERVISE, roles_for
from ..core.crypto import decrypt_text
from ..extensions import db
from ..org.models import OrgUnit
from ..org.queries import in_scope, scope_roots, subtree_ids, unit_in_scope
from ..people.models import Person
from .models import SupervisionCredit, SupervisionRecord

MANAGERS = roles_for(MANAGE)  # see the records touching their units
SUPERVISORS = roles_for(SUPERVISE)  # record supervision for the people of their units


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


def _visible_record_ids(viewer):
    """The ids of the records of the viewer's units, of those crediting someone there, and of their own.

    A union of three index lookups: the same set as OR-ing them in one WHERE, which made the database test
    every record of the province against the viewer's units (210 ms at 20,000 people, growing with the city).
    """
    parts = []
    if scope_roots(viewer, MANAGERS):
        parts.append(select(SupervisionRecord.id).where(in_scope(viewer, SupervisionRecord.unit_id, MANAGERS)))
        parts.append(
            select(SupervisionCredit.record_id)
            .join(Person, Person.id == SupervisionCredit.person_id)
            .where(in_scope(viewer, Person.unit_id, MANAGERS))
        )
    if getattr(viewer, "person_id", None):
        parts.append(select(SupervisionRecord.id).where(SupervisionRecord.supervisor_id == viewer.person_id))
    if not parts:
        return select(SupervisionRecord.id).where(false())
    return union(*parts) if len(parts) > 1 else parts[0]


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
    stmt = select(SupervisionRecord)
    if scope_roots(viewer, MANAGERS) is not None:  # None: every unit (the province's administrator)
        stmt = stmt.where(SupervisionRecord.id.in_(_visible_record_ids(viewer)))
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
    if status:  # a void record's credits count for nobody: none of them waits, is confirmed or disputed
        stmt = stmt.where(
            SupervisionRecord.voided_at.is_(None),
            exists().where(SupervisionCredit.record_id == SupervisionRecord.id, SupervisionCredit.status == status),
        )
    if supervisee_id:
        stmt = stmt.where(_credit_exists(Person.id == supervisee_id))
    if unit is not None:
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


def records_with_credits(viewer, **filters) -> Select:
    """Select the records the viewer may see (:func:`records_for`), their credits loaded with them."""
    return records_for(viewer, **filters).options(selectinload(SupervisionRecord.credits))


def _listed(viewer, **filters) -> Select:
    """:func:`records_for` with each record's supervisor and credited people loaded (no query per row)."""
    return records_for(viewer, **filters).options(
        joinedload(SupervisionRecord.supervisor),
        selectinload(SupervisionRecord.credits).joinedload(SupervisionCredit.person),
    )


def record_list(viewer, *, limit: int | None = None, **filters) -> list[SupervisionRecord]:
    """Return the records the viewer may see, their supervisor and credited people loaded."""
    return list(db.session.scalars(_listed(viewer, **filters).limit(limit)))


def record_page(viewer, *, page: int, per_page: int, **filters) -> Pagination:
    """Return one page of :func:`record_list` (past the end, empty) with the number of records in all."""
    return db.paginate(_listed(viewer, **filters), page=page, per_page=per_page, max_per_page=100, error_out=False)


def supervisors_seen(viewer) -> list[Person]:
    """Return the supervisors of every record ``viewer`` may see (the list's filter), by name."""
    ids = records_for(viewer).with_only_columns(SupervisionRecord.supervisor_id).order_by(None)
    return list(db.session.scalars(select(Person).where(Person.id.in_(ids)).order_by(Person.name, Person.id)))


def credit_of(person_id: int | None, credit_id: int) -> SupervisionCredit | None:
    """Return the credit if it is ``person_id``'s own; anyone else's is None, like an unknown one."""
    if person_id is None:
        return None
    return db.session.scalar(
        select(SupervisionCredit).where(SupervisionCredit.id == credit_id, SupervisionCredit.person_id == person_id)
    )


def supervisee_options(viewer, limit: int = 3000, unit: OrgUnit | None = None) -> list[Person]:
    """Return the people the viewer may record supervision for (active, in scope; of ``unit``'s subtree if
    given), by unit then name, at most ``limit``."""
    stmt = (
        select(Person)
        .join(OrgUnit, OrgUnit.id == Person.unit_id)
        .options(contains_eager(Person.unit))  # the join already reads the unit: no query per unit
        .where(in_scope(viewer, Person.unit_id, SUPERVISORS), Person.active.is_(True))
    )
    if unit is not None:
        stmt = stmt.where(Person.unit_id.in_(subtree_ids(unit)))
    return list(db.session.scalars(stmt.order_by(OrgUnit.path, Person.name, Person.id).limit(limit)))


def _holds_supervisor_role(person_id_column):
    """The person's enabled account holds the supervisor role (an assignment, not a rank)."""
    return (
        select(RoleAssignment.id)
        .join(User, User.id == RoleAssignment.user_id)
        .where(User.person_id == person_id_column, RoleAssignment.role == "supervisor", User.is_enabled.is_(True))
        .exists()
    )


def supervisors_in_scope(viewer) -> list[Person]:
    """Return the active people of the viewer's units who hold the supervisor assignment, by unit then name."""
    return list(
        db.session.scalars(
            select(Person)
            .join(OrgUnit, OrgUnit.id == Person.unit_id)
            .options(contains_eager(Person.unit))
            .where(
                in_scope(viewer, Person.unit_id, SUPERVISORS),
                Person.active.is_(True),
                _holds_supervisor_role(Person.id),
            )
            .order_by(OrgUnit.path, Person.name, Person.id)
        )
    )


def holds_supervisor_assignment(person: Person) -> bool:
    """Return whether the person's account holds the supervisor role (an assignment, not a rank)."""
    return bool(db.session.scalar(select(_holds_supervisor_role(person.id))))


def supervisor_units(person: Person) -> list[OrgUnit]:
    """Return the units over which the person's account holds the supervisor assignment."""
    return list(
        db.session.scalars(
            select(OrgUnit)
            .join(RoleAssignment, RoleAssignment.unit_id == OrgUnit.id)
            .join(User, User.id == RoleAssignment.user_id)
            .where(User.person_id == person.id, RoleAssignment.role == "supervisor", User.is_enabled.is_(True))
        )
    )


def supervisees_by_id(viewer, ids: Iterable[int]) -> dict[int, Person]:
    """Map each of ``ids`` to its person, among the people the viewer may record supervision for."""
    ids = set(ids)
    if not ids:
        return {}
    stmt = select(Person).where(Person.id.in_(ids), in_scope(viewer, Person.unit_id, SUPERVISORS))
    return {p.id: p for p in db.session.scalars(stmt)}


def supervisor_for(viewer, person_id: int, supervisees: Iterable[Person]) -> Person | None:
    """Return the person the viewer may name as the supervisor of ``supervisees``, else None.

    Someone in the viewer's units, or from elsewhere (a city's supervisor, say) whose
    assignment covers every supervisee; anyone else is None, like an unknown id.
    """
    person = db.session.get(Person, person_id)
    if person is None or unit_in_scope(viewer, person.unit, SUPERVISORS):
        return person
    units = supervisor_units(person)
    if units and all(any(p.unit.is_within(u) for u in units) for p in supervisees):
        return person
    return None
