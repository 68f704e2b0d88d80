"""Declarative base with a naming convention, so migrations name constraints stably; SQLite engine settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from flask import Flask

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Store naive UTC, return aware UTC — the same on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def upsert(session, model):
    """``INSERT`` into ``model`` with the ``ON CONFLICT`` clauses of the session's database (PostgreSQL's or
    SQLite's ``insert``). The dialect's module is imported here, when a write needs it: PostgreSQL's brings
    its four drivers' modules, which a command or an embedded SQLite process would load for nothing."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(model)


def init_app(app: Flask) -> None:
    """Attach the SQLite settings (or PostgreSQL's planner cost) to the engines Flask-SQLAlchemy made for ``app``."""
    from ..extensions import db

    with app.app_context():
        for engine in db.engines.values():
            configure_engine(engine, app.config.get("LMS_PG_RANDOM_PAGE_COST"))


def _pg_planner(cost: float):
    def connect(dbapi_connection, connection_record) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET random_page_cost = {float(cost)}")
        dbapi_connection.commit()

    return connect


def _pg_cursor(dbapi_connection, connection_record) -> None:
    """Give a psycopg connection the cursor that describes its results' columns when they are read
    (:mod:`app.core.pg_cursor`), unless the engine's ``connect_args`` chose a cursor of their own."""
    import psycopg

    from .pg_cursor import Cursor

    if dbapi_connection.cursor_factory is psycopg.Cursor:
        dbapi_connection.cursor_factory = Cursor


def configure_engine(engine: Engine, pg_random_page_cost: float | None = None) -> None:
    """Give one SQLite engine foreign keys, WAL, a busy timeout and BEGIN IMMEDIATE; a PostgreSQL engine
    (psycopg) its cursor class.

    A PostgreSQL engine gets ``random_page_cost`` for its sessions when configured
    (``LMS_PG_RANDOM_PAGE_COST``, 1.1 by default: the usual value for data on SSD or in
    memory; with the server's default of 4, the planner scanned every person of a
    100,000-person database for a district's cohort of 4,000 instead of using the indexes).
    Only the app's own engines get them: a listener on the ``Engine`` class
    would also reach every other engine in the process (a script's, a test's),
    which did not ask for them.
    """
    if engine.dialect.name == "postgresql":
        if engine.dialect.driver == "psycopg" and not event.contains(engine, "connect", _pg_cursor):
            event.listen(engine, "connect", _pg_cursor)
        if pg_random_page_cost and not getattr(engine, "_lms_planner", False):
            event.listen(engine, "connect", _pg_planner(pg_random_page_cost))
            engine._lms_planner = True
        return
    if engine.dialect.name != "sqlite":
        return
    if not event.contains(engine, "connect", _sqlite_connect):
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "checkin", _sqlite_checkin)


def _sqlite_connect(dbapi_connection, connection_record) -> None:
    """Make SQLite safe for concurrent writers in one process.

    Transactions start with BEGIN IMMEDIATE (below): a deferred transaction
    that reads and then writes fails at once with "database is locked" when
    another writer is active, instead of waiting its turn. WAL lets readers
    proceed during a write; the busy timeout makes writers queue.
    """
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # LIKE compares case as PostgreSQL's does, and so a subtree's prefix match (``path LIKE '/1/7/%'``) reads
    # the path index instead of every unit (SQLite uses an index for LIKE only when it is case-sensitive).
    # Searches that should ignore case say so (``icontains``), on either database.
    cursor.execute("PRAGMA case_sensitive_like=ON")
    cursor.close()


SKIP_REFERENCE_CHECKS = {"lms_foreign_keys": False}
"""Execution options of a transaction that skips SQLite's per-row reference checks: for a bulk load whose
rows reference only rows it wrote itself (``lms generate``), as PostgreSQL's replica role does there. Give them
when the transaction starts (``db.session.connection(execution_options=SKIP_REFERENCE_CHECKS)``): SQLite reads
``PRAGMA foreign_keys`` only between transactions."""


def _sqlite_begin(conn: Connection) -> None:
    """Take the write lock when a transaction starts, so that writers queue instead of failing.

    Before it, a transaction that gives :data:`SKIP_REFERENCE_CHECKS` turns the connection's reference
    checks off; they are on again when the connection goes back to the pool (:func:`_sqlite_checkin`).
    """
    if conn.get_execution_options().get("lms_foreign_keys", True) is False:
        if not _set_foreign_keys(conn, on=False):
            raise RuntimeError("SQLite refused to turn foreign keys off")
        conn.connection.info["lms_checks_skipped"] = True
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_checkin(dbapi_connection, connection_record) -> None:
    """A connection whose transaction skipped the reference checks checks again before anyone else uses it."""
    if connection_record.info.pop("lms_checks_skipped", False) and dbapi_connection is not None:  # None: invalidated
        dbapi_connection.execute("PRAGMA foreign_keys=ON")


def _set_foreign_keys(connection: Connection, on: bool) -> bool:
    """Set SQLite's foreign key enforcement on the DBAPI connection; return whether it took effect."""
    # Through the driver, not Connection.execute: that would autobegin a
    # transaction, and inside one SQLite ignores PRAGMA foreign_keys.
    driver = connection.connection.driver_connection
    driver.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    return driver.execute("PRAGMA foreign_keys").fetchone()[0] == int(on)


@contextmanager
def foreign_keys_off(connection: Connection) -> Iterator[None]:
    """Turn SQLite foreign keys off on ``connection`` for a schema change, and back on afterwards.

    Alembic's batch mode rebuilds a SQLite table by copying it, dropping the
    original and renaming the copy. With foreign keys on, the drop deletes
    every row first, and ``ON DELETE CASCADE`` empties the child tables (the
    SQLite documentation's procedure for schema changes starts with foreign
    keys off for this reason). Call :func:`check_foreign_keys` before each
    commit instead. A no-op on other databases.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    if connection.in_transaction():
        raise RuntimeError("PRAGMA foreign_keys has no effect inside a transaction: call foreign_keys_off first")
    if not _set_foreign_keys(connection, on=False):
        raise RuntimeError("SQLite refused to turn foreign keys off")
    try:
        yield
    finally:
        if connection.in_transaction():
            connection.rollback()
        if not _set_foreign_keys(connection, on=True):
            # never hand a connection without foreign keys back to the pool
            connection.invalidate()


class ForeignKeyViolation(RuntimeError):
    """Rows reference rows that do not exist."""


def check_foreign_keys(connection: Connection) -> None:
    """Raise if a row references a row that does not exist (SQLite; PostgreSQL checks as it goes)."""
    if connection.dialect.name != "sqlite":
        return
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        shown = ", ".join(f"{table} rowid {rowid} -> {parent}" for table, rowid, parent, _fk in broken[:10])
        raise ForeignKeyViolation(f"{len(broken)} rows reference rows that do not exist: {shown}")
