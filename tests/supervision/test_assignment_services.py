"""Supervisor candidates and the supervisor assignment as services (issue 13).

``supervisor_candidates``: whom the record form offers as supervisor — a coordinator or administrator the
active people of their units whose enabled account holds the supervisor role, a supervisor only themself.
``assignment_unit``: the unit an assignment covers — the actor's own unit above the person, else the
person's district. ``assign_supervisor``: grants the role over that unit, creating the account a person
lacks; every refusal (weak password, taken username, person outside the actor's units) writes nothing.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from shegong_academy.audit.models import AuditEntry
from shegong_academy.auth.models import RoleAssignment, User
from shegong_academy.auth.passwords import MESSAGES
from shegong_academy.auth.services import authenticate
from shegong_academy.core.domain import Conflict, Invalid, NotFound
from shegong_academy.core.i18n import _
from shegong_academy.extensions import db
from shegong_academy.supervision.queries import holds_supervisor_assignment, supervisor_units
from shegong_academy.supervision.services import assign_supervisor, assignment_unit, supervisor_candidates
from tests.factories import person, user
from tests.supervision import sup_world

NEW_PASSWORD = "茶馆里的督导-gx-2024"


@pytest.fixture
def w(ctx):
    return sup_world()


def state() -> tuple[int, int, int]:
    """Accounts, role assignments and audit entries: a refusal must change none of them."""
    return (
        db.session.scalar(select(func.count()).select_from(User)),
        db.session.scalar(select(func.count()).select_from(RoleAssignment)),
        db.session.scalar(select(func.count()).select_from(AuditEntry)),
    )


def roles_of(account: User) -> set[tuple[str, int]]:
    db.session.refresh(account)
    return {(r.role, r.unit_id) for r in account.roles}


def ids(people) -> set[int]:
    return {p.id for p in people}


# --- supervisor_candidates -------------------------------------------------------------------------------------


@pytest.fixture
def more_supervisors(w):
    """Assignment holders a coordinator of 拱墅区 must not be offered, and one person who holds none."""
    w.far_sup = person(w.other_street, "西湖督导")
    user("farsup", "supervisor", w.other, person=w.far_sup)
    w.gone_sup = person(w.community, "离职督导")
    user("gonesup", "supervisor", w.district, person=w.gone_sup)
    w.gone_sup.active = False
    w.locked_sup = person(w.street2, "停用督导")
    user("lockedsup", "supervisor", w.district, person=w.locked_sup).is_enabled = False
    db.session.flush()
    return w


def test_a_coordinator_is_offered_the_active_enabled_assignment_holders_of_their_units(more_supervisors):
    w = more_supervisors
    offered = supervisor_candidates(w.coord)
    # Not 孙八 (no account), 钱七 (a trainee account), the inactive, the disabled, nor 西湖区's supervisor.
    assert ids(offered) == {w.sup_person.id, w.sup2_person.id}


def test_a_street_coordinator_is_offered_only_supervisors_working_in_their_street(w):
    # 督导乙's assignment covers the whole district, but they work in 湖墅街道, not the coordinator's street.
    assert ids(supervisor_candidates(w.street_coord)) == {w.sup_person.id}


def test_an_administrator_is_offered_every_active_enabled_assignment_holder(more_supervisors):
    w = more_supervisors
    assert ids(supervisor_candidates(w.admin)) == {w.sup_person.id, w.sup2_person.id, w.far_sup.id}


def test_a_supervisor_is_offered_only_themself(w):
    assert [p.id for p in supervisor_candidates(w.sup)] == [w.sup_person.id]
    assert [p.id for p in supervisor_candidates(w.sup2)] == [w.sup2_person.id]


def test_a_supervisor_account_of_nobody_is_offered_nobody(w):
    assert supervisor_candidates(user("anonsup", "supervisor", w.district)) == []


def test_a_trainee_is_offered_nobody(w):
    assert supervisor_candidates(w.trainee) == []


# --- assignment_unit -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "lives_in", "covers"),
    [
        ("coord", "community", "district"),  # the coordinator's own unit above the person
        ("coord", "street2", "district"),
        ("street_coord", "community", "street"),  # a street coordinator's street, not the district
        ("street_coord", "street", "street"),
        ("admin", "community", "district"),  # an administrator has no unit of their own: the district
        ("admin", "street2", "district"),
        ("admin", "other_street", "other"),
        ("admin", "city", "city"),  # no district above: the person's own unit
    ],
)
def test_an_assignment_covers_the_actors_unit_above_the_person_else_their_district(w, actor, lives_in, covers):
    someone = person(getattr(w, lives_in), "欧阳督导")
    assert assignment_unit(someone, getattr(w, actor)).id == getattr(w, covers).id


# --- assign_supervisor -----------------------------------------------------------------------------------------


def test_assigning_a_person_without_an_account_creates_one_holding_the_supervisor_role(w):
    before = state()
    covered = assign_supervisor(person=w.plain, actor=w.coord, username=" sunba ", password=NEW_PASSWORD)
    assert covered.id == w.district.id
    account = db.session.scalar(select(User).where(User.person_id == w.plain.id))
    assert account.username == "sunba"  # trimmed
    assert roles_of(account) == {("supervisor", w.district.id)}
    assert authenticate("sunba", NEW_PASSWORD).id == account.id
    assert holds_supervisor_assignment(w.plain)
    assert [u.id for u in supervisor_units(w.plain)] == [w.district.id]
    assert w.plain.id in ids(supervisor_candidates(w.coord))  # now offered on the record form
    assert state() == (before[0] + 1, before[1] + 1, before[2] + 1)  # one account, one role, one audit entry
    created = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "user.create", AuditEntry.entity_id == account.id)
    )
    assert created.actor_id == w.coord.id and created.after["role"] == "supervisor"


def test_a_street_coordinator_assigns_over_their_street_only(w):
    assert assign_supervisor(person=w.plain, actor=w.street_coord, username="sunba", password=NEW_PASSWORD).id == (
        w.street.id
    )
    assert [u.id for u in supervisor_units(w.plain)] == [w.street.id]


def test_a_person_with_an_account_gets_the_role_added_and_no_second_account(w):
    trainee_account = w.trainee  # 钱七's account
    users_before = state()[0]
    # No username or password needed; any given are ignored.
    assert assign_supervisor(person=w.trainee_person, actor=w.coord, username="qianqi", password="x").id == (
        w.district.id
    )
    assert state()[0] == users_before
    assert db.session.scalar(select(User).where(User.username == "qianqi")) is None
    assert roles_of(trainee_account) == {("trainee", w.community.id), ("supervisor", w.district.id)}
    assert holds_supervisor_assignment(w.trainee_person)
    granted = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "role.grant"))
    assert granted.entity_id == trainee_account.id and granted.after == {"role": "supervisor", "unit_id": w.district.id}


def test_assigning_twice_grants_the_role_once(w):
    assign_supervisor(person=w.plain, actor=w.coord, username="sunba", password=NEW_PASSWORD)
    before = state()
    assign_supervisor(person=w.plain, actor=w.coord)  # the account exists now
    assert state() == before
    account = db.session.scalar(select(User).where(User.person_id == w.plain.id))
    assert roles_of(account) == {("supervisor", w.district.id)}


WEAK = [
    pytest.param("sunba", "short-1", "password_too_short", id="too-short"),
    pytest.param("sunba", "password2024!", "password_too_common", id="common"),
    pytest.param("sunba-sunba", "SUNBA-SUNBA", "password_is_username", id="the-username"),
    pytest.param("sunba", "长" * 257, "password_too_long", id="too-long"),
]


@pytest.mark.parametrize(("username", "password", "_problem"), WEAK)
def test_a_weak_password_is_refused_and_nothing_changes(w, username, password, _problem):
    before = state()
    with pytest.raises(Invalid):
        assign_supervisor(person=w.plain, actor=w.coord, username=username, password=password)
    assert state() == before
    assert not holds_supervisor_assignment(w.plain)


@pytest.mark.parametrize(("username", "password", "problem"), WEAK)
def test_a_weak_password_refusal_says_the_rule_in_words(w, username, password, problem):
    with pytest.raises(Invalid) as refused:
        assign_supervisor(person=w.plain, actor=w.coord, username=username, password=password)
    assert str(refused.value.message) == str(MESSAGES[problem])


@pytest.mark.parametrize(("username", "password"), [(None, NEW_PASSWORD), ("sunba", None), ("  ", NEW_PASSWORD)])
def test_a_person_without_an_account_needs_a_username_and_password(w, username, password):
    before = state()
    with pytest.raises(Invalid):
        assign_supervisor(person=w.plain, actor=w.coord, username=username, password=password)
    assert state() == before
    assert not holds_supervisor_assignment(w.plain)


def test_a_taken_username_is_refused_and_the_account_holding_it_is_untouched(w):
    before, coord_roles = state(), roles_of(w.coord)
    with pytest.raises(Invalid) as refused:
        assign_supervisor(person=w.plain, actor=w.coord, username="sup1", password=NEW_PASSWORD)
    assert "sup1" in str(refused.value.message)
    assert state() == before
    assert not holds_supervisor_assignment(w.plain)
    assert roles_of(w.coord) == coord_roles
    assert db.session.scalar(select(User).where(User.username == "sup1")).person_id == w.sup_person.id


@pytest.mark.parametrize(
    ("actor", "target"),
    [
        ("coord", "outsider"),  # another district's person
        ("street_coord", "person2"),  # a street beside the coordinator's
        ("coord_out", "plain"),
        ("sup", "plain"),  # a supervisor does not manage people
        ("trainee", "plain"),
    ],
)
def test_a_person_outside_what_the_actor_manages_is_not_found_and_nothing_changes(w, actor, target):
    before = state()
    someone = getattr(w, target)
    with pytest.raises(NotFound):
        assign_supervisor(person=someone, actor=getattr(w, actor), username="newsup", password=NEW_PASSWORD)
    assert state() == before
    assert not holds_supervisor_assignment(someone)


def test_assigning_a_person_whose_account_is_disabled_is_refused_and_changes_nothing(w):
    w.trainee.is_enabled = False
    db.session.flush()
    before = state()
    with pytest.raises(Conflict) as refused:
        assign_supervisor(person=w.trainee_person, actor=w.coord)
    expected = _("The account of %(name)s is disabled: enable it before assigning.", name=w.trainee_person.name)
    assert str(refused.value.message) == expected
    assert state() == before and not holds_supervisor_assignment(w.trainee_person)
