"""Test data builders: units, people with valid ID numbers, users with roles."""

from __future__ import annotations

import itertools
from datetime import date

from shegong_academy.auth.services import create_user
from shegong_academy.extensions import db
from shegong_academy.org.models import OrgUnit
from shegong_academy.org.services import create_unit
from shegong_academy.people.idnumber import make_id_number
from shegong_academy.people.services import create_person

PASSWORD = "correct-horse-battery"
_seq = itertools.count(1)


def unit(name: str, kind: str = "district", parent: OrgUnit | None = None, code: str | None = None) -> OrgUnit:
    return create_unit(name=name, kind=kind, parent=parent, code=code)


def id_number(n: int | None = None, region: str = "330105") -> str:
    n = next(_seq) if n is None else n
    return make_id_number(region, date(1980 + n % 20, 1 + n % 12, 1 + n % 28), n)


def person(at: OrgUnit, name: str = "张三", **fields):
    data = {"name": name, "id_number": fields.pop("id_number", None) or id_number(), **fields}
    return create_person(data=data, unit=at, actor=None)


def user(username: str, role: str, at: OrgUnit, person=None, password: str = PASSWORD):
    return create_user(username=username, password=password, role=role, unit=at, person=person)


class World:
    """Two districts under one city: the in-scope and the out-of-scope coordinator's."""

    def __init__(self):
        self.province = unit("浙江省", "province", code="330000")
        self.city = unit("杭州市", "city", self.province, code="330100")
        self.district = unit("拱墅区", "district", self.city, code="330105")
        self.street = unit("米市巷街道", "street", self.district, code="330105001")
        self.street2 = unit("湖墅街道", "street", self.district, code="330105002")
        self.community = unit("和睦社区", "community", self.street, code="330105001001")
        self.other = unit("西湖区", "district", self.city, code="330106")
        self.other_street = unit("北山街道", "street", self.other, code="330106001")
        self.person = person(self.community, "李四")
        self.person2 = person(self.street2, "王五", category="project_social_worker", level="assistant")
        self.outsider = person(self.other_street, "赵六")
        self.trainee_person = person(self.community, "钱七")
        self.admin = user("admin", "admin", self.province)
        self.coord = user("coord", "coordinator", self.district)
        self.street_coord = user("streetcoord", "coordinator", self.street)
        self.coord_out = user("coordout", "coordinator", self.other)
        self.trainee = user("trainee", "trainee", self.community, person=self.trainee_person)
        db.session.commit()


def login(client, username: str, password: str = PASSWORD):
    return client.post("/login", data={"username": username, "password": password})


def forged(text: str) -> str:
    """``text`` with its last character changed: a token that is certainly not the one made."""
    return text[:-1] + ("B" if text[-1] == "A" else "A")
