"""The migrations: they build exactly the models' schema, and 0006 keeps every existing cohort."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.extensions import db
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
