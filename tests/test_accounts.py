"""Accounts from the browser and the API (app.auth.accounts): invite, password links, roles, disable, sign out.

The escalation tests try every way a coordinator might reach above their own role or outside their
units, through the services, the pages and the API; each must fail with 403 or 404 and change nothing.
"""

from __future__ import annotations

import re
import time
from html import unescape

import itsdangerous.timed
import pytest
from sqlalchemy import func, select

from shegong_academy.audit.models import AuditEntry
from shegong_academy.auth import accounts
from shegong_academy.auth.models import ApiToken, LoginSession, RoleAssignment, User
from shegong_academy.auth.services import authenticate, create_api_token
from shegong_academy.core.domain import Conflict, Forbidden, Invalid, NotFound
from shegong_academy.extensions import db
from shegong_academy.org.models import OrgUnit
from tests.factories import World, id_number, login, person, user

NEW_PASSWORD = "银杏树下的长椅-2026"


@pytest.fixture
def w(ctx):
    return World()


def roles_of(u: User) -> set[tuple[str, int]]:
    db.session.refresh(u)
    return {(a.role, a.unit_id) for a in u.roles}


# ---------------------------------------------------------------- services


def test_a_coordinator_invites_a_street_coordinator_who_sets_their_own_password(w):
    new = accounts.invite_user(username="mishixiang", role="coordinator", unit=w.street, person=None, actor=w.coord)
    assert roles_of(new) == {("coordinator", w.street.id)}
    assert authenticate("mishixiang", NEW_PASSWORD) is None  # nobody knows a password yet
    token = accounts.password_link_token(new)
    assert accounts.user_for_link(token) == new
    with pytest.raises(Invalid):
        accounts.use_password_link(token=token, new="123")  # too short: the link stays good
    assert accounts.user_for_link(token) == new
    accounts.use_password_link(token=token, new=NEW_PASSWORD)
    assert authenticate("mishixiang", NEW_PASSWORD) == new
    assert accounts.user_for_link(token) is None  # spent
    with pytest.raises(NotFound):
        accounts.use_password_link(token=token, new=NEW_PASSWORD + "x")
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "user.create", AuditEntry.entity_id == new.id)
    ).one()
    assert entry.actor_name == "coord" and entry.after["role"] == "coordinator"


def test_a_password_link_expires(w, monkeypatch):
    new = accounts.invite_user(username="later", role="instructor", unit=w.street, person=None, actor=w.coord)
    token = accounts.password_link_token(new)
    assert accounts.user_for_link(token + "x") is None  # forged
    assert accounts.user_for_link(token) == new
    now = time.time()
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: now + 73 * 3600)  # three days and an hour on
    assert accounts.user_for_link(token) is None


def test_invitations_are_checked(w):
    with pytest.raises(Invalid):
        accounts.invite_user(username="has space", role="coordinator", unit=w.street, person=None, actor=w.coord)
    with pytest.raises(Invalid):  # a trainee's account belongs to a person
        accounts.invite_user(username="t2", role="trainee", unit=w.street, person=None, actor=w.coord)
    with pytest.raises(Conflict):
        accounts.invite_user(username="COORD", role="instructor", unit=w.street, person=None, actor=w.coord)
    with pytest.raises(Conflict):  # 钱七 already has an account
        accounts.invite_user(username="q7", role="trainee", unit=w.street, person=w.trainee_person, actor=w.coord)


ESCALATIONS = {
    "grant admin": lambda w, u: accounts.grant(user=u, role="admin", unit=w.district, actor=w.coord),
    "invite admin": lambda w, u: accounts.invite_user(
        username="boss", role="admin", unit=w.district, person=None, actor=w.coord
    ),
    "grant above, at the city": lambda w, u: accounts.grant(user=u, role="coordinator", unit=w.city, actor=w.coord),
    "grant in another district": lambda w, u: accounts.grant(user=u, role="coordinator", unit=w.other, actor=w.coord),
    "invite in another district": lambda w, u: accounts.invite_user(
        username="x1", role="coordinator", unit=w.other, person=None, actor=w.coord
    ),
    "street coordinator grants at the district": lambda w, u: accounts.grant(
        user=u, role="coordinator", unit=w.district, actor=w.street_coord
    ),
    "grant oneself": lambda w, u: accounts.grant(user=w.coord, role="coordinator", unit=w.city, actor=w.coord),
    "grant oneself inside": lambda w, u: accounts.grant(user=w.coord, role="supervisor", unit=w.street, actor=w.coord),
    "touch the administrator": lambda w, u: accounts.set_enabled(user=w.admin, enabled=False, actor=w.coord),
    "link the administrator": lambda w, u: accounts.issue_password_link(user=w.admin, actor=w.coord),
    "touch another district's coordinator": lambda w, u: accounts.issue_password_link(user=w.coord_out, actor=w.coord),
    "touch one's own boss": lambda w, u: accounts.issue_password_link(user=w.coord, actor=w.street_coord),
    "link a person of another district": lambda w, u: accounts.link_person(user=u, person=w.outsider, actor=w.coord),
    "invite for a person of another district": lambda w, u: accounts.invite_user(
        username="x2", role="instructor", unit=w.street, person=w.outsider, actor=w.coord
    ),
    "a supervisor invites": lambda w, u: accounts.invite_user(
        username="x3", role="trainee", unit=w.street, person=w.person, actor=w.supervisor_user
    ),
}


@pytest.mark.parametrize("name", list(ESCALATIONS))
def test_no_path_to_escalate_through_the_services(w, name):
    w.supervisor_user = user("sup", "supervisor", w.district, person=person(w.street, "孙督导"))
    managed = accounts.invite_user(username="inst", role="instructor", unit=w.street, person=None, actor=w.coord)
    before = {u.username: roles_of(u) for u in db.session.scalars(select(User))}
    enabled = {u.username: u.is_enabled for u in db.session.scalars(select(User))}
    with pytest.raises((Forbidden, NotFound)):
        ESCALATIONS[name](w, managed)
    db.session.expire_all()
    assert {u.username: roles_of(u) for u in db.session.scalars(select(User))} == before
    assert {u.username: u.is_enabled for u in db.session.scalars(select(User))} == enabled


def test_who_a_coordinator_sees(w):
    mixed = accounts.invite_user(username="mixed", role="instructor", unit=w.street, person=None, actor=w.admin)
    accounts.grant(user=mixed, role="instructor", unit=w.other, actor=w.admin)  # also in another district
    names = {u.username for u in accounts.managed_users(w.coord)}
    assert names == {"coord", "streetcoord", "trainee"}  # not admin, coordout, mixed (a role outside)
    assert "coord" in {u.username for u in accounts.managed_users(w.admin)}
    assert accounts.user_for(w.coord, mixed.id) is None
    assert {u.username for u in accounts.managed_users(w.coord, "钱")} == {"trainee"}  # by the person's name


def test_searching_users_ignores_case_on_either_database(w):
    # SQLite's LIKE is made case-sensitive (PostgreSQL's is) so that prefix matches use the path index;
    # the search asks for case-insensitivity itself.
    accounts.invite_user(username="Wang.Fang", role="instructor", unit=w.street, person=None, actor=w.coord)
    for q in ("wang.f", "WANG.FANG", "Fang", "streetCOORD"):
        assert {u.username for u in accounts.managed_users(w.coord, q)} & {"Wang.Fang", "streetcoord"}, q
    assert {u.username for u in accounts.managed_users(w.coord, "wang_f")} == set()  # "_" is no wildcard


def test_revoking_disabling_and_signing_out(w):
    u = accounts.invite_user(username="inst", role="instructor", unit=w.street, person=None, actor=w.coord)
    accounts.grant(user=u, role="supervisor", unit=w.street2, actor=w.coord)
    [supervisor] = [a for a in u.roles if a.role == "supervisor"]
    accounts.revoke(user=u, assignment_id=supervisor.id, actor=w.coord)
    assert roles_of(u) == {("instructor", w.street.id)}
    with pytest.raises(Conflict):  # the only role left: disable instead
        accounts.revoke(user=u, assignment_id=u.roles[0].id, actor=w.coord)
    accounts.use_password_link(token=accounts.password_link_token(u), new=NEW_PASSWORD)
    from shegong_academy.auth.services import start_login_session

    start_login_session(user=u, ip=None, user_agent=None)
    start_login_session(user=u, ip=None, user_agent=None)
    create_api_token(user=u)
    assert accounts.sign_out_everywhere(user=u, actor=w.coord) == 2
    start_login_session(user=u, ip=None, user_agent=None)
    accounts.set_enabled(user=u, enabled=False, actor=w.coord)
    assert db.session.scalar(select(func.count()).where(LoginSession.user_id == u.id)) == 0
    assert db.session.scalar(select(ApiToken.revoked_at).where(ApiToken.user_id == u.id)) is not None
    assert authenticate("inst", NEW_PASSWORD) is None
    with pytest.raises(Conflict):
        accounts.issue_password_link(user=u, actor=w.coord)
    accounts.set_enabled(user=u, enabled=True, actor=w.coord)
    assert authenticate("inst", NEW_PASSWORD) == u


def test_the_last_administrator_stays(w):
    with pytest.raises(Forbidden):
        accounts.set_enabled(user=w.admin, enabled=False, actor=w.admin)  # oneself
    other = accounts.invite_user(username="admin2", role="admin", unit=w.province, person=None, actor=w.admin)
    accounts.set_enabled(user=w.admin, enabled=False, actor=other)
    with pytest.raises(Conflict):
        accounts.set_enabled(user=other, enabled=False, actor=None)  # the command line, even
    accounts.grant(user=other, role="coordinator", unit=w.city, actor=None)
    admin_role = next(a for a in other.roles if a.role == "admin")
    with pytest.raises(Conflict):
        accounts.revoke(user=other, assignment_id=admin_role.id, actor=None)


# ---------------------------------------------------------------- pages


def client_for(app, username: str | None = None):
    c = app.test_client()
    c.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    if username:
        assert login(c, username).status_code == 302
    return c


@pytest.fixture
def site(app):
    with app.app_context():
        w = World()
        ids = {
            "admin": w.admin.id,
            "coord": w.coord.id,
            "coord_out": w.coord_out.id,
            "street": w.street.id,
            "district": w.district.id,
            "city": w.city.id,
            "other": w.other.id,
            "person": w.person.id,
            "outsider": w.outsider.id,
        }
        db.session.commit()
    return ids


def users_named(app, username):
    with app.app_context():
        return db.session.scalars(select(User).where(User.username == username)).all()


def test_a_coordinator_creates_a_street_coordinator_in_the_browser(app, site):
    c = client_for(app, "coord")
    r = c.get("/users/new")
    assert r.status_code == 200
    offered = set(re.findall(r'<option[^>]*value="(\w+)"', r.text))
    assert "admin" not in offered and {"coordinator", "trainee"} <= offered
    r = c.post("/users/new", data={"username": "mishixiang", "role": "coordinator", "unit_id": site["street"]})
    assert r.status_code == 200
    link = re.search(r'value="(http://localhost/users/password/[^"]+)"', r.text)[1]
    assert "mishixiang" in r.text
    # the owner opens the link, sets a password, signs in and sees their street only
    owner = client_for(app)
    path = link.removeprefix("http://localhost")
    assert owner.get(path).status_code == 200
    r = owner.post(path, data={"new": "password", "confirm": "password"})
    assert r.status_code == 200 and "common" in unescape(r.text)
    r = owner.post(path, data={"new": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert r.status_code == 302 and r.location.endswith("/login")
    assert owner.get(path).status_code == 404  # spent
    assert login(owner, "mishixiang", NEW_PASSWORD).status_code == 302
    assert owner.get(f"/units/{site['street']}").status_code == 200
    assert owner.get(f"/units/{site['district']}").status_code == 404


def test_no_path_to_escalate_through_the_pages(app, site):
    c = client_for(app, "coord")
    r = c.post("/users/new", data={"username": "boss", "role": "admin", "unit_id": site["district"]})
    assert r.status_code == 200 and users_named(app, "boss") == []  # admin is not a choice
    r = c.post("/users/new", data={"username": "boss", "role": "coordinator", "unit_id": site["city"]})
    assert r.status_code == 200 and users_named(app, "boss") == []  # the city is not a choice
    for target in ("admin", "coord_out"):
        uid = site[target]
        assert c.get(f"/users/{uid}").status_code == 404
        assert c.post(f"/users/{uid}/disable", data={}).status_code == 404
        assert c.post(f"/users/{uid}/password-link", data={}).status_code == 404
        assert (
            c.post(f"/users/{uid}/roles", data={"grant-role": "trainee", "grant-unit_id": site["street"]}).status_code
            == 404
        )
    # a managed account: granting admin, or a unit outside, changes nothing
    c.post("/users/new", data={"username": "inst", "role": "instructor", "unit_id": site["street"]})
    [inst] = users_named(app, "inst")
    for role, unit in (("admin", site["street"]), ("coordinator", site["city"]), ("coordinator", site["other"])):
        c.post(f"/users/{inst.id}/roles", data={"grant-role": role, "grant-unit_id": unit})
    with app.app_context():
        assert {
            (a.role, a.unit_id)
            for a in db.session.scalars(select(RoleAssignment).where(RoleAssignment.user_id == inst.id))
        } == {("instructor", site["street"])}
    # one's own roles
    r = c.post(f"/users/{site['coord']}/roles", data={"grant-role": "supervisor", "grant-unit_id": site["street"]})
    assert r.status_code == 302 and "You cannot change your own roles" in unescape(c.get("/users/").text)
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(RoleAssignment.user_id == site["coord"])) == 1
    # a trainee or an anonymous visitor gets nowhere
    assert client_for(app, "trainee").get("/users/").status_code == 403
    assert client_for(app).get("/users/").status_code == 302


def test_the_account_page_grants_revokes_and_disables(app, site):
    c = client_for(app, "coord")
    c.post("/users/new", data={"username": "inst", "role": "instructor", "unit_id": site["street"]})
    [inst] = users_named(app, "inst")
    r = c.post(f"/users/{inst.id}/roles", data={"grant-role": "supervisor", "grant-unit_id": site["street"]})
    assert r.status_code == 302
    page = c.get(f"/users/{inst.id}").text
    assert "Supervisor" in page and "role.grant" in page
    with app.app_context():
        sup = db.session.scalars(
            select(RoleAssignment).where(RoleAssignment.user_id == inst.id, RoleAssignment.role == "supervisor")
        ).one()
    assert c.post(f"/users/{inst.id}/roles/{sup.id}/revoke", data={}).status_code == 302
    assert c.post(f"/users/{inst.id}/disable", data={}).status_code == 302
    with app.app_context():
        assert db.session.get(User, inst.id).is_enabled is False
    # link a person by typing (no script): one match is taken
    r = c.post(f"/users/{inst.id}/person", data={"link-person_id-q": "李四"})
    assert r.status_code == 302
    with app.app_context():
        assert db.session.get(User, inst.id).person_id == site["person"]


def test_people_are_found_by_a_latin_name_in_any_case(app):
    with app.app_context():
        w = World()
        someone = person(w.street, "Aylin Demir")
        db.session.commit()
        someone_id = someone.id
    c = client_for(app, "coord")
    for q in ("aylin", "DEMIR", "lin dem"):
        assert someone_id in [p["id"] for p in c.get("/people/search", query_string={"q": q}).json["items"]], q
        assert "Aylin Demir" in c.get("/people/", query_string={"q": q}).text, q


def test_person_search_finds_by_name_phone_and_last_digits_within_scope(app):
    with app.app_context():
        w = World()
        number = id_number(4321)
        someone = person(w.street, "欧阳晓", id_number=number, phone="13912345678")
        db.session.commit()
        someone_id, last4 = someone.id, number[-4:]
    c = client_for(app, "coord")
    for q in ("欧阳", last4, "1391234"):
        found = c.get("/people/search", query_string={"q": q}).json["items"]
        assert someone_id in [p["id"] for p in found], q
        hit = next(p for p in found if p["id"] == someone_id)
        assert hit["phone"] == "139****5678" and number not in str(hit) and "*" in hit["id_number"]
    assert c.get("/people/search", query_string={"q": "赵六"}).json["items"] == []  # another district's
    assert client_for(app, "coordout").get("/people/search", query_string={"q": "欧阳"}).json["items"] == []
    assert client_for(app, "trainee").get("/people/search", query_string={"q": "欧阳"}).status_code == 403


# ---------------------------------------------------------------- API


def test_no_path_to_escalate_through_the_api(app, site):
    with app.app_context():
        token = create_api_token(user=db.session.get(User, site["coord"]))
        db.session.commit()
    c = app.test_client()
    h = {"Authorization": f"Bearer {token}"}
    r = c.post("/api/v1/users", json={"username": "boss", "role": "admin", "unit_code": "330105"}, headers=h)
    assert r.status_code == 403
    r = c.post("/api/v1/users", json={"username": "boss", "role": "coordinator", "unit_code": "330100"}, headers=h)
    assert r.status_code == 422 and "unit_code" in r.json["errors"]
    assert users_named(app, "boss") == []
    r = c.post("/api/v1/users", json={"username": "inst", "role": "instructor", "unit_code": "330105001"}, headers=h)
    assert r.status_code == 201 and "/users/password/" in r.json["password_link"]
    inst = r.json["id"]
    assert (
        c.post(f"/api/v1/users/{inst}/roles", json={"role": "admin", "unit_code": "330105"}, headers=h).status_code
        == 403
    )
    assert (
        c.post(
            f"/api/v1/users/{inst}/roles", json={"role": "coordinator", "unit_code": "330106"}, headers=h
        ).status_code
        == 404
    )
    r = c.post(f"/api/v1/users/{site['coord']}/roles", json={"role": "supervisor", "unit_code": "330105"}, headers=h)
    assert r.status_code == 403  # one's own roles
    for target in ("admin", "coord_out"):
        uid = site[target]
        assert c.get(f"/api/v1/users/{uid}", headers=h).status_code == 404
        assert c.patch(f"/api/v1/users/{uid}", json={"enabled": False}, headers=h).status_code == 404
        assert (
            c.post(f"/api/v1/users/{uid}/roles", json={"role": "trainee", "unit_code": "330105"}, headers=h).status_code
            == 404
        )
    r = c.patch(f"/api/v1/users/{inst}", json={"person_id": site["outsider"]}, headers=h)
    assert r.status_code == 422
    r = c.post(f"/api/v1/users/{inst}/roles", json={"role": "supervisor", "unit_code": "330105"}, headers=h)
    assert r.status_code == 201 and {x["role"] for x in r.json["roles"]} == {"instructor", "supervisor"}
    supervisor = next(x["id"] for x in r.json["roles"] if x["role"] == "supervisor")
    assert c.delete(f"/api/v1/users/{inst}/roles/{supervisor}", headers=h).status_code == 204
    assert c.post(f"/api/v1/users/{inst}/sign-out", headers=h).json == {"sessions_ended": 0}
    assert c.patch(f"/api/v1/users/{inst}", json={"enabled": False}, headers=h).json["enabled"] is False
    assert {u["username"] for u in c.get("/api/v1/users", headers=h).json["items"]} == {
        "coord",
        "inst",
        "streetcoord",
        "trainee",
    }


def test_the_account_list_comes_in_pages_not_cut_short(app, site):
    """A province has an account for every trainee: the list showed the first 500 and no more."""
    with app.app_context():
        street = db.session.get(OrgUnit, site["street"])
        for i in range(5):
            user(f"zz-trainee-{i}", "trainee", street, person=person(street, f"学员{i}"))
        db.session.commit()
    app.config["LMS_PER_PAGE"] = 4
    c = client_for(app, "admin")

    def listed(text: str) -> list[str]:
        return re.findall(r'href="/users/\d+">([^<]+)</a>', text)

    seen, url = [], "/users/"
    for _ in range(10):
        r = c.get(url)
        assert r.status_code == 200
        seen += listed(r.text)
        more = re.search(r'<a href="([^"]+)">Next', r.text)
        if not more:
            break
        url = unescape(more.group(1))
    with app.app_context():
        everyone = sorted(db.session.scalars(select(User.username)))
    assert seen == everyone and len(everyone) > 8  # every account once, by username, over several pages
    assert listed(c.get("/users/?q=zz-trainee&page=2").text) == ["zz-trainee-4"]  # a search is paged too
    # a coordinator's pages hold only the accounts they manage
    coordinator = listed(client_for(app, "coord").get("/users/?q=zz-trainee").text)
    assert coordinator == ["zz-trainee-0", "zz-trainee-1", "zz-trainee-2", "zz-trainee-3"]
