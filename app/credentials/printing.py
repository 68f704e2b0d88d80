"""One PDF of many certificates, a page (or a certificate's pages) per person; a long print is drawn in parts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from ..extensions import db
from .models import Certificate
from .services import certificate_context

Progress = Callable[[int, int], None]


def render_certificates(certificate_ids: list[int], progress: Progress | None = None) -> tuple[bytes, int]:
    """Render the certificates (in the given order, one design) into one PDF; return it and how many it holds.

    ValueError when there is nothing to print or the designs differ.
    """
    from .render import load_design, render_many

    certificates = {c.id: c for c in db.session.scalars(select(Certificate).where(Certificate.id.in_(certificate_ids)))}
    ordered = [certificates[i] for i in certificate_ids if i in certificates]
    if not ordered:
        raise ValueError("no certificates to print")
    designs = {c.design for c in ordered}
    if len(designs) != 1:
        raise ValueError("certificates of different designs cannot share one PDF")
    design = load_design(designs.pop())
    seals: dict = {}  # the issuer's seal read from the store once, not once per certificate
    contexts = [certificate_context(c, seals) for c in ordered]
    return render_many(design, contexts, progress=progress), len(ordered)


def print_certificates(certificate_ids: list[int], out: Path, progress: Progress | None = None) -> int:
    """Render the certificates into one PDF at ``out`` (the command line's file); OSError if unwritable."""
    pdf, count = render_certificates(certificate_ids, progress)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        tmp.write_bytes(pdf)
        tmp.replace(out)  # a failed write leaves nothing behind
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    return count
