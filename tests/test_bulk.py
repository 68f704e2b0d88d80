"""The bulk loader stores what an ordinary insert stores: types, JSON, defaults — on either database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import insert, select

from shegong_academy.core.bulk import load
from shegong_academy.extensions import db
from shegong_academy.people.models import Person
from shegong_academy.supervision.models import SupervisionRecord
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
