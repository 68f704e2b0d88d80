"""People (人员): community and social workers, with their protected ID number."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.db import UTCDateTime, utcnow
from ..extensions import db
from ..org.models import OrgUnit

CATEGORIES = ("community_worker", "project_social_worker", "station_worker", "other")
LEVELS = ("none", "assistant", "intermediate", "senior")
TITLES = ("provincial_leader", "city_leader", "supervisor_assistant", "supervisor")
SERVICE_AREAS = ("elderly", "disability", "hardship", "veterans", "mediation", "community_development")


class Person(db.Model):
    __tablename__ = "people"
    __table_args__ = (
        CheckConstraint(
            "category IN ('community_worker','project_social_worker','station_worker','other')", name="category"
        ),
        CheckConstraint("level IN ('none','assistant','intermediate','senior')", name="level"),
        Index("ix_people_unit_category", "unit_id", "category"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    name: Mapped[str] = mapped_column(String(64), index=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    # The ID number is never stored in clear: a keyed hash to find duplicates,
    # the ciphertext for the administrator, the masked form for everyone else.
    id_number_hash: Mapped[str] = mapped_column(String(64), unique=True)
    id_number_enc: Mapped[str] = mapped_column(String(255))
    id_number_masked: Mapped[str] = mapped_column(String(18))
    category: Mapped[str] = mapped_column(String(32), default="community_worker")
    level: Mapped[str] = mapped_column(String(16), default="none")
    titles: Mapped[list[str]] = mapped_column(JSON, default=list)
    service_areas: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    # Registration of the social-work qualification: the 3-year continuing-education periods start here.
    certified_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    unit: Mapped[OrgUnit] = relationship()

    def __repr__(self) -> str:
        return f"<Person {self.id} {self.name}>"
