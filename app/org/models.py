"""The org-unit tree: province → city → district → street → community, plus service units."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.db import UTCDateTime
from ..extensions import db

UNIT_KINDS = ("province", "city", "district", "street", "community", "centre", "station", "room")
CODE_LENGTH, NAME_LENGTH = 32, 120  # the longest administrative code and unit name


class OrgUnit(db.Model):
    __tablename__ = "org_units"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('province','city','district','street','community','centre','station','room')",
            name="kind",
        ),
        Index("ix_org_units_path", "path", postgresql_ops={"path": "varchar_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str | None] = mapped_column(String(CODE_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    kind: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    # Materialised path of ids, "/1/7/42/": a subtree is one indexed prefix match,
    # and the trailing slash keeps /1/ from matching /12/.
    path: Mapped[str] = mapped_column(String(255))
    depth: Mapped[int] = mapped_column(default=0)
    # A code the academy made (service units often have none); shown as such, replaced by a real one.
    code_generated: Mapped[bool] = mapped_column(default=False, server_default=false())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # no longer offered; history kept
    # As an issuer of credentials: the name printed on its certificates (杭州市拱墅区民政局, or after the 2023
    # reform 中共杭州市拱墅区委社会工作部) and its seal (a key of the file store). Every credential type the unit
    # issues prints these (see app.credentials.types); its signing keys are app.credentials.models.IssuerKey.
    issuer_name: Mapped[str | None] = mapped_column(String(120))
    seal_key: Mapped[str | None] = mapped_column(String(255))

    parent: Mapped[OrgUnit | None] = relationship(remote_side=[id])

    def __repr__(self) -> str:
        return f"<OrgUnit {self.code or self.id} {self.name}>"

    @property
    def path_ids(self) -> list[int]:
        """The ids from the root down to this unit, read from the materialised path."""
        return [int(x) for x in self.path.strip("/").split("/")]

    def is_within(self, other: OrgUnit) -> bool:
        """Return whether this unit lies in ``other``'s subtree (itself included)."""
        return self.path.startswith(other.path)
