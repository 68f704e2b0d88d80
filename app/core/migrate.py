"""Flask-Migrate, attached when first used.

Flask-Migrate imports Alembic, and Alembic Mako and Pygments: about a tenth of a second of every
process's start-up, for the `flask db` commands and the migrations alone. The app gets a stand-in
instead: ``app.extensions["migrate"]`` and the ``db`` command group attach the real extension on first
use, with the same arguments the app would have given it at start-up.
"""

from __future__ import annotations

import click
from flask import Flask


def init_app(app: Flask, db, directory: str) -> None:
    app.extensions["migrate"] = _Deferred(app, db, directory)
    app.cli.add_command(_DeferredGroup(app, db, directory), name="db")


def _attach(app: Flask, db, directory: str):
    """Attach Flask-Migrate to ``app`` (once); return its ``app.extensions["migrate"]``."""
    found = app.extensions.get("migrate")
    if isinstance(found, _Deferred):
        from flask_migrate import Migrate

        Migrate(app, db, directory=directory)  # replaces the stand-in and the `db` group
    return app.extensions["migrate"]


class _Deferred:
    """Stands for Flask-Migrate's ``app.extensions["migrate"]`` until an attribute of it is asked for."""

    def __init__(self, app: Flask, db, directory: str):
        self._args = (app, db, directory)

    def __getattr__(self, name: str):
        return getattr(_attach(*self._args), name)


class _DeferredGroup(click.Group):
    """Flask-Migrate's ``flask db`` group, imported when ``flask db …`` runs: it makes the whole context."""

    def __init__(self, app: Flask, db, directory: str):
        super().__init__(name="db", help="Perform database migrations (Flask-Migrate).")
        self._args = (app, db, directory)

    def _real(self) -> click.Group:
        _attach(*self._args)
        from flask_migrate.cli import db as group

        return group

    def make_context(self, info_name, args, parent=None, **extra) -> click.Context:
        # The real group parses the arguments (its -d/--directory and -x/--x-arg too) and runs the command.
        return self._real().make_context(info_name, args, parent=parent, **extra)
