"""The migrations: they build exactly the models' schema, keep every row, and 0006 keeps every existing cohort.

The row-by-row check of every revision is tests/test_migration_data.py.
"""

from __future__ import annotations

import sqlite3

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from shegong_academy.core.db import ForeignKeyViolation, check_foreign_keys, foreign_keys_off
from shegong_academy.extensions import db
from tests.conftest import MIGRATIONS, _pg_database, is_postgres, make_app

LONG = "社" * 120  # a cohort name as long as the column allows


def drop_database(url: str) -> None:
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()


def test_the_migrations_build_the_models_schema(app):
    with app.app_context(), db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
    assert diff == []


def test_0006_renames_duplicate_cohorts_instead_of_losing_them(tmp_path):
    url = _pg_database("_migration_0006") if is_postgres() else f"sqlite:///{tmp_path / 'm.db'}"
    app = make_app(url)
    with app.app_context():
        upgrade(directory=MIGRATIONS, revision="0005_credentials")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO org_units (id, code, name, kind, path, depth)"
                    " VALUES (1, '330105', '拱墅区', 'district', '/1/', 0)"
                )
            )
            insert = text(
                "INSERT INTO cohorts (id, name, unit_id, year, include_rule, added_ids, excluded_ids, program_ids,"
                " training_target, supervision_target, created_at)"
                " VALUES (:id, :name, 1, :year, false, '[]', '[]', '[]', 1, 1, CURRENT_TIMESTAMP)"
            )
            for cohort_id, name, year in (
                (1, "2022年项目社工转岗人员", 2022),
                (2, "2022年项目社工转岗人员", 2022),
                (3, "2022年项目社工转岗人员", 2022),
                (4, "2022年项目社工转岗人员", 2023),  # another year: not a duplicate
                (5, "A (#7)", 2022),  # already called what the duplicate 7 would become
                (6, "A", 2022),
                (7, "A", 2022),
                (1_000_000, LONG, 2022),
                (1_000_001, LONG, 2022),  # renamed within the column's 120 characters
            ):
                conn.execute(insert, {"id": cohort_id, "name": name, "year": year})
        upgrade(directory=MIGRATIONS)
        with db.engine.connect() as conn:
            names = conn.execute(text("SELECT id, name FROM cohorts ORDER BY id")).all()
        db.engine.dispose()
    if is_postgres():
        drop_database(url)
    assert names == [
        (1, "2022年项目社工转岗人员"),
        (2, "2022年项目社工转岗人员 (#2)"),
        (3, "2022年项目社工转岗人员 (#3)"),
        (4, "2022年项目社工转岗人员"),
        (5, "A (#7)"),
        (6, "A"),
        (7, "A (#7-2)"),
        (1_000_000, LONG),
        (1_000_001, LONG[:109] + " (#1000001)"),
    ]
    assert len(names[-1][1]) == 120


def _frozen_cohort_at_0005() -> None:
    """Build the schema at 0005 holding a frozen cohort of two members, as `flask db upgrade` found it."""
    upgrade(directory=MIGRATIONS, revision="0005_credentials")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO org_units (id, code, name, kind, path, depth)"
                " VALUES (1, '330105', '拱墅区', 'district', '/1/', 0)"
            )
        )
        for person_id, name in ((1, "张伟"), (2, "李娜")):
            conn.execute(
                text(
                    "INSERT INTO people (id, unit_id, name, id_number_hash, id_number_enc, id_number_masked,"
                    " category, level, titles, service_areas, active, created_at, updated_at)"
                    " VALUES (:id, 1, :name, :hash, 'enc', '330105********0000', 'community_worker', 'none',"
                    " '[]', '[]', true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"id": person_id, "name": name, "hash": f"{person_id:064x}"},
            )
        conn.execute(
            text(
                "INSERT INTO cohorts (id, name, unit_id, year, include_rule, added_ids, excluded_ids, program_ids,"
                " training_target, supervision_target, frozen_at, created_at)"
                " VALUES (1, '2024年社区工作者持证培训', 1, 2024, false, '[]', '[]', '[]', 1, 1,"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(text("INSERT INTO cohort_members (id, cohort_id, person_id) VALUES (1, 1, 1), (2, 1, 2)"))


def _members() -> list[tuple]:
    with db.engine.connect() as conn:
        return conn.execute(text("SELECT cohort_id, person_id FROM cohort_members ORDER BY id")).all()


def test_flask_db_upgrade_keeps_the_members_of_a_frozen_cohort(tmp_path):
    """Issue 12: 0006 rebuilt cohorts on SQLite with foreign keys on; ON DELETE CASCADE emptied cohort_members."""
    url = _pg_database("_migration_members") if is_postgres() else f"sqlite:///{tmp_path / 'm.db'}"
    # one pooled connection: the one the migration ran on is the one the app gets back afterwards
    app = make_app(url, SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0})
    with app.app_context():
        _frozen_cohort_at_0005()
        result = app.test_cli_runner().invoke(args=["db", "upgrade"])
        assert result.exit_code == 0, result.output
        members_after_upgrade = _members()
        with db.engine.connect() as conn, pytest.raises(IntegrityError):  # foreign keys are enforced again
            conn.execute(text("INSERT INTO cohort_members (cohort_id, person_id) VALUES (99, 1)"))
        result = app.test_cli_runner().invoke(args=["db", "downgrade", "0005_credentials"])  # rebuilds cohorts too
        assert result.exit_code == 0, result.output
        members_after_downgrade = _members()
        db.engine.dispose()
    if is_postgres():
        drop_database(url)
    assert members_after_upgrade == members_after_downgrade == [(1, 1), (1, 2)]


def test_an_upgrade_does_not_commit_a_revision_that_leaves_a_dangling_reference(tmp_path, capsys):
    app = make_app(f"sqlite:///{tmp_path / 'm.db'}")  # SQLite alone can hold such a row
    with app.app_context():
        _frozen_cohort_at_0005()
        raw = sqlite3.connect(tmp_path / "m.db")  # foreign keys off: a row pointing at no cohort
        raw.execute("INSERT INTO cohort_members (id, cohort_id, person_id) VALUES (3, 42, 1)")
        raw.commit()
        raw.close()
        with pytest.raises(SystemExit):  # Flask-Migrate logs the error and exits 1, as `flask db upgrade` does
            upgrade(directory=MIGRATIONS)
        with db.engine.connect() as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            constraint = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'cohorts'").scalar()
        db.engine.dispose()
    assert "1 rows reference rows that do not exist: cohort_members rowid 3 -> cohorts" in capsys.readouterr().err
    assert version == "0005_credentials"
    assert "uq_cohorts_unit_id_year_name" not in constraint  # 0006 rolled back


def test_only_the_apps_own_engines_get_the_sqlite_settings(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    app = make_app(url)
    pragmas = ("foreign_keys", "busy_timeout", "synchronous")
    with app.app_context():
        with db.engine.connect() as conn:
            app_settings = [conn.exec_driver_sql(f"PRAGMA {p}").scalar() for p in pragmas]
            app_settings.append(conn.connection.driver_connection.isolation_level)  # None: BEGIN IMMEDIATE is ours
            conn.exec_driver_sql("SELECT 1")  # a read, and yet the transaction holds the write lock
            probe = sqlite3.connect(tmp_path / "m.db", timeout=0)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                probe.execute("BEGIN IMMEDIATE")
            probe.close()
        db.engine.dispose()
    other = create_engine(url)  # a script's own engine: left as SQLite and its driver make it
    with other.connect() as conn:
        other_settings = [conn.exec_driver_sql(f"PRAGMA {p}").scalar() for p in pragmas]
        other_settings.append(conn.connection.driver_connection.isolation_level)
    other.dispose()
    assert app_settings == [1, 30000, 1, None]  # synchronous 1 = NORMAL
    assert other_settings == [0, 5000, 2, ""]  # the driver's 5 s timeout, FULL, its own transactions


def test_foreign_keys_off_refuses_an_open_transaction_and_turns_them_back_on(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'm.db'}", SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0})
    with app.app_context():
        with db.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")  # autobegins: SQLite would ignore the PRAGMA now
            with pytest.raises(RuntimeError, match="inside a transaction"), foreign_keys_off(conn):
                pass
        with db.engine.connect() as conn, foreign_keys_off(conn):
            inside = conn.exec_driver_sql("PRAGMA foreign_keys").scalar()
            conn.exec_driver_sql("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
            conn.exec_driver_sql("CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id REFERENCES parent(id))")
            conn.exec_driver_sql("INSERT INTO child VALUES (1, 7)")
            with pytest.raises(ForeignKeyViolation, match="child rowid 1 -> parent"):
                check_foreign_keys(conn)
            conn.commit()
        with db.engine.connect() as conn:
            after = conn.exec_driver_sql("PRAGMA foreign_keys").scalar()
        db.engine.dispose()
    assert (inside, after) == (0, 1)
