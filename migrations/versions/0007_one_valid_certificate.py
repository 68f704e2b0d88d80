"""certificates: at most one valid certificate per person and credential

Revision ID: 0007_one_valid_certificate
Revises: 0006_cohort_names
Create Date: 2026-11-30 09:00:00

Two approvals at the same moment issued two valid certificates to one person. A new column
``replaced_at`` marks a certificate that a newer one (reissue or renewal) took over, and a
partial unique index allows one row per person and credential with status 'valid' and
``replaced_at`` NULL.

Existing data: a reissued certificate gets ``replaced_at`` = the issue time of its successor.
Where a person still holds several valid certificates of one credential, the newest stays; each
older one is marked replaced at the newest one's issue time and, unless it had expired before
the newest was issued (a renewal), superseded by it. No certificate is deleted; every one marked
gets an audit entry (action ``certificate.deduplicate``).
"""
from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_one_valid_certificate'
down_revision = '0006_cohort_names'
branch_labels = None
depends_on = None

HELD = "status = 'valid' AND replaced_at IS NULL"


def upgrade():
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('replaced_at', sa.DateTime(), nullable=True))
    _mark_replaced()
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.create_index('uq_certificates_one_valid', ['person_id', 'credential_id'], unique=True,
                              sqlite_where=sa.text(HELD), postgresql_where=sa.text(HELD))


def _mark_replaced():
    bind = op.get_bind()
    certs = sa.table('certificates', sa.column('id', sa.Integer), sa.column('person_id', sa.Integer),
                     sa.column('credential_id', sa.Integer), sa.column('serial', sa.String),
                     sa.column('status', sa.String), sa.column('issued_at', sa.DateTime),
                     sa.column('expires_at', sa.DateTime), sa.column('superseded_by_id', sa.Integer),
                     sa.column('replaced_at', sa.DateTime))
    audit = sa.table('audit_entries', sa.column('at', sa.DateTime), sa.column('actor_name', sa.String),
                     sa.column('action', sa.String), sa.column('entity_type', sa.String),
                     sa.column('entity_id', sa.Integer), sa.column('before', sa.JSON), sa.column('after', sa.JSON))
    successor = certs.alias('successor')
    bind.execute(
        certs.update()
        .where(certs.c.superseded_by_id.is_not(None))
        .values(replaced_at=sa.select(successor.c.issued_at)
                .where(successor.c.id == certs.c.superseded_by_id).scalar_subquery())
    )
    rows = bind.execute(
        sa.select(certs.c.id, certs.c.person_id, certs.c.credential_id, certs.c.serial, certs.c.issued_at,
                  certs.c.expires_at)
        .where(certs.c.status == 'valid', certs.c.replaced_at.is_(None))
        .order_by(certs.c.person_id, certs.c.credential_id, certs.c.issued_at.desc(), certs.c.id.desc())
    ).all()
    now = datetime.now(UTC).replace(tzinfo=None)  # naive UTC, as the app stores times
    newest = {}
    entries = []
    for row in rows:
        key = (row.person_id, row.credential_id)
        if key not in newest:  # the first of each group is the newest: it stays valid
            newest[key] = row
            continue
        keep = newest[key]
        renewed = row.expires_at is not None and row.expires_at <= keep.issued_at
        values = {'replaced_at': keep.issued_at}
        if not renewed:
            values['superseded_by_id'] = keep.id
        bind.execute(certs.update().where(certs.c.id == row.id).values(**values))
        entries.append({
            'at': now, 'actor_name': 'migration 0007', 'action': 'certificate.deduplicate',
            'entity_type': 'certificate', 'entity_id': row.id,
            'before': {'serial': row.serial, 'status': 'valid'},
            'after': {'serial': row.serial, 'replaced_by': keep.serial,
                      'status': 'expired' if renewed else 'superseded'},
        })
    for entry in entries:
        bind.execute(audit.insert().values(**entry))


def downgrade():
    # The data step is not undone: superseded_by_id set on duplicates stays (they stay readable as superseded).
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_index('uq_certificates_one_valid', sqlite_where=sa.text(HELD), postgresql_where=sa.text(HELD))
        batch_op.drop_column('replaced_at')
