"""assessments: graded parts of a course, each person's sittings, and whether an enrolment passed

Revision ID: 0013_assessments
Revises: 0012_cohort_standings
Create Date: 2026-11-30 19:40:00

A course may have assessments (结业考核, a practical, a case report, an online quiz), each with a
maximum, a pass mark, a weight and a retake rule; ``assessment_results`` holds each person's
sittings (scored, absent or excused). ``enrolments.passed`` says whether the person passed the
course's assessments and reached its overall pass mark; a course with assessments is completed
only by those who passed. ``cohorts.require_passing`` (false for every existing cohort) makes a
cohort's "trained" ask for passing the assessments of the year's courses too.

Until now a course could declare a pass mark but no score could be entered, so nobody completed
such a course. Each course with a pass mark gets one assessment, "结业考核" (exam, maximum 100,
pass mark the course's, weight 1, best sitting counts), and an enrolment's stored score becomes
the first sitting of it, so what was stored keeps counting the same way: an enrolment passed when
its score reached the pass mark. No existing row changes; ``passed`` is new.

Last, the cohort standings (``cohort_people``, 0012) are recomputed by the application's own rules,
on the migration's connection, as ``lms ledger rebuild`` does: those rules read the columns added
here. Downgrade drops the two tables and the column.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.orm import Session


# revision identifiers, used by Alembic.
revision = '0013_assessments'
down_revision = '0012_cohort_standings'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('assessments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('max_score', sa.Numeric(precision=6, scale=1), nullable=False),
    sa.Column('pass_mark', sa.Numeric(precision=6, scale=1), nullable=False),
    sa.Column('weight', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('retake_rule', sa.String(length=8), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('exam', 'practical', 'essay', 'quiz')", name=op.f('ck_assessments_kind')),
    sa.CheckConstraint("retake_rule IN ('best', 'last')", name=op.f('ck_assessments_retake_rule')),
    sa.CheckConstraint('max_score > 0', name=op.f('ck_assessments_max_score')),
    sa.CheckConstraint('pass_mark >= 0 AND pass_mark <= max_score', name=op.f('ck_assessments_pass_mark')),
    sa.CheckConstraint('weight > 0', name=op.f('ck_assessments_weight')),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_assessments_course_id_courses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessments')),
    sa.UniqueConstraint('course_id', 'title', name=op.f('uq_assessments_course_id_title'))
    )
    op.create_index(op.f('ix_assessments_course_id'), 'assessments', ['course_id'], unique=False)
    op.create_table('assessment_results',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assessment_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=8), nullable=False),
    sa.Column('score', sa.Numeric(precision=6, scale=1), nullable=True),
    sa.Column('reason', sa.String(length=255), nullable=True),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('entered_by_id', sa.Integer(), nullable=True),
    sa.Column('entered_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("outcome IN ('scored', 'absent', 'excused')", name=op.f('ck_assessment_results_outcome')),
    sa.CheckConstraint("source IN ('roster', 'import', 'api', 'quiz')", name=op.f('ck_assessment_results_source')),
    sa.CheckConstraint('attempt >= 1', name=op.f('ck_assessment_results_attempt')),
    sa.CheckConstraint("(outcome = 'scored') = (score IS NOT NULL)", name=op.f('ck_assessment_results_score_given')),
    sa.CheckConstraint('score IS NULL OR score >= 0', name=op.f('ck_assessment_results_score')),
    sa.CheckConstraint("outcome <> 'excused' OR reason IS NOT NULL", name=op.f('ck_assessment_results_excused_reason')),
    sa.ForeignKeyConstraint(['assessment_id'], ['assessments.id'], name=op.f('fk_assessment_results_assessment_id_assessments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['entered_by_id'], ['users.id'], name=op.f('fk_assessment_results_entered_by_id_users')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_assessment_results_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessment_results')),
    sa.UniqueConstraint('assessment_id', 'person_id', 'attempt', name=op.f('uq_assessment_results_assessment_id_person_id_attempt'))
    )
    op.create_index('ix_assessment_results_person', 'assessment_results', ['person_id'], unique=False)
    with op.batch_alter_table('enrolments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('passed', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('cohorts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('require_passing', sa.Boolean(), server_default=sa.false(), nullable=False))

    # A course's pass mark becomes its 结业考核, and a stored score that sitting's result.
    conn = op.get_bind()
    courses = conn.execute(
        sa.text('SELECT id, pass_mark, created_at FROM courses WHERE pass_mark IS NOT NULL ORDER BY id')
    ).all()
    assessments = sa.table(
        'assessments', *(sa.column(c) for c in (
            'id', 'course_id', 'position', 'title', 'kind', 'max_score', 'pass_mark', 'weight', 'retake_rule', 'created_at'
        ))
    )
    results = sa.table(
        'assessment_results',
        *(sa.column(c) for c in ('assessment_id', 'person_id', 'attempt', 'outcome', 'score', 'source', 'entered_at')),
    )
    for course_id, pass_mark, created_at in courses:
        assessment_id = conn.execute(
            assessments.insert().values(
                course_id=course_id, position=1, title='结业考核', kind='exam', max_score=100,
                pass_mark=pass_mark, weight=1, retake_rule='best', created_at=created_at,
            ).returning(assessments.c.id)
        ).scalar_one()
        scored = conn.execute(
            sa.text(
                'SELECT person_id, score, updated_at FROM enrolments'
                ' WHERE course_id = :course AND score IS NOT NULL ORDER BY id'
            ),
            {'course': course_id},
        ).all()
        for person_id, score, updated_at in scored:
            conn.execute(results.insert().values(
                assessment_id=assessment_id, person_id=person_id, attempt=1, outcome='scored',
                score=max(0, min(score, 100)), source='import', entered_at=updated_at,
            ))
        conn.execute(
            sa.text(
                'UPDATE enrolments SET passed = (score IS NOT NULL AND score >= :mark)'
                ' WHERE course_id = :course'
            ),
            {'course': course_id, 'mark': pass_mark},
        )

    # The rules are the application's: the standings are recomputed by its code, on this connection.
    from shegong_academy.coverage import standing

    with Session(bind=conn) as session:
        standing.rebuild(session)
        session.flush()


def downgrade():
    with op.batch_alter_table('cohorts', schema=None) as batch_op:
        batch_op.drop_column('require_passing')
    with op.batch_alter_table('enrolments', schema=None) as batch_op:
        batch_op.drop_column('passed')
    op.drop_index('ix_assessment_results_person', table_name='assessment_results')
    op.drop_table('assessment_results')
    op.drop_index(op.f('ix_assessments_course_id'), table_name='assessments')
    op.drop_table('assessments')
