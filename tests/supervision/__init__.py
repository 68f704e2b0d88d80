"""Shared builders of the supervision tests: a world with two supervisors, records, counts, API calls."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from shegong_academy.audit.models import AuditEntry
from shegong_academy.auth.services import create_api_token
from shegong_academy.core.crypto import decrypt_text
from shegong_academy.extensions import db
from shegong_academy.supervision.models import SupervisionCredit, SupervisionRecord
from shegong_academy.supervision.services import record_supervision
from tests.factories import World, person, user

# A unique string: if it shows up in any response body, the confidential notes leaked.
NOTES = "保密笔记ZQX7-督导本人可见-9f2c"

UNITS = ("province", "city", "district", "street", "street2", "community", "other", "other_street")
PEOPLE = ("person", "person2", "outsider", "trainee_person", "sup_person", "sup2_person", "plain")
USERS = ("admin", "coord", "street_coord", "coord_out", "trainee", "sup", "sup2")


def sup_world() -> World:
    """World plus two supervisors of 拱墅区 (sup1, sup2), a plain person and ten group members in 湖墅街道."""
    w = World()
    w.sup_person = person(w.street, "督导甲")
    w.sup2_person = person(w.street2, "督导乙")
    w.plain = person(w.street, "孙八")  # no account, so no supervisor assignment
    w.sup = user("sup1", "supervisor", w.district, person=w.sup_person)
    w.sup2 = user("sup2", "supervisor", w.district, person=w.sup2_person)
    w.members = [person(w.street2, f"组员{i:02d}") for i in range(10)]
    db.session.commit()
    return w


def ids_of(w: World) -> SimpleNamespace:
    """Plain ids of the world, usable outside the application context."""
    ns = SimpleNamespace(**{n: getattr(w, n).id for n in UNITS + PEOPLE + USERS})
    ns.members = [m.id for m in w.members]
    return ns


def shanghai_today() -> date:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


def shanghai_tomorrow() -> date:
    return shanghai_today() + timedelta(days=1)


def payload(**changes) -> dict:
    """The service's ``data`` of a valid group record; ``changes`` override."""
    data = {
        "format": "group",
        "mode": "onsite",
        "kind": "overall",
        "held_on": date(2023, 3, 1),
        "hours": Decimal("2"),
        "topic": "小组督导：服务记录规范",
        "functions": ["educational", "supportive"],
        "advice": "梳理服务记录。",
        "follow_up": "一个月后跟进。",
        "notes": NOTES,
    }
    data.update(changes)
    return data


def record(w: World, *, supervisor=None, supervisees=None, actor=None, **changes):
    """Record through the service (sup1 by default, for 李四 and 钱七) and commit."""
    result = record_supervision(
        data=payload(**changes),
        supervisor=supervisor or w.sup_person,
        supervisees=list(supervisees if supervisees is not None else [w.person, w.trainee_person]),
        actor=actor or w.sup,
    )
    db.session.commit()
    return result


def counts() -> dict[str, int]:
    """Rows of supervision records, credits and audit entries (to prove a refusal wrote nothing)."""
    return {
        "SupervisionRecord": db.session.scalar(select(func.count()).select_from(SupervisionRecord)),
        "SupervisionCredit": db.session.scalar(select(func.count()).select_from(SupervisionCredit)),
        # Every API call audits its token use (token.use): that is not a write of the refused record.
        "AuditEntry": db.session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action != "token.use")),
    }


def api_caller(app, w: World, names=("coord", "coord_out", "admin", "trainee", "sup", "sup2")):
    """A function calling the API as one of the world's users by name."""
    tokens = {name: create_api_token(user=getattr(w, name)) for name in names}
    db.session.commit()
    client = app.test_client()

    def call(method, url, who="coord", **kw):
        headers = kw.pop("headers", {})
        if who:
            headers["Authorization"] = f"Bearer {tokens[who]}"
        return client.open(url, method=method, headers=headers, **kw)

    return call


def stored_notes(rec: SupervisionRecord) -> str | None:
    """The record's notes as stored, decrypted with the app's key (stored in plain text fails)."""
    if rec.notes_enc is None:
        return None
    assert NOTES not in rec.notes_enc and "保密" not in rec.notes_enc
    return decrypt_text(rec.notes_enc)


def text_of(response) -> str:
    """A response body as readable text: JSON decoded (it escapes Chinese as \\uXXXX), else as is."""
    raw = response.get_data(as_text=True)
    if response.is_json:
        return raw + "\n" + json.dumps(response.get_json(), ensure_ascii=False)
    return raw
