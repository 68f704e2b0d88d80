"""Shegong Academy (社工学堂): training and credentials for community and social workers.

``create_app`` builds the standalone application; :class:`Academy` mounts the
same blueprints into any Flask app under a URL prefix (the ``init_app`` pattern).
"""

from __future__ import annotations

from flask import Flask

from app.config import load_config


class Academy:
    """The academy as a Flask extension: ``Academy().init_app(host, url_prefix="/training")``."""

    def __init__(self, app: Flask | None = None, url_prefix: str = ""):
        self.url_prefix = url_prefix
        if app is not None:
            self.init_app(app, url_prefix)

    def init_app(self, app: Flask, url_prefix: str | None = None) -> None:
        from app import extensions as ext
        from app.core import db as core_db
        from app.core import errors, i18n, routing, security, templating

        prefix = (self.url_prefix if url_prefix is None else url_prefix).rstrip("/")
        app.config.setdefault("LMS_URL_PREFIX", prefix)
        routing.init_app(app)
        ext.db.init_app(app)
        core_db.init_app(app)  # SQLite settings on the app's own engines only
        ext.migrate.init_app(app, ext.db, directory=str(_root() / "migrations"))
        ext.csrf.init_app(app)
        ext.limiter.init_app(app)
        i18n.init_app(app)
        from app.auth.routes import init_login

        init_login(app)
        security.init_app(app)
        templating.init_app(app)
        errors.init_app(app)
        _import_models()
        _register_blueprints(app, prefix)
        from app.cli import lms

        app.cli.add_command(lms)
        app.extensions["academy"] = self


def _root():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent


def _import_models() -> None:
    """Import every feature's models so the metadata (and Alembic) sees all tables."""
    import app.audit.models
    import app.auth.models
    import app.coverage.models
    import app.credentials.models
    import app.ledger.models
    import app.org.models
    import app.people.models
    import app.supervision.models
    import app.training.models  # noqa: F401


def _register_blueprints(app: Flask, prefix: str) -> None:
    from app.api.routes import register_api
    from app.auth.routes import bp as auth_bp
    from app.core.routes import bp as core_bp
    from app.coverage.routes import bp as coverage_bp
    from app.credentials.routes import bp as credentials_bp
    from app.org.routes import bp as org_bp
    from app.people.routes import bp as people_bp
    from app.supervision.routes import bp as supervision_bp
    from app.training.routes import bp as training_bp

    for bp in (core_bp, auth_bp, org_bp, people_bp, training_bp, supervision_bp, coverage_bp, credentials_bp):
        app.register_blueprint(bp, url_prefix=prefix + (bp.url_prefix or "") or None)
    register_api(app, prefix)


def create_app(config: dict | None = None) -> Flask:
    """Build the standalone application from defaults, the environment and ``config``."""
    # Templates and static files come with the core blueprint, so that a
    # host application mounting the academy finds them too.
    app = Flask(__name__, instance_relative_config=True, static_folder=None)
    app.config.from_mapping(load_config(config, app.instance_path))
    Academy(app)
    return app
