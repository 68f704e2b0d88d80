"""Lesson progress: the lessons of a course's content a person has done.

A trainee marks a lesson done from its page (or the page marks it when read to the end), and may take
the mark back. Progress belongs to the content and the lesson's position, so two courses teaching the
same content share it, and re-syncing the content keeps it. Marks are the trainee's own notes of their
reading: they change no hours, completion or coverage figure, and are not audited.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, func, select

from ..core.db import upsert, utcnow
from ..extensions import db
from .models import CourseContent, Lesson, LessonProgress


def mark_lesson(*, person_id: int, lesson: Lesson, done: bool) -> bool:
    """Mark the lesson done (or not) for the person; return whether anything changed (flushes)."""
    key = (
        LessonProgress.person_id == person_id,
        LessonProgress.content_id == lesson.content_id,
        LessonProgress.position == lesson.position,
    )
    if not done:
        return bool(db.session.execute(delete(LessonProgress).where(*key)).rowcount)
    stmt = upsert(db.session, LessonProgress).values(
        person_id=person_id, content_id=lesson.content_id, position=lesson.position, done_at=utcnow()
    )
    # Two tabs reading to the end at once: the second changes nothing.
    stmt = stmt.on_conflict_do_nothing(index_elements=["person_id", "content_id", "position"])
    return bool(db.session.execute(stmt.returning(LessonProgress.position)).all())


def lessons_done(person_id: int, content: CourseContent) -> set[int]:
    """The positions of the content's lessons the person has done."""
    return set(
        db.session.scalars(
            select(LessonProgress.position).where(
                LessonProgress.person_id == person_id,
                LessonProgress.content_id == content.id,
                LessonProgress.position <= len(content.lessons),
            )
        )
    )


def done_counts(content: CourseContent, person_ids: Iterable[int]) -> dict[int, int]:
    """{person: lessons of the content done} (one statement; lessons no longer in the content not counted)."""
    ids = list(person_ids)
    if not ids:
        return {}
    return dict(
        db.session.execute(
            select(LessonProgress.person_id, func.count())
            .where(
                LessonProgress.content_id == content.id,
                LessonProgress.person_id.in_(ids),
                LessonProgress.position <= len(content.lessons),
            )
            .group_by(LessonProgress.person_id)
        ).all()
    )
