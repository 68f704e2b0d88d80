"""The trainee's page issues the same number of SQL statements for one course or six."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.sql.cache_key import HasCacheKey

from shegong_academy.auth.models import User
from shegong_academy.core.db import utcnow
from shegong_academy.extensions import db
from shegong_academy.org.models import OrgUnit
from shegong_academy.training.models import Course, CourseSession
from shegong_academy.training.services import enrol, record_attendance
from tests.conftest import count_statements
from tests.factories import World, login, person, unit
from tests.training.helpers import course, program, session


def add_courses(app, n: int, start: int) -> None:
    """Enrol the trainee in ``n`` more courses, each of a program of its own unit, with a past and a coming session.

    Every course also brings an open course of another program the trainee may enrol in, so the
    "open for enrolment" list grows too; the units differ so that a lazy load per unit would show.
    """
    with app.app_context():
        trainee = db.session.scalar(select(User).where(User.username == "trainee")).person
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        units = list(db.session.get(OrgUnit, uid) for uid in trainee.unit.path_ids)
        year = utcnow().year
        for i in range(start, start + n):
            unit = units[i % len(units)]
            crs = course(program(unit, title=f"培训班{i}", year=year), code=f"K{i}", title=f"课程{i}")
            past = session(crs, 0, start=datetime(year - 1, 5, 10, 1, 0, tzinfo=UTC) + timedelta(days=i))
            session(crs, 0, start=utcnow() + timedelta(days=10 + i))
            enrol(course=crs, person=trainee, actor=admin)
            record_attendance(session=past, person=trainee, status="present", actor=admin)
            course(program(unit, title=f"开放班{i}", year=year), code=f"O{i}", title=f"开放课程{i}")
        db.session.commit()


def db_is_sqlite(app) -> bool:
    with app.app_context():
        return db.engine.dialect.name == "sqlite"


def registered_trainee(app):
    """The world's trainee, qualified and registered (their page shows the continuing-education account too),
    signed in: their client."""
    with app.app_context():
        w = World()
        w.trainee_person.level, w.trainee_person.certified_on = "assistant", date(2021, 3, 1)
        db.session.commit()
    client = app.test_client()
    assert login(client, "trainee").status_code == 302
    return client


def test_my_page_costs_the_same_statements_for_one_course_or_six(app):
    client = registered_trainee(app)
    add_courses(app, 1, 0)
    client.get("/my/")  # warm: the first use of a connection may run set-up statements
    one = count_statements(app, lambda: client.get("/my/"))
    # the session with its user, roles, person and unit, and the bell's unread count; the enrolments with each
    # course's progress and waitlist place (one statement); hours; coming sessions; open courses; continuing
    # education; notices; and SQLite's BEGIN
    assert one == 7 + db_is_sqlite(app), one
    add_courses(app, 5, 1)
    body = client.get("/my/").get_data(as_text=True)
    assert body.count("/my/courses/") >= 6 and "开放课程5" in body  # all six courses and open courses listed
    assert count_statements(app, lambda: client.get("/my/")) == one


def test_my_page_builds_no_statement_twice(app, monkeypatch):
    """Every statement of the trainee's page is built once per process (app.core.statements), not per visit.

    SQLAlchemy keeps the cache key of a statement object it has seen; a statement built anew on each visit
    has its key computed again, which is the Python cost the prepared statements avoid.
    """
    client = registered_trainee(app)
    add_courses(app, 2, 0)
    assert "/my/courses/" in client.get("/my/").get_data(as_text=True)
    assert client.get("/my/").status_code == 200

    keys = []
    generate = HasCacheKey._generate_cache_key

    def counted(self):
        keys.append(type(self).__name__)
        return generate(self)

    monkeypatch.setattr(HasCacheKey, "_generate_cache_key", counted)
    body = client.get("/my/").get_data(as_text=True)
    assert "继续教育" in body or "Continuing education" in body  # the account's statement ran
    assert keys == []


def test_course_page_and_session_roster_cost_the_same_statements_for_few_people_or_many(app):
    """A person's unit comes with the roster, not one statement per person (people of six communities)."""
    with app.app_context():
        w = World()
        crs = course(program(w.district))
        sess = session(crs, 0)
        ids = (crs.id, sess.id)

        def enrol_people(first: int, n: int) -> None:
            crs, sess = db.session.get(Course, ids[0]), db.session.get(CourseSession, ids[1])
            street = db.session.scalar(select(OrgUnit).where(OrgUnit.code == "330105001"))
            admin = db.session.scalar(select(User).where(User.username == "admin"))
            for i in range(first, first + n):
                community = unit(f"社区{i}", "community", street, code=f"330105001{100 + i}")
                someone = person(community, f"学员{i}")
                enrol(course=crs, person=someone, actor=admin)
                record_attendance(session=sess, person=someone, status="present", actor=admin)
            db.session.commit()

        enrol_people(0, 2)
    client = app.test_client()
    assert login(client, "coord").status_code == 302
    pages = (f"/courses/{ids[0]}", f"/sessions/{ids[1]}")
    for page in pages:
        client.get(page)  # warm
    few = [count_statements(app, lambda page=page: client.get(page)) for page in pages]
    with app.app_context():
        enrol_people(2, 6)
    body = client.get(pages[1]).get_data(as_text=True)
    assert "学员7" in body and "社区7" in body  # the roster shows each person with their unit
    assert [count_statements(app, lambda page=page: client.get(page)) for page in pages] == few
