"""Read-only credential queries, scoped to the viewer."""

from __future__ import annotations

from sqlalchemy import Select, func, or_, select

from app.credentials.models import Certificate, CredentialType
from app.extensions import db
from app.org.queries import in_scope
from app.people.models import Person


def credentials_for(viewer) -> list[CredentialType]:
    """Credential types whose issuing unit lies within the viewer's units."""
    return list(
        db.session.scalars(
            select(CredentialType).where(in_scope(viewer, CredentialType.issuer_unit_id)).order_by(CredentialType.id)
        )
    )


def credential_for(viewer, credential_id: int) -> CredentialType | None:
    return db.session.scalar(
        select(CredentialType).where(
            CredentialType.id == credential_id, in_scope(viewer, CredentialType.issuer_unit_id)
        )
    )


def credential_by_name(name: str) -> CredentialType | None:
    return db.session.scalar(select(CredentialType).where(CredentialType.name == name))


def certificates_for(viewer, credential: CredentialType | None = None, q: str | None = None) -> Select:
    """Certificates of people the viewer may see (or their own), newest first."""
    own = Certificate.person_id == viewer.person_id if getattr(viewer, "person_id", None) else False
    stmt = (
        select(Certificate)
        .join(Person, Person.id == Certificate.person_id)
        .where(or_(in_scope(viewer, Person.unit_id), own))
    )
    if credential is not None:
        stmt = stmt.where(Certificate.credential_id == credential.id)
    if q:
        stmt = stmt.where(
            or_(Person.name.contains(q, autoescape=True), Certificate.serial.contains(q, autoescape=True))
        )
    return stmt.order_by(Certificate.id.desc())


def certificate_for(viewer, certificate_id: int) -> Certificate | None:
    return db.session.scalar(certificates_for(viewer).where(Certificate.id == certificate_id))


def issued_counts(credential_ids: list[int]) -> dict[int, int]:
    if not credential_ids:
        return {}
    return dict(
        db.session.execute(
            select(Certificate.credential_id, func.count())
            .where(Certificate.credential_id.in_(credential_ids), Certificate.status == "valid")
            .group_by(Certificate.credential_id)
        ).all()
    )
