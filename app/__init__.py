"""Shegong Academy (社工学堂): training and credentials for community and social workers.

``create_app`` builds the standalone application; :class:`Academy` mounts the
same blueprints into any Flask application under a URL prefix (the
``init_app`` pattern)::

    from flask import Flask
    from shegong_academy import Academy

    app = Flask(__name__)
    app.config["SECRET_KEY"] = "…"
    Academy(app, url_prefix="/training")

Mounted, the academy reads its own ``LMS_*`` settings from the host's
configuration and the environment, and keeps its error pages, headers,
sessions, sign-in, language and CSRF checks to its own routes.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import import_module

from flask import Flask, has_request_context, request

from .config import academy_settings, load_config

FEATURES_WITH_MODELS = (
    "audit",
    "auth",
    "coverage",
    "credentials",
    "jobs",
    "ledger",
    "notices",
    "org",
    "people",
    "supervision",
    "training",
)


FEATURES_WITH_JOBS = ("credentials", "ledger", "org", "people", "training")


class Academy:
    """The academy as a Flask extension: ``Academy(app, url_prefix="/training")`` or ``init_app(app)``.

    ``user_loader``, when given, is called on the academy's requests to return
    the academy user (``shegong_academy.auth.models.User``) the host has
    signed in, or None; it reads the host's own session (and so its
    Flask-Login), and the academy's own sign-in is then not used: anonymous
    visitors go to the host's ``login_view`` (an endpoint) instead.
    """

    def __init__(
        self,
        app: Flask | None = None,
        url_prefix: str = "",
        *,
        user_loader: Callable[[], object] | None = None,
        login_view: str | None = None,
    ):
        self.url_prefix = url_prefix
        self.user_loader = user_loader
        self.login_view = login_view
        if app is not None:
            self.init_app(app, url_prefix)

    def init_app(self, app: Flask, url_prefix: str | None = None, *, standalone: bool = False) -> None:
        with _collection_paused():
            self._init_app(app, url_prefix, standalone)

    def _init_app(self, app: Flask, url_prefix: str | None, standalone: bool) -> None:
        from . import extensions as ext
        from .cli import lms
        from .core import db as core_db
        from .core import i18n, migrate, multipart, observability, paths, queue, routing, sessions, templating, web

        multipart.apply()  # uploads arrive byte for byte (pallets/werkzeug#3285)
        self.prefix = (self.url_prefix if url_prefix is None else url_prefix).rstrip("/")
        if not standalone:
            app.config.update(academy_settings(app.config, app.instance_path, os.environ, standalone=False))
        app.config["LMS_URL_PREFIX"] = self.prefix
        app.extensions["academy"] = self
        routing.init_app(app)
        _init_database(app, standalone)
        core_db.init_app(app)  # SQLite settings on the academy's own engines only
        if standalone or "migrate" not in app.extensions:
            migrate.init_app(app, ext.db, directory=str(paths.migrations()))
        web.init_app(app, self.is_academy_request)
        _init_limiter(app, standalone)
        queue.init_app(app)
        i18n.init_app(app, self.is_academy_request)
        templating.init_app(app, standalone=standalone, page_context_providers=(_page_globals, _csrf_context))
        _audit_globals(app)
        _import_models()
        _register_blueprints(app, self.prefix)
        sessions.init_app(app, self.prefix, standalone=standalone)
        observability.init_app(app, standalone=standalone, is_academy_request=self.is_academy_request)
        if app.config["LMS_METRICS"]:
            from .jobs.metrics import init_app as init_job_metrics

            init_job_metrics(app)
        app.cli.add_command(lms)

    def is_academy_request(self) -> bool:
        """Whether the current request is for one of the academy's routes (under its prefix)."""
        if not has_request_context():
            return False
        path = request.path
        return not self.prefix or path == self.prefix or path.startswith(self.prefix + "/")


@contextmanager
def _collection_paused() -> Iterator[None]:
    """Hold Python's cyclic garbage collector while the academy is set up, and give it back as it was.

    Setting up imports the features, their libraries and the models: some hundred thousand objects that
    all live as long as the process, and whose creation made the collector walk every object the process
    held, twice, to find nothing to free (80–100 ms of a command's 0.6 s start, at every start).
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@contextmanager
def _borrowed_config(app: Flask, values: dict) -> Iterator[None]:
    """Give an extension's ``init_app`` the academy's values for keys a host may use for its own."""
    missing = object()
    saved = {key: app.config.get(key, missing) for key in values}
    app.config.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is missing:
                app.config.pop(key, None)
            else:
                app.config[key] = value


def _init_database(app: Flask, standalone: bool) -> None:
    """Attach the academy's SQLAlchemy to its own database, beside a host's own Flask-SQLAlchemy if any."""
    from .extensions import db

    if standalone:
        db.init_app(app)
        return
    host_db = app.extensions.pop("sqlalchemy", None)
    try:
        with _borrowed_config(
            app,
            {
                "SQLALCHEMY_DATABASE_URI": app.config["LMS_DATABASE_URL"],
                "SQLALCHEMY_BINDS": {},
                "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
            },
        ):
            db.init_app(app)
    finally:
        app.extensions["lms_sqlalchemy"] = app.extensions.pop("sqlalchemy")
        if host_db is not None:
            app.extensions["sqlalchemy"] = host_db


def _init_limiter(app: Flask, standalone: bool) -> None:
    """Attach the academy's rate limiter to its storage, ignoring a host's default limits."""
    from .extensions import limiter

    if standalone:
        limiter.init_app(app)
        return
    with _borrowed_config(
        app,
        {
            "RATELIMIT_STORAGE_URI": app.config["LMS_RATELIMIT_STORAGE"],
            "RATELIMIT_DEFAULT": None,
            "RATELIMIT_APPLICATION": None,
            "RATELIMIT_ENABLED": app.config.get("RATELIMIT_ENABLED", True),
        },
    ):
        limiter.init_app(app)


def _import_models() -> None:
    """Import every feature's models (so the metadata and Alembic see all tables) and job handlers."""
    for feature in FEATURES_WITH_MODELS:
        import_module(f"{__name__}.{feature}.models")
    for feature in FEATURES_WITH_JOBS:
        import_module(f"{__name__}.{feature}.jobs")


def _audit_globals(app: Flask) -> None:
    """How an audit entry reads (_macros/audit.html): globals, since an imported macro sees no page context."""
    from .audit.labels import action_label, change_lines, object_label

    named = {
        "lms_audit_action": action_label,
        "lms_audit_object": object_label,
        "lms_audit_changes": change_lines,
    }
    for name, function in named.items():
        app.jinja_env.globals.setdefault(name, function)


def _page_globals() -> dict:
    from .auth import permissions
    from .auth.current import current_user
    from .notices.services import unread_on_page
    from .org.queries import unit_in_scope
    from .people.labels import CATEGORY_LABELS, LEVEL_LABELS, SERVICE_AREA_LABELS, TITLE_LABELS

    user = current_user._get_current_object()  # resolved once per page, not through the proxy at every use
    return {
        "current_user": user,
        # {% if can(MANAGE) %}: templates ask for a permission, like routes, never for a list of roles
        "can": lambda permission: permissions.can(user, permission),
        **{name: getattr(permissions, name) for name in ("MANAGE", "TEACH", "SUPERVISE", "ADMINISTER", "STAFF")},
        "in_scope": lambda unit: unit_in_scope(user, unit),
        "unread_notifications": lambda: unread_on_page(user),
        "CATEGORY_LABELS": CATEGORY_LABELS,
        "LEVEL_LABELS": LEVEL_LABELS,
        "TITLE_LABELS": TITLE_LABELS,
        "SERVICE_AREA_LABELS": SERVICE_AREA_LABELS,
    }


def _csrf_context() -> dict:
    from flask_wtf.csrf import generate_csrf

    return {"csrf_token": generate_csrf}


def _register_blueprints(app: Flask, prefix: str) -> None:
    from .api.docs import bp as docs_bp
    from .api.routes import bp as api_bp
    from .api.routes import register_api
    from .audit.routes import bp as audit_bp
    from .auth.routes import bp as auth_bp
    from .auth.users import bp as users_bp
    from .core.web import setup_blueprint
    from .coverage.routes import bp as coverage_bp
    from .credentials.routes import bp as credentials_bp
    from .jobs.routes import bp as jobs_bp
    from .notices.routes import bp as notices_bp
    from .org.routes import bp as org_bp
    from .people.routes import bp as people_bp
    from .site.routes import bp as site_bp
    from .supervision.routes import bp as supervision_bp
    from .training.routes import bp as training_bp

    pages = (
        site_bp,
        auth_bp,
        users_bp,
        audit_bp,
        org_bp,
        people_bp,
        training_bp,
        supervision_bp,
        coverage_bp,
        credentials_bp,
        jobs_bp,
        notices_bp,
        docs_bp,
    )
    for bp in (*pages, api_bp):
        if not getattr(bp, "lms_ready", False):  # a blueprint is set up once, before its first registration
            setup_blueprint(bp, forms=bp is not api_bp)
            bp.lms_ready = True
    for bp in pages:
        app.register_blueprint(bp, url_prefix=prefix + (bp.url_prefix or "") or None)
    register_api(app, prefix)


def create_app(config: dict | None = None) -> Flask:
    """Build the standalone application from defaults, the environment and ``config``."""
    # LMS_INSTANCE_PATH: where the embedded mode keeps its files (default: Flask's instance folder).
    where = {"instance_path": os.environ["LMS_INSTANCE_PATH"]} if os.environ.get("LMS_INSTANCE_PATH") else {}
    with _collection_paused():  # the configuration imports too (see Academy.init_app)
        app = Flask(__name__, instance_relative_config=True, static_folder=None, **where)
        from .core.routing import LazyRule

        app.url_rule_class = LazyRule  # before any rule is added
        app.config.from_mapping(load_config(config, app.instance_path))
        Academy().init_app(app, standalone=True)
    if app.config["LMS_PROXY_COUNT"]:
        # Behind that many reverse proxies: trust their X-Forwarded-For/-Proto/-Host/-Prefix, and no more.
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = app.config["LMS_PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_prefix=n)
    return app
