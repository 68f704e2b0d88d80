"""A psycopg cursor whose ``description`` describes each column when it is read, not on every statement.

psycopg 3 builds a :class:`psycopg.Column` per column each time ``cursor.description`` is read (a Python
object, its name decoded, its type looked up: psycopg/psycopg#446, #1240). SQLAlchemy reads the description
after every statement, but once a statement's compiled form is cached it only asks whether there is one: the
columns themselves are read the first time, to map the result. A trainee's page sent 184 columns in its six
statements; describing them all again on every request cost 6–7% of the page's processor time.

:class:`Cursor` answers with a :class:`Description` that holds the result and makes the same ``Column``
objects the first time one is read (indexing, iterating), so every reader sees what psycopg
would have given. It is installed on each PostgreSQL connection of the application's engines
(:func:`app.core.db.configure_engine`); nothing else changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg import pq

_WITH_ROWS = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.SINGLE_TUPLE, pq.ExecStatus.TUPLES_CHUNK)


class Description(Sequence):
    """The description of one result: its length at once, its :class:`psycopg.Column` objects when first read.

    It keeps what ``Column`` reads from the cursor (the result, the adapters, the encoding), so it stays true
    to its own result after the cursor has run another statement.
    """

    __slots__ = ("_columns", "_encoding", "adapters", "pgresult")

    def __init__(self, cursor: psycopg.Cursor) -> None:
        self.pgresult = cursor.pgresult
        self.adapters = cursor.adapters
        self._encoding = cursor._encoding
        self._columns: list[psycopg.Column] | None = None

    @property
    def columns(self) -> list[psycopg.Column]:
        if self._columns is None:
            self._columns = [psycopg.Column(self, i) for i in range(self.pgresult.nfields)]  # type: ignore[arg-type]
        return self._columns

    def __len__(self) -> int:
        return self.pgresult.nfields

    def __getitem__(self, index):
        return self.columns[index]

    def __iter__(self):
        return iter(self.columns)

    def __repr__(self) -> str:
        return repr(self.columns)


class Cursor(psycopg.Cursor):
    """psycopg's client cursor, its ``description`` a :class:`Description` (None when the result has none)."""

    @property
    def description(self) -> Description | None:  # type: ignore[override]
        result = self.pgresult
        if result and (result.nfields or result.status in _WITH_ROWS):
            return Description(self)
        return None
