"""ID numbers, protected storage, people pages, edits and their audit trail."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, text

from shegong_academy.audit.models import AuditEntry, AuditIsAppendOnly
from shegong_academy.extensions import db
from shegong_academy.people.idnumber import InvalidIdNumber, check_digit, mask_id_number, normalise_id_number
from shegong_academy.people.models import Person
from shegong_academy.people.services import PersonError, reveal_id_number, update_person
from tests.factories import World, id_number, login, person


@pytest.mark.parametrize(
    "value,expected",
    [
        ("11010519491231002X", "11010519491231002X"),  # GB 11643 example
        ("11010519491231002x", "11010519491231002X"),
        (" 110105 19491231002X ", "11010519491231002X"),
    ],
)
def test_valid_id_numbers(value, expected):
    assert normalise_id_number(value) == expected


@pytest.mark.parametrize(
    "value,reason",
    [
        ("110105194912310021", "check_digit"),
        ("11010519491331002X", "birthdate"),
        ("1101051949123100", "format"),
        ("11010519491231002Y", "format"),
        ("", "format"),
    ],
)
def test_invalid_id_numbers(value, reason):
    with pytest.raises(InvalidIdNumber) as exc:
        normalise_id_number(value)
    assert exc.value.reason == reason


def test_check_digit_and_mask():
    assert check_digit("11010519491231002") == "X"
    assert mask_id_number("330105198001011234") == "3301**********1234"


def test_id_number_is_never_stored_in_clear(ctx):
    w = World()
    value = id_number(77)
    p = person(w.community, "周九", id_number=value)
    db.session.commit()
    row = db.session.execute(text("SELECT * FROM people WHERE id = :id"), {"id": p.id}).mappings().one()
    assert value not in " ".join(str(v) for v in row.values())
    assert row["id_number_masked"] == value[:4] + "*" * 10 + value[-4:]
    assert reveal_id_number(person=p, actor=w.admin) == value
    with pytest.raises(PermissionError):
        reveal_id_number(person=p, actor=w.coord)


def test_duplicate_id_number_is_a_conflict(ctx):
    w = World()
    value = id_number(78)
    person(w.community, "甲", id_number=value)
    with pytest.raises(PersonError) as exc:
        person(w.street, "乙", id_number=value)
    assert exc.value.conflict and "id_number" in exc.value.errors


def test_update_is_audited_with_before_and_after(ctx):
    w = World()
    update_person(
        person=w.person,
        data={"name": "李四四", "phone": "13900001111", "category": "project_social_worker", "level": "assistant"},
        unit=w.street,
        actor=w.coord,
    )
    db.session.commit()
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "person.update")).one()
    assert entry.actor_name == "coord"
    assert entry.before["name"] == "李四" and entry.after["name"] == "李四四"
    assert entry.after["category"] == "project_social_worker"
    assert entry.after["unit_id"] == w.street.id


def test_update_refuses_a_unit_outside_scope_and_writes_nothing(ctx):
    w = World()
    with pytest.raises(PersonError):
        update_person(person=w.person, data={"name": "X"}, unit=w.other_street, actor=w.coord)
    db.session.rollback()
    assert db.session.get(Person, w.person.id).unit_id == w.community.id


def test_audit_entries_cannot_be_changed(ctx):
    World()
    entry = db.session.scalars(select(AuditEntry)).first()
    entry.action = "tampered"
    with pytest.raises(AuditIsAppendOnly):
        db.session.flush()
    db.session.rollback()
    with pytest.raises(Exception, match="append-only"):
        db.session.execute(text("DELETE FROM audit_entries"))
    db.session.rollback()
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "tampered")) is None


@pytest.fixture
def world(app):
    with app.app_context():
        w = World()
        return {"person": w.person.id, "street": w.street.id, "community": w.community.id, "outsider": w.outsider.id}


def test_people_list_filters(client, world):
    login(client, "coord")
    page = client.get("/people/").text
    assert "李四" in page and "王五" in page and "赵六" not in page
    page = client.get(f"/people/?unit={world['street']}").text
    assert "李四" in page and "王五" not in page
    page = client.get("/people/?category=project_social_worker").text
    assert "王五" in page and "李四" not in page
    page = client.get("/people/?level=assistant").text
    assert "王五" in page and "李四" not in page
    page = client.get("/people/?q=五").text
    assert "王五" in page and "李四" not in page
    page = client.get("/people/?q=%25").text  # a LIKE wildcard is searched literally
    assert "李四" not in page


def test_people_pages_hide_full_id_numbers(app, client, world):
    """The list and the detail page show the ID number masked; the edit form leaves its field empty."""
    assert login(client, "admin").status_code == 302
    with app.app_context():
        someone = db.session.get(Person, world["person"])
        masked = someone.id_number_masked
        full = reveal_id_number(person=someone, actor=_admin())
    assert masked != full and "*" in masked
    for url in ("/people/", f"/people/{world['person']}"):
        r = client.get(url)
        assert r.status_code == 200
        assert masked in r.text and full not in r.text
    r = client.get(f"/people/{world['person']}/edit")
    assert r.status_code == 200
    assert full not in r.text and masked not in r.text
    assert re.search(r'<input[^>]*name="id_number"[^>]*value=""', r.text)


def _admin():
    from shegong_academy.auth.models import User

    return db.session.scalar(select(User).where(User.username == "admin"))


def test_admin_reveals_an_id_number_and_it_is_audited(app, client, world):
    login(client, "admin")
    r = client.post(f"/people/{world['person']}/id-number")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    with app.app_context():
        full = reveal_id_number(person=db.session.get(Person, world["person"]), actor=_admin())
        assert full in r.text
        assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "person.reveal_id")) is not None


def test_out_of_scope_unit_filter_is_404(app, client, world):
    login(client, "streetcoord")
    assert client.get(f"/people/?unit={world['community']}").status_code == 200
    client = app.test_client()
    login(client, "coordout")
    assert client.get(f"/people/?unit={world['community']}").status_code == 404
    assert client.get(f"/people/{world['person']}").status_code == 404


def test_edit_form_rerenders_with_messages_and_changes_nothing(app, client, world):
    login(client, "coord")
    r = client.post(
        f"/people/{world['person']}/edit",
        data={
            "name": "李四",
            "unit_id": world["community"],
            "phone": "12345",
            "id_number": "110105194912310021",
            "category": "community_worker",
            "level": "none",
        },
    )
    assert r.status_code == 200
    assert "11-digit" in r.text or "11 位" in r.text
    with app.app_context():
        assert db.session.get(Person, world["person"]).phone is None


def test_edit_saves_and_shows_history(client, world):
    login(client, "coord")
    r = client.post(
        f"/people/{world['person']}/edit",
        data={
            "name": "李四",
            "unit_id": world["community"],
            "phone": "13912345678",
            "category": "community_worker",
            "level": "intermediate",
            "titles": ["supervisor"],
            "active": "y",
        },
    )
    assert r.status_code == 302
    page = client.get(f"/people/{world['person']}").text
    assert "13912345678" in page and "person.update" in page


def test_a_move_between_namesake_units_names_their_parents_in_the_history(app, client):
    """Two 杏花社区 in two streets: the history says which is which (it read 杏花社区 → 杏花社区)."""
    from tests.factories import unit

    with app.app_context():
        w = World()
        first = unit("杏花社区", "community", w.street, code="330105001031")
        second = unit("杏花社区", "community", w.street2, code="330105002031")
        moved = person(first, "周九")
        db.session.commit()
        ids = (moved.id, second.id)
    login(client, "coord")
    data = {"name": "周九", "unit_id": ids[1], "category": "community_worker", "level": "none", "active": "y"}
    assert client.post(f"/people/{ids[0]}/edit", data=data).status_code == 302
    page = client.get(f"/people/{ids[0]}").text
    assert "米市巷街道 › 杏花社区 → 湖墅街道 › 杏花社区" in page


def test_chinese_names_round_trip(ctx):
    w = World()
    p = person(w.community, "欧阳娜娜·迪丽热巴")
    db.session.commit()
    assert db.session.get(Person, p.id).name == "欧阳娜娜·迪丽热巴"


def test_supervisor_assignment_from_the_person_page(app, client, world):
    from shegong_academy.auth.models import RoleAssignment
    from shegong_academy.supervision.services import holds_supervisor_assignment

    login(client, "coord")
    page = client.get(f"/people/{world['person']}", headers={"Accept-Language": "en"}).text
    assert "Give the supervisor assignment" in page and 'name="password"' in page  # no account yet
    # No account yet: a username and password are needed; a short password is refused and nothing is written.
    r = client.post(f"/people/{world['person']}/supervisor", data={"username": "lisi", "password": "short"})
    assert r.status_code == 302
    with app.app_context():
        assert not holds_supervisor_assignment(db.session.get(Person, world["person"]))
    r = client.post(f"/people/{world['person']}/supervisor", data={"username": "lisi", "password": "a-long-password"})
    assert r.status_code == 302
    with app.app_context():
        assert holds_supervisor_assignment(db.session.get(Person, world["person"]))
        grant = db.session.scalar(select(RoleAssignment).where(RoleAssignment.role == "supervisor"))
        assert grant.unit.code == "330105"  # the coordinator's district
    # The person's accounts name their roles as the accounts page does, not by their codes.
    for lang, shown in (("en", "lisi (Supervisor)"), ("zh-CN", "lisi (督导人员)")):
        page = client.get(f"/people/{world['person']}", headers={"Accept-Language": lang}).text
        accounts = re.search(r"<dd>[^<]*lisi[^<]*</dd>", page).group(0)
        assert shown in accounts and "supervisor" not in accounts
    # An existing account gets the role added; another district's coordinator cannot.
    other = app.test_client()
    login(other, "coordout")
    assert other.post(f"/people/{world['person']}/supervisor", data={}).status_code == 404


def test_registration_date_is_edited_shown_and_audited(app, client, world):
    from datetime import date

    login(client, "coord")
    form = {"name": "李四", "unit_id": world["community"], "category": "community_worker", "level": "assistant"}
    r = client.post(f"/people/{world['person']}/edit", data={**form, "certified_on": "2021-06-30", "active": "y"})
    assert r.status_code == 302
    assert "2021-06-30" in client.get(f"/people/{world['person']}").text
    with app.app_context():
        assert db.session.get(Person, world["person"]).certified_on == date(2021, 6, 30)
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "person.update")).all()[-1]
        assert entry.after["certified_on"] == "2021-06-30"
    future = client.post(f"/people/{world['person']}/edit", data={**form, "certified_on": "2099-01-01"})
    assert future.status_code == 200 and "2099-01-01" in future.text  # re-rendered with the message
    assert "between 1990 and today" in future.text or "1990" in future.text
    with app.app_context():
        assert db.session.get(Person, world["person"]).certified_on == date(2021, 6, 30)
