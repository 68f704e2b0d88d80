"""Real concurrency: twenty threads, each with its own app context, session and database connection.

Every thread waits at a barrier and then runs the same service (or API call)
at the same moment; the database alone keeps capacity, the waitlist order
and the one-record-per-scan rule. Runs on SQLite (BEGIN IMMEDIATE, WAL, busy
timeout) and on PostgreSQL (``TEST_DATABASE_URL``).
"""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from shegong_academy.audit.models import AuditEntry
from shegong_academy.auth.services import create_api_token
from shegong_academy.core.domain import Conflict, NotFound
from shegong_academy.extensions import db
from shegong_academy.ledger.models import PersonMonth
from shegong_academy.ledger.queries import Period, person_hours
from shegong_academy.people.models import Person
from shegong_academy.training.checkin import make_token
from shegong_academy.training.models import Attendance, Course, CourseSession, Enrolment
from shegong_academy.training.services import check_in, enrol, withdraw
from tests.conftest import make_app
from tests.factories import World, person, user
from tests.training.helpers import T0, course, program, session

N = 20


@pytest.fixture
def capp(db_url):
    """An app whose pool holds a connection for every thread, so that all twenty really run at once."""
    app = make_app(db_url, SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True, "pool_size": N + 5, "max_overflow": 0})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def together(app, work, n: int = N) -> list:
    """Run ``work(i)`` in ``n`` threads released at one moment; return each result or the exception raised.

    Each thread has its own app context (so its own session and connection),
    touches the database only after the barrier (a SQLite transaction begun
    before it would hold the write lock while the others wait) and removes its
    session at the end.
    """
    with app.app_context():  # open the connections beforehand so no thread waits for a connect
        connections = [db.engine.connect() for _ in range(n)]
        for connection in connections:
            connection.close()
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=60)
                results[i] = work(i)
            except Exception as exc:  # reported to the test, never to the thread hook
                db.session.rollback()
                results[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,), name=f"worker-{i}") for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a worker is stuck"
    return results


def unexpected(results, *allowed: type) -> list:
    return [r for r in results if isinstance(r, BaseException) and not isinstance(r, allowed)]


@pytest.fixture
def world(capp):
    """拱墅区 with an open course of capacity 5, one session, and twenty trainees with accounts in 和睦社区."""
    with capp.app_context():
        w = World()
        crs = course(program(w.district), capacity=5)
        sess = session(crs)
        people = [person(w.community, f"学员{i:02d}") for i in range(N)]
        users = [user(f"trainee{i:02d}", "trainee", w.community, person=p) for i, p in enumerate(people)]
        ids = {
            "course": crs.id,
            "session": sess.id,
            "people": [p.id for p in people],
            "users": [u.id for u in users],
            "coord": create_api_token(user=w.coord),
        }
        db.session.commit()
        return ids


def self_enrol(course_id: int, person_id: int):
    from shegong_academy.auth.models import User

    crs = db.session.get(Course, course_id)
    who = db.session.get(Person, person_id)
    actor = db.session.scalar(select(User).where(User.person_id == person_id))
    enrolment = enrol(course=crs, person=who, actor=actor, self_service=True)
    result = (enrolment.person_id, enrolment.status, enrolment.waitlist_position)
    db.session.commit()
    return result


def enrolments(course_id: int) -> dict[int, tuple[str, int | None]]:
    rows = db.session.scalars(select(Enrolment).where(Enrolment.course_id == course_id))
    return {e.person_id: (e.status, e.waitlist_position) for e in rows}


def test_twenty_self_enrolments_into_five_seats(capp, world):
    course_id, people = world["course"], world["people"]
    results = together(capp, lambda i: self_enrol(course_id, people[i]))
    assert unexpected(results) == []
    statuses = sorted(status for _, status, _ in results)
    assert statuses == ["enrolled"] * 5 + ["waitlisted"] * 15
    with capp.app_context():
        rows = enrolments(course_id)
        assert len(rows) == N
        assert sum(1 for s, _ in rows.values() if s == "enrolled") == 5
        positions = sorted(p for s, p in rows.values() if s == "waitlisted")
        assert positions == list(range(1, 16))  # distinct, without gaps
        assert all(p is None for s, p in rows.values() if s == "enrolled")
        # what each thread was told is what the database holds
        assert {pid: (s, p) for pid, s, p in results} == rows
        crs = db.session.get(Course, course_id)
        assert (crs.seats_taken, crs.waitlist_seq) == (5, 15)

        # a withdrawal promotes number 1 in line at once
        first_in_line = next(pid for pid, (s, p) in rows.items() if p == 1)
        leaving = next(pid for pid, (s, _) in rows.items() if s == "enrolled")
        promoted = withdraw(course=crs, person=db.session.get(Person, leaving), actor=None, self_service=True)
        db.session.commit()
        assert promoted.person_id == first_in_line
        rows = enrolments(course_id)
        assert rows[first_in_line] == ("enrolled", None) and rows[leaving] == ("withdrawn", None)
        assert db.session.get(Course, course_id).seats_taken == 5


def test_five_simultaneous_withdrawals_promote_the_first_five_in_line(capp, world):
    course_id, people = world["course"], world["people"]
    with capp.app_context():
        crs = db.session.get(Course, course_id)
        for pid in people:  # in order: the first five take the seats, the others wait as 1..15
            enrol(course=crs, person=db.session.get(Person, pid), actor=None, self_service=True)
        db.session.commit()
    seated, waiting = people[:5], people[5:]

    def leave(i: int):
        crs = db.session.get(Course, course_id)
        promoted = withdraw(course=crs, person=db.session.get(Person, seated[i]), actor=None, self_service=True)
        result = promoted.person_id if promoted else None
        db.session.commit()
        return result

    results = together(capp, leave, n=5)
    assert unexpected(results) == []
    assert sorted(results) == sorted(waiting[:5])  # each withdrawal promoted a different person
    with capp.app_context():
        rows = enrolments(course_id)
        assert [rows[p][0] for p in seated] == ["withdrawn"] * 5
        assert [rows[p] for p in waiting[:5]] == [("enrolled", None)] * 5
        assert [rows[p] for p in waiting[5:]] == [("waitlisted", n) for n in range(6, 16)]
        assert db.session.get(Course, course_id).seats_taken == 5


@pytest.mark.parametrize("full", [False, True], ids=["seats-free", "course-full"])
def test_twenty_enrolments_of_the_same_person_make_one(capp, world, full):
    course_id, people = world["course"], world["people"]
    if full:
        with capp.app_context():
            crs = db.session.get(Course, course_id)
            for pid in people[1:6]:
                enrol(course=crs, person=db.session.get(Person, pid), actor=None)
            db.session.commit()
    results = together(capp, lambda i: self_enrol(course_id, people[0]))
    assert unexpected(results, Conflict) == []
    conflicts = [r for r in results if isinstance(r, Conflict)]
    done = [r for r in results if not isinstance(r, BaseException)]
    assert len(done) == 1 and len(conflicts) == N - 1
    assert done[0] == ((people[0], "waitlisted", 1) if full else (people[0], "enrolled", None))
    with capp.app_context():
        count = db.session.scalar(select(func.count()).where(Enrolment.person_id == people[0]))
        assert count == 1
        crs = db.session.get(Course, course_id)
        assert (crs.seats_taken, crs.waitlist_seq) == ((5, 1) if full else (1, 0))  # refused attempts gave back


def test_twenty_re_enrolments_after_a_withdrawal_make_one(capp, world):
    """The person's withdrawn row is reused: only one of the twenty may flip it back and take a seat."""
    course_id, people = world["course"], world["people"]
    with capp.app_context():
        crs = db.session.get(Course, course_id)
        enrol(course=crs, person=db.session.get(Person, people[0]), actor=None)
        withdraw(course=crs, person=db.session.get(Person, people[0]), actor=None)
        db.session.commit()
    results = together(capp, lambda i: self_enrol(course_id, people[0]))
    assert unexpected(results, Conflict) == []
    assert [r for r in results if not isinstance(r, Conflict)] == [(people[0], "enrolled", None)]
    with capp.app_context():
        assert enrolments(course_id) == {people[0]: ("enrolled", None)}
        assert db.session.get(Course, course_id).seats_taken == 1


def test_twenty_withdrawals_of_the_same_person_free_one_seat(capp, world):
    """A double-clicked withdrawal frees one seat and promotes one person, never two."""
    course_id, people = world["course"], world["people"]
    with capp.app_context():
        crs = db.session.get(Course, course_id)
        for pid in people[:8]:  # five seated, three waiting
            enrol(course=crs, person=db.session.get(Person, pid), actor=None)
        db.session.commit()

    def leave(i: int):
        crs = db.session.get(Course, course_id)
        promoted = withdraw(course=crs, person=db.session.get(Person, people[0]), actor=None, self_service=True)
        result = promoted.person_id if promoted else None
        db.session.commit()
        return result

    results = together(capp, leave)
    assert unexpected(results, NotFound) == []
    assert [r for r in results if not isinstance(r, NotFound)] == [people[5]]  # one withdrawal, number 1 promoted
    with capp.app_context():
        rows = enrolments(course_id)
        assert rows[people[0]] == ("withdrawn", None)
        assert sum(1 for s, _ in rows.values() if s == "enrolled") == 5
        assert [rows[p] for p in people[5:8]] == [("enrolled", None), ("waitlisted", 2), ("waitlisted", 3)]
        assert db.session.get(Course, course_id).seats_taken == 5


def test_withdrawals_and_enrolments_at_once_never_jump_the_queue(capp, world):
    """Ten leave (five seated, numbers 1-5 in line) while ten newcomers enrol, all at once.

    The seats go to numbers 6-10 in line, whatever the order; newcomers only ever join the back.
    """
    course_id, people = world["course"], world["people"]
    with capp.app_context():
        crs = db.session.get(Course, course_id)
        for pid in people:
            enrol(course=crs, person=db.session.get(Person, pid), actor=None)
        community = db.session.get(Person, people[0]).unit
        newcomers = [person(community, f"新学员{i}").id for i in range(10)]
        db.session.commit()

    def work(i: int):
        if i < 10:
            crs = db.session.get(Course, course_id)
            withdraw(course=crs, person=db.session.get(Person, people[i]), actor=None, self_service=True)
            db.session.commit()
            return "withdrawn"
        return self_enrol(course_id, newcomers[i - 10])[1]

    results = together(capp, work)
    assert unexpected(results) == []
    assert sorted(results) == ["waitlisted"] * 10 + ["withdrawn"] * 10
    with capp.app_context():
        rows = enrolments(course_id)
        assert {pid for pid, (s, _) in rows.items() if s == "enrolled"} == set(people[10:15])
        assert all(rows[pid] == ("withdrawn", None) for pid in people[:10])
        assert [rows[pid] for pid in people[15:]] == [("waitlisted", n) for n in range(11, 16)]
        assert sorted(rows[pid][1] for pid in newcomers) == list(range(16, 26))
        assert db.session.get(Course, course_id).seats_taken == 5


def test_twenty_api_enrolments_at_once(capp, world):
    """The same through the API: separate requests, each its own session; 201s and 409s, never over capacity."""
    course_id, people, token = world["course"], world["people"], world["coord"]
    headers = {"Authorization": f"Bearer {token}"}
    url = f"/api/v1/courses/{course_id}/enrolments"

    def post(i: int):
        client = capp.test_client()
        # people[0] three times over: two of those must be 409
        pid = people[0] if i < 3 else people[i]
        r = client.post(url, json={"person_id": pid}, headers=headers)
        return r.status_code, r.json

    results = together(capp, post)
    assert unexpected(results) == []
    codes = sorted(code for code, _ in results)
    assert codes == [201] * 18 + [409] * 2
    assert all(body["status"] == 409 and body["title"] == "Conflict" for code, body in results if code == 409)
    statuses = sorted(body["status"] for code, body in results if code == 201)
    assert statuses == ["enrolled"] * 5 + ["waitlisted"] * 13
    with capp.app_context():
        rows = enrolments(course_id)
        assert len(rows) == 18
        assert sorted(p for s, p in rows.values() if s == "waitlisted") == list(range(1, 14))
        crs = db.session.get(Course, course_id)
        assert (crs.seats_taken, crs.waitlist_seq) == (5, 13)


def _enrol_all(capp, world, people):
    with capp.app_context():
        crs = db.session.get(Course, world["course"])
        crs.capacity = None
        for pid in people:
            enrol(course=crs, person=db.session.get(Person, pid), actor=None)
        db.session.commit()


def scan(session_id: int, person_id: int, token: str, now):
    created = check_in(
        session=db.session.get(CourseSession, session_id),
        person=db.session.get(Person, person_id),
        token=token,
        now=now,
    )
    db.session.commit()
    return created


def test_twenty_check_ins_of_one_person_make_one_record(capp, world):
    pid, session_id = world["people"][0], world["session"]
    _enrol_all(capp, world, [pid])
    now = T0 + timedelta(minutes=5)
    with capp.app_context():  # the token's key comes from the app's secret
        token = make_token(session_id, now)
    results = together(capp, lambda i: scan(session_id, pid, token, now))
    assert unexpected(results) == []
    assert sorted(results) == [False] * (N - 1) + [True]  # exactly one scan wrote the record
    with capp.app_context():
        rows = db.session.scalars(select(Attendance)).all()
        assert [(a.person_id, a.status, a.method) for a in rows] == [(pid, "present", "qr")]
        audited = db.session.scalars(select(AuditEntry.after).where(AuditEntry.action == "attendance.qr")).all()
        assert audited == [{"person_id": pid, "status": "present", "method": "qr"}]  # one entry, like the row
        hours = person_hours(pid, Period.year(2022))
        assert (hours.training_hours, hours.sessions_attended) == (Decimal("3.0"), 1)
        rollup = db.session.scalars(select(PersonMonth).where(PersonMonth.person_id == pid)).all()
        assert [(r.month, Decimal(r.training_hours), r.training_sessions) for r in rollup] == [
            (202205, Decimal("3.0"), 1)
        ]


def test_twenty_check_ins_of_twenty_people(capp, world):
    people, session_id = world["people"], world["session"]
    _enrol_all(capp, world, people)
    now = T0 + timedelta(minutes=15)  # after the late threshold
    with capp.app_context():  # the token's key comes from the app's secret
        token = make_token(session_id, now)
    results = together(capp, lambda i: scan(session_id, people[i], token, now))
    assert unexpected(results) == []
    assert results == [True] * N
    with capp.app_context():
        rows = db.session.scalars(select(Attendance)).all()
        assert sorted(a.person_id for a in rows) == sorted(people)
        assert {a.status for a in rows} == {"late"}
        for pid in people:
            assert person_hours(pid, Period.year(2022)).training_hours == Decimal("3.0")
        assert db.session.scalar(select(func.sum(PersonMonth.training_sessions))) == N


def test_twenty_identical_cohorts_at_once_make_one(capp, world):
    """A retried POST racing itself: every request passes the name check before any commits, so on
    PostgreSQL the unique constraint decides. One 201, the rest 409 problem details, never a 500."""
    from shegong_academy.coverage.models import Cohort

    headers = {"Authorization": f"Bearer {world['coord']}", "Accept-Language": "zh-CN"}
    body = {"name": "2026年全员轮训", "unit_code": "330105", "year": 2026, "category": "community_worker"}

    def post(i: int):
        r = capp.test_client().post("/api/v1/cohorts", json=body, headers=headers)
        return r.status_code, r.json

    results = together(capp, post)
    assert unexpected(results) == []
    assert sorted(code for code, _ in results) == [201] + [409] * (N - 1)
    assert all(b["title"] == "冲突" and b["status"] == 409 for code, b in results if code == 409)
    # The service's check answers the late ones; on PostgreSQL those that passed it together meet the constraint.
    assert {b["detail"] for code, b in results if code == 409} <= {
        "拱墅区 在 2026 年已有名为“2026年全员轮训”的对象组。",
        "有人同时修改了此内容，请刷新后重试。",
    }
    with capp.app_context():
        assert db.session.scalar(select(func.count()).select_from(Cohort)) == 1


def test_check_ins_while_the_cohort_is_corrected_keep_every_standing(capp, world):
    """Half the threads check people in (each refreshes its person's standing in the district's cohort), half
    correct the cohort's rule (each recomputes every member's standing) at the same moment: no key violation,
    no deadlock, and the kept standings equal the rule evaluated afterwards."""
    from shegong_academy.coverage import standing
    from shegong_academy.coverage.models import Cohort
    from shegong_academy.coverage.services import create_cohort, update_cohort

    people, session_id = world["people"], world["session"]
    _enrol_all(capp, world, people)
    with capp.app_context():
        district = db.session.get(Person, people[0]).unit.parent.parent
        cohort_id = create_cohort(
            data={"name": "2022年全员轮训", "year": 2022, "category": "community_worker"}, unit=district, actor=None
        ).id
        db.session.commit()
        assert set(people) <= set(standing.stored(db.session.get(Cohort, cohort_id)))  # and the world's own
    now = T0 + timedelta(minutes=5)
    with capp.app_context():
        token = make_token(session_id, now)

    def work(i: int):
        if i % 2:
            return scan(session_id, people[i], token, now)
        cohort = db.session.get(Cohort, cohort_id)
        update_cohort(cohort=cohort, data={"min_training_hours": str(1 + i)}, actor=None)
        db.session.commit()
        return None

    results = together(capp, work)
    assert unexpected(results) == []
    with capp.app_context():
        cohort = db.session.get(Cohort, cohort_id)
        kept = standing.stored(cohort)
        assert kept == standing.computed(cohort)
        assert sum(trained for trained, *_ in kept.values()) == (N // 2 if cohort.min_training_hours <= 3 else 0)


# ---------------------------------------------------------------- issue 17: once-only writes under concurrency


@pytest.fixture
def assessed(capp, world, tmp_path):
    """The world's course with the quizzed content, a quiz assessment, and 学员00 holding a seat."""
    from shegong_academy.training import grading
    from shegong_academy.training.content import sync_content
    from tests.training.test_quiz import QUIZ_YAML, write_content

    with capp.app_context():
        sync_content(write_content(tmp_path, QUIZ_YAML))
        crs = db.session.get(Course, world["course"])
        crs.content_slug = "quizzed"
        who = db.session.get(Person, world["people"][0])
        enrol(course=crs, person=who, actor=None)
        quiz_assessment = grading.create_assessment(
            course=crs, data={"title": "在线测验", "kind": "quiz", "pass_mark": 60}, actor=None
        )
        exam = grading.create_assessment(course=crs, data={"title": "结业考核", "pass_mark": 60}, actor=None)
        db.session.commit()
        return {"course": crs.id, "person": who.id, "quiz": quiz_assessment.id, "exam": exam.id}


def test_twenty_answers_of_one_person_to_an_evaluation_keep_one(capp, assessed):
    """A double-clicked (or scripted) answer: one receipt, one answer; the others are told they answered."""
    from sqlalchemy.exc import IntegrityError

    from shegong_academy.training import evaluation
    from shegong_academy.training.models import EvaluationReceipt, EvaluationResponse

    answers = {"content": 5, "instructor": 5, "organisation": 4, "overall": 5}
    later = T0 + timedelta(days=1)

    def answer(i):
        evaluation.respond(
            course=db.session.get(Course, assessed["course"]),
            person_id=assessed["person"],
            answers={**answers, "comments": f"第{i}次"},
            now=later,
            today=later.date(),
        )
        db.session.commit()
        return "answered"

    results = together(capp, answer)
    assert unexpected(results, Conflict, IntegrityError) == []
    assert results.count("answered") == 1
    with capp.app_context():
        assert db.session.scalar(select(func.count()).select_from(EvaluationResponse)) == 1
        assert db.session.scalar(select(func.count()).select_from(EvaluationReceipt)) == 1


def test_twenty_starts_of_one_quiz_deal_one_sitting(capp, assessed):
    """Twenty taps on "take the quiz" at once: one sitting, which every tap that succeeds resumes."""
    from sqlalchemy.exc import IntegrityError

    from shegong_academy.training import quiz
    from shegong_academy.training.models import Assessment, QuizAttempt

    def start(_i):
        sitting = quiz.start(
            assessment=db.session.get(Assessment, assessed["quiz"]), person_id=assessed["person"], now=T0
        )
        db.session.commit()
        return sitting.id

    results = together(capp, start)
    assert unexpected(results, IntegrityError) == []
    ids = {r for r in results if isinstance(r, int)}
    with capp.app_context():
        assert db.session.scalar(select(func.count()).select_from(QuizAttempt)) == 1
        assert ids == {db.session.scalar(select(QuizAttempt.id))}


def test_twenty_coordinators_saving_one_sitting_keep_one_result(capp, assessed):
    """The same sitting saved from twenty rosters at once: one result row, its score one of those sent."""
    from sqlalchemy.exc import IntegrityError

    from shegong_academy.training import grading
    from shegong_academy.training.models import Assessment, AssessmentResult

    def save(i):
        grading.save_results(
            assessment=db.session.get(Assessment, assessed["exam"]),
            entries=[grading.Entry(assessed["person"], 1, "scored", 60 + i)],
            actor=None,
            source="roster",
        )
        db.session.commit()
        return 60 + i

    results = together(capp, save)
    assert unexpected(results, IntegrityError) == []
    with capp.app_context():
        rows = db.session.scalars(select(AssessmentResult)).all()
        assert len(rows) == 1 and rows[0].attempt == 1
        assert int(rows[0].score) in [r for r in results if isinstance(r, int)]
