"""Units from the browser (app.org.services): add by the kinds' parent rules, generated codes for service
units without an official one (created and imported), rename, move with the whole subtree, close."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from shegong_academy.audit.models import AuditEntry
from shegong_academy.core.domain import Conflict, Forbidden, Invalid, NotFound
from shegong_academy.extensions import db
from shegong_academy.org import services
from shegong_academy.org.imports import import_units
from shegong_academy.org.models import OrgUnit
from shegong_academy.org.queries import subtree_ids
from shegong_academy.people.queries import people_query
from tests.factories import World, login


@pytest.fixture
def w(ctx):
    return World()


def test_units_keep_to_the_kinds_parent_rules(w):
    station = services.add_unit(name="米市巷街道社工站", kind="station", parent=w.street, code=None, actor=w.coord)
    assert station.code == "330105001-S01" and station.code_generated
    room = services.add_unit(name="和睦社区社工室", kind="room", parent=station, code=None, actor=w.coord)
    assert room.code == "330105001-S01-R01" and room.path == f"{station.path}{room.id}/"
    second = services.add_unit(name="第二社工站", kind="station", parent=w.street, code="", actor=w.coord)
    assert second.code == "330105001-S02"
    for kind, parent in (("street", w.street), ("community", w.district), ("room", w.city), ("district", w.district)):
        with pytest.raises(Invalid) as refused:
            services.add_unit(name="错", kind=kind, parent=parent, code=None, actor=w.admin)
        assert "parent_id" in refused.value.errors
    with pytest.raises(Invalid) as refused:  # a province sits at the top, and the message says so (it said "—")
        services.add_unit(name="新省", kind="province", parent=w.district, code=None, actor=w.admin)
    assert str(refused.value.errors["parent_id"]) == "省只能设在以下单位之下：最上层。"
    with pytest.raises(Conflict):
        services.add_unit(name="重码", kind="community", parent=w.street, code="330105001001", actor=w.coord)
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "unit.create")).first()
    assert entry.after["generated"] is True


def test_a_coordinator_adds_only_inside_their_units(w):
    with pytest.raises(NotFound):
        services.add_unit(name="外区社区", kind="community", parent=w.other_street, code=None, actor=w.coord)
    with pytest.raises(Forbidden):
        services.add_unit(name="新省", kind="province", parent=None, code=None, actor=w.coord)
    with pytest.raises((Forbidden, NotFound)):  # the unit they manage from stays where it is
        services.move_unit(unit=w.district, parent=w.city, actor=w.coord)
    with pytest.raises(Forbidden):
        services.set_unit_closed(unit=w.district, closed=True, actor=w.coord)
    with pytest.raises(NotFound):
        services.move_unit(unit=w.street, parent=w.other, actor=w.coord)


def test_moving_a_street_takes_its_subtree_and_people_along(w):
    station = services.add_unit(name="站", kind="station", parent=w.street, code=None, actor=w.coord)
    lisi = w.person  # in 和睦社区 under 米市巷街道
    moved = services.move_unit(unit=w.street, parent=w.other, actor=w.admin)
    db.session.expire_all()
    street, community, station = (db.session.get(OrgUnit, u.id) for u in (w.street, w.community, station))
    assert street.parent_id == w.other.id and street.path == f"{w.other.path}{street.id}/"
    assert community.path.startswith(street.path) and station.path.startswith(street.path)
    assert community.depth == street.depth + 1
    assert lisi.id not in {p.id for p in db.session.scalars(people_query(w.coord))}  # now 西湖区's
    assert lisi.id in {p.id for p in db.session.scalars(people_query(w.coord_out))}
    assert community.id in set(db.session.scalars(subtree_ids(db.session.get(OrgUnit, w.other.id))))
    assert moved.id == street.id
    with pytest.raises(Invalid):  # not under itself
        services.move_unit(unit=street, parent=community, actor=w.admin)


def test_rename_keeps_or_replaces_a_generated_code(w):
    station = services.add_unit(name="站", kind="station", parent=w.street, code=None, actor=w.coord)
    services.rename_unit(unit=station, name="米市巷街道社会工作服务站", code="", actor=w.coord)
    assert station.code == "330105001-S01" and station.code_generated
    services.rename_unit(unit=station, name="米市巷街道社会工作服务站", code="330105001S", actor=w.coord)
    assert station.code == "330105001S" and not station.code_generated
    with pytest.raises(Invalid):
        services.rename_unit(unit=station, name=" ", code=None, actor=w.coord)


def test_a_unit_with_active_people_cannot_be_closed(w):
    with pytest.raises(Conflict):
        services.set_unit_closed(unit=w.community, closed=True, actor=w.coord)
    empty = services.add_unit(name="空社区", kind="community", parent=w.street, code=None, actor=w.coord)
    services.set_unit_closed(unit=empty, closed=True, actor=w.coord)
    assert empty.closed_at is not None
    services.set_unit_closed(unit=empty, closed=False, actor=w.coord)
    assert empty.closed_at is None


def test_stations_and_rooms_without_codes_are_imported_with_generated_codes(w):
    csv = (
        "编码,名称,类型,上级编码\n"
        ",米市巷街道社工站,社工站,330105001\n"
        ",和睦社区社工室,社工室,330105001001\n"
        "330105001009,新社区,社区,330105001\n"
    ).encode()
    assert import_units(filename="u.csv", data=csv, actor=w.admin, max_rows=100) == (3, 0)
    made = {u.name: u for u in db.session.scalars(select(OrgUnit).where(OrgUnit.code_generated.is_(True)))}
    assert made["米市巷街道社工站"].code == "330105001-S01"
    assert made["和睦社区社工室"].code == "330105001001-R01"
    # importing the same file again finds them by name under their parent: nothing doubles
    assert import_units(filename="u.csv", data=csv, actor=w.admin, max_rows=100) == (0, 0)
    bad = ",没有编码的社区,社区,330105001\n".encode()
    from shegong_academy.core.tabular import ImportRejected

    with pytest.raises(ImportRejected):
        import_units(filename="u.csv", data="编码,名称,类型,上级编码\n".encode() + bad, actor=w.admin, max_rows=100)


def test_no_two_units_of_one_name_under_one_parent(w):
    """Adding, renaming and moving refuse a name a sibling has (any case), and say under which parent; the same
    name under another parent is fine."""
    with pytest.raises(Conflict) as refused:
        services.add_unit(name="和睦社区", kind="community", parent=w.street, code=None, actor=w.coord)
    assert refused.value.errors == {"name": "米市巷街道已有名为和睦社区的单位。"}
    other = services.add_unit(name="和睦社区", kind="community", parent=w.street2, code=None, actor=w.coord)
    second = services.add_unit(name="Heping", kind="community", parent=w.street, code=None, actor=w.coord)
    with pytest.raises(Conflict) as refused:
        services.rename_unit(unit=second, name="和睦社区", code=None, actor=w.coord)
    assert set(refused.value.errors) == {"name"}
    with pytest.raises(Conflict):
        services.add_unit(name="HEPING", kind="community", parent=w.street, code=None, actor=w.coord)
    services.rename_unit(unit=second, name="heping", code=None, actor=w.coord)  # its own name in another case
    with pytest.raises(Conflict) as refused:
        services.move_unit(unit=other, parent=w.street, actor=w.coord)
    assert set(refused.value.errors) == {"parent_id"}
    db.session.refresh(other)
    assert other.parent_id == w.street2.id and second.name == "heping"
    # an import: a second name in the file, or beside a unit already there; a rename in the same file frees it
    from shegong_academy.core.tabular import ImportRejected

    head = "编码,名称,类型,上级编码\n"
    rows = (
        "330105001020,新社区,社区,330105001\n330105001021,新社区,社区,330105001\n330105001022,和睦社区,社区,330105001\n"
    )
    with pytest.raises(ImportRejected) as rejected:
        import_units(filename="u.csv", data=(head + rows).encode(), actor=w.admin, max_rows=100)
    assert [(e.row, e.column) for e in rejected.value.errors] == [(3, "name"), (4, "name")]
    assert "330105001001" in str(rejected.value.errors[1].message)
    renamed = head + "330105001001,和睦北社区,社区,330105001\n330105001022,和睦社区,社区,330105001\n"
    assert import_units(filename="u.csv", data=renamed.encode(), actor=w.admin, max_rows=100) == (1, 1)
    # a station without a code is found by its name and kind; the same name in another case, or twice, is refused
    services.add_unit(name="Heping Station", kind="station", parent=w.street, code=None, actor=w.coord)
    same = head + ",Heping Station,社工站,330105001\n"
    assert import_units(filename="u.csv", data=same.encode(), actor=w.admin, max_rows=100) == (0, 0)
    for rows in (",heping station,社工站,330105001\n", ",新站,社工站,330105001\n,新站,社工站,330105001\n"):
        with pytest.raises(ImportRejected) as rejected:
            import_units(filename="u.csv", data=(head + rows).encode(), actor=w.admin, max_rows=100)
        assert [e.column for e in rejected.value.errors] == ["name"]


def test_the_unit_pages(app):
    with app.app_context():
        w = World()
        ids = {"street": w.street.id, "other": w.other.id, "community": w.community.id}
        db.session.commit()
    c = app.test_client()
    c.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login(c, "coord")
    r = c.get(f"/units/new?parent={ids['street']}")
    assert r.status_code == 200 and re.search(rf'<option selected value="{ids["street"]}">', r.text)
    assert '<option selected value="community">' in r.text  # what may sit under a street, not the province
    r = c.post(
        "/units/new", data={"name": "米市巷街道社工站", "kind": "station", "parent_id": ids["street"], "code": ""}
    )
    assert r.status_code == 302
    page = c.get(r.location).get_data(as_text=True)
    assert "330105001-S01" in page and "generated code" in page
    r = c.post("/units/new", data={"name": "和睦社区", "kind": "community", "parent_id": ids["street"], "code": ""})
    assert r.status_code == 200  # the form again, the name marked, its input kept
    name_field = r.text.split('name="name"', 1)[0].rsplit('<div class="field', 1)[1]
    assert "has-error" in name_field and "米市巷街道 already has a unit named 和睦社区." in r.text
    assert 'value="和睦社区"' in r.text
    r = c.post("/units/new", data={"name": "错", "kind": "district", "parent_id": ids["street"], "code": ""})
    assert r.status_code == 200 and "District or county: only under City." in r.get_data(as_text=True)
    assert c.post("/units/new", data={"name": "外", "kind": "community", "parent_id": ids["other"]}).status_code == 200
    r = c.post(f"/units/{ids['community']}/close", data={})
    assert r.status_code == 302
    assert "active people work in this unit" in c.get(r.location).get_data(as_text=True)
    assert c.get(f"/units/{ids['other']}/move").status_code == 404
    login_out = app.test_client()
    login(login_out, "coordout")
    assert login_out.get(f"/units/{ids['street']}/edit").status_code == 404
    assert login_out.post(f"/units/{ids['street']}/close", data={}).status_code == 404


def test_the_unit_one_manages_from_offers_no_move_or_close_but_its_units_below_do(app):
    """A coordinator's own unit cannot be moved or closed by them (the services refuse it): its page offers
    neither; a unit below it offers both, and the administrator has both on the district. Its form names the
    unit's name as such, not a person's."""
    with app.app_context():
        w = World()
        ids = {"district": w.district.id, "street": w.street.id}
        db.session.commit()

    def buttons(client, unit_id):
        html = client.get(f"/units/{unit_id}", headers={"Accept-Language": "en"}).get_data(as_text=True)
        head = re.search(r'<div class="actions">.*?</div>', html, re.S).group(0)
        return {"move": f"/units/{unit_id}/move" in head, "close": f"/units/{unit_id}/close" in head}

    coordinator = app.test_client()
    login(coordinator, "coord")
    assert buttons(coordinator, ids["district"]) == {"move": False, "close": False}
    assert buttons(coordinator, ids["street"]) == {"move": True, "close": True}
    administrator = app.test_client()
    login(administrator, "admin")
    assert buttons(administrator, ids["district"]) == {"move": True, "close": True}
    form = coordinator.get(f"/units/{ids['street']}/edit", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert re.search(r"<label[^>]*>单位名称", form) and not re.search(r"<label[^>]*>姓名", form)
