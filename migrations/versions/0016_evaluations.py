"""training evaluations: anonymous answers to a course's questionnaire, and who has answered

Revision ID: 0016_evaluations
Revises: 0015_lesson_progress
Create Date: 2026-11-30 20:00:00

``evaluation_responses`` holds each answer with a random id and the day only; ``evaluation_receipts``
records that a person answered a course's evaluation (so they answer once) and nothing of what they
answered: no column links the two. On SQLite both are WITHOUT ROWID tables, kept in key order rather
than the order rows came in, so the file's order cannot match a receipt to its response either. New tables: no existing row changes. Downgrade drops them.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016_evaluations'
down_revision = '0015_lesson_progress'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('evaluation_receipts',
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_evaluation_receipts_course_id_courses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_evaluation_receipts_person_id_people')),
    sa.PrimaryKeyConstraint('course_id', 'person_id', name=op.f('pk_evaluation_receipts')),
    sqlite_with_rowid=False,
    )
    op.create_table('evaluation_responses',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('questionnaire', sa.String(length=32), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('submitted_on', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_evaluation_responses_course_id_courses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluation_responses')),
    sqlite_with_rowid=False,
    )
    op.create_index(op.f('ix_evaluation_responses_course_id'), 'evaluation_responses', ['course_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_evaluation_responses_course_id'), table_name='evaluation_responses')
    op.drop_table('evaluation_responses')
    op.drop_table('evaluation_receipts')
