"""The demo world, part 4: the three credential types of PRODUCT.md §4 (none issued yet)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from ..credentials.models import CredentialType
from ..extensions import db
from ..org.queries import unit_by_code
from ..training.models import Program


def load_credentials() -> None:
    """Create project-social-worker, training-completion and ce-hours (flushes)."""
    gongshu = unit_by_code("330105")
    gongshu.issuer_name = "杭州市拱墅区民政局"  # the name its certificates print (its types keep a copy)
    camp = db.session.scalar(select(Program.id).where(Program.title == "项目社工特训营"))
    db.session.add_all(
        [
            CredentialType(
                name="project-social-worker",
                title="项目社工转岗证书",
                title_en="Project social worker transition certificate",
                language="zh_CN",
                design="transition-zh",
                issuer_unit=gongshu,
                issuer_name="杭州市拱墅区民政局",
                issuer_code="GSMZ",
                required_program_ids=[camp],
                min_training_hours=Decimal("12"),
                min_supervision_hours=Decimal("1.5"),
                period_year=2022,
                transition_from="community_worker",
                transition_to="project_social_worker",
            ),
            CredentialType(
                name="training-completion",
                title="培训结业证书",
                title_en="Training completion certificate",
                language="zh_CN",
                design="completion-zh",
                issuer_unit=gongshu,
                issuer_name="杭州市拱墅区民政局",
                issuer_code="GSPX",
                min_training_hours=Decimal("8"),
                period_year=2022,
                validity_months=36,
            ),
            CredentialType(
                name="ce-hours",
                title="继续教育学时证明",
                title_en="Continuing education hours statement",
                language="zh_CN",
                design="ce-hours-zh",
                issuer_unit=gongshu,
                issuer_name="杭州市拱墅区民政局",
                issuer_code="GSJX",
                min_training_hours=Decimal("1"),
                ce_period=True,  # the hours of the holder's registration period, against their level's minimum
            ),
        ]
    )
    db.session.flush()
