"""An ID number held outside a coordinator's units (issue 12, item 8).

Whoever holds it and wherever, the coordinator gets one answer, through the API,
the edit form and an import: the same status, the same body, the same queries. It
never says that the person exists nor where, an import does not say which row,
and each such refusal spends one of ``LMS_ID_REFUSAL_LIMIT``; once they are spent
every new ID number is refused alike. The administrator (and the command line)
sees the whole tree and is told the plain reason.
"""

from __future__ import annotations

import io
import re

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from shegong_academy.auth.services import create_api_token
from shegong_academy.core.crypto import decrypt_text
from shegong_academy.core.tabular import ImportRejected, TableError
from shegong_academy.extensions import db
from shegong_academy.people.imports import import_people
from shegong_academy.people.models import Person
from shegong_academy.people.services import ID_HELD_ELSEWHERE, PersonError, create_person
from tests.conftest import statements
from tests.factories import World, id_number, login, person, unit

HEADER = "unit_code,name,id_number\r\n"
NEUTRAL = "This ID number cannot be registered in your units. If the person works here, ask an administrator."
FILE_REFUSED = "Some ID numbers in this file cannot be registered in your units"
PAUSED = "Too many ID numbers from your account were refused"


def fresh(n: int) -> str:
    """A valid ID number nobody holds (region 330111)."""
    return id_number(n, region="330111")


class Site:
    """World plus a third district; the ID numbers by where their holder is."""

    def __init__(self, app):
        self.app = app
        with app.app_context():
            w = World()
            third = unit("上城区", "district", w.city, code="330102")
            person(third, "孙三", id_number=id_number(901, region="330102"))
            db.session.commit()
            held = {p.name: decrypt_text(p.id_number_enc) for p in db.session.scalars(select(Person))}
            self.tokens = {n: create_api_token(user=getattr(w, n)) for n in ("coord", "street_coord", "admin")}
            db.session.commit()
            self.person_id, self.community_id = w.person.id, w.community.id
        self.own = held["李四"]  # in the coordinator's community
        self.sibling_street = held["王五"]  # same district, another street
        self.district_b = held["赵六"]  # 西湖区
        self.district_c = held["孙三"]  # 上城区

    def api(self, who: str, number: str, unit_code: str = "330105001001", name: str = "新人"):
        body = {"unit_code": unit_code, "name": name, "id_number": number}
        headers = {"Authorization": f"Bearer {self.tokens[who]}", "Accept-Language": "en"}
        return self.app.test_client().post("/api/v1/people", json=body, headers=headers)

    def people(self) -> int:
        with self.app.app_context():
            return db.session.scalar(select(func.count()).select_from(Person))


@pytest.fixture
def site(app):
    return Site(app)


def answer(response) -> tuple[int, dict]:
    return response.status_code, response.json


# --- API -------------------------------------------------------------------------------------


def test_api_answers_alike_wherever_the_number_is_held(site):
    before = site.people()
    with statements(site.app) as in_b:
        b = answer(site.api("coord", site.district_b))
    with statements(site.app) as in_c:
        c = answer(site.api("coord", site.district_c))
    assert b == c == (422, {**b[1], "errors": {"id_number": [NEUTRAL]}})
    assert b[1]["detail"] == "Invalid input."
    assert "exist" not in str(b) and "西湖" not in str(b)
    assert len(in_b) == len(in_c) and [s.split(" WHERE")[0] for s in in_b] == [s.split(" WHERE")[0] for s in in_c]
    # A street coordinator: someone in a sibling street of the district, or in another district, alike.
    assert answer(site.api("street_coord", site.sibling_street)) == answer(site.api("street_coord", site.district_b))
    assert site.people() == before


def test_api_says_already_exists_for_a_person_the_caller_can_see(site):
    r = site.api("coord", site.own)
    assert r.status_code == 409 and r.json["errors"] == {"id_number": ["A person with this ID number already exists."]}
    # The administrator sees everyone: the plain reason, wherever the person is.
    for number in (site.district_b, site.district_c):
        r = site.api("admin", number)
        assert r.status_code == 409 and "already exists" in r.json["errors"]["id_number"][0]


def test_api_refusals_are_rate_limited_and_then_every_number_is_refused(site):
    site.app.config["LMS_ID_REFUSAL_LIMIT"] = "2 per day"
    before = site.people()
    assert site.api("coord", site.district_b).status_code == 422
    assert site.api("coord", site.district_c).status_code == 422
    # The budget is spent: a number nobody holds is refused like one somebody holds.
    unknown, held = site.api("coord", fresh(1)), site.api("coord", site.district_b)
    assert answer(unknown) == answer(held)
    assert unknown.status_code == 429 and PAUSED in unknown.json["detail"]
    assert unknown.json["errors"] == {"id_number": [unknown.json["detail"]]}
    assert site.people() == before
    # Invalid input is still explained (it needs no lookup); other users keep their own budget.
    assert site.api("coord", fresh(2)[:17] + "Y").status_code == 422
    assert site.api("street_coord", fresh(3), unit_code="330105001").status_code == 201
    assert site.api("admin", fresh(4)).status_code == 201


def test_refusals_are_not_counted_when_rate_limits_are_off(site):
    site.app.config.update(LMS_ID_REFUSAL_LIMIT="1 per day", RATELIMIT_ENABLED=False)
    for _ in range(3):
        assert site.api("coord", site.district_b).status_code == 422
    assert site.api("coord", fresh(5)).status_code == 201


# --- the edit form --------------------------------------------------------------------------


def edit(site, client, number: str):
    data = {
        "name": "李四",
        "unit_id": site.community_id,
        "id_number": number,
        "category": "community_worker",
        "level": "none",
    }
    r = client.post(f"/people/{site.person_id}/edit", data=data, headers={"Accept-Language": "en"})
    return r.status_code, without_token(r.text).replace(number, "NUMBER")


def without_token(page: str) -> str:
    """The page with its CSRF tokens blanked: a token carries the second it was signed, so two answers a second
    apart differ there alone."""
    return re.sub(r'name="csrf_token" value="[^"]+"', 'name="csrf_token" value="TOKEN"', page)


def test_edit_form_answers_alike_wherever_the_number_is_held(site, client):
    login(client, "coord")
    b, c = edit(site, client, site.district_b), edit(site, client, site.district_c)
    assert b == c
    assert b[0] == 200 and NEUTRAL in b[1] and "already exists" not in b[1]
    with site.app.app_context():
        assert decrypt_text(db.session.get(Person, site.person_id).id_number_enc) == site.own


def test_edit_form_pauses_after_the_limit(site, client):
    site.app.config["LMS_ID_REFUSAL_LIMIT"] = "1 per day"
    login(client, "coord")
    assert NEUTRAL in edit(site, client, site.district_b)[1]
    status, page = edit(site, client, fresh(6))
    assert status == 200 and PAUSED in page
    with site.app.app_context():
        assert decrypt_text(db.session.get(Person, site.person_id).id_number_enc) == site.own
    # Saving without a new ID number needs no lookup and still works.
    r = client.post(
        f"/people/{site.person_id}/edit",
        data={"name": "李四", "unit_id": site.community_id, "category": "community_worker", "level": "none"},
    )
    assert r.status_code == 302


# --- imports ---------------------------------------------------------------------------------


def people_file(*numbers: str) -> bytes:
    rows = "".join(f"330105001001,人{i},{n}\r\n" for i, n in enumerate(numbers))
    return (HEADER + rows).encode()


def upload(client, data: bytes):
    files = {"file": (io.BytesIO(data), "people.csv")}
    r = client.post("/people/import", data=files, content_type="multipart/form-data", headers={"Accept-Language": "en"})
    return r.status_code, without_token(r.text)


def test_an_import_names_no_row_and_says_nothing_of_where(site, client):
    login(client, "coord")
    before = site.people()
    many = [fresh(i) for i in range(10, 40)]
    b = upload(client, people_file(*many[:10], site.district_b, *many[10:]))
    c = upload(client, people_file(*many[:10], site.district_c, *many[10:]))
    assert b == c
    assert b[0] == 200 and FILE_REFUSED in b[1]
    assert "error-report" not in b[1] and "<td>12</td>" not in b[1]
    assert site.people() == before
    # A person the coordinator can see is named with their row, as before.
    status, page = upload(client, people_file(fresh(41), site.own))
    assert status == 200 and "<td>3</td>" in page and "already exists" in page


def test_a_file_of_many_held_numbers_costs_one_refusal_and_tells_one_bit(site, client):
    site.app.config["LMS_ID_REFUSAL_LIMIT"] = "2 per day"
    login(client, "coord")
    one = upload(client, people_file(site.district_b))
    many = upload(client, people_file(site.district_b, site.district_c, fresh(50)))
    assert one == many and FILE_REFUSED in one[1]
    # Two refusals spent: the next file is refused before it is read, whatever it holds.
    status, page = upload(client, people_file(fresh(51)))
    assert status == 200 and PAUSED in page
    assert upload(client, b"not even a table") == (status, page)


def test_the_import_service_refuses_alike_and_the_administrator_sees_rows(app, site):
    with app.app_context(), force_locale("en"):
        from shegong_academy.auth.models import User

        coord = db.session.scalar(select(User).where(User.username == "coord"))
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        messages = []
        for number in (site.district_b, site.district_c):
            with pytest.raises(TableError) as exc:
                import_people(filename="p.csv", data=people_file(fresh(60), number), actor=coord, max_rows=100)
            db.session.rollback()
            messages.append(str(exc.value.message))
        assert messages[0] == messages[1] and messages[0].startswith(FILE_REFUSED)
        for actor in (admin, None):
            with pytest.raises(ImportRejected) as exc:
                import_people(filename="p.csv", data=people_file(fresh(60), site.district_b), actor=actor, max_rows=9)
            db.session.rollback()
            assert [(e.row, e.column) for e in exc.value.errors] == [(3, "id_number")]
            assert "already exists" in str(exc.value.errors[0].message)


def test_create_person_service_refuses_neutrally(app, site):
    with app.app_context(), force_locale("en"):
        from shegong_academy.auth.models import User
        from shegong_academy.org.models import OrgUnit

        coord = db.session.scalar(select(User).where(User.username == "coord"))
        community = db.session.get(OrgUnit, site.community_id)
        with pytest.raises(PersonError) as exc:
            create_person(data={"name": "甲", "id_number": site.district_b}, unit=community, actor=coord)
        assert exc.value.status == 422 and not exc.value.conflict
        assert exc.value.errors == {"id_number": ID_HELD_ELSEWHERE}
        db.session.rollback()
        with pytest.raises(PersonError) as exc:
            create_person(data={"name": "甲", "id_number": site.own}, unit=community, actor=coord)
        assert exc.value.status == 409 and exc.value.conflict
