"""POST/GET /api/v1/supervision and the hours endpoint: 201 with id and warnings, 422 problem+json with
field errors writing nothing, 403 for trainees and other supervisors' records, 404 across districts."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from shegong_academy.extensions import db
from shegong_academy.supervision.models import SupervisionCredit, SupervisionRecord
from tests.supervision import (
    NOTES,
    api_caller,
    counts,
    ids_of,
    record,
    shanghai_tomorrow,
    stored_notes,
    sup_world,
    text_of,
)


@pytest.fixture
def env(app):
    with app.app_context():
        w = sup_world()
        ids = ids_of(w)
        call = api_caller(app, w)
    call.ids = ids
    return call


def body(ids, **changes):
    data = {
        "supervisor_id": ids.sup_person,
        "supervisee_ids": [ids.person, ids.person2, ids.trainee_person],
        "format": "group",
        "mode": "online",
        "date": "2023-06-01",
        "hours": 2,
        "topic": "小组督导",
        "notes": NOTES,
    }
    data.update(changes)
    return data


def db_counts(app):
    with app.app_context():
        return counts()


def test_post_creates_the_record_and_credits(app, env):
    r = env("POST", "/api/v1/supervision", json=body(env.ids))
    assert r.status_code == 201, r.json
    assert isinstance(r.json["id"], int) and r.json["warnings"] == []
    assert "notes" not in r.json and NOTES not in text_of(r)
    with app.app_context():
        rec = db.session.get(SupervisionRecord, r.json["id"])
        assert (rec.format, rec.mode, rec.held_on, rec.topic, stored_notes(rec)) == (
            "group",
            "online",
            date(2023, 6, 1),
            "小组督导",
            NOTES,
        )
        credits = db.session.scalars(select(SupervisionCredit).where(SupervisionCredit.record_id == rec.id)).all()
        assert sorted(c.person_id for c in credits) == sorted([env.ids.person, env.ids.person2, env.ids.trainee_person])
        assert {float(c.hours) for c in credits} == {2.0}
    hours = env("GET", f"/api/v1/people/{env.ids.person2}/hours?year=2023")
    assert hours.status_code == 200 and hours.json["supervision_hours"] == 2.0
    assert NOTES not in text_of(hours)


def test_supervisor_records_their_own_individual_session(app, env):
    r = env(
        "POST",
        "/api/v1/supervision",
        who="sup",
        json=body(env.ids, format="individual", supervisee_ids=[env.ids.person], hours=1.5, kind="special"),
    )
    assert r.status_code == 201, r.json
    assert env("GET", f"/api/v1/people/{env.ids.person}/hours").json["supervision_hours"] == 1.5


RULES = [
    ("individual-two", {"format": "individual", "supervisee_ids": "two"}, "supervisee_ids"),
    ("group-one", {"supervisee_ids": "one"}, "supervisee_ids"),
    ("empty", {"supervisee_ids": []}, "supervisee_ids"),
    ("self", {"supervisee_ids": "self"}, "supervisee_ids"),
    ("hours-zero", {"hours": 0}, "hours"),
    ("hours-negative", {"hours": -1}, "hours"),
    ("hours-over-8", {"hours": 8.5}, "hours"),
    ("hours-text", {"hours": "abc"}, "hours"),
    ("future", {"date": "tomorrow"}, "date"),
    ("bad-date", {"date": "2023-02-30"}, "date"),
    ("out-of-scope", {"supervisee_ids": "outsider"}, "supervisee_ids"),
    ("not-a-supervisor", {"supervisor_id": "plain"}, "supervisor_id"),
    ("unknown-supervisor", {"supervisor_id": 999999}, "supervisor_id"),
    ("unknown-supervisee", {"supervisee_ids": "unknown"}, "supervisee_ids"),
    ("duplicate", {"supervisee_ids": "duplicate"}, "supervisee_ids"),
    ("duplicate-individual", {"format": "individual", "supervisee_ids": "same-twice"}, "supervisee_ids"),
    ("format", {"format": "pair"}, "format"),
    ("mode", {"mode": "offline"}, "mode"),
    ("kind", {"kind": "formal"}, "kind"),
    ("function", {"functions": ["therapy"]}, "functions.0"),  # items of a list are named by index
    ("topic", {"topic": ""}, "topic"),
    ("missing-supervisor", {"supervisor_id": None}, "supervisor_id"),
]


def resolve(ids, change: dict) -> dict:
    lists = {
        "two": [ids.person, ids.person2],
        "one": [ids.person],
        "self": [ids.sup_person, ids.person],
        "outsider": [ids.person, ids.outsider],
        "unknown": [ids.person, 999999],
        "duplicate": [ids.person, ids.person2, ids.person],
        "same-twice": [ids.person, ids.person],
    }
    out = dict(change)
    if isinstance(out.get("supervisee_ids"), str):
        out["supervisee_ids"] = lists[out["supervisee_ids"]]
    if out.get("supervisor_id") == "plain":
        out["supervisor_id"] = ids.plain
    if out.get("date") == "tomorrow":
        out["date"] = shanghai_tomorrow().isoformat()
    return out


@pytest.mark.parametrize("change,field", [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_rules_answer_422_with_field_errors_and_write_nothing(app, env, change, field):
    before = db_counts(app)
    r = env("POST", "/api/v1/supervision", json=body(env.ids, **resolve(env.ids, change)))
    assert r.status_code == 422, r.json
    assert r.mimetype == "application/problem+json"
    assert r.json["status"] == 422
    assert field in r.json["errors"], r.json
    assert r.json["errors"][field]
    assert db_counts(app) == before


def test_missing_fields_are_422(app, env):
    before = db_counts(app)
    r = env("POST", "/api/v1/supervision", json={})
    assert r.status_code == 422
    assert {"supervisor_id", "supervisee_ids", "format", "mode", "date", "hours", "topic"} <= set(r.json["errors"])
    assert db_counts(app) == before


def test_a_supervisor_cannot_record_for_another_supervisor(app, env):
    before = db_counts(app)
    r = env("POST", "/api/v1/supervision", who="sup2", json=body(env.ids))  # names sup1 as supervisor
    assert r.status_code == 403 and r.is_json
    assert db_counts(app) == before


def test_a_trainee_cannot_record(app, env):
    before = db_counts(app)
    r = env("POST", "/api/v1/supervision", who="trainee", json=body(env.ids))
    assert r.status_code == 403 and r.is_json
    assert db_counts(app) == before


@pytest.mark.parametrize("supervisees", ["outsider", "missing"])
def test_a_trainee_learns_nothing_about_which_ids_exist(app, env, supervisees):
    """The role is refused before any id is looked up: another district's person and an id that does not
    exist get the same 403."""
    ids = [env.ids.outsider, env.ids.person] if supervisees == "outsider" else [2_000_000_000, env.ids.person]
    r = env("POST", "/api/v1/supervision", who="trainee", json=body(env.ids, supervisee_ids=ids))
    assert r.status_code == 403, r.json
    assert r.json["detail"] == "Only supervisors and coordinators record supervision."
    assert "errors" not in r.json


@pytest.mark.parametrize("hours", [0.01, 0.04, "1E-900", "0.00001"])
def test_a_duration_that_rounds_to_zero_is_422_not_500(app, env, hours):
    """The column keeps one decimal place: 0.01 h is more than 0 but would be stored as 0.0."""
    before = db_counts(app)
    r = env("POST", "/api/v1/supervision", json=body(env.ids, hours=hours))
    assert r.status_code == 422, r.get_data(as_text=True)
    assert r.json["errors"]["hours"] == ["The duration must be from 0.1 to 8 hours."]
    assert db_counts(app) == before


def test_a_duration_is_rounded_to_the_tenth_it_is_kept_in(app, env):
    r = env("POST", "/api/v1/supervision", json=body(env.ids, hours=1.25))
    assert r.status_code == 201, r.json
    assert env("GET", f"/api/v1/supervision/{r.json['id']}").json["hours"] == 1.3
    zh = env("POST", "/api/v1/supervision", json=body(env.ids, hours=0.01), headers={"Accept-Language": "zh-CN"})
    assert zh.json["errors"]["hours"] == ["时长须在 0.1 至 8 小时之间。"]


def test_anonymous_is_401(env):
    assert env("POST", "/api/v1/supervision", who=None, json=body(env.ids)).status_code == 401
    assert env("GET", "/api/v1/supervision", who=None).status_code == 401


def test_ratio_warning_is_in_the_201_body_and_the_record_is_saved(app, env):
    members = env.ids.members
    first = env("POST", "/api/v1/supervision", json=body(env.ids, supervisee_ids=members[:8]))
    assert first.status_code == 201 and first.json["warnings"] == []
    r = env("POST", "/api/v1/supervision", json=body(env.ids, supervisee_ids=members[8:10]))
    assert r.status_code == 201
    assert len(r.json["warnings"]) == 1 and "10" in r.json["warnings"][0]
    assert env("GET", f"/api/v1/supervision/{r.json['id']}").status_code == 200


def _walk_keys(value):
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _walk_keys(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk_keys(v)


def test_list_and_detail_never_carry_notes_and_are_scoped(app, env):
    created = env("POST", "/api/v1/supervision", who="sup", json=body(env.ids))
    assert created.status_code == 201
    rid = created.json["id"]
    for who in ("coord", "admin", "sup"):
        listing = env("GET", "/api/v1/supervision", who=who)
        assert listing.status_code == 200
        assert listing.json["total"] == 1
        assert "notes" not in set(_walk_keys(listing.json)) and NOTES not in text_of(listing)
        detail = env("GET", f"/api/v1/supervision/{rid}", who=who)
        assert detail.status_code == 200
        assert detail.json["id"] == rid and detail.json["date"] == "2023-06-01" and detail.json["hours"] == 2.0
        assert {c["status"] for c in detail.json["credits"]} == {"unconfirmed"}
        assert "notes" not in set(_walk_keys(detail.json)) and NOTES not in text_of(detail)
    # Another district, another supervisor: nothing listed, the detail is 404.
    for who in ("coord_out", "sup2"):
        assert env("GET", "/api/v1/supervision", who=who).json["total"] == 0
        r = env("GET", f"/api/v1/supervision/{rid}", who=who)
        assert r.status_code == 404 and NOTES not in text_of(r)
    assert env("GET", f"/api/v1/people/{env.ids.person}/hours", who="coord_out").status_code == 404


def test_list_filters(app, env):
    ids = env.ids
    made = [
        env("POST", "/api/v1/supervision", json=body(ids, date="2022-05-01", mode="onsite")).json["id"],
        env(
            "POST",
            "/api/v1/supervision",
            json=body(ids, format="individual", supervisee_ids=[ids.person], date="2023-05-01"),
        ).json["id"],
        env("POST", "/api/v1/supervision", json=body(ids, supervisor_id=ids.sup2_person, date="2023-07-01")).json["id"],
    ]

    def listed(query):
        return {item["id"] for item in env("GET", f"/api/v1/supervision?{query}").json["items"]}

    assert listed("") == set(made)
    assert listed("year=2022") == {made[0]}
    assert listed("format=individual") == {made[1]}
    assert listed("mode=onsite") == {made[0]}
    assert listed(f"supervisor_id={ids.sup2_person}") == {made[2]}
    assert listed("year=2023&format=group") == {made[2]}
    assert listed(f"supervisee_id={ids.person2}") == {made[0], made[2]}
    assert listed("unit=330105002") == {made[0], made[2]}  # 王五's street
    assert listed("status=unconfirmed") == set(made) and listed("status=confirmed") == set()
    assert env("GET", "/api/v1/supervision?format=pair").status_code == 422
    assert env("GET", "/api/v1/supervision?unit=330106").status_code == 404  # another district
    assert env("GET", "/api/v1/supervision?unit=000000").status_code == 404


def test_a_supervisor_lists_only_their_own(app, env):
    env("POST", "/api/v1/supervision", json=body(env.ids))
    env("POST", "/api/v1/supervision", json=body(env.ids, supervisor_id=env.ids.sup2_person))
    mine = env("GET", "/api/v1/supervision", who="sup").json
    assert mine["total"] == 1 and mine["items"][0]["supervisor_id"] == env.ids.sup_person


def test_trainee_sees_no_records(app, env):
    """Listing needs no permission (it is scoped to what the caller may see): a trainee gets an empty page,
    even of a record crediting them, since only its supervisor and coordinators of its units see it."""
    env("POST", "/api/v1/supervision", json=body(env.ids))  # credits the trainee's person among others
    r = env("GET", "/api/v1/supervision", who="trainee")
    assert r.status_code == 200
    assert r.json["total"] == 0 and r.json["items"] == []


def test_service_records_show_in_the_api(app):
    with app.app_context():
        w = sup_world()
        rid = record(w).record.id
        call = api_caller(app, w)
    r = call("GET", f"/api/v1/supervision/{rid}")
    assert r.status_code == 200 and NOTES not in text_of(r)


@pytest.mark.parametrize("field", ["supervisee_ids", "supervisor_id"])
def test_refusals_do_not_name_another_districts_people(app, env, field):
    ids = env.ids
    change = (
        {"supervisee_ids": [ids.person, ids.outsider]} if field == "supervisee_ids" else {"supervisor_id": ids.outsider}
    )
    before = db_counts(app)
    r = env("POST", "/api/v1/supervision", json=body(ids, **change))
    assert r.status_code == 422 and field in r.json["errors"]
    assert "赵六" not in text_of(r)  # 西湖区's person: not even their name reaches 拱墅区's coordinator
    assert db_counts(app) == before


def test_a_supervisor_of_another_district_is_an_unknown_id_and_unnamed(app):
    from tests.factories import person, user

    with app.app_context():
        w = sup_world()
        west = person(w.other_street, "西湖督导")
        user("westsup", "supervisor", w.other, person=west)
        city = person(w.other_street, "市督导")  # works in 西湖区, assigned over the whole city
        user("citysup", "supervisor", w.city, person=city)
        db.session.commit()
        ids = ids_of(w)
        west_id, city_id = west.id, city.id
        call = api_caller(app, w)
    before = db_counts(app)
    r = call("POST", "/api/v1/supervision", json=body(ids, supervisor_id=west_id))
    assert r.status_code == 422 and r.json["errors"]["supervisor_id"] == ["Unknown supervisor."]
    assert "西湖督导" not in text_of(r)
    assert db_counts(app) == before
    # A city's supervisor works in 西湖区 but covers 拱墅区 too: accepted.
    assert call("POST", "/api/v1/supervision", json=body(ids, supervisor_id=city_id)).status_code == 201
