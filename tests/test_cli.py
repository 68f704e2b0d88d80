"""The lms commands of the foundation: users, tokens, the demo's refusal of a non-empty database."""

from __future__ import annotations

from sqlalchemy import func, select

from app.auth.models import ApiToken, User
from app.extensions import db
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
