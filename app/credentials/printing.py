"""One PDF of many certificates, a page (or a certificate's pages) per person, fonts embedded once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from ..extensions import db
from .models import Certificate
from .services import certificate_context, write_file


def print_certificates(
    certificate_ids: list[int], out: Path, progress: Callable[[int, int], None] | None = None
) -> int:
    """Render the certificates (grouped by design, in given order) into one PDF at ``out``; OSError if unwritable."""
    from .render import load_design, render_many

    certificates = {c.id: c for c in db.session.scalars(select(Certificate).where(Certificate.id.in_(certificate_ids)))}
    ordered = [certificates[i] for i in certificate_ids if i in certificates]
    if not ordered:
        raise ValueError("no certificates to print")
    designs = {c.design for c in ordered}
    if len(designs) != 1:
        raise ValueError("certificates of different designs cannot share one PDF")
    design = load_design(designs.pop())
    contexts = [certificate_context(c) for c in ordered]
    pdf = render_many(design, contexts, progress=progress)
    write_file(out, pdf)  # through a temporary file: a failed write leaves nothing behind
    return len(ordered)
