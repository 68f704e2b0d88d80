"""The PostgreSQL cursor that describes a result's columns when they are read (app.core.pg_cursor)."""

from __future__ import annotations

from types import SimpleNamespace

import psycopg
import pytest
from sqlalchemy import select, text

from shegong_academy.auth.models import User
from shegong_academy.core.db import _pg_cursor
from shegong_academy.core.pg_cursor import Cursor, Description
from shegong_academy.extensions import db
from shegong_academy.org.models import OrgUnit


@pytest.fixture
def columns_made(monkeypatch):
    """Counts the psycopg Column objects made while a test runs."""
    made = []
    real = psycopg.Column.__init__

    def counted(self, cursor, index):
        made.append(index)
        real(self, cursor, index)

    monkeypatch.setattr(psycopg.Column, "__init__", counted)
    return made


@pytest.mark.postgres_only
def test_a_statement_run_again_describes_no_column(ctx, columns_made):
    """SQLAlchemy reads the columns once, to map a statement's result; psycopg's own cursor described every
    column of every run again (here 5 runs of a 3-entity join)."""
    statement = select(User, OrgUnit, OrgUnit.path).join(OrgUnit, OrgUnit.id == User.id, isouter=True).limit(1)
    db.session.execute(statement).all()
    columns_made.clear()
    for _ in range(5):
        db.session.execute(statement).all()
    assert columns_made == []
    connection = db.session.connection().connection.dbapi_connection
    connection.cursor_factory = psycopg.Cursor  # psycopg's own, for comparison
    try:
        for _ in range(5):
            db.session.execute(statement).all()
    finally:
        connection.cursor_factory = Cursor
    assert len(columns_made) == 5 * len(set(columns_made)) and len(set(columns_made)) > 15


@pytest.mark.postgres_only
def test_the_description_read_is_psycopgs_own_and_stays_with_its_result(ctx):
    connection = db.session.connection().connection.dbapi_connection
    assert connection.cursor_factory is Cursor
    sql = "SELECT 1::int AS n, '社工'::varchar(8) AS name, 2.50::numeric(6, 2) AS hours"
    with connection.cursor() as ours, psycopg.Cursor(connection) as theirs:
        ours.execute(sql)
        theirs.execute(sql)
        described = ours.description
        assert isinstance(described, Description) and len(described) == 3
        ours.execute("SELECT now() AS at")  # the cursor moves on; the description read before does not
        assert [tuple(c) for c in described] == [tuple(c) for c in theirs.description]
        assert [c.name for c in described] == ["n", "name", "hours"]
        assert described[2].precision == 6 and described[2].scale == 2
        assert [c.name for c in ours.description] == ["at"]
        ours.execute("SET LOCAL statement_timeout = 0")
        assert ours.description is None
        ours.execute("SELECT")  # no columns but a result: described, empty, as psycopg does
        assert list(ours.description) == [] and theirs.execute("SELECT").description == []
    assert db.session.execute(text("SELECT '中文' AS word")).one().word == "中文"


def test_a_cursor_chosen_by_the_engines_connect_args_is_kept():
    """A deployment that set ``connect_args={"cursor_factory": ClientCursor}`` (PgBouncer) keeps it."""
    chosen = SimpleNamespace(cursor_factory=psycopg.ClientCursor)
    _pg_cursor(chosen, None)
    assert chosen.cursor_factory is psycopg.ClientCursor
    default = SimpleNamespace(cursor_factory=psycopg.Cursor)
    _pg_cursor(default, None)
    assert default.cursor_factory is Cursor
