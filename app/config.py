"""Configuration: defaults, then the environment (prefix ``LMS_`` and ``DATABASE_URL``).

Read only from :func:`load_config`, which the app factory calls; nothing here
reads the environment at import time.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

DEFAULTS: dict[str, object] = {
    "LMS_MODE": "embedded",  # embedded | production
    "LMS_TIMEZONE": "Asia/Shanghai",
    "LMS_LANGUAGES": ["zh_CN", "en"],
    "LMS_DEFAULT_LANGUAGE": "zh_CN",
    "LMS_MAX_UPLOAD_BYTES": 5 * 1024 * 1024,
    "LMS_IMPORT_MAX_ROWS": 20000,
    "LMS_IMPORT_INLINE_BYTES": 256 * 1024,  # larger spreadsheets are imported by a job
    "LMS_IMPORT_READ_SECONDS": 4,  # processor time one spreadsheet read may take before it is refused
    # ID numbers refused because someone outside the user's units holds them; past it, adding people pauses.
    "LMS_ID_REFUSAL_LIMIT": "10 per day",
    # Wrong passwords: per account from one address, per address, and per account from everywhere
    # (browsers that signed in to the account before are exempt from the last one).
    "LMS_LOGIN_LIMIT_ACCOUNT": "10 per 15 minutes",
    "LMS_LOGIN_LIMIT_ADDRESS": "30 per 15 minutes",
    "LMS_LOGIN_LIMIT_ACCOUNT_TOTAL": "100 per hour",
    "LMS_API_RATE_LIMIT": "600 per minute",
    "LMS_API_AUTH_FAILURE_LIMIT": "30 per minute",
    "LMS_REDIS_URL": None,  # e.g. redis://127.0.0.1:6379/0; required in production
    "LMS_RATELIMIT_STORAGE_URI": None,  # default: LMS_REDIS_URL, else memory:// (embedded only)
    "LMS_PASSWORD_TIME_COST": 2,  # argon2id, OWASP: m=19 MiB, t=2, p=1
    "LMS_PASSWORD_MEMORY_KIB": 19456,
    "LMS_PER_PAGE": 50,
    "LMS_DATA_KEY": None,
    "LMS_CHECKIN_MARGIN_MINUTES": 30,
    "LMS_LATE_AFTER_MINUTES": 10,
    "LMS_SUPERVISION_RATIO": 8,  # supervisees per supervisor per year; above it warns
    "LMS_COUNT_UNCONFIRMED_SUPERVISION": True,  # disputed credits never count
    "LMS_VERIFY_RATE_LIMIT": "30 per minute",
    "LMS_PUBLIC_URL": None,  # e.g. https://academy.example.gov.cn — printed in QR codes
    # Issued PDFs are signed (PAdES) by the issuing unit's own key; a bureau's certificate (PKCS#12) instead:
    "LMS_RENEWAL_WINDOW_DAYS": 90,  # a certificate that expires can be renewed this long before, and after
    "LMS_PDF_SIGNING_P12": None,
    "LMS_PDF_SIGNING_P12_PASSWORD": None,
    # Continuing education of certified social workers: hours per registration period by level.
    "LMS_CE_MINIMUM_HOURS": {"assistant": 72, "intermediate": 90, "senior": 90},
    "LMS_CE_COUNTS": ("training", "supervision"),  # which ledger hours count
    "LMS_CE_PERIOD_YEARS": 3,
    "LMS_CE_RISK_MONTHS": 6,  # at risk: the period ends within this many months, hours short
    "LMS_SESSION_HOURS": 12,  # signed out after this long without a request
    "LMS_SESSION_MAX_HOURS": 24,  # and this long after signing in, however active
    "LMS_PASSWORD_LINK_HOURS": 72,  # a one-time link to set a password (new account, reset) works this long
    "LMS_SESSION_COOKIE_NAME": "lms_session",  # the academy's own signed cookie, on its own paths only
    "LMS_SESSION_COOKIE_SECURE": None,  # default: true in production
    "LMS_SECRET_KEY": None,  # default: the host's SECRET_KEY; embedded: generated into instance/
    "LMS_SECRET_KEY_FALLBACKS": [],  # earlier secret keys still accepted (rotation); signing uses LMS_SECRET_KEY
    "LMS_DATABASE_URL": None,  # default: the host's SQLALCHEMY_DATABASE_URI; embedded: SQLite in instance/
    "LMS_MIGRATION_VERSION_TABLE": None,  # default: alembic_version standalone, lms_alembic_version mounted
    # Files (issued PDFs, print results, uploads): file:///path or s3://bucket/prefix; embedded: the instance folder.
    "LMS_STORAGE_URL": None,
    "LMS_S3_ENDPOINT_URL": None,  # an S3-compatible server (MinIO…); boto3 reads the AWS_* credentials
    # Jobs: the broker (default LMS_REDIS_URL; embedded: a SQLite queue beside the database).
    "LMS_BROKER_URL": None,
    "LMS_JOBS_EAGER": False,  # run jobs at once in the caller (tests)
    "LMS_JOB_STALE_SECONDS": 30,  # a running job whose worker has not reported for this long is run again
    "LMS_JOB_MAX_ATTEMPTS": 3,
    "LMS_WORKER_CONCURRENCY": 2,
    "LMS_PRINT_RESULT_DAYS": 7,  # print results are deleted after this many days
    "LMS_PROXY_COUNT": 0,  # reverse proxies in front whose X-Forwarded-* headers are trusted
    "LMS_LOG_FORMAT": None,  # text | json (default: json in production)
    "LMS_METRICS": False,  # Prometheus metrics at /metrics
    "LMS_PG_RANDOM_PAGE_COST": 1.1,  # PostgreSQL planner's random_page_cost for the app's sessions (0: the server's)
    # Notifications: mail through SMTP (none without LMS_SMTP_HOST: in the app only), and the scheduler.
    "LMS_SMTP_HOST": None,
    "LMS_SMTP_PORT": None,  # default: 465 with LMS_SMTP_TLS=ssl, else 25
    "LMS_SMTP_USER": None,
    "LMS_SMTP_PASSWORD": None,
    "LMS_SMTP_TLS": "starttls",  # starttls | ssl | none
    "LMS_SMTP_TIMEOUT": 20,
    "LMS_MAIL_FROM": "Shegong Academy <academy@localhost>",
    "LMS_MAIL_EVENTS": "all",  # all | none | a comma-separated list of events (README)
    "LMS_MAIL_MAX_ATTEMPTS": 8,  # a mail not accepted is tried again, waiting 1 minute doubling up to 6 hours
    "LMS_NOTIFY_INTERVAL_SECONDS": 300,  # how often the scheduler runs
    "LMS_NOTIFY_HOUR": 8,  # local hour from which the day's reminders and digests go out
}

# Flask settings of the standalone application (a host application keeps its own).
FLASK_DEFAULTS: dict[str, object] = {
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    "WTF_CSRF_TIME_LIMIT": None,  # tied to the session instead
}

# Environment variables read, with their types; documented in README.md.
_ENV_INT = {
    "LMS_MAX_UPLOAD_BYTES",
    "LMS_IMPORT_MAX_ROWS",
    "LMS_IMPORT_INLINE_BYTES",
    "LMS_IMPORT_READ_SECONDS",
    "LMS_PASSWORD_TIME_COST",
    "LMS_PASSWORD_MEMORY_KIB",
    "LMS_PER_PAGE",
    "LMS_SESSION_HOURS",
    "LMS_SESSION_MAX_HOURS",
    "LMS_PASSWORD_LINK_HOURS",
    "LMS_CHECKIN_MARGIN_MINUTES",
    "LMS_LATE_AFTER_MINUTES",
    "LMS_SUPERVISION_RATIO",
    "LMS_CE_PERIOD_YEARS",
    "LMS_CE_RISK_MONTHS",
    "LMS_JOB_STALE_SECONDS",
    "LMS_JOB_MAX_ATTEMPTS",
    "LMS_WORKER_CONCURRENCY",
    "LMS_PRINT_RESULT_DAYS",
    "LMS_PROXY_COUNT",
    "LMS_RENEWAL_WINDOW_DAYS",
    "LMS_SMTP_PORT",
    "LMS_SMTP_TIMEOUT",
    "LMS_MAIL_MAX_ATTEMPTS",
    "LMS_NOTIFY_INTERVAL_SECONDS",
    "LMS_NOTIFY_HOUR",
}
_ENV_STR = {
    "LMS_MODE",
    "LMS_TIMEZONE",
    "LMS_DEFAULT_LANGUAGE",
    "LMS_LOGIN_LIMIT_ACCOUNT",
    "LMS_LOGIN_LIMIT_ADDRESS",
    "LMS_LOGIN_LIMIT_ACCOUNT_TOTAL",
    "LMS_API_RATE_LIMIT",
    "LMS_API_AUTH_FAILURE_LIMIT",
    "LMS_ID_REFUSAL_LIMIT",
    "LMS_RATELIMIT_STORAGE_URI",
    "LMS_REDIS_URL",
    "LMS_DATA_KEY",
    "LMS_VERIFY_RATE_LIMIT",
    "LMS_PUBLIC_URL",
    "LMS_PDF_SIGNING_P12",
    "LMS_PDF_SIGNING_P12_PASSWORD",
    "LMS_SECRET_KEY",
    "LMS_DATABASE_URL",
    "LMS_SESSION_COOKIE_NAME",
    "LMS_MIGRATION_VERSION_TABLE",
    "LMS_STORAGE_URL",
    "LMS_S3_ENDPOINT_URL",
    "LMS_BROKER_URL",
    "LMS_LOG_FORMAT",
    "LMS_SMTP_HOST",
    "LMS_SMTP_USER",
    "LMS_SMTP_PASSWORD",
    "LMS_SMTP_TLS",
    "LMS_MAIL_FROM",
    "LMS_MAIL_EVENTS",
}


CE_LEVELS = ("assistant", "intermediate", "senior")
CE_SOURCES = ("training", "supervision")


class ConfigError(RuntimeError):
    """The configuration cannot start the application."""


def _ce_minimum_from_env(value: str) -> dict[str, int]:
    """Parse ``assistant:72,intermediate:90,senior:90`` (levels not named keep their default)."""
    table = dict(DEFAULTS["LMS_CE_MINIMUM_HOURS"])  # type: ignore[arg-type]
    for item in filter(None, (x.strip() for x in value.split(","))):
        level, _sep, hours = item.partition(":")
        if level.strip() not in CE_LEVELS or not hours.strip().isdigit():
            raise ConfigError(f"LMS_CE_MINIMUM_HOURS must look like 'assistant:72,intermediate:90', got {value!r}")
        table[level.strip()] = int(hours)
    return table


def _check_ce(cfg: dict) -> None:
    """Refuse a continuing-education configuration the ledger cannot apply."""
    minimum = cfg["LMS_CE_MINIMUM_HOURS"]
    if not isinstance(minimum, dict) or set(minimum) != set(CE_LEVELS):
        raise ConfigError(f"LMS_CE_MINIMUM_HOURS must give hours for exactly {', '.join(CE_LEVELS)}")
    if any(not isinstance(h, int | float) or h < 0 for h in minimum.values()):
        raise ConfigError("LMS_CE_MINIMUM_HOURS must be numbers of hours, 0 or more")
    counts = tuple(cfg["LMS_CE_COUNTS"])
    if not counts or not set(counts) <= set(CE_SOURCES):
        raise ConfigError(f"LMS_CE_COUNTS must name one or more of {', '.join(CE_SOURCES)}, got {counts!r}")
    cfg["LMS_CE_COUNTS"] = counts
    if not 1 <= cfg["LMS_CE_PERIOD_YEARS"] <= 10:
        raise ConfigError("LMS_CE_PERIOD_YEARS must be from 1 to 10")
    if not 0 <= cfg["LMS_CE_RISK_MONTHS"] <= 60:
        raise ConfigError("LMS_CE_RISK_MONTHS must be from 0 to 60")


def _check_mail(cfg: dict) -> None:
    """Refuse mail settings that could not send: an unknown TLS mode, an unknown event, an hour of no day."""
    from .notices.models import KINDS

    tls = str(cfg["LMS_SMTP_TLS"] or "").lower()
    if tls not in ("starttls", "ssl", "none"):
        raise ConfigError(f"LMS_SMTP_TLS must be starttls, ssl or none, got {cfg['LMS_SMTP_TLS']!r}")
    cfg["LMS_SMTP_TLS"] = tls
    events = cfg["LMS_MAIL_EVENTS"]
    if isinstance(events, str) and events not in ("all", "none"):
        events = tuple(x.strip() for x in events.split(",") if x.strip())
    if not isinstance(events, str):
        unknown = sorted(set(events) - set(KINDS))
        if unknown:
            raise ConfigError(f"LMS_MAIL_EVENTS names unknown events: {', '.join(unknown)} (see README)")
        events = tuple(events)
    cfg["LMS_MAIL_EVENTS"] = events
    if not 0 <= cfg["LMS_NOTIFY_HOUR"] <= 23:
        raise ConfigError("LMS_NOTIFY_HOUR must be an hour from 0 to 23")
    if cfg["LMS_NOTIFY_INTERVAL_SECONDS"] < 10 or cfg["LMS_MAIL_MAX_ATTEMPTS"] < 1:
        raise ConfigError("LMS_NOTIFY_INTERVAL_SECONDS must be 10 or more, LMS_MAIL_MAX_ATTEMPTS 1 or more")


def _ratelimit_storage(cfg: dict) -> str:
    """Return the rate limiter's storage: LMS_RATELIMIT_STORAGE_URI, else LMS_REDIS_URL, else memory."""
    from limits.storage import SCHEMES

    explicit = cfg.get("LMS_RATELIMIT_STORAGE_URI")
    redis_url = cfg.get("LMS_REDIS_URL")
    if redis_url and urlsplit(redis_url).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(f"LMS_REDIS_URL must be a redis://, rediss:// or unix:// address, got {_scheme(redis_url)}")
    if explicit:
        scheme = explicit.split("://", 1)[0] if "://" in explicit else ""
        if scheme not in SCHEMES or scheme.startswith("async+"):
            raise ConfigError(f"LMS_RATELIMIT_STORAGE_URI has an unknown storage scheme {_scheme(explicit)!r}")
        return explicit
    if redis_url:
        # redis-py spells a socket unix://, the limits library redis+unix://.
        return "redis+" + redis_url if redis_url.startswith("unix://") else redis_url
    return "memory://"


def _scheme(url: str) -> str:
    """Return the scheme of ``url`` only, so a message never echoes a password."""
    return url.split("://", 1)[0] + "://" if "://" in url else "(no scheme)"


def _check_public_url(value: str) -> None:
    """Refuse an LMS_PUBLIC_URL that is not an absolute http(s) address."""
    parts = urlsplit(value)
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or not port_ok
        or parts.username is not None
        or parts.query
        or parts.fragment
        or any(c.isspace() for c in value)
    ):
        raise ConfigError(
            f"LMS_PUBLIC_URL must be an absolute http(s) address such as https://academy.example.gov.cn, got {value!r}"
        )


def _check_storage_url(value: str) -> None:
    """Refuse an LMS_STORAGE_URL that names neither a folder nor a bucket."""
    parts = urlsplit(value)
    if not ((parts.scheme == "file" and parts.path) or (parts.scheme == "s3" and parts.netloc)):
        raise ConfigError(f"LMS_STORAGE_URL must be file:///path or s3://bucket/prefix, got {_scheme(value)}")


def _check_production(cfg: dict, database_variable: str) -> None:
    """Refuse a production configuration that would start and then misbehave; one line names the variable."""
    secret = cfg.get("LMS_SECRET_KEY")
    if not secret or len(str(secret)) < 32:
        raise ConfigError(
            "LMS_SECRET_KEY is required in production: a random string of at least 32 characters, "
            "e.g. from: python -c 'import secrets; print(secrets.token_hex(32))'"
        )
    url = cfg.get("LMS_DATABASE_URL")
    if not url:
        raise ConfigError(
            f"{database_variable} is required in production: a PostgreSQL database, "
            "e.g. postgresql+psycopg://user:password@host:5432/academy"
        )
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        backend = make_url(str(url)).get_backend_name()
    except ArgumentError:
        raise ConfigError(f"{database_variable} is not a database address (scheme {_scheme(str(url))})") from None
    if backend != "postgresql":
        why = (
            "SQLite takes one writer at a time and cannot be shared by several servers"
            if backend == "sqlite"
            else "it is the only server database the academy is built and tested on"
        )
        raise ConfigError(f"{database_variable} must name a PostgreSQL database in production, not {backend}: {why}")
    if cfg["LMS_RATELIMIT_STORAGE"].startswith("memory://"):
        why = (
            "rate limits kept in memory:// are counted by each worker process apart, "
            "so N workers would allow N times every limit (40 wrong passwords instead of 10)"
        )
        if cfg.get("LMS_RATELIMIT_STORAGE_URI"):
            raise ConfigError(f"LMS_RATELIMIT_STORAGE_URI must not be memory:// in production: {why}")
        raise ConfigError(f"LMS_REDIS_URL is required in production (redis://host:6379/0): {why}")
    if not cfg.get("LMS_STORAGE_URL"):
        raise ConfigError(
            "LMS_STORAGE_URL is required in production: s3://bucket/prefix (with LMS_S3_ENDPOINT_URL for "
            "MinIO) or file:///path on storage every server shares; PDFs and print results live there"
        )
    if not cfg.get("LMS_PUBLIC_URL"):
        raise ConfigError(
            "LMS_PUBLIC_URL is required in production: the address people reach, e.g. "
            "https://academy.example.gov.cn; certificates and QR codes carry it, and without it they "
            "would carry whatever Host header a request sent"
        )


def _secret_key_file(instance_path: Path) -> str:
    """Return the embedded mode's secret, generating it on first run."""
    path = instance_path / "secret_key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def _from_environment(env, standalone: bool) -> dict:
    """The LMS_* settings the environment gives (and DATABASE_URL for the standalone application)."""
    cfg: dict[str, object] = {}
    for key in _ENV_STR:
        if env.get(key):
            cfg[key] = env[key]
    for key in _ENV_INT:
        if env.get(key):
            try:
                cfg[key] = int(env[key])
            except ValueError as exc:
                raise ConfigError(f"{key} must be an integer, got {env[key]!r}") from exc
    if cost := env.get("LMS_PG_RANDOM_PAGE_COST"):
        try:
            cfg["LMS_PG_RANDOM_PAGE_COST"] = float(cost)
        except ValueError as exc:
            raise ConfigError(f"LMS_PG_RANDOM_PAGE_COST must be a number, got {cost!r}") from exc
    if env.get("LMS_LANGUAGES"):
        cfg["LMS_LANGUAGES"] = [x.strip() for x in env["LMS_LANGUAGES"].split(",") if x.strip()]
    if env.get("LMS_SECRET_KEY_FALLBACKS"):
        cfg["LMS_SECRET_KEY_FALLBACKS"] = [x.strip() for x in env["LMS_SECRET_KEY_FALLBACKS"].split(",") if x.strip()]
    if standalone and env.get("DATABASE_URL") and not env.get("LMS_DATABASE_URL"):
        cfg["LMS_DATABASE_URL"] = env["DATABASE_URL"]
    if env.get("LMS_COUNT_UNCONFIRMED_SUPERVISION"):
        cfg["LMS_COUNT_UNCONFIRMED_SUPERVISION"] = _truthy(env["LMS_COUNT_UNCONFIRMED_SUPERVISION"])
    if env.get("LMS_CE_MINIMUM_HOURS"):
        cfg["LMS_CE_MINIMUM_HOURS"] = _ce_minimum_from_env(env["LMS_CE_MINIMUM_HOURS"])
    if env.get("LMS_CE_COUNTS"):
        cfg["LMS_CE_COUNTS"] = tuple(x.strip() for x in env["LMS_CE_COUNTS"].split(",") if x.strip())
    for flag in ("LMS_SESSION_COOKIE_SECURE", "LMS_METRICS", "LMS_JOBS_EAGER"):
        if env.get(flag):
            cfg[flag] = _truthy(env[flag])
    return cfg


def academy_settings(
    given: Mapping, instance_path: str, environ: Mapping | None = None, *, standalone: bool = False
) -> dict:
    """Return the academy's own settings (``LMS_*``): defaults, the environment, then ``given``; validated.

    ``given`` is the host application's configuration (or the standalone
    factory's): its ``LMS_*`` keys win over the environment, and the academy
    falls back on its ``SECRET_KEY`` and ``SQLALCHEMY_DATABASE_URI``.
    Production refuses to start without what it needs, in one line naming the
    variable.
    """
    env = os.environ if environ is None else environ
    cfg: dict[str, object] = dict(DEFAULTS)
    cfg.update(_from_environment(env, standalone))
    cfg.update({k: v for k, v in given.items() if k.startswith("LMS_") and v is not None})
    if not cfg.get("LMS_SECRET_KEY") and given.get("SECRET_KEY"):
        cfg["LMS_SECRET_KEY"] = given["SECRET_KEY"]
    if not cfg.get("LMS_DATABASE_URL") and given.get("SQLALCHEMY_DATABASE_URI"):
        cfg["LMS_DATABASE_URL"] = given["SQLALCHEMY_DATABASE_URI"]
    _check_ce(cfg)
    _check_mail(cfg)
    for key in ("LMS_SESSION_HOURS", "LMS_SESSION_MAX_HOURS"):
        if not isinstance(cfg[key], int) or cfg[key] < 1:
            raise ConfigError(f"{key} must be a whole number of hours, 1 or more")
    if cfg.get("LMS_PUBLIC_URL"):
        _check_public_url(str(cfg["LMS_PUBLIC_URL"]))
    if cfg.get("LMS_STORAGE_URL"):
        _check_storage_url(str(cfg["LMS_STORAGE_URL"]))
    cfg["LMS_RATELIMIT_STORAGE"] = _ratelimit_storage(cfg)

    mode = cfg["LMS_MODE"]
    if mode not in ("embedded", "production"):
        raise ConfigError(f"LMS_MODE must be 'embedded' or 'production', got {mode!r}")
    if mode == "production":
        _check_production(cfg, "DATABASE_URL" if standalone else "LMS_DATABASE_URL")
    else:
        if not cfg.get("LMS_SECRET_KEY") and not given.get("TESTING"):
            cfg["LMS_SECRET_KEY"] = _secret_key_file(Path(instance_path))
        if not cfg.get("LMS_DATABASE_URL"):
            cfg["LMS_DATABASE_URL"] = f"sqlite:///{Path(instance_path) / 'academy.db'}"
    if not cfg.get("LMS_SECRET_KEY"):
        raise ConfigError("LMS_SECRET_KEY is not set (nor the host application's SECRET_KEY)")
    if cfg["LMS_SESSION_COOKIE_SECURE"] is None:
        cfg["LMS_SESSION_COOKIE_SECURE"] = mode == "production"
    if not cfg.get("LMS_STORAGE_URL") and mode != "production":
        cfg["LMS_STORAGE_URL"] = Path(instance_path).absolute().as_uri()
    if not cfg.get("LMS_LOG_FORMAT"):
        cfg["LMS_LOG_FORMAT"] = "json" if mode == "production" else "text"
    if not cfg.get("LMS_MIGRATION_VERSION_TABLE"):
        cfg["LMS_MIGRATION_VERSION_TABLE"] = "alembic_version" if standalone else "lms_alembic_version"
    return cfg


def load_config(config: dict | None, instance_path: str, environ: Mapping | None = None) -> dict:
    """Return the whole configuration of the standalone application: its Flask settings and the academy's."""
    given = dict(config or {})
    settings = academy_settings(given, instance_path, environ, standalone=True)
    cfg: dict[str, object] = {**FLASK_DEFAULTS, **given, **settings}
    cfg["SECRET_KEY"] = settings["LMS_SECRET_KEY"]
    cfg["SECRET_KEY_FALLBACKS"] = list(settings["LMS_SECRET_KEY_FALLBACKS"])
    cfg["SQLALCHEMY_DATABASE_URI"] = settings["LMS_DATABASE_URL"]
    cfg["SESSION_COOKIE_SECURE"] = settings["LMS_SESSION_COOKIE_SECURE"]
    cfg["SESSION_COOKIE_NAME"] = settings["LMS_SESSION_COOKIE_NAME"]
    cfg["SESSION_COOKIE_HTTPONLY"] = True
    cfg["SESSION_COOKIE_SAMESITE"] = "Lax"
    cfg["REMEMBER_COOKIE_HTTPONLY"] = True
    cfg["REMEMBER_COOKIE_SECURE"] = settings["LMS_SESSION_COOKIE_SECURE"]
    cfg["MAX_CONTENT_LENGTH"] = settings["LMS_MAX_UPLOAD_BYTES"]
    cfg["RATELIMIT_STORAGE_URI"] = settings["LMS_RATELIMIT_STORAGE"]
    cfg.setdefault("RATELIMIT_ENABLED", True)
    cfg["BABEL_DEFAULT_LOCALE"] = settings["LMS_DEFAULT_LANGUAGE"]
    cfg["BABEL_DEFAULT_TIMEZONE"] = settings["LMS_TIMEZONE"]
    return cfg
