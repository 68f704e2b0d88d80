"""certificates: a stored lookup key of the serial, and a random entry in the issuer's status list

Revision ID: 0021_certificate_lookup
Revises: 0020_unit_issuer
Create Date: 2026-11-30 23:00:00

``serial_key`` is the serial as people type it, compacted (upper case, no dashes): the verification
page finds a serial by it through an index instead of scanning every certificate. It is filled from
``serial`` with the same rule.

``status_index`` is the certificate's entry in its issuing unit's status list, drawn at random so
that an entry says nothing of when, or in what order, certificates were issued (the W3C list's
privacy advice; a certificate id would). Each existing certificate gets a distinct random entry of
its unit's list, which has at least 131,072 entries and at least four times the unit's
certificates. Unique per unit. Downgrade drops both columns.
"""

import secrets

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0021_certificate_lookup"
down_revision = "0020_unit_issuer"
branch_labels = None
depends_on = None

MIN_BITS = 131_072


def _size(issued: int) -> int:
    size = MIN_BITS
    while size < 4 * (issued + 1):
        size *= 2
    return size


def upgrade():
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("serial_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("status_index", sa.Integer(), nullable=True))
    connection = op.get_bind()
    connection.execute(sa.text("UPDATE certificates SET serial_key = replace(upper(serial), '-', '')"))
    rows = connection.execute(sa.text("SELECT id, issuer_unit_id FROM certificates ORDER BY id")).all()
    by_unit: dict[int, list[int]] = {}
    for certificate_id, unit_id in rows:
        by_unit.setdefault(unit_id, []).append(certificate_id)
    draw = secrets.SystemRandom()
    for ids in by_unit.values():
        indexes = draw.sample(range(_size(len(ids))), len(ids))
        connection.execute(
            sa.text("UPDATE certificates SET status_index = :index WHERE id = :id"),
            [{"id": i, "index": n} for i, n in zip(ids, indexes, strict=True)],
        )
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.alter_column("serial_key", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("status_index", existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(batch_op.f("ix_certificates_serial_key"), ["serial_key"], unique=False)
        batch_op.create_unique_constraint("uq_certificates_status_index", ["issuer_unit_id", "status_index"])


def downgrade():
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.drop_constraint("uq_certificates_status_index", type_="unique")
        batch_op.drop_index(batch_op.f("ix_certificates_serial_key"))
        batch_op.drop_column("status_index")
        batch_op.drop_column("serial_key")
