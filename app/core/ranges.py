"""Ranges the whole academy shares, declared once: models, forms, schemas, imports and commands read them."""

from __future__ import annotations

FIRST_YEAR, LAST_YEAR = 2000, 2100  # the years the academy records (programs, cohorts, reports)
MAX_ID = 2**31 - 1  # the largest value of an INTEGER key on PostgreSQL (and what SQLite keeps exactly)
