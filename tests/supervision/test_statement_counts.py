"""The new-record form issues the same SQL statements whether 17 or 57 people are in scope."""

from __future__ import annotations

import re

import pytest

from shegong_academy.extensions import db
from shegong_academy.org.models import OrgUnit
from tests.conftest import count_statements
from tests.factories import login, person, unit, user
from tests.supervision import sup_world

MORE = 40


def add_people(app, district_id: int, n: int) -> None:
    """Add ``n`` people to the district, in streets of their own; every fourth holds the supervisor assignment.

    New units and new supervisors, so that a lookup per unit or per candidate would show.
    """
    with app.app_context():
        district = db.session.get(OrgUnit, district_id)
        streets = [unit(f"新街道{i}", "street", district, code=f"3301059{i:02d}") for i in range(n // 5)]
        for i in range(n):
            p = person(streets[i % len(streets)], f"新人{i:02d}")
            if i % 4 == 0:
                user(f"newsup{i:02d}", "supervisor", district, person=p)
        db.session.commit()


@pytest.mark.parametrize("who", ["coord", "admin", "sup1"])
def test_new_record_form_costs_the_same_statements_for_40_more_people(app, who):
    with app.app_context():
        district = sup_world().district.id
    client = app.test_client()
    assert login(client, who).status_code == 302
    client.get("/supervision/new")  # warm: the first use of a connection may run set-up statements
    before = count_statements(app, lambda: client.get("/supervision/new"))
    add_people(app, district, MORE)
    after = count_statements(app, lambda: client.get("/supervision/new"))
    page = client.get("/supervision/new").text
    supervisors = re.search(r'<select[^>]*name="supervisor_id"[^>]*>(.*?)</select>', page, re.S).group(1)
    supervisees = re.search(r'<select[^>]*name="supervisee_ids"[^>]*>(.*?)</select>', page, re.S).group(1)
    assert supervisees.count("新人") == MORE  # the forty are offered
    # A coordinator or an administrator is offered the ten new supervisors too; a supervisor only themself.
    assert supervisors.count("新人") == (0 if who == "sup1" else MORE // 4)
    assert after == before, (before, after)
