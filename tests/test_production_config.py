"""Production refuses a configuration that would start and then misbehave, in one line naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from shegong_academy.config import ConfigError, load_config
from shegong_academy.extensions import db

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION = {
    "LMS_MODE": "production",
    "LMS_SECRET_KEY": "p" * 64,
    "DATABASE_URL": "postgresql+psycopg://academy:s3cret-pw@db.internal:5432/academy",
    "LMS_REDIS_URL": "redis://redis.internal:6379/0",
    "LMS_PUBLIC_URL": "https://academy.example.gov.cn",
    "LMS_STORAGE_URL": "s3://academy-files/prod",
}


def production(tmp_path, **changes) -> dict:
    env = {k: v for k, v in {**PRODUCTION, **changes}.items() if v is not None}
    return load_config({}, str(tmp_path), environ=env)


def test_a_complete_production_configuration_starts(tmp_path):
    cfg = production(tmp_path)
    assert cfg["RATELIMIT_STORAGE_URI"] == "redis://redis.internal:6379/0"
    assert cfg["SESSION_COOKIE_SECURE"] is True and cfg["REMEMBER_COOKIE_SECURE"] is True
    assert cfg["LMS_PUBLIC_URL"] == "https://academy.example.gov.cn"
    assert not (tmp_path / "secret_key").exists()  # production never writes a secret of its own


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("LMS_SECRET_KEY", "LMS_SECRET_KEY"),
        ("DATABASE_URL", "DATABASE_URL"),
        ("LMS_REDIS_URL", "LMS_REDIS_URL"),
        ("LMS_PUBLIC_URL", "LMS_PUBLIC_URL"),
        ("LMS_STORAGE_URL", "LMS_STORAGE_URL"),
    ],
)
def test_production_refuses_to_start_without(tmp_path, missing, named):
    with pytest.raises(ConfigError) as info:
        production(tmp_path, **{missing: None})
    message = str(info.value)
    assert message.startswith(f"{named} is required in production")
    assert "\n" not in message


@pytest.mark.parametrize(
    ("changes", "starts_with"),
    [
        ({"LMS_SECRET_KEY": "short-secret"}, "LMS_SECRET_KEY is required"),
        ({"DATABASE_URL": "sqlite:////srv/academy.db"}, "DATABASE_URL must name a PostgreSQL database"),
        ({"DATABASE_URL": "mysql+pymysql://u:pw@h/db"}, "DATABASE_URL must name a PostgreSQL database"),
        ({"LMS_STORAGE_URL": "ftp://files.internal/academy"}, "LMS_STORAGE_URL must be file:///path or s3://"),
        ({"LMS_STORAGE_URL": "s3://"}, "LMS_STORAGE_URL must be file:///path or s3://"),
        ({"DATABASE_URL": "not a url"}, "DATABASE_URL is not a database address"),
        ({"LMS_RATELIMIT_STORAGE_URI": "memory://"}, "LMS_RATELIMIT_STORAGE_URI must not be memory://"),
        ({"LMS_REDIS_URL": "http://redis.internal:6379"}, "LMS_REDIS_URL must be a redis://"),
        ({"LMS_RATELIMIT_STORAGE_URI": "reddis://x:6379"}, "LMS_RATELIMIT_STORAGE_URI has an unknown"),
    ],
)
def test_production_refuses_a_wrong_value(tmp_path, changes, starts_with):
    with pytest.raises(ConfigError) as info:
        production(tmp_path, **changes)
    assert str(info.value).startswith(starts_with)


def test_a_refusal_never_echoes_a_password(tmp_path):
    for changes in ({"DATABASE_URL": "mysql://u:s3cret-pw@h/db"}, {"LMS_REDIS_URL": "http://u:s3cret-pw@h"}):
        with pytest.raises(ConfigError) as info:
            production(tmp_path, **changes)
        assert "s3cret-pw" not in str(info.value)


def test_rate_limit_storage_comes_from_the_explicit_setting_then_redis(tmp_path):
    assert load_config({}, str(tmp_path), environ={})["RATELIMIT_STORAGE_URI"] == "memory://"  # embedded
    explicit = production(tmp_path, LMS_RATELIMIT_STORAGE_URI="redis://limits.internal:6379/3")
    assert explicit["RATELIMIT_STORAGE_URI"] == "redis://limits.internal:6379/3"
    only_explicit = production(tmp_path, LMS_REDIS_URL=None, LMS_RATELIMIT_STORAGE_URI="redis://limits:6379/1")
    assert only_explicit["RATELIMIT_STORAGE_URI"] == "redis://limits:6379/1"
    socket = production(tmp_path, LMS_REDIS_URL="unix:///run/redis/redis.sock")
    assert socket["RATELIMIT_STORAGE_URI"] == "redis+unix:///run/redis/redis.sock"


@pytest.mark.parametrize(
    "url",
    [
        "academy.example.gov.cn",
        "/training",
        "ftp://academy.example.gov.cn",
        "https://",
        "https://academy.example.gov.cn/?x=1",
        "https://academy.example.gov.cn/#top",
        "https://user:pw@academy.example.gov.cn",
        "https://academy.example.gov.cn:99999",
        "https://academy.example.gov.cn/ x",
    ],
)
def test_public_url_must_be_an_absolute_http_address(tmp_path, url):
    with pytest.raises(ConfigError, match="^LMS_PUBLIC_URL must be an absolute http"):
        production(tmp_path, LMS_PUBLIC_URL=url)
    with pytest.raises(ConfigError, match="^LMS_PUBLIC_URL"):  # a wrong value is wrong in embedded mode too
        load_config({}, str(tmp_path), environ={"LMS_PUBLIC_URL": url})


@pytest.mark.parametrize("url", ["http://10.1.2.3:8080", "https://academy.example.gov.cn/training/"])
def test_public_url_may_be_http_with_a_port_or_a_path(tmp_path, url):
    assert production(tmp_path, LMS_PUBLIC_URL=url)["LMS_PUBLIC_URL"] == url


@pytest.mark.parametrize("key", ["LMS_SESSION_HOURS", "LMS_SESSION_MAX_HOURS"])
def test_session_hours_must_be_positive(tmp_path, key):
    with pytest.raises(ConfigError, match=f"^{key}"):
        load_config({}, str(tmp_path), environ={key: "0"})
    assert load_config({}, str(tmp_path), environ={key: "48"})[key] == 48


# --- how a person sees a refusal: one line on stderr, no traceback, a non-zero exit --------------------


def _clean_environ(**env) -> dict:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LMS_") and k != "DATABASE_URL"}
    return {**base, **{k: v for k, v in env.items() if v is not None}}


def _run(args, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=ROOT, env=_clean_environ(**env), capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("missing", ["LMS_SECRET_KEY", "DATABASE_URL", "LMS_REDIS_URL", "LMS_PUBLIC_URL"])
def test_importing_wsgi_prints_one_line_naming_the_variable(missing):
    result = _run([sys.executable, "-c", "import wsgi"], **{**PRODUCTION, missing: None})
    assert result.returncode == 4, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert missing in lines[0] and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_the_flask_command_prints_one_line_too():
    flask = str(Path(sys.executable).parent / "flask")
    for args in (
        ["lms", "db", "current"],
        ["lms", "report", "--unit", "330105", "--year", "2024"],
        ["db", "upgrade"],
        ["run"],
    ):
        result = _run([flask, "--app", "wsgi", *args], **{**PRODUCTION, "LMS_PUBLIC_URL": None})
        assert result.returncode == 4, (args, result.stderr)
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("Shegong Academy will not start: LMS_PUBLIC_URL is required in production")
    # Help loads no application (lms is a plugin command), so it answers even while the settings are wrong.
    result = _run([flask, "--app", "wsgi", "lms", "--help"], **{**PRODUCTION, "LMS_PUBLIC_URL": None})
    assert result.returncode == 0 and "report" in result.stdout, result.stderr


def test_embedded_mode_starts_with_no_variables(tmp_path):
    # The app's instance folder is moved to tmp_path so the test writes nothing into the project.
    code = (
        "import sys, flask\n"
        "init = flask.Flask.__init__\n"
        "def moved(self, *a, **k):\n"
        "    k.setdefault('instance_path', sys.argv[1])\n"
        "    init(self, *a, **k)\n"
        "flask.Flask.__init__ = moved\n"
        "import wsgi\n"
        "r = wsgi.app.test_client().get('/healthz')\n"
        "print(wsgi.app.config['LMS_MODE'], r.status_code, r.get_json())\n"
    )
    result = _run([sys.executable, "-c", code, str(tmp_path)])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "embedded 200 {'status': 'ok'}"
    assert (tmp_path / "secret_key").exists()


def test_the_planner_cost_comes_from_the_environment(tmp_path):
    assert production(tmp_path)["LMS_PG_RANDOM_PAGE_COST"] == 1.1
    assert production(tmp_path, LMS_PG_RANDOM_PAGE_COST="2.5")["LMS_PG_RANDOM_PAGE_COST"] == 2.5
    with pytest.raises(ConfigError) as info:
        production(tmp_path, LMS_PG_RANDOM_PAGE_COST="cheap")
    assert str(info.value) == "LMS_PG_RANDOM_PAGE_COST must be a number, got 'cheap'"


@pytest.mark.postgres_only
def test_the_apps_postgresql_sessions_plan_with_the_configured_cost(app):
    """The app's own connections carry the setting; another engine keeps the server's."""
    with app.app_context():
        assert db.session.execute(text("SHOW random_page_cost")).scalar() == "1.1"
        other = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
        with other.connect() as conn:
            assert conn.execute(text("SHOW random_page_cost")).scalar() == "4"
        other.dispose()
