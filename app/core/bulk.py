"""Load many rows at the database's own speed: ``COPY`` on PostgreSQL, one prepared ``executemany`` on SQLite.

For bulk loads only (``lms generate``): no ORM events, no per-row statement
building. Values go through each column type's bind processing, as an
ordinary insert would, but once per distinct value (a load repeats the same
timestamps, statuses and hours millions of times).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from operator import itemgetter

from sqlalchemy import JSON, Table, text
from sqlalchemy.exc import DBAPIError

from ..extensions import db

BATCH = 50000  # SQLite rows per executemany: memory stays flat whatever the load


def _processors(table: Table, columns: list[str], dialect) -> list:
    out = []
    for name in columns:
        # The dialect's own type, as an ordinary insert binds it: on SQLite a timestamp becomes the text
        # SQLAlchemy writes (microseconds always spelled out, so stored values compare as text with the
        # ORM's), once per distinct value instead of through sqlite3's adapter for every row.
        column_type = table.c[name].type.dialect_impl(dialect)
        process = column_type.bind_processor(dialect)
        if process is None and isinstance(column_type, JSON):
            # psycopg adapts JSON per statement, not in COPY: serialise as an insert would.
            process = getattr(dialect, "_json_serializer", None) or json.dumps
        if process is None:
            out.append(None)
            continue
        memo: dict = {}

        def cached(value, process=process, memo=memo):
            try:
                return memo[value]
            except KeyError:
                memo[value] = result = process(value)
                return result
            except TypeError:  # unhashable (a JSON list): processed every time
                return process(value)

        out.append(cached)
    return out


def _defaults(table: Table, given: list[str]) -> dict:
    """The columns left out that have a Python-side default, with that default (computed once for the load)."""
    out = {}
    for column in table.columns:
        default = column.default
        if column.name in given or default is None:
            continue
        if default.is_scalar:
            out[column.name] = default.arg
        elif default.is_callable:
            out[column.name] = default.arg(None)  # SQLAlchemy wraps a callable to take the (unused) context
    return out


def load(table: Table, rows: Iterable[Mapping], columns: list[str]) -> int:
    """Insert ``rows`` (mappings with ``columns``) into ``table`` in the session's transaction; return the count.

    Columns left out get their Python-side default, as an ORM insert would give them.
    """
    connection = db.session.connection()
    dialect = connection.dialect
    defaults = _defaults(table, columns)
    columns = [*columns, *defaults]
    processors = _processors(table, columns, dialect)

    given = columns[: len(columns) - len(defaults)]
    fill = list(defaults.values())
    processed = [(i, process) for i, process in enumerate(processors) if process is not None]
    values_of = itemgetter(*given) if len(given) > 1 else lambda row: (row[given[0]],)

    def tuples():
        # Per row: its values in column order, the defaults after them, and only the columns with a bind
        # processor processed (most load as they are).
        for row in rows:
            values = [*values_of(row), *fill]
            for i, process in processed:
                values[i] = process(values[i])
            yield values

    quoted = ", ".join(dialect.identifier_preparer.quote(c) for c in columns)
    n = 0
    if dialect.name == "postgresql":
        cursor = connection.connection.driver_connection.cursor()
        with cursor.copy(f"COPY {table.name} ({quoted}) FROM STDIN") as copy:
            for values in tuples():
                copy.write_row(values)
                n += 1
        return n
    sql = f"INSERT INTO {table.name} ({quoted}) VALUES ({', '.join('?' * len(columns))})"
    cursor = connection.connection.driver_connection.cursor()
    batch = []
    for values in tuples():
        batch.append(values)
        if len(batch) >= BATCH:
            cursor.executemany(sql, batch)
            n, batch = n + len(batch), []
    if batch:
        cursor.executemany(sql, batch)
        n += len(batch)
    return n


# A table's indexes, with the constraint each backs (primary key, unique, exclusion) and both definitions.
# Those a foreign key relies on (``conindid`` of an ``f`` constraint) stay: dropping them would drop the key.
_INDEXES = text(
    """
    SELECT i.indexrelid::regclass::text, c.conname, pg_get_indexdef(i.indexrelid), pg_get_constraintdef(c.oid)
    FROM pg_index i
    LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u', 'x')
    WHERE i.indrelid = CAST(:table AS regclass)
      AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = i.indexrelid)
    ORDER BY i.indexrelid
    """
)


@contextmanager
def indexes_deferred(*tables: Table) -> Iterator[None]:
    """Build the tables' indexes once after the load inside instead of row by row during it.

    Rows inserted into a table with its indexes update every index per row, in random key order: the
    attendance of ``lms generate`` (5,000,000 rows) loads in 3.5 times the time it takes without them,
    and one sorted build of each afterwards costs a third of the difference.
    Entry drops the indexes (and the primary-key and unique constraints they back) in the session's
    transaction; exit creates them again from their definitions, so the constraints check the loaded
    rows as the inserts would have. Other transactions wait on the tables meanwhile (DDL locks them),
    and never see them without their indexes. If the body raises, nothing is rebuilt: the transaction
    is to be rolled back, which restores them. For a role that may not alter the tables, the load runs
    with its indexes. On SQLite the named indexes are deferred (the unique constraints declared with the
    table cannot be dropped there, and stay); elsewhere the load runs with its indexes.
    """
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        with _sqlite_indexes_deferred(connection, tables):
            yield
        return
    if connection.dialect.name != "postgresql":
        yield
        return
    quote = connection.dialect.identifier_preparer
    drops, builds = [], []
    for table in tables:
        name = quote.format_table(table)
        for index, constraint, index_def, constraint_def in connection.execute(_INDEXES, {"table": name}):
            if constraint is None:
                drops.append(f"DROP INDEX {index}")
                builds.append(index_def)
            else:
                drops.append(f"ALTER TABLE {name} DROP CONSTRAINT {quote.quote(constraint)}")
                builds.append(f"ALTER TABLE {name} ADD CONSTRAINT {quote.quote(constraint)} {constraint_def}")
    # A definition may hold a % (a partial index's LIKE): sent as it is, not as a parameter template.
    plain = {"no_parameters": True}
    try:
        with connection.begin_nested():
            for statement in drops:
                connection.exec_driver_sql(statement, execution_options=plain)
    except DBAPIError:  # not the tables' owner: load with the indexes
        builds = []
    yield
    if not builds:
        return
    for statement in builds:
        connection.exec_driver_sql(statement, execution_options=plain)


@contextmanager
def _sqlite_indexes_deferred(connection, tables) -> Iterator[None]:
    """SQLite's part of :func:`indexes_deferred`: its DDL is transactional, so a rollback restores them."""
    builds = []
    for table in tables:
        rows = connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
            (table.name,),
        ).all()
        for name, definition in rows:
            connection.exec_driver_sql(f"DROP INDEX {connection.dialect.identifier_preparer.quote(name)}")
            builds.append(definition)
    yield
    for definition in builds:
        connection.exec_driver_sql(definition, execution_options={"no_parameters": True})
