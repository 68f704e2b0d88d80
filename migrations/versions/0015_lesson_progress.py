"""lesson progress: the lessons each person has done

Revision ID: 0015_lesson_progress
Revises: 0014_credential_assessments
Create Date: 2026-11-30 19:45:00

A trainee marks a lesson done (or it is marked when read to the end); ``lesson_progress`` keeps one row
per person, course content and lesson position (positions, not lesson ids: syncing the content replaces
its lessons). A new table: no existing row changes. Downgrade drops it.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_lesson_progress'
down_revision = '0014_credential_assessments'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('lesson_progress',
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('content_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('done_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['content_id'], ['course_contents.id'], name=op.f('fk_lesson_progress_content_id_course_contents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_lesson_progress_person_id_people')),
    sa.PrimaryKeyConstraint('person_id', 'content_id', 'position', name=op.f('pk_lesson_progress'))
    )


def downgrade():
    op.drop_table('lesson_progress')
