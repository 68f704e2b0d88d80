"""Where the academy's files are: one place that knows the package layout.

In the repository the data folders (templates, certificate designs, course
content, migrations) sit beside the ``app/`` source folder; in the built
wheel they are package data inside ``shegong_academy/``. Everything finds
them through these functions, never through the current directory.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent


def _folder(name: str) -> Path:
    inside = PACKAGE / name  # an installed wheel
    return inside if inside.is_dir() else PACKAGE.parent / name  # a source checkout


def templates() -> Path:
    """The Jinja templates."""
    return _folder("templates")


def static() -> Path:
    """The static files (CSS, images)."""
    return PACKAGE / "static"


def translations() -> Path:
    """The compiled message catalogues."""
    return PACKAGE / "translations"


def certificate_designs() -> Path:
    """The certificate designs, one folder each."""
    return _folder("certificates")


def course_content() -> Path:
    """The course content folders loaded by ``lms content sync``."""
    return _folder("course_content")


def migrations() -> Path:
    """The Alembic migrations."""
    return _folder("migrations")
