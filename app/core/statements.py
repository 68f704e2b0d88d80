"""Statements built once per process, for the queries every page sends.

Building a SQLAlchemy statement (coercing each column and operator) and computing its cache key costs more
Python than running a small indexed query: a trainee's home page spent a third of its time there. A
builder decorated with :func:`prepared` runs once per distinct argument (a limit, a configuration switch,
never a row's value); the values of a request go in as bound parameters at execution
(``db.session.execute(stmt, {"person_id": …})``, lists as ``bindparam(…, expanding=True)``). SQLAlchemy
memoises the cache key of a statement object, so a reused one also skips that, and its compiled SQL is
found in the engine's cache at once.
"""

from __future__ import annotations

from functools import cache

prepared = cache
