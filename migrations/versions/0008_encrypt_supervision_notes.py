"""supervision: confidential notes encrypted at rest

Revision ID: 0008_encrypt_supervision_notes
Revises: 0007_one_valid_certificate
Create Date: 2026-12-01 10:00:00

The notes of a supervision record were stored in plain text. They are now encrypted like ID
numbers: Fernet, under the key the application derives from LMS_DATA_KEY (or, without it,
SECRET_KEY) in app.core.crypto. The column keeps its name and type; the upgrade encrypts every
note in place and the downgrade decrypts them again.

The key is the running configuration's: run the upgrade as the application is configured
(``flask db upgrade`` with the same LMS_DATA_KEY / LMS_SECRET_KEY as the service). Before it
writes anything, it checks that this key decrypts the stored ID numbers, so an upgrade from a
shell that lacks the production LMS_DATA_KEY stops with a message instead of encrypting the notes
under a key the application does not use. It cannot run as offline SQL (``--sql``).
"""
from alembic import context, op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_encrypt_supervision_notes'
down_revision = '0007_one_valid_certificate'
branch_labels = None
depends_on = None

records = sa.table('supervision_records', sa.column('id', sa.Integer()), sa.column('notes', sa.Text()))
people = sa.table('people', sa.column('id', sa.Integer()), sa.column('id_number_enc', sa.String()))
SAMPLE = 50  # stored ID numbers tried against the key
BATCH = 500


def _crypto():
    if context.is_offline_mode():
        raise RuntimeError(
            "0008_encrypt_supervision_notes encrypts stored notes with the application's key: "
            "run `flask db upgrade` against the database, not offline SQL."
        )
    # The application's own functions and key (Flask-Migrate runs revisions in its app context).
    from shegong_academy.core import crypto

    return crypto


def _check_key(conn, crypto) -> None:
    sample = conn.execute(sa.select(people.c.id_number_enc).order_by(people.c.id).limit(SAMPLE)).scalars().all()
    if sample and not any(crypto.decrypts(token) for token in sample):
        raise RuntimeError(
            "0008_encrypt_supervision_notes: the configured LMS_DATA_KEY (or SECRET_KEY) does not decrypt the "
            "stored ID numbers, so the notes would be encrypted under a key the application does not use. "
            "Run the upgrade with the application's LMS_DATA_KEY and LMS_SECRET_KEY set; nothing was changed."
        )


def _rewrite(transform, pick) -> None:
    """Replace each note for which ``pick`` is true by ``transform(note)``, after checking the key."""
    crypto = _crypto()
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(records.c.id, records.c.notes).where(records.c.notes.is_not(None)).order_by(records.c.id)
    ).all()
    if not rows:
        return
    _check_key(conn, crypto)
    update = records.update().where(records.c.id == sa.bindparam('record_id')).values(notes=sa.bindparam('value'))
    changed = [
        {'record_id': record_id, 'value': transform(crypto, notes)}
        for record_id, notes in rows
        if pick(crypto, notes)
    ]
    for start in range(0, len(changed), BATCH):
        conn.execute(update, changed[start:start + BATCH])


def upgrade():
    # A note that already decrypts was encrypted by an earlier, interrupted run: left as it is.
    _rewrite(lambda crypto, notes: crypto.encrypt_text(notes), lambda crypto, notes: not crypto.decrypts(notes))


def downgrade():
    _rewrite(lambda crypto, notes: crypto.decrypt_text(notes), lambda crypto, notes: crypto.decrypts(notes))
