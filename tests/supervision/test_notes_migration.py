"""Revision 0008 encrypts the notes already stored, in place, under the application's data key; it
refuses to run under a key that does not decrypt the stored ID numbers; the downgrade decrypts them."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from shegong_academy.core.crypto import decrypt_text, encrypt_text
from shegong_academy.extensions import db
from tests.conftest import MIGRATIONS, _pg_database, is_postgres, make_app
from tests.test_migrations import drop_database

BEFORE = "0007_one_valid_certificate"
REVISION = "0008_encrypt_supervision_notes"
PLAIN = {1: "服务对象A家庭情况复杂，注意保密。", 2: None, 3: ""}


def read(app, sql: str):
    with app.app_context():
        with db.engine.connect() as conn:
            rows = conn.execute(text(sql)).all()
        db.engine.dispose()
    return rows


def notes(app) -> dict[int, str | None]:
    return dict(read(app, "SELECT id, notes FROM supervision_records ORDER BY id"))


def version(app) -> str:
    [(number,)] = read(app, "SELECT version_num FROM alembic_version")
    return number


@pytest.fixture
def url(tmp_path):
    """A database at revision 0007 holding a person (ID number encrypted under the app's key) and records."""
    url = _pg_database("_notes_0008") if is_postgres() else f"sqlite:///{tmp_path / 'notes.db'}"
    app = make_app(url)
    with app.app_context():
        upgrade(directory=MIGRATIONS, revision=BEFORE)
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO org_units (id, code, name, kind, path, depth)"
                    " VALUES (1, '330105', '拱墅区', 'district', '/1/', 0)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO people (id, unit_id, name, id_number_hash, id_number_enc, id_number_masked, category,"
                    " level, titles, service_areas, active, created_at, updated_at)"
                    " VALUES (1, 1, '王芳', :hash, :enc, '330105********1234', 'other', 'senior', '[]', '[]', true,"
                    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"hash": "c3" * 32, "enc": encrypt_text("330105198803071234")},
            )
            for record_id, plain in PLAIN.items():
                conn.execute(
                    text(
                        "INSERT INTO supervision_records (id, supervisor_id, unit_id, format, mode, kind, held_on,"
                        " hours, topic, functions, notes, created_at) VALUES (:id, 1, 1, 'individual', 'onsite',"
                        " 'special', '2024-04-10', 2, '个案督导', '[]', :notes, CURRENT_TIMESTAMP)"
                    ),
                    {"id": record_id, "notes": plain},
                )
        db.engine.dispose()
    yield url
    if is_postgres():
        drop_database(url)


def test_the_upgrade_encrypts_every_note_and_the_downgrade_decrypts_them(url):
    app = make_app(url)
    with app.app_context():
        upgrade(directory=MIGRATIONS, revision=REVISION)
    stored = notes(app)
    assert stored[2] is None
    assert all(stored[i] != PLAIN[i] for i in (1, 3))
    with app.app_context():
        assert {i: None if v is None else decrypt_text(v) for i, v in stored.items()} == PLAIN
        upgrade(directory=MIGRATIONS)  # the rest of the way: the notes stay as they are
        assert notes(app) == stored
        downgrade(directory=MIGRATIONS, revision=BEFORE)
        assert notes(app) == PLAIN
        db.engine.dispose()


def test_the_upgrade_refuses_a_key_that_does_not_decrypt_the_id_numbers(url):
    """A shell without the production LMS_DATA_KEY would encrypt the notes under a key the application
    does not use: the upgrade stops, nothing changed, and runs once the key is the application's."""
    stranger = make_app(url, LMS_DATA_KEY="not-the-data-key-the-application-uses-0123")
    with stranger.app_context():
        with pytest.raises(SystemExit):  # Flask-Migrate logs the error and exits 1
            upgrade(directory=MIGRATIONS, revision=REVISION)
        db.engine.dispose()
    assert notes(stranger) == PLAIN and version(stranger) == BEFORE
    app = make_app(url)
    with app.app_context():
        upgrade(directory=MIGRATIONS, revision=REVISION)
        assert decrypt_text(notes(app)[1]) == PLAIN[1]
        db.engine.dispose()
    assert version(app) == REVISION
