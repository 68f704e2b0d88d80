"""The report and the dashboard issue the same number of SQL statements for a dataset ten times larger."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from shegong_academy.coverage.queries import unit_report
from shegong_academy.demo.generate import YEAR, generate_city
from shegong_academy.extensions import db
from shegong_academy.org.queries import unit_by_code
from tests import conftest
from tests.conftest import is_postgres, make_app, migrate
from tests.factories import login

SMALL, BIG = 200, 2000


class Statements:
    """Count the statements an engine sends to the database while active."""

    def __init__(self, engine):
        self.engine, self.seen = engine, []

    def _record(self, conn, cursor, statement, parameters, context, executemany):
        self.seen.append(statement)

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._record)


def measure(url: str, people: int) -> dict:
    """Generate the synthetic city in this database, then count what one report and a few pages issue."""
    app = make_app(url)
    try:
        with app.app_context():
            generated = generate_city(people, seed=7)
            db.session.commit()
            district, street = unit_by_code("990101"), unit_by_code("990101001")
            unit_report(district, YEAR)  # warm: the first use of a connection may run set-up statements
            with Statements(db.engine) as report:
                figures = unit_report(district, YEAR)
            with Statements(db.engine) as street_report:
                unit_report(street, YEAR)
            pages = {"district": district.id, "street": street.id}
            engine = db.engine
            db.session.rollback()
        client = app.test_client()
        login(client, "bench-admin", "bench-password-2024")
        counts = {"report": len(report.seen), "street_report": len(street_report.seen)}
        for name, unit_id in pages.items():
            url_ = f"/coverage/?unit={unit_id}&year={YEAR}"
            assert client.get(url_).status_code == 200
            with Statements(engine) as page:
                response = client.get(url_)
            assert response.status_code == 200
            counts[f"{name}_page"] = len(page.seen)
        return {"generated": generated, "figures": figures, "counts": counts}
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _second_database(template_db, tmp_path) -> str:
    if not is_postgres():
        target = tmp_path / "big.db"
        shutil.copyfile(template_db, target)
        return f"sqlite:///{target}"
    url = conftest._pg_database("_big")
    migrate(url)
    return url


def _drop(url: str) -> None:
    if not is_postgres():
        return
    admin = create_engine(make_url(conftest.PG_URL).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def test_report_and_dashboard_query_counts_do_not_grow_with_the_data(db_url, template_db, tmp_path):
    small = measure(db_url, SMALL)
    big_url = _second_database(template_db, tmp_path)
    try:
        big = measure(big_url, BIG)
    finally:
        _drop(big_url)
    # the larger city really is ten times larger, in people and in activity
    assert big["generated"]["people"] == 10 * small["generated"]["people"]
    assert big["generated"]["attendance"] > 8 * small["generated"]["attendance"]
    assert big["figures"]["training_person_times"] > 8 * small["figures"]["training_person_times"]
    (cohort_small,) = small["figures"]["cohorts"]
    (cohort_big,) = big["figures"]["cohorts"]
    assert cohort_big["members"] == 10 * cohort_small["members"] == 1800
    assert len(big["figures"]["children"]) > len(small["figures"]["children"])  # more streets, same queries
    # ... and the same number of statements
    assert small["counts"] == big["counts"], (small["counts"], big["counts"])
    assert small["counts"]["report"] <= 11  # the units' buckets and the cohort's units are read apart (indexes used)


@pytest.mark.parametrize("people", [20_000, 100_000])
def test_generated_supervision_is_spread_over_every_district_alike(people):
    """Each district's share of the generated records follows its communities, at every size of city.

    (A stride of people // 200 drew every supervisor from the same four communities: the first district
    held a quarter of the city's records whatever its size, and "the same district" grew with the city.)
    """
    import random
    from datetime import datetime

    from shegong_academy.demo.generate import PER_COMMUNITY, _supervision_records

    communities = people // PER_COMMUNITY
    per_district = 80
    rows = [{"unit_id": i % communities} for i in range(people)]  # people placed round-robin, as generated
    records, _groups = _supervision_records(random.Random(1), people, list(range(people)), rows, datetime(2024, 1, 1))
    by_district: dict[int, int] = {}
    for record in records:
        district = record["unit_id"] // per_district
        by_district[district] = by_district.get(district, 0) + 1
    assert len(by_district) == communities // per_district  # every district has records
    assert max(by_district.values()) - min(by_district.values()) <= 0.02 * max(by_district.values()), by_district


def test_the_generated_tree_has_the_paths_and_depths_the_service_gives(ctx):
    """Streets and communities are made in bulk, a level at a time: each path is its parent's and its own id,
    each depth one below its parent's, each code its parent's and three digits, as before (``create_unit``)."""
    from sqlalchemy import select

    from shegong_academy.org.models import OrgUnit
    from shegong_academy.org.queries import subtree_ids

    generate_city(2000, seed=7)
    db.session.commit()
    units = {u.id: u for u in db.session.scalars(select(OrgUnit).where(OrgUnit.code.like("99%")))}
    kinds = {u.kind: 0 for u in units.values()}
    for unit in units.values():
        kinds[unit.kind] += 1
        parent = units.get(unit.parent_id)
        if parent is None:
            assert (unit.kind, unit.path, unit.depth) == ("province", f"/{unit.id}/", 0)
            continue
        assert unit.path == f"{parent.path}{unit.id}/" and unit.depth == parent.depth + 1, unit.code
        if unit.kind in ("street", "community"):
            assert unit.code[:-3] == parent.code and unit.code[-3:].isdigit(), unit.code
    assert kinds == {"province": 1, "city": 1, "district": 1, "street": 4, "community": 40}
    province = next(u for u in units.values() if u.kind == "province")
    assert set(db.session.scalars(subtree_ids(province))) == set(units)  # all found by the path index
