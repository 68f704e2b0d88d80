"""online quizzes: a course content's quiz, and each sitting of it

Revision ID: 0017_quizzes
Revises: 0016_evaluations
Create Date: 2026-11-30 20:20:00

``course_contents.quiz`` holds a content's optional quiz as synced from ``quiz.yaml`` (its answer
key stays on the server); ``quiz_attempts`` holds each sitting of a quiz assessment: the quiz as it was
dealt (a later sync changes no sitting), the order the questions were dealt in, the answers saved as they are given, the points and the state. A new
nullable column (no content has a quiz until the next sync) and a new table: no existing row
changes. Downgrade drops them.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017_quizzes'
down_revision = '0016_evaluations'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('course_contents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('quiz', sa.JSON(), nullable=True))
    op.create_table('quiz_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assessment_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('sitting', sa.Integer(), nullable=False),
    sa.Column('quiz', sa.JSON(), nullable=False),
    sa.Column('order', sa.JSON(), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('marks', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('deadline_at', sa.DateTime(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(), nullable=True),
    sa.Column('score', sa.Numeric(precision=6, scale=1), nullable=True),
    sa.CheckConstraint("state IN ('open', 'submitted', 'graded')", name=op.f('ck_quiz_attempts_state')),
    sa.ForeignKeyConstraint(['assessment_id'], ['assessments.id'], name=op.f('fk_quiz_attempts_assessment_id_assessments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_quiz_attempts_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quiz_attempts')),
    sa.UniqueConstraint('assessment_id', 'person_id', 'sitting', name=op.f('uq_quiz_attempts_assessment_id_person_id_sitting'))
    )
    op.create_index(op.f('ix_quiz_attempts_person_id'), 'quiz_attempts', ['person_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_quiz_attempts_person_id'), table_name='quiz_attempts')
    op.drop_table('quiz_attempts')
    with op.batch_alter_table('course_contents', schema=None) as batch_op:
        batch_op.drop_column('quiz')
