"""The lms commands of the foundation: users, API tokens (create, list, revoke), the demo refusing a full database."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from shegong_academy.auth.models import ApiToken, User
from shegong_academy.extensions import db
from tests.factories import World


def test_create_user_and_token(app, runner):
    with app.app_context():
        World()
    r = runner.invoke(
        args=[
            "lms",
            "create-user",
            "--username",
            "jie",
            "--password",
            "a-long-password",
            "--role",
            "coordinator",
            "--unit",
            "330105001",
        ]
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(args=["lms", "create-token", "--username", "jie"])
    assert r.exit_code == 0
    token = r.output.strip().splitlines()[-1]
    assert token.startswith("lms_")
    client = app.test_client()
    resp = client.get("/api/v1/people", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200 and resp.json["total"] == 2


def test_create_user_refusals_change_nothing(app, runner):
    with app.app_context():
        World()
        users = db.session.scalar(select(func.count(User.id)))
    cases = [
        ["--username", "x1", "--password", "a-long-password", "--role", "coordinator", "--unit", "999"],
        ["--username", "x2", "--password", "short", "--role", "coordinator", "--unit", "330105"],
        ["--username", "coord", "--password", "a-long-password", "--role", "coordinator", "--unit", "330105"],
        ["--username", "x3", "--password", "a-long-password", "--role", "trainee", "--unit", "330105"],
        ["--username", "x4", "--password", "a-long-password", "--role", "king", "--unit", "330105"],
        [
            "--username",
            "x5",
            "--password",
            "a-long-password",
            "--role",
            "supervisor",
            "--unit",
            "330105",
            "--person-id",
            "9999",
        ],
    ]
    for args in cases:
        r = runner.invoke(args=["lms", "create-user", *args])
        assert r.exit_code != 0, args
        assert r.output.strip()
    with app.app_context():
        assert db.session.scalar(select(func.count(User.id))) == users


def test_create_token_for_unknown_user(app, runner):
    r = runner.invoke(args=["lms", "create-token", "--username", "ghost"])
    assert r.exit_code != 0 and "unknown user" in r.output
    with app.app_context():
        assert db.session.scalar(select(func.count(ApiToken.id))) == 0


def test_demo_refuses_a_non_empty_database(app, runner):
    with app.app_context():
        World()
    r = runner.invoke(args=["lms", "demo"])
    assert r.exit_code != 0 and "empty" in r.output
    r = runner.invoke(args=["lms", "demo", "--if-empty"])
    assert r.exit_code == 0 and "gongshu" in r.output


def _token(runner, username: str, name: str) -> str:
    r = runner.invoke(args=["lms", "create-token", "--username", username, "--name", name])
    assert r.exit_code == 0, r.output
    return r.output.strip().splitlines()[-1]


def _units(app, secret: str) -> int:
    return app.test_client().get("/api/v1/units", headers={"Authorization": f"Bearer {secret}"}).status_code


def _token_state(app) -> list[tuple]:
    with app.app_context():
        rows = db.session.scalars(select(ApiToken).order_by(ApiToken.id)).all()
        return [(t.id, t.user_id, t.revoked_at) for t in rows]


def test_list_tokens_shows_names_and_dates_but_never_the_secret(app, runner):
    with app.app_context():
        World()
    secret = _token(runner, "coord", "district platform")
    _token(runner, "admin", "someone else's")
    with app.app_context():
        token_hash = db.session.scalar(select(ApiToken.token_hash).where(ApiToken.name == "district platform"))
    assert _units(app, secret) == 200  # now it has a "last used" date
    r = runner.invoke(args=["lms", "list-tokens", "--username", "coord"])
    assert r.exit_code == 0, r.output
    header, row = (re.split(r"\s{2,}", line) for line in r.output.strip().splitlines())
    assert header == ["id", "name", "starts with", "created", "expires", "last used", "revoked"]
    listed = dict(zip(header, row, strict=True))
    assert listed["name"] == "district platform" and listed["starts with"] == secret[:10] + "…"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", listed["created"]) and listed["last used"] != "-"
    assert (listed["expires"], listed["revoked"]) == ("-", "-")
    assert secret not in r.output and secret[10:20] not in r.output and token_hash not in r.output
    assert "someone else" not in r.output
    r = runner.invoke(args=["lms", "list-tokens", "--username", "trainee"])
    assert r.exit_code == 0 and "no API tokens" in r.output
    r = runner.invoke(args=["lms", "list-tokens", "--username", "ghost"])
    assert r.exit_code != 0 and "unknown user" in r.output


def test_revoke_token_stops_it_working_and_is_audited(app, runner):
    from shegong_academy.audit.models import AuditEntry

    with app.app_context():
        World()
    secret = _token(runner, "coord", "district platform")
    kept = _token(runner, "coord", "other")
    assert _units(app, secret) == 200
    token_id = _token_state(app)[0][0]
    r = runner.invoke(args=["lms", "revoke-token", "--username", "coord", "--id", str(token_id)])
    assert r.exit_code == 0, r.output
    assert "revoked" in r.output
    assert _units(app, secret) == 401
    assert _units(app, kept) == 200  # only that token
    with app.app_context():
        audit = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "token.revoke")).all()
        assert [(a.entity_type, a.entity_id, a.actor_name) for a in audit] == [("api_token", token_id, "system")]
    listed = runner.invoke(args=["lms", "list-tokens", "--username", "coord"]).output.strip().splitlines()
    assert re.split(r"\s{2,}", listed[-1])[-1] != "-"  # the revoked token's row says when
    # Revoking again changes nothing and writes no second audit row.
    r = runner.invoke(args=["lms", "revoke-token", "--username", "coord", "--id", str(token_id)])
    assert r.exit_code == 0 and "already revoked" in r.output
    with app.app_context():
        assert db.session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "token.revoke")) == 1


def test_revoke_token_by_name(app, runner):
    with app.app_context():
        World()
    secret = _token(runner, "coord", "district platform")
    r = runner.invoke(args=["lms", "revoke-token", "--username", "coord", "--name", "district platform"])
    assert r.exit_code == 0, r.output
    assert _units(app, secret) == 401
    r = runner.invoke(args=["lms", "revoke-token", "--username", "coord", "--name", "district platform"])
    assert r.exit_code != 0 and "no live API token" in r.output


def test_revoke_token_refusals_change_nothing(app, runner):
    from shegong_academy.audit.models import AuditEntry

    with app.app_context():
        World()
    mine = _token(runner, "coord", "dup")
    _token(runner, "coord", "dup")
    theirs = _token(runner, "admin", "admin's")
    with app.app_context():
        admin_token = db.session.scalar(select(ApiToken.id).where(ApiToken.name == "admin's"))
    before = _token_state(app)
    cases = [
        (["--username", "coord", "--id", str(admin_token)], "no API token with id"),  # another user's token
        (["--username", "coord", "--id", "9999"], "no API token with id"),
        (["--username", "ghost", "--id", str(admin_token)], "unknown user"),
        (["--username", "coord", "--name", "nothing"], "no live API token"),
        (["--username", "coord", "--name", "dup"], "use --id"),  # ambiguous
        (["--username", "coord"], "exactly one of"),
        (["--username", "coord", "--id", "1", "--name", "dup"], "exactly one of"),
    ]
    for args, message in cases:
        r = runner.invoke(args=["lms", "revoke-token", *args])
        assert r.exit_code != 0, args
        assert message in r.output, (args, r.output)
    assert _token_state(app) == before
    with app.app_context():
        assert db.session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "token.revoke")) == 0
    assert _units(app, mine) == 200 and _units(app, theirs) == 200


def test_create_token_with_an_expiry(app, runner):
    from datetime import timedelta

    from shegong_academy.core.db import utcnow

    with app.app_context():
        World()
    r = runner.invoke(args=["lms", "create-token", "--username", "coord", "--expires-in-days", "30"])
    assert r.exit_code == 0, r.output
    with app.app_context():
        expires = db.session.scalar(select(ApiToken.expires_at))
        assert timedelta(days=29) < expires - utcnow() <= timedelta(days=30)
    for bad in ("0", "3651", "soon"):
        r = runner.invoke(args=["lms", "create-token", "--username", "coord", "--expires-in-days", bad])
        assert r.exit_code != 0
    with app.app_context():
        assert db.session.scalar(select(func.count(ApiToken.id))) == 1
