"""Configuration from the environment, secrets, and mounting into a host app."""

from __future__ import annotations

import pytest
from flask import Flask

from app import Academy, create_app
from app.config import ConfigError, load_config
from app.extensions import db
from tests.conftest import TEST_CONFIG
from tests.factories import PASSWORD, World


def test_embedded_mode_generates_a_secret_once(tmp_path):
    cfg1 = load_config({}, str(tmp_path), environ={})
    cfg2 = load_config({}, str(tmp_path), environ={})
    assert len(cfg1["SECRET_KEY"]) >= 32 and cfg1["SECRET_KEY"] == cfg2["SECRET_KEY"]
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert cfg1["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'academy.db'}"
    assert cfg1["SESSION_COOKIE_SECURE"] is False


def test_production_refuses_to_start_without_a_secret(tmp_path):
    env = {"LMS_MODE": "production", "DATABASE_URL": "postgresql+psycopg://x@y/z"}
    with pytest.raises(ConfigError, match="LMS_SECRET_KEY"):
        load_config({}, str(tmp_path), environ=env)
    with pytest.raises(ConfigError):
        load_config({}, str(tmp_path), environ={**env, "LMS_SECRET_KEY": "short"})
    assert not (tmp_path / "secret_key").exists()
    cfg = load_config({}, str(tmp_path), environ={**env, "LMS_SECRET_KEY": "s" * 40})
    assert cfg["SESSION_COOKIE_SECURE"] is True


def test_production_needs_a_database_url(tmp_path):
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load_config({}, str(tmp_path), environ={"LMS_MODE": "production", "LMS_SECRET_KEY": "s" * 40})


def test_environment_variables_are_read(tmp_path):
    env = {
        "DATABASE_URL": "sqlite:////tmp/other.db",
        "LMS_SECRET_KEY": "k" * 40,
        "LMS_MAX_UPLOAD_BYTES": "1234",
        "LMS_IMPORT_MAX_ROWS": "10",
        "LMS_LANGUAGES": "en, zh_CN",
        "LMS_TIMEZONE": "Asia/Urumqi",
        "LMS_SESSION_COOKIE_SECURE": "true",
    }
    cfg = load_config({}, str(tmp_path), environ=env)
    assert cfg["SQLALCHEMY_DATABASE_URI"] == "sqlite:////tmp/other.db"
    assert cfg["MAX_CONTENT_LENGTH"] == 1234 and cfg["LMS_IMPORT_MAX_ROWS"] == 10
    assert cfg["LMS_LANGUAGES"] == ["en", "zh_CN"] and cfg["LMS_TIMEZONE"] == "Asia/Urumqi"
    assert cfg["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize("env", [{"LMS_MODE": "cloud"}, {"LMS_MAX_UPLOAD_BYTES": "lots"}])
def test_bad_configuration_is_a_clear_error(tmp_path, env):
    with pytest.raises(ConfigError):
        load_config({}, str(tmp_path), environ=env)


def test_mounted_under_a_prefix_in_a_host_app(db_url):
    host = Flask("host")
    host.config.from_mapping(
        load_config({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": db_url}, host.instance_path, environ={})
    )

    @host.get("/")
    def host_home():
        return "host home"

    Academy(host, url_prefix="/training")
    with host.app_context():
        World()
    client = host.test_client()
    assert client.get("/").text == "host home"
    r = client.get("/training/people/")
    assert r.status_code == 302 and r.location.startswith("/training/login")
    assert client.get("/training/login").status_code == 200
    assert client.post("/training/login", data={"username": "coord", "password": PASSWORD}).status_code == 302
    page = client.get("/training/people/").text
    assert "李四" in page
    assert 'href="/training/static/css/app.css' in page
    assert 'action="/training/logout"' in page
    assert client.get("/people/").status_code == 404  # nothing leaks outside the prefix
    r = client.get("/training/api/v1/people")
    assert r.status_code == 401 and r.is_json
    with host.app_context():
        db.engine.dispose()


def test_healthz(client):
    r = client.get("/healthz")
    assert r.json["status"] == "ok"


def test_create_app_reads_the_environment(monkeypatch, tmp_path, db_url):
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("LMS_SECRET_KEY", "e" * 40)
    monkeypatch.setenv("LMS_PER_PAGE", "7")
    app = create_app({"TESTING": True})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == db_url and app.config["LMS_PER_PAGE"] == 7
