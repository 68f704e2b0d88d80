"""The demo world, part 1: units and people of PRODUCT.md §4, and its users."""

from __future__ import annotations

from sqlalchemy import func, select

from shegong_academy.auth.models import User
from shegong_academy.extensions import db
from shegong_academy.org.models import OrgUnit
from shegong_academy.org.queries import subtree_ids, unit_by_code
from shegong_academy.people.models import Person
from tests.factories import login


def count_people(unit, *where):
    return db.session.scalar(select(func.count(Person.id)).where(Person.unit_id.in_(subtree_ids(unit)), *where))


def kinds_under(unit, kind):
    return db.session.scalar(
        select(func.count(OrgUnit.id)).where(OrgUnit.id.in_(subtree_ids(unit)), OrgUnit.kind == kind)
    )


def test_gongshu(demo_app):
    with demo_app.app_context():
        gongshu = unit_by_code("330105")
        assert gongshu.name == "拱墅区"
        streets = db.session.scalars(
            select(OrgUnit).where(OrgUnit.parent_id == gongshu.id, OrgUnit.kind == "street")
        ).all()
        assert len(streets) == 18
        assert all(kinds_under(s, "community") > 0 for s in streets)
        assert count_people(gongshu, Person.category == "community_worker") == 2100
        people = db.session.scalars(select(Person).where(Person.unit_id.in_(subtree_ids(gongshu)))).all()
        titles = sorted(t for p in people for t in p.titles)
        assert titles.count("provincial_leader") == 1
        assert titles.count("city_leader") == 3
        assert titles.count("supervisor_assistant") == 8
        assert sum(1 for p in people if p.service_areas) == 69


def test_taicang(demo_app):
    with demo_app.app_context():
        taicang = unit_by_code("320585")
        assert kinds_under(taicang, "centre") == 1
        assert kinds_under(taicang, "station") == 9
        assert kinds_under(taicang, "room") == 157
        assert count_people(taicang, Person.category == "station_worker") == 379
        assert count_people(taicang, Person.level != "none") == 1196


def test_dongsheng(demo_app):
    with demo_app.app_context():
        dongsheng = unit_by_code("150602")
        centres = set(
            db.session.scalars(select(OrgUnit.name).where(OrgUnit.parent_id == dongsheng.id, OrgUnit.kind == "centre"))
        )
        assert centres == {"东胜区社会工作服务中心", "东胜区社会工作培训基地"}
        assert kinds_under(dongsheng, "station") == kinds_under(dongsheng, "street") == 16
        assert count_people(dongsheng) > 0


def test_demo_users_sign_in_with_their_scope(demo_app):
    from shegong_academy.demo.world import DEMO_PASSWORD, DEMO_USERS

    with demo_app.app_context():
        users = {u.username: u for u in db.session.scalars(select(User))}
        assert {u for u, _ in DEMO_USERS} <= set(users)
        assert users["trainee"].person is not None and users["supervisor"].person is not None
    client = demo_app.test_client()
    assert login(client, "gongshu", DEMO_PASSWORD).status_code == 302
    assert "2,100" in client.get("/people/").text
    client = demo_app.test_client()
    login(client, "gongshu-street", DEMO_PASSWORD)
    page = client.get("/people/").text
    assert "2,100" not in page


def test_demo_is_deterministic(demo_app, db_url):
    from shegong_academy.demo.world import load_demo
    from tests.conftest import make_app

    with demo_app.app_context():
        first = [(p.name, p.id_number_hash) for p in db.session.scalars(select(Person).order_by(Person.id).limit(50))]
    other = make_app(db_url)
    with other.app_context():
        load_demo()
        again = [(p.name, p.id_number_hash) for p in db.session.scalars(select(Person).order_by(Person.id).limit(50))]
        db.session.rollback()
        db.engine.dispose()
    assert first == again


def test_demo_training_figures(demo_app):
    from shegong_academy.ledger.queries import Period, training_hours_by_person
    from shegong_academy.training.models import ATTENDED, Attendance, CourseSession, Program

    with demo_app.app_context():
        gongshu = unit_by_code("330105")
        year = Period.year(2022)
        in_gongshu = Person.unit_id.in_(subtree_ids(gongshu))
        person_times = db.session.scalar(
            select(func.count(Attendance.id))
            .join(CourseSession, CourseSession.id == Attendance.session_id)
            .join(Person, Person.id == Attendance.person_id)
            .where(
                Attendance.status.in_(ATTENDED),
                CourseSession.starts_at >= year.start,
                CourseSession.starts_at < year.end,
                in_gongshu,
            )
        )
        assert person_times == 350
        programs = db.session.scalar(
            select(func.count(Program.id)).where(Program.unit_id == gongshu.id, Program.year == 2022)
        )
        assert programs == 3
        trained = db.session.execute(training_hours_by_person(year, select(Person.id).where(in_gongshu))).all()
        assert len(trained) == 69 and all(row.training_hours >= 16 for row in trained)
        dongsheng = unit_by_code("150602")
        in_dongsheng = Person.unit_id.in_(subtree_ids(dongsheng))
        sessions = db.session.scalar(
            select(func.count(CourseSession.id))
            .join(CourseSession.course)
            .join(Program)
            .where(Program.unit_id.in_(subtree_ids(dongsheng)))
        )
        assert sessions == 66
        times = db.session.scalar(
            select(func.count(Attendance.id))
            .join(Person, Person.id == Attendance.person_id)
            .where(Attendance.status.in_(ATTENDED), in_dongsheng)
        )
        assert times >= 7500


def test_the_camp_ends_with_a_final_assessment_all_69_passed(demo_app):
    """Issue 17's demo: a 结业考核 every one of the 69 passed, three of them at the retake, and the camp
    completed by exactly the 69 (attendance and a pass)."""
    from shegong_academy.ledger.queries import completions
    from shegong_academy.training import grading
    from shegong_academy.training.models import Course

    with demo_app.app_context():
        camp = db.session.scalar(select(Course).where(Course.code == "PSW-2022"))
        (final,) = grading.assessments_of(camp.id)
        rows = grading.assessment_roster(final)
        assert len(rows) == 69 and all(r.result.passed and r.enrolment.passed for r in rows)
        retaken = [r for r in rows if r.latest == 2]
        assert len(retaken) == 3 and all(r.sittings[1].score < 60 <= r.sittings[2].score for r in retaken)
        assert all(60 <= r.result.score <= 100 for r in rows)
        finished = {pid for pid, cid in db.session.execute(completions(None)) if cid == camp.id}
        assert finished == {r.person.id for r in rows}


def test_the_camp_has_a_satisfaction_survey_with_results(demo_app):
    from shegong_academy.training import evaluation
    from shegong_academy.training.models import Course

    with demo_app.app_context():
        camp = db.session.scalar(select(Course).where(Course.code == "PSW-2022"))
        results = evaluation.results(camp)
        assert results.shown and (results.responses, results.seated) == (64, 69)
        assert all(4 <= r["average"] <= 5 for r in results.ratings.values()), results.ratings
        assert 10 <= len(results.comments["comments"]) <= 30
