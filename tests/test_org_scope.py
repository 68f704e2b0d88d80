"""The org tree's subtree query and the one scoping helper."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shegong_academy.extensions import db
from shegong_academy.org.models import OrgUnit
from shegong_academy.org.queries import ancestors_of, in_scope, subtree_ids, unit_in_scope
from shegong_academy.org.services import UnitError, create_unit
from shegong_academy.people.models import Person
from tests.factories import World, unit


def ids(stmt) -> set[int]:
    return set(db.session.scalars(stmt))


def test_subtree_is_correct_when_one_path_is_a_prefix_of_another(ctx):
    # Ids 1 and 12 (and codes 3301 / 33011): "/1/" must not match "/12/".
    root1 = unit("一号", "province", code="3301")
    fillers = [unit(f"填充{i}", "province") for i in range(10)]
    root12 = unit("十二号", "province", code="33011")
    assert (root1.id, root12.id) == (1, 12)
    child1 = unit("一号下", "city", root1, code="330101")
    child12 = unit("十二号下", "city", root12, code="3301101")
    grandchild12 = unit("十二号孙", "district", child12)
    assert ids(subtree_ids(root1)) == {root1.id, child1.id}
    assert ids(subtree_ids(root12)) == {root12.id, child12.id, grandchild12.id}
    assert not grandchild12.is_within(root1) and grandchild12.is_within(root12)
    assert [u.id for u in ancestors_of(grandchild12)] == [root12.id, child12.id, grandchild12.id]
    assert fillers


def test_subtree_is_one_query(ctx, app):
    w = World()
    from sqlalchemy import event

    expected = {w.district.id, w.street.id, w.street2.id, w.community.id}
    statements = []
    listener = lambda *a: statements.append(a[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        found = ids(subtree_ids(w.district))
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert found == expected
    assert len(statements) == 1
    assert "LIKE" in statements[0]


def test_a_subtree_is_read_through_the_path_index(ctx):
    """The prefix match is an index range on either database, not a scan of every unit of the tree."""
    w = World()
    stmt = subtree_ids(w.district).compile(db.engine, compile_kwargs={"literal_binds": True})
    connection = db.session.connection()
    if db.engine.dialect.name == "sqlite":  # indexed only because LIKE is made case-sensitive there
        plan = " ".join(str(row[-1]) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {stmt}"))
        assert "SEARCH" in plan and "ix_org_units_path" in plan, plan
    else:  # a handful of rows: the planner must be told a scan costs more than it does
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = " ".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {stmt}"))
        assert "ix_org_units_path" in plan and "Index Cond" in plan, plan
    assert ids(subtree_ids(w.district)) == {w.district.id, w.street.id, w.street2.id, w.community.id}


def test_paths_and_depths(ctx):
    w = World()
    assert w.province.path == f"/{w.province.id}/" and w.province.depth == 0
    assert w.community.path == f"{w.street.path}{w.community.id}/" and w.community.depth == 4


def test_unknown_kind_is_refused(ctx):
    with pytest.raises(UnitError):
        create_unit(name="x", kind="planet", parent=None)


def test_scope_of_each_role(ctx):
    w = World()
    visible = lambda user: set(db.session.scalars(select(Person.name).where(in_scope(user, Person.unit_id))))  # noqa: E731
    assert visible(w.admin) == {"李四", "王五", "赵六", "钱七"}
    assert visible(w.coord) == {"李四", "王五", "钱七"}
    assert visible(w.street_coord) == {"李四", "钱七"}
    assert visible(w.coord_out) == {"赵六"}
    assert visible(w.trainee) == set()
    assert visible(None) == set()
    assert unit_in_scope(w.coord, w.community) and not unit_in_scope(w.coord, w.other)
    assert unit_in_scope(w.admin, w.other)


def test_coordinator_with_two_grants_sees_both_subtrees(ctx):
    from shegong_academy.auth.services import grant_role

    w = World()
    grant_role(user=w.coord_out, role="coordinator", unit=w.street2)
    db.session.flush()
    names = set(db.session.scalars(select(Person.name).where(in_scope(w.coord_out, Person.unit_id))))
    assert names == {"赵六", "王五"}


def test_org_unit_rows_are_scoped_too(ctx):
    w = World()
    units = set(db.session.scalars(select(OrgUnit.code).where(in_scope(w.coord, OrgUnit.id))))
    assert units == {"330105", "330105001", "330105002", "330105001001"}
