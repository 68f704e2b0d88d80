"""Start-up stays light: creating the app and loading the lms commands imports none of the heavy libraries.

Each of them is imported where it is used (a PDF rendered, a workbook read or written, a file sent
to S3, a feed or a lesson rendered…): imported at start-up, they made every
``flask lms …`` command pay for all of them before doing anything. No timings here:
``bench/bench_startup.py`` prints them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import TEST_CONFIG

ROOT = Path(__file__).resolve().parent.parent

# What start-up once imported (or could), by what each costs or pulls in: WeasyPrint and its PDF and
# font stack, boto3, openpyxl (and Pillow through it), icalendar, Markdown and nh3, cryptography,
# Celery and kombu (the queue: imported when a job is first submitted, or by a worker), Flask-Migrate
# and Alembic (with Mako and Pygments: imported when `flask db` or a migration runs);
# and libraries only tests or metrics use.
HEAVY = {
    "weasyprint",
    "pydyf",
    "fontTools",
    "tinycss2",
    "cssselect2",
    "tinyhtml5",
    "pypdf",
    "boto3",
    "botocore",
    "s3transfer",
    "openpyxl",
    "PIL",
    "icalendar",
    "markdown",
    "nh3",
    "cryptography",
    "celery",
    "kombu",
    "flask_migrate",
    "alembic",
    "mako",
    "pygments",
    "prometheus_client",
    "hypothesis",
    "schemathesis",
    "moto",
    "playwright",
}

# In a fresh interpreter: the app as the tests build it, then `flask lms --help` and
# `flask lms report --help` through Flask's own command line (its plugins included).
CODE = """
import json, sys
from flask.cli import FlaskGroup
from shegong_academy import create_app

app = create_app(json.loads(sys.argv[1]))
for args in (["lms", "--help"], ["lms", "report", "--help"]):
    code = FlaskGroup(create_app=lambda: app, load_dotenv=False).main(args, "flask", standalone_mode=False)
    assert code == 0, (args, code)
assert "lms" in app.cli.commands and "db" in app.cli.commands
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in set(json.loads(sys.argv[2])))))
"""


def _fresh_python(code: str, tmp_path: Path, database: str, *args) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter with the tests' configuration on a SQLite file under ``tmp_path``
    (passed as its first argument, ``args`` JSON-encoded after it); it must succeed."""
    config = {**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / database}"}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LMS_", "FLASK_"))}
    result = subprocess.run(
        [sys.executable, "-c", code, json.dumps(config), *(json.dumps(a) for a in args)],
        cwd=ROOT,
        env={**env, "LMS_INSTANCE_PATH": str(tmp_path / "instance")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result


def test_creating_the_app_and_loading_the_cli_imports_no_heavy_library(tmp_path):
    result = _fresh_python(CODE, tmp_path, "test.db", sorted(HEAVY))
    imported = json.loads(result.stdout.strip().splitlines()[-1])
    assert imported == [], f"imported at start-up: {imported}"


# `lms` is a plugin command (the package's `flask.commands` entry point): asking for its help loads no
# application — the factory below refuses — and so imports neither SQLAlchemy nor the extensions.
NO_APP = """
import json, sys
from flask.cli import FlaskGroup

def refuse():
    raise AssertionError("the application was loaded")

for args in (["lms", "--help"], ["lms", "report", "--help"], ["lms", "certificates", "print", "--help"]):
    code = FlaskGroup(create_app=refuse, load_dotenv=False).main(args, "flask", standalone_mode=False)
    assert code == 0, (args, code)
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(sys.argv[1])))))
"""

LOADED_WITH_THE_APP = {"sqlalchemy", "flask_sqlalchemy", "alembic", "flask_migrate", "celery", "flask_smorest"}


def test_lms_help_loads_no_application(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LMS_", "FLASK_"))}
    result = subprocess.run(
        [sys.executable, "-c", NO_APP, json.dumps(sorted(LOADED_WITH_THE_APP | HEAVY))],
        cwd=tmp_path,  # no wsgi.py here: nothing Flask could find by itself either
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "report" in result.stdout and "--unit" in result.stdout and "--out" in result.stdout
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_the_app_writes_a_url_builder_only_when_a_url_is_built(app, monkeypatch):
    """Werkzeug compiles two builders per rule as it is added (two thirds of creating the app); ours wait."""
    from flask import url_for
    from werkzeug.routing import Rule

    from tests.conftest import make_app

    compiled: list[str] = []
    real = Rule._compile_builder

    def counting(rule, append_unknown=True):
        compiled.append(rule.endpoint)
        return real(rule, append_unknown)

    monkeypatch.setattr(Rule, "_compile_builder", counting)
    fresh = make_app(app.config["SQLALCHEMY_DATABASE_URI"])
    assert len(list(fresh.url_map.iter_rules())) > 100
    assert compiled == []
    with fresh.test_request_context():
        first = url_for("people.detail", person_id=7)
        assert url_for("people.detail", person_id=8) == first.replace("7", "8")
        assert url_for("people.detail", person_id=7, q="张三") == first + "?q=%E5%BC%A0%E4%B8%89"
    # the one builder url_for uses (werkzeug's "append unknown arguments"), compiled once for the rule
    assert compiled == ["people.detail"]


def test_flask_db_attaches_flask_migrate_when_used(app, runner):
    """The ``db`` group and ``app.extensions["migrate"]`` stand in for Flask-Migrate until first used."""
    from flask_migrate import _MigrateConfig
    from sqlalchemy import inspect as sa_inspect

    from shegong_academy.extensions import db

    listed = runner.invoke(args=["db", "--help"])
    assert listed.exit_code == 0, listed.output
    assert "upgrade" in listed.output and "downgrade" in listed.output
    with app.app_context():  # `flask db` runs the academy's migrations, down one and up again
        tables = lambda: set(sa_inspect(db.engine).get_table_names())  # noqa: E731
        assert "cohort_people" in tables()
        down = runner.invoke(args=["db", "downgrade", "0011_unit_figures"])
        assert down.exit_code == 0, down.output
        assert "cohort_people" not in tables() and "unit_years" in tables()
        up = runner.invoke(args=["db", "upgrade"])
        assert up.exit_code == 0, up.output
        assert "cohort_people" in tables()
        db.engine.dispose()
    attached = app.extensions["migrate"]
    assert isinstance(attached, _MigrateConfig) and attached.db is db


def test_a_url_may_carry_a_value_named_rule(app):
    """The lazily compiled builder takes its rule positionally only: ?rule=… reaches url_for in pagers."""
    from flask import url_for

    with app.test_request_context():
        assert url_for("people.index", rule="1", page=2).endswith("rule=1&page=2")


def test_flask_db_keeps_flask_migrates_own_options(app, runner):
    """-x and -d belong to Flask-Migrate's group: the stand-in hands the whole command line to it."""
    listed = runner.invoke(args=["db", "-x", "note=checked", "heads"])
    assert listed.exit_code == 0, listed.output
    from flask_migrate import _MigrateConfig

    assert isinstance(app.extensions["migrate"], _MigrateConfig)


# Commands run as their own processes, as an operator runs them: each with a reader that sees the freeze happened
# at exit (registered before the command, so it runs after the command's own atexit handlers), and each finding
# what the previous one wrote.
COMMAND = """
import atexit, gc, json, sys
from flask.cli import FlaskGroup
from shegong_academy import create_app

atexit.register(lambda: print(json.dumps({"frozen": gc.get_freeze_count()})))
app = create_app(json.loads(sys.argv[1]))
FlaskGroup(create_app=lambda: app, load_dotenv=False).main(json.loads(sys.argv[2]), "flask", standalone_mode=False)
print("command done", flush=False)
"""


PASSWORD = "Sg-2024-q!x"  # noqa: S105 - a test login


def test_a_command_leaves_its_objects_to_the_system_at_exit_and_its_work_is_kept(tmp_path):
    units = tmp_path / "units.csv"
    units.write_text("code,name,kind,parent_code\n330000,浙江省,province,\n", encoding="utf-8")
    runs = []
    for args in (
        ["lms", "db", "upgrade"],
        ["lms", "import-units", str(units)],
        ["lms", "create-user", "--username", "wang", "--role", "admin", "--unit", "330000", "--password", PASSWORD],
    ):
        result = _fresh_python(COMMAND, tmp_path, "cli.db", args)
        lines = result.stdout.strip().splitlines()
        assert lines[-2] == "command done"  # unflushed output is still written
        assert json.loads(lines[-1])["frozen"] > 10000  # the application's objects, left to the system
        runs.append(result.stdout)
    assert "units created: 1" in runs[1]
    assert "created user wang (admin of 浙江省)" in runs[2]  # the unit the second process imported was kept


# In a fresh interpreter: the collector's passes while wsgi.py makes the application (as gunicorn's workers
# and `flask --app wsgi` do) and what it leaves to the collector; then the academy mounted into a host whose
# own collector was turned off.
COLLECTIONS = """
import gc, json, sys
from flask import Flask
import shegong_academy
from shegong_academy import Academy

config = json.loads(sys.argv[1])
factory = shegong_academy.create_app
passes = []
gc.callbacks.append(lambda phase, info: passes.append(info["generation"]) if phase == "start" else None)


def create_app():  # wsgi.py's own call, with the tests' configuration
    made["making"] = len(passes)
    return factory(config)


made = {}
shegong_academy.create_app = create_app
import wsgi
made.update(passes=list(passes), enabled=gc.isenabled(), frozen=gc.get_freeze_count())
made["since_making"] = passes[made["making"]:]
made["healthz"] = wsgi.app.test_client().get("/healthz").status_code
gc.disable()
host = Flask("host")
host.config.update(SECRET_KEY="host-" + "k" * 40, LMS_DATABASE_URL=config["SQLALCHEMY_DATABASE_URI"])
Academy(host, url_prefix="/training")
made["mounted_left_off"] = not gc.isenabled()
gc.enable()
before = len(passes)
gc.collect()
made["after"] = passes[before:]
print(json.dumps(made))
"""


def test_the_application_is_made_without_collector_passes_and_set_aside(tmp_path):
    """Making the application creates only objects that live as long as the process. The collector runs no
    pass from the start of making it to the end of wsgi.py (a full pass walked everything twice, finding
    nothing; the first pass after the collector came back walked every object made meanwhile): wsgi.py sets
    them aside before giving the collector back, so that no later pass walks them either. The collector is
    back on, and a host that had turned it off keeps it off."""
    result = _fresh_python(COLLECTIONS, tmp_path, "test.db")
    made = json.loads(result.stdout.strip().splitlines()[-1])
    assert 2 not in made["passes"], made["passes"]
    assert made["since_making"] == [], made["since_making"]
    assert made["enabled"]
    assert made["frozen"] > 100_000  # the application's objects, set aside
    assert made["healthz"] == 200
    assert made["mounted_left_off"]
    assert made["after"] == [2]  # the collector works again: the explicit collect() ran a full pass
