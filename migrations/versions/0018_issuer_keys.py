"""signed credentials: issuer keys, and the issuing unit frozen on each certificate

Revision ID: 0018_issuer_keys
Revises: 0017_quizzes
Create Date: 2026-11-30 21:40:00

``issuer_keys`` holds each issuing unit's ES256 (P-256) signing keys: the private key encrypted
under the data key, the public key as a JWK, and a self-signed X.509 certificate of the key, which
signs the PDFs. A retired key no longer signs but stays published; a partial unique index allows
one active key per unit. The table starts empty: a unit's first key is made when it first signs.

``certificates.issuer_unit_id`` is the unit that issued the certificate: it signs the certificate's
Open Badges credential and holds its bit in that unit's status list. Every existing certificate
gets its credential type's issuing unit (the only issuer it can have had), then the column
becomes NOT NULL. Downgrade drops both.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0018_issuer_keys"
down_revision = "0017_quizzes"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "issuer_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("algorithm", sa.String(length=16), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("private_key_enc", sa.Text(), nullable=False),
        sa.Column("certificate_pem", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("retired_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["unit_id"], ["org_units.id"], name=op.f("fk_issuer_keys_unit_id_org_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issuer_keys")),
        sa.UniqueConstraint("kid", name=op.f("uq_issuer_keys_kid")),
    )
    with op.batch_alter_table("issuer_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_issuer_keys_unit_id"), ["unit_id"], unique=False)
        batch_op.create_index(
            "uq_issuer_keys_one_active",
            ["unit_id"],
            unique=True,
            sqlite_where=sa.text("retired_at IS NULL"),
            postgresql_where=sa.text("retired_at IS NULL"),
        )

    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("issuer_unit_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE certificates SET issuer_unit_id = "
        "(SELECT issuer_unit_id FROM credential_types WHERE credential_types.id = certificates.credential_id)"
    )
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.alter_column("issuer_unit_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(batch_op.f("ix_certificates_issuer_unit_id"), ["issuer_unit_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_certificates_issuer_unit_id_org_units"), "org_units", ["issuer_unit_id"], ["id"]
        )


def downgrade():
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_certificates_issuer_unit_id_org_units"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_certificates_issuer_unit_id"))
        batch_op.drop_column("issuer_unit_id")
    with op.batch_alter_table("issuer_keys", schema=None) as batch_op:
        batch_op.drop_index("uq_issuer_keys_one_active")
        batch_op.drop_index(batch_op.f("ix_issuer_keys_unit_id"))
    op.drop_table("issuer_keys")
