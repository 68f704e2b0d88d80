"""Read-only queries on people, always limited to what the viewer may see."""

from __future__ import annotations

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import contains_eager

from ..audit.models import AuditEntry
from ..auth.models import User
from ..auth.permissions import MANAGE, roles_for
from ..extensions import db
from ..org.models import OrgUnit
from ..org.queries import in_scope, subtree_ids, visible_units
from .models import Person

MANAGERS = roles_for(MANAGE)
# Units offered in the people filter: down to streets and service stations; deeper
# units are reached from a person's page or by ?unit=.
FILTER_KINDS = ("province", "city", "district", "street", "centre", "station")


def people_query(
    viewer,
    *,
    unit: OrgUnit | None = None,
    category: str | None = None,
    level: str | None = None,
    q: str | None = None,
    active: bool | None = None,
) -> Select:
    """Select the people ``viewer`` may see, filtered, ordered by unit path then name."""
    stmt = (
        select(Person)
        .join(OrgUnit, Person.unit_id == OrgUnit.id)
        .options(contains_eager(Person.unit))  # the join already reads the unit: no query per row
        .where(in_scope(viewer, Person.unit_id, MANAGERS))
        .order_by(OrgUnit.path, Person.name, Person.id)
    )
    if unit is not None:
        stmt = stmt.where(Person.unit_id.in_(subtree_ids(unit)))
    if category:
        stmt = stmt.where(Person.category == category)
    if level:
        stmt = stmt.where(Person.level == level)
    if q:
        stmt = stmt.where(Person.name.icontains(q.strip(), autoescape=True))
    if active is not None:
        stmt = stmt.where(Person.active == active)
    return stmt


def people_page(viewer, *, page: int, per_page: int, **filters) -> Pagination:
    """Return one page of the people ``viewer`` may see (:func:`people_query`'s filters); past the end, empty."""
    stmt = people_query(viewer, **filters)
    return db.paginate(stmt, page=page, per_page=per_page, max_per_page=100, error_out=False)


def people_list(viewer, *, limit: int, **filters) -> list[Person]:
    """Return at most ``limit`` of the people ``viewer`` may see (:func:`people_query`'s filters)."""
    return list(db.session.scalars(people_query(viewer, **filters).limit(limit)))


def filter_units(viewer) -> list[OrgUnit]:
    """Return the units the people filter offers ``viewer``, down to streets and stations, by path."""
    return visible_units(viewer, MANAGERS, kinds=FILTER_KINDS)


def person_for(viewer, person_id: int) -> Person | None:
    """Return the person if ``viewer`` may see them, else None (the caller answers 404)."""
    return db.session.scalar(select(Person).where(Person.id == person_id, in_scope(viewer, Person.unit_id, MANAGERS)))


def person_history(person: Person, limit: int = 50) -> list[AuditEntry]:
    """Return the audit entries about one person, newest first."""
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity_type == "person", AuditEntry.entity_id == person.id)
            .order_by(AuditEntry.id.desc())
            .limit(limit)
        )
    )


def accounts_of(person: Person) -> list[User]:
    """Return the accounts that belong to ``person`` (at most one)."""
    return list(db.session.scalars(select(User).where(User.person_id == person.id).order_by(User.id)))


def head_counts(units: list[OrgUnit]) -> dict[int, int]:
    """Count the active people in each unit's subtree, in one query."""
    if not units:
        return {}
    sub = OrgUnit.__table__.alias("sub")
    top = OrgUnit.__table__.alias("top")
    stmt = (
        select(top.c.id, func.count(Person.id))
        .select_from(top)
        .join(sub, sub.c.path.startswith(top.c.path))
        .join(Person, (Person.unit_id == sub.c.id) & Person.active.is_(True))
        .where(top.c.id.in_([u.id for u in units]))
        .group_by(top.c.id)
    )
    return dict(db.session.execute(stmt).all())


def head_count(unit: OrgUnit) -> int:
    """Count the active people in ``unit``'s subtree."""
    return db.session.scalar(
        select(func.count(Person.id)).where(Person.unit_id.in_(subtree_ids(unit)), Person.active.is_(True))
    )


SEARCH_PAGE = 10


def search_people(viewer, q: str, page: int = 1, per_page: int = SEARCH_PAGE) -> tuple[list[Person], bool]:
    """Find people ``viewer`` may see by what people know: a name, a phone number, the ID number's last digits.

    Returns one page (names that start with ``q`` first) and whether there are more.
    """
    needle = (q or "").strip()[:32]
    if not needle:
        return [], False
    tests = [Person.name.icontains(needle, autoescape=True)]
    compact = needle.replace(" ", "")
    if compact.isdigit() and len(compact) >= 3:
        tests.append(Person.phone.contains(compact, autoescape=True))
    if len(compact) <= 4 and compact[:-1].isdigit() and (compact[-1:].isdigit() or compact[-1:] in "xX"):
        tests.append(Person.id_number_masked.endswith(compact.upper(), autoescape=True))
    stmt = (
        select(Person)
        .join(OrgUnit, Person.unit_id == OrgUnit.id)
        .options(contains_eager(Person.unit))
        .where(in_scope(viewer, Person.unit_id, MANAGERS), or_(*tests))
        .order_by(~Person.name.istartswith(needle, autoescape=True), Person.name, Person.id)
        .offset((page - 1) * per_page)
        .limit(per_page + 1)
    )
    found = list(db.session.scalars(stmt))
    return found[:per_page], len(found) > per_page


def masked_phone(phone: str | None) -> str | None:
    """A phone number as a search result shows it: enough to tell two people apart."""
    if not phone:
        return None
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else phone
