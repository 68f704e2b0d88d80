"""The bulk loader stores what an ordinary insert stores: types, JSON, defaults — on either database."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import event, insert, select, text
from sqlalchemy.exc import IntegrityError

from shegong_academy.core.bulk import indexes_deferred, load
from shegong_academy.core.db import SKIP_REFERENCE_CHECKS
from shegong_academy.extensions import db
from shegong_academy.people.models import Person
from shegong_academy.supervision.models import SupervisionRecord
from shegong_academy.training.models import Attendance
from tests.conftest import make_app, migrate
from tests.factories import World


def row(w, name: str) -> dict:
    return {
        "unit_id": w.street.id,
        "name": name,
        "phone": None,
        "id_number_hash": name.encode().hex().ljust(64, "0"),
        "id_number_enc": "x",
        "id_number_masked": "330105********1234",
        "category": "community_worker",
        "level": "assistant",
        "titles": ["助理社会工作师"],
        "service_areas": ["老年服务", "社区矫正"],
        "active": False,
        "certified_on": date(2023, 11, 5),
        "created_at": datetime(2024, 3, 1, 1, 2, 3, tzinfo=UTC),
        "updated_at": datetime(2024, 3, 1, 1, 2, 3, tzinfo=UTC),
    }


def test_loaded_rows_read_back_as_inserted_ones(ctx):
    w = World()
    columns = list(row(w, "a"))
    db.session.execute(insert(Person), [row(w, "插入的")])
    assert load(Person.__table__, [row(w, "载入的"), row(w, "再载入的")], columns) == 2
    db.session.expire_all()
    people = {p.name: p for p in db.session.scalars(select(Person).where(Person.unit_id == w.street.id))}
    fields = [c for c in columns if c not in ("name", "id_number_hash")]
    inserted = {f: getattr(people["插入的"], f) for f in fields}
    for name in ("载入的", "再载入的"):
        assert {f: getattr(people[name], f) for f in fields} == inserted
    assert inserted["titles"] == ["助理社会工作师"] and inserted["active"] is False


def test_loaded_rows_are_stored_as_inserted_ones_so_queries_find_them_alike(ctx):
    # On SQLite a timestamp is text: loaded as sqlite3 spells it ("…01:02:03") beside the ORM's "…01:02:03.000000",
    # a comparison with a bound timestamp would find the inserted row and miss the loaded ones.
    w = World()
    db.session.execute(insert(Person), [row(w, "插入的")])
    load(Person.__table__, [row(w, "载入的")], list(row(w, "a")))
    stored = db.session.execute(
        text("SELECT name, created_at, updated_at, certified_on, active FROM people WHERE unit_id = :unit"),
        {"unit": w.street.id},
    ).all()
    by_name = {name: tuple(rest) for name, *rest in stored}
    assert by_name["载入的"] == by_name["插入的"]
    at = datetime(2024, 3, 1, 1, 2, 3, tzinfo=UTC)
    found = db.session.scalars(select(Person.name).where(Person.unit_id == w.street.id, Person.created_at == at))
    assert set(found) == {"插入的", "载入的"}


def test_columns_left_out_get_their_python_defaults(ctx):
    w = World()
    supervisor = w.person
    values = {
        "supervisor_id": supervisor.id,
        "unit_id": w.district.id,
        "recorded_by_id": None,
        "format": "group",
        "mode": "onsite",
        "kind": "overall",
        "held_on": date(2024, 5, 1),
        "hours": Decimal("2"),
        "topic": "团体督导",
        "functions": ["educational", "supportive"],
    }  # created_at left out: its default (now) is given once for the load
    assert load(SupervisionRecord.__table__, [values, values], list(values)) == 2
    records = db.session.scalars(select(SupervisionRecord).where(SupervisionRecord.topic == "团体督导")).all()
    assert len(records) == 2 and all(r.created_at is not None for r in records)
    assert records[0].created_at == records[1].created_at
    assert records[0].functions == ["educational", "supportive"] and records[0].hours == Decimal("2.0")


def _indexes(table: str) -> dict[str, str]:
    rows = db.session.execute(
        text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :t AND schemaname = current_schema()"),
        {"t": table},
    )
    return dict(rows.all())


@pytest.mark.postgres_only
def test_a_load_with_indexes_deferred_ends_with_the_same_indexes_and_constraints(ctx):
    """Inside, the table has no index but the one a foreign key relies on; after, every index and constraint is
    back as it was, and a duplicate loaded meanwhile is refused when the unique index is built again."""
    w = World()
    before = _indexes("attendance")
    people_before = _indexes("people")
    assert "pk_attendance" in before and len(before) >= 3
    with indexes_deferred(Attendance.__table__, Person.__table__):
        assert _indexes("attendance") == {}
        assert set(_indexes("people")) == {"pk_people"}  # attendance, cohorts… refer to it: it stays
    assert _indexes("attendance") == before and _indexes("people") == people_before
    db.session.execute(text("SAVEPOINT duplicate"))
    with pytest.raises(IntegrityError, match="uq_people_id_number_hash|unique"), indexes_deferred(Person.__table__):
        first = row(w, "同一个人")
        load(Person.__table__, [first, {**first, "name": "同一个人（重复）"}], list(first))
    db.session.execute(text("ROLLBACK TO SAVEPOINT duplicate"))
    assert _indexes("people") == people_before


def _sqlite_indexes(table: str) -> dict[str, str | None]:
    rows = db.session.execute(
        text("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t"), {"t": table}
    )
    return dict(rows.all())


@pytest.fixture
def sqlite_ctx(tmp_path):
    """SQLite's own path whatever TEST_DATABASE_URL says (PostgreSQL's is the test above)."""
    url = f"sqlite:///{tmp_path / 'bulk.db'}"
    migrate(url)
    app = make_app(url)
    with app.app_context():
        yield app
        db.session.rollback()
        db.session.remove()
        db.engine.dispose()


@pytest.mark.once
def test_sqlite_defers_its_named_indexes_and_builds_them_again(sqlite_ctx):
    """SQLite: inside, the named indexes are gone and the table's own unique constraints stay; after, every
    index is back as it was, and after a failed load and a rollback they are as they were."""
    w = World()
    before = _sqlite_indexes("attendance")
    named = {name for name, sql in before.items() if sql}
    assert "ix_attendance_person_status" in named
    with indexes_deferred(Attendance.__table__):
        inside = _sqlite_indexes("attendance")
        assert not {name for name, sql in inside.items() if sql}
        assert inside and all(name.startswith("sqlite_autoindex") for name in inside)  # unique (session, person)
    assert _sqlite_indexes("attendance") == before
    people_before = _sqlite_indexes("people")
    db.session.execute(text("SAVEPOINT deferred"))
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"), indexes_deferred(Person.__table__):
        first = row(w, "同一个人")
        load(Person.__table__, [first, {**first, "name": "同一个人（重复）"}], list(first))  # the kept constraint
    db.session.execute(text("ROLLBACK TO SAVEPOINT deferred"))
    assert _sqlite_indexes("people") == people_before


def _dangling_attendance(w) -> dict:
    """An attendance row of a session that does not exist."""
    return {
        "session_id": 987654,
        "person_id": w.person.id,
        "status": "present",
        "reason": None,
        "method": "import",
        "marked_by_id": None,
        "marked_at": datetime(2024, 3, 1, tzinfo=UTC),
    }


@pytest.mark.once
def test_sqlite_skips_reference_checks_only_in_the_transaction_that_asks(sqlite_ctx):
    """SKIP_REFERENCE_CHECKS given when a transaction starts turns SQLite's checks off for it alone: the pooled
    connection checks again in the next transaction, and one that asks too late (begun) keeps them."""
    w = World()
    db.session.commit()
    connection = db.session.connection(execution_options=SKIP_REFERENCE_CHECKS)
    driver = connection.connection.dbapi_connection
    load(Attendance.__table__, [_dangling_attendance(w)], list(_dangling_attendance(w)))  # not refused
    db.session.rollback()
    again = db.session.connection()
    assert again.connection.dbapi_connection is driver  # the same pooled connection…
    assert again.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1  # …checks again
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        load(Attendance.__table__, [_dangling_attendance(w)], list(_dangling_attendance(w)))
    db.session.rollback()


@pytest.mark.once
def test_sqlite_generation_skips_the_checks_and_writes_no_dangling_reference(sqlite_ctx):
    from shegong_academy.demo.generate import generate_city

    seen = []

    def record(conn, cursor, statement, *args):
        if statement.startswith("INSERT INTO attendance"):
            seen.append(conn.exec_driver_sql("PRAGMA foreign_keys").scalar())

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        generate_city(200, seed=3)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    db.session.commit()
    assert seen and set(seen) == {0}  # the attendance was loaded without the checks
    assert db.session.connection().exec_driver_sql("PRAGMA foreign_key_check").all() == []
    assert db.session.connection().exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
