"""The training pages through the Flask test client: forms for programs, courses and sessions,
enrolment and the waitlist, the roster, the QR code and check-in, attendance import, the trainee's
pages and lessons, ``lms content sync``, and who may open what.

Every request speaks English (Accept-Language: en) so the messages can be matched.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html import unescape
from io import BytesIO
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlparse

import pytest
import segno
from sqlalchemy import func, select

import shegong_academy.training.services as training_services
from shegong_academy.audit.models import AuditEntry
from shegong_academy.auth.models import User
from shegong_academy.core.db import utcnow
from shegong_academy.extensions import db
from shegong_academy.org.models import OrgUnit
from shegong_academy.people.models import Person
from shegong_academy.training.checkin import make_token, token_is_fresh
from shegong_academy.training.models import Attendance, Course, CourseContent, CourseSession, Enrolment, Lesson, Program
from shegong_academy.training.services import enrol, record_attendance
from tests.factories import World, forged, id_number, login, person, user
from tests.training.helpers import course, program, session

UNITS = ("province", "city", "district", "street", "street2", "community", "other", "other_street")
PEOPLE = ("person", "person2", "outsider", "trainee_person")
USERS = ("admin", "coord", "street_coord", "coord_out", "trainee")


class Site:
    """The app, the World by id, and English-speaking clients signed in as its users."""

    def __init__(self, app):
        self.app = app
        with app.app_context():
            w = World()
            self.ids = {name: getattr(w, name).id for name in UNITS + PEOPLE + USERS}

    @contextmanager
    def world(self):
        """An app context with the World's rows loaded again; commits at the end."""
        models = {**dict.fromkeys(UNITS, OrgUnit), **dict.fromkeys(PEOPLE, Person), **dict.fromkeys(USERS, User)}
        with self.app.app_context():
            yield SimpleNamespace(**{name: db.session.get(model, self.ids[name]) for name, model in models.items()})
            db.session.commit()

    def client(self, username: str | None = None):
        client = self.app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
        if username:
            assert login(client, username).status_code == 302
        return client

    def count(self, model, *where) -> int:
        with self.app.app_context():
            return db.session.scalar(select(func.count()).select_from(model).where(*where))

    def token(self, session_id: int, when: datetime | None = None) -> str:
        """The check-in code shown on the projector at ``when`` (default: now)."""
        with self.app.app_context():
            return make_token(session_id, when or utcnow())


@pytest.fixture
def site(app):
    return Site(app)


def page(r) -> str:
    return unescape(r.get_data(as_text=True))


def flashes(r) -> list[tuple[str, str]]:
    """(category, message) of the flash messages on a page."""
    return [(c, unescape(m)) for c, m in re.findall(r'<div class="flash flash-(\w+)"[^>]*>(.*?)</div>', r.text)]


def field_errors(r) -> list[str]:
    return [unescape(m) for m in re.findall(r'<p class="error">(.*?)</p>', r.text)]


def sessions_on(site: Site, course_id: int) -> int:
    return site.count(CourseSession, CourseSession.course_id == course_id)


@contextmanager
def nothing_written(site: Site, *models):
    before = {m: site.count(m) for m in models}
    yield
    assert {m: site.count(m) for m in models} == before


# --- programs and courses through the forms -------------------------------------------------------------------

PROGRAM = {
    "title": "新任社工能力提升班",
    "kind": "class",
    "tier": "新任",
    "year": "2024",
    "starts_on": "2024-03-01",
    "ends_on": "2024-03-05",
    "audience": "入职一年内的社区工作者",
}


def test_create_program_through_the_form(site):
    c = site.client("coord")
    r = c.get("/programs/new")
    assert r.status_code == 200
    offered = {int(v) for v in re.findall(r'<option[^>]*value="(\d+)"', r.text)}
    assert site.ids["district"] in offered and site.ids["street"] in offered
    assert site.ids["other"] not in offered and site.ids["city"] not in offered

    r = c.post("/programs/new", data={**PROGRAM, "unit_id": site.ids["district"]})
    assert r.status_code == 302, field_errors(r)
    with site.world():
        prog = db.session.scalars(select(Program)).one()
        assert r.location.endswith(f"/programs/{prog.id}")
        assert (prog.title, prog.kind, prog.tier, prog.year, prog.unit_id) == (
            "新任社工能力提升班",
            "class",
            "新任",
            2024,
            site.ids["district"],
        )
        assert str(prog.starts_on) == "2024-03-01" and prog.audience == "入职一年内的社区工作者"
    r = c.get(r.location)
    assert r.status_code == 200 and "新任社工能力提升班" in page(r)


@pytest.mark.parametrize(
    ("changes", "messages"),
    [
        ({"title": "", "year": "1999"}, ["This field is required.", "Number must be between 2000 and 2100."]),
        ({"year": "0"}, ["Number must be between 2000 and 2100."]),  # a typed 0 is not "required"
        ({"ends_on": "2024-02-01"}, ["The end date is before the start date."]),  # refused by the service
        ({"kind": "party"}, ["Not a valid choice."]),
        ({"unit_id": "other"}, ["Not a valid choice."]),  # a unit outside the coordinator's district
    ],
)
def test_invalid_program_re_renders_with_messages_and_writes_nothing(site, changes, messages):
    c = site.client("coord")
    data = {**PROGRAM, "unit_id": site.ids["district"], **changes}
    if data["unit_id"] == "other":
        data["unit_id"] = site.ids["other"]
    with nothing_written(site, Program):
        r = c.post("/programs/new", data=data)
    assert r.status_code == 200
    assert field_errors(r) == messages
    assert 'value="新任社工能力提升班"' in page(r) or not data["title"]  # what was typed is kept


COURSE = {
    "code": "SW101",
    "title": "社会工作专业理念与方法",
    "hours": "12",
    "capacity": "",
    "policy": "open",
    "min_attendance": "80",  # percent, as the course page shows it
    "pass_mark": "",
    "content_slug": "",
}


@pytest.fixture
def program_id(site):
    with site.world() as w:
        return program(w.district).id


def test_a_programs_tier_reads_in_the_pages_language(site, program_id):
    """A tier is kept as the bureaus write it (骨干) and named in English on the English pages: the programs
    list, a program's page and the program form's options (whose values stay 骨干)."""
    c = site.client("coord")
    for path in ("/programs/?year=2022", f"/programs/{program_id}"):
        english = page(c.get(path, headers={"Accept-Language": "en"}))
        assert "Core staff" in english and "骨干" not in english, path
        assert "骨干" in page(c.get(path, headers={"Accept-Language": "zh-CN"})), path
    form = page(c.get(f"/programs/{program_id}/edit", headers={"Accept-Language": "en"}))
    assert re.search(r'<option selected value="骨干">Core staff</option>', form), form


def test_create_course_through_the_form(site, program_id):
    c = site.client("coord")
    assert c.get(f"/programs/{program_id}/courses/new").status_code == 200
    r = c.post(f"/programs/{program_id}/courses/new", data={**COURSE, "capacity": "30", "pass_mark": "60"})
    assert r.status_code == 302, field_errors(r)
    with site.world():
        crs = db.session.scalars(select(Course)).one()
        assert r.location.endswith(f"/courses/{crs.id}")
        assert (crs.program_id, crs.code, crs.hours, crs.capacity, crs.policy, crs.pass_mark) == (
            program_id,
            "SW101",
            Decimal("12"),
            30,
            "open",
            60,
        )
        assert crs.min_attendance == Decimal("0.8") and crs.content_slug is None
    r = c.get(r.location)
    assert r.status_code == 200 and "社会工作专业理念与方法" in page(r)
    # The program page lists it.
    assert "SW101" in page(c.get(f"/programs/{program_id}"))


@pytest.mark.parametrize(
    ("changes", "stored"),
    [
        ({"hours": "0.1"}, {"hours": Decimal("0.1")}),
        ({"min_attendance": "1"}, {"min_attendance": Decimal("0.01")}),  # the form's percent, the share kept
        ({"min_attendance": "100"}, {"min_attendance": Decimal("1")}),
        ({"hours": "200"}, {"hours": Decimal("200")}),
    ],
)
def test_a_course_form_accepts_the_bounds_it_states(site, program_id, changes, stored):
    """The bounds are Decimals: against the float 0.1, Decimal("0.1") counts as smaller and was refused."""
    r = site.client("coord").post(f"/programs/{program_id}/courses/new", data={**COURSE, **changes})
    assert r.status_code == 302, field_errors(r)
    with site.world():
        crs = db.session.scalars(select(Course)).one()
        assert {k: getattr(crs, k) for k in changes} == stored


@pytest.mark.parametrize(
    ("changes", "messages"),
    [
        ({"hours": "0"}, ["Number must be between 0.1 and 200."]),
        ({"code": "", "title": ""}, ["This field is required.", "This field is required."]),
        ({"policy": "lottery"}, ["Not a valid choice."]),
        ({"min_attendance": "150"}, ["Number must be between 1 and 100."]),
        ({"min_attendance": "0.8"}, ["Number must be between 1 and 100."]),  # a share typed for a percent
        ({"capacity": "0"}, ["Number must be between 1 and 100000."]),
        ({"code": "TAKEN"}, ["Already used."]),  # refused by the service: the program has it already
        ({"hours": "sNaN"}, ["Not a valid decimal value."]),  # was a 500 (math.isnan raises on sNaN)
        ({"hours": "NaN"}, ["Not a valid decimal value."]),
        ({"hours": "-Infinity"}, ["Not a valid decimal value."]),
        ({"min_attendance": "sNaN"}, ["Not a valid decimal value."]),
        ({"hours": "0.04"}, ["Number must be between 0.1 and 200."]),
        ({"hours": "1E+999999"}, ["Number must be between 0.1 and 200."]),
        ({"hours": "abc"}, ["Not a valid decimal value."]),  # once, without a range message on top
        # the form's and the service's problems at once, not the code's on the next try
        ({"code": "TAKEN", "min_attendance": "0"}, ["Already used.", "Number must be between 1 and 100."]),
        ({"code": "TAKEN", "hours": "0"}, ["Already used.", "Number must be between 0.1 and 200."]),
    ],
)
def test_invalid_course_re_renders_with_messages_and_writes_nothing(site, program_id, changes, messages):
    with site.world():
        course(db.session.get(Program, program_id), code="TAKEN")
    c = site.client("coord")
    with nothing_written(site, Course):
        r = c.post(f"/programs/{program_id}/courses/new", data={**COURSE, **changes})
    assert r.status_code == 200
    assert field_errors(r) == messages
    if changes == {"code": "TAKEN"}:  # the service's refusal alone (with the form's, the form marks its own)
        assert flashes(r) == [("error", "Please correct the marked fields.")]


# --- sessions, enrolment, waitlist ----------------------------------------------------------------------------


@pytest.fixture
def course_id(site, program_id):
    with site.world():
        return course(db.session.get(Program, program_id), capacity=None).id


def session_form(**changes) -> dict:
    data = {
        "session-starts_at": "2022-05-10T09:00",
        "session-ends_at": "2022-05-10T12:00",
        "session-hours": "3",
        "session-mode": "onsite",
        "session-place": "拱墅区社工站",
    }
    return {**data, **{f"session-{k}": v for k, v in changes.items()}}


def test_add_session_from_the_course_page(site, course_id):
    c = site.client("coord")
    r = c.get(f"/courses/{course_id}")
    assert r.status_code == 200 and f'action="/courses/{course_id}/sessions"' in r.text
    r = c.post(f"/courses/{course_id}/sessions", data=session_form(), follow_redirects=True)
    assert flashes(r) == [("success", "Session added.")]
    with site.world():
        sess = db.session.scalars(select(CourseSession)).one()
        # The form's times are Beijing time.
        assert sess.starts_at == datetime(2022, 5, 10, 1, 0, tzinfo=UTC)
        assert sess.ends_at == datetime(2022, 5, 10, 4, 0, tzinfo=UTC)
        assert (sess.hours, sess.mode, sess.place) == (Decimal("3"), "onsite", "拱墅区社工站")
    assert "2022-05-10 09:00 – 12:00" in page(r)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"ends_at": "2022-05-10T08:00"}, "ends_at", "The end is not after the start."),
        ({"ends_at": "2022-05-11T12:00"}, "ends_at", "A session lasts at most 24 hours."),
        ({"starts_at": ""}, "starts_at", "This field is required."),
        ({"hours": "30"}, "hours", "Number must be between 0.1 and 24."),
        ({"hours": "0"}, "hours", "Number must be between 0.1 and 24."),
    ],
)
def test_an_invalid_session_shows_the_form_again_with_its_input_and_writes_nothing(
    site, course_id, changes, field, message
):
    c = site.client("coord")
    with nothing_written(site, CourseSession):
        r = c.post(f"/courses/{course_id}/sessions", data=session_form(place="湖墅街道社工站 2 楼", **changes))
    assert r.status_code == 422
    [(category, _text)] = flashes(r)
    assert category == "error"
    form = r.text.split('id="add-session" open>', 1)[1].split("</form>", 1)[0]  # the form is open again
    marked = re.search(rf'id="session-{field}"[^>]*>\s*<p class="error">([^<]*)</p>', form)
    assert marked and marked[1] == message, form
    assert 'value="湖墅街道社工站 2 楼"' in form  # what was typed is still there
    assert 'id="add-session" open' not in c.get(f"/courses/{course_id}").text  # closed on a fresh visit


def test_enrol_one_person_by_id(site, course_id):
    c = site.client("coord")
    r = c.post(f"/courses/{course_id}/enrol", data={"one-person_id": site.ids["person"]}, follow_redirects=True)
    assert flashes(r) == [("success", "李四: Enrolled.")]
    assert site.count(Enrolment, Enrolment.status == "enrolled") == 1
    # Again: already enrolled, nothing more written.
    r = c.post(f"/courses/{course_id}/enrol", data={"one-person_id": site.ids["person"]}, follow_redirects=True)
    assert flashes(r) == [("error", "李四 is already enrolled in this course.")]
    # Someone outside the coordinator's district, and a number nobody has.
    for number in (site.ids["outsider"], 999999):
        r = c.post(f"/courses/{course_id}/enrol", data={"one-person_id": number}, follow_redirects=True)
        assert flashes(r) == [("error", "Unknown person.")]
    assert site.count(Enrolment) == 1


def test_enrol_one_person_found_by_what_was_typed(site, course_id):
    """Without script, the picker's typed text arrives alone: one match is that person, else it says why."""
    c = site.client("coord")
    r = c.post(f"/courses/{course_id}/enrol", data={"one-person_id-q": "王五"}, follow_redirects=True)
    assert flashes(r) == [("success", "王五: Enrolled.")]
    r = c.post(f"/courses/{course_id}/enrol", data={"one-person_id-q": "赵六"}, follow_redirects=True)
    assert flashes(r) == [("error", "Nobody matches 赵六.")]  # another district's
    r = c.post(f"/courses/{course_id}/enrol", data={"one-person_id-q": "", "one-person_id": ""}, follow_redirects=True)
    assert flashes(r) == [("error", "Choose a person.")]
    assert site.count(Enrolment) == 1
    with site.world():
        assert db.session.get(Course, course_id).seats_taken == 1


def test_enrol_everyone_matching_a_unit_and_category(site, course_id):
    with site.world() as w:
        psw = "project_social_worker"
        match = [
            person(w.community, "社工甲", category=psw),
            person(w.street, "社工乙", category=psw),
        ]
        person(w.street, "社区丙", category="community_worker")  # another category
        person(w.community, "离职丁", category=psw).active = False  # not active
        person(w.street2, "他街戊", category=psw)  # another street (like 王五)
        expected = {p.id for p in match}
    c = site.client("coord")
    form = {"many-unit_id": site.ids["street"], "many-category": psw}
    r = c.post(f"/courses/{course_id}/enrol", data=form, follow_redirects=True)
    assert flashes(r) == [("success", "Enrolled 2, waitlisted 0, already enrolled 0.")]
    with site.world():
        enrolled = set(db.session.scalars(select(Enrolment.person_id).where(Enrolment.course_id == course_id)))
    assert enrolled == expected
    r = c.post(f"/courses/{course_id}/enrol", data=form, follow_redirects=True)
    assert flashes(r) == [("success", "Enrolled 0, waitlisted 0, already enrolled 2.")]
    assert site.count(Enrolment) == 2
    # A unit outside the coordinator's district is not offered and not accepted.
    with nothing_written(site, Enrolment):
        r = c.post(f"/courses/{course_id}/enrol", data={**form, "many-unit_id": site.ids["other"]})
    assert r.status_code in (400, 404)


def test_enrol_many_over_capacity_waitlists_the_rest(site, program_id):
    with site.world() as w:
        crs = course(db.session.get(Program, program_id), code="SMALL", capacity=2)
        for i in range(3):
            person(w.street2, f"学员{i}")
        course_id = crs.id
    c = site.client("coord")
    r = c.post(
        f"/courses/{course_id}/enrol",
        data={"many-unit_id": site.ids["street2"], "many-category": ""},  # all categories: 王五 and three more
        follow_redirects=True,
    )
    assert flashes(r) == [("success", "Enrolled 2, waitlisted 2, already enrolled 0.")]


def test_withdraw_gives_the_seat_to_the_first_on_the_waitlist(site, program_id):
    with site.world() as w:
        crs = course(db.session.get(Program, program_id), code="ONE", capacity=1)
        first, second, third = w.person, person(w.community, "候补一"), person(w.community, "候补二")
        for p in (first, second, third):
            enrol(course=crs, person=p, actor=w.coord)
        course_id, ids = crs.id, (first.id, second.id, third.id)
    c = site.client("coord")
    r = c.post(f"/courses/{course_id}/withdraw/{ids[0]}", follow_redirects=True)
    assert flashes(r) == [("success", "李四 withdrawn. The first on the waitlist now has the seat.")]
    with site.world():
        statuses = {
            e.person_id: (e.status, e.waitlist_position)
            for e in db.session.scalars(select(Enrolment).where(Enrolment.course_id == course_id))
        }
        assert db.session.get(Course, course_id).seats_taken == 1
    assert statuses == {ids[0]: ("withdrawn", None), ids[1]: ("enrolled", None), ids[2]: ("waitlisted", 2)}
    # Withdrawing someone not enrolled says so.
    r = c.post(f"/courses/{course_id}/withdraw/{site.ids['person2']}", follow_redirects=True)
    assert flashes(r) == [("error", "王五 is not enrolled in this course.")]


def test_withdrawing_someone_who_completed_the_course_asks_first(site, program_id):
    """A completed enrolment is not withdrawn by the row's button alone: the page says the completion leaves
    their record and asks; nothing is written until it is confirmed. Someone who has not completed is
    withdrawn at once."""
    with site.world() as w:
        crs = course(db.session.get(Program, program_id), code="DONE", title="已结业课程")
        s = session(crs)
        for p in (w.person, w.person2):
            enrol(course=crs, person=p, actor=w.coord)
        record_attendance(session=s, person=w.person, status="present", actor=w.coord)
        course_id, done, not_done = crs.id, w.person.id, w.person2.id

    def status(person_id):
        with site.world():
            return db.session.scalar(
                select(Enrolment.status).where(Enrolment.course_id == course_id, Enrolment.person_id == person_id)
            )

    c = site.client("coord")
    with nothing_written(site, Enrolment, AuditEntry):
        asked = c.post(f"/courses/{course_id}/withdraw/{done}")
    assert asked.status_code == 200 and status(done) == "enrolled"
    text = page(asked)
    assert "Withdraw 李四 from 已结业课程?" in text
    assert "李四 has completed this course: withdrawing takes the completion off their record." in text
    assert 'name="confirmed" value="1"' in asked.text
    r = c.post(f"/courses/{course_id}/withdraw/{done}", data={"confirmed": "1"}, follow_redirects=True)
    assert flashes(r) == [("success", "李四 withdrawn.")] and status(done) == "withdrawn"
    r = c.post(f"/courses/{course_id}/withdraw/{not_done}", follow_redirects=True)
    assert flashes(r) == [("success", "王五 withdrawn.")] and status(not_done) == "withdrawn"


# --- the roster -----------------------------------------------------------------------------------------------


@pytest.fixture
def roster(site, course_id):
    """A past session of the course with three people enrolled."""
    with site.world() as w:
        crs = db.session.get(Course, course_id)
        sess = session(crs)
        people = [w.person, w.person2, w.trainee_person]
        for p in people:
            enrol(course=crs, person=p, actor=w.coord)
        return SimpleNamespace(session=sess.id, course=course_id, people=[p.id for p in people])


def marks(site, session_id) -> dict[int, tuple[str, str | None, str]]:
    with site.app.app_context():
        rows = db.session.scalars(select(Attendance).where(Attendance.session_id == session_id))
        return {a.person_id: (a.status, a.reason, a.method) for a in rows}


def test_roster_marks_everyone_present_except_the_ticked(site, roster):
    a, b, t = roster.people
    c = site.client("coord")
    r = c.get(f"/sessions/{roster.session}")
    assert r.status_code == 200
    # Nobody is marked yet: everyone's "present" is ticked by default.
    assert len(re.findall(r'value="present" checked', r.text)) == 3
    r = c.post(
        f"/sessions/{roster.session}",
        data={f"status-{a}": "present", f"status-{b}": "absent", f"status-{t}": "excused", f"reason-{t}": "家中有事"},
        follow_redirects=True,
    )
    assert flashes(r) == [("success", "Attendance saved for 3 people.")]
    assert marks(site, roster.session) == {
        a: ("present", None, "roster"),
        b: ("absent", None, "roster"),
        t: ("excused", "家中有事", "roster"),
    }
    # The page shows what was saved.
    assert re.search(rf'name="status-{b}" value="absent" checked', r.text)
    assert 'value="家中有事"' in page(r)
    # Only the absentee is sent next time: the excused one becomes present again.
    c.post(f"/sessions/{roster.session}", data={f"status-{b}": "late"})
    assert {pid: m[0] for pid, m in marks(site, roster.session).items()} == {a: "present", b: "late", t: "present"}


def test_roster_refuses_excused_without_reason_and_writes_nothing(site, roster):
    a, b, t = roster.people
    c = site.client("coord")
    with nothing_written(site, Attendance):
        r = c.post(f"/sessions/{roster.session}", data={f"status-{b}": "absent", f"status-{t}": "excused"})
    assert r.status_code == 200
    [(category, text)] = flashes(r)
    assert category == "error"
    assert text == "Nothing was saved: 1 person needs correcting: 钱七.", text  # the row, by name
    row = r.text.split(f'<tr data-person="{t}"', 1)[1].split("</tr>", 1)[0]
    assert (
        'class="has-error"' in row and f'<p class="error" id="error-{t}">An excused absence needs a reason.</p>' in row
    )
    assert f'id="error-{b}"' not in r.text
    # two people excused without a reason: both named, both rows marked, in one refusal
    with nothing_written(site, Attendance):
        r = c.post(f"/sessions/{roster.session}", data={f"status-{b}": "excused", f"status-{t}": "excused"})
    assert flashes(r) == [("error", "Nothing was saved: 2 people need correcting: 王五、钱七.")]
    assert f'id="error-{b}"' in r.text and f'id="error-{t}"' in r.text
    r = c.post(f"/sessions/{roster.session}", data={f"status-{b}": "absent", f"status-{t}": "excused"})
    # The page gives back the coordinator's ticks (not the saved state), so only the reason is missing.
    assert re.search(rf'name="status-{b}" value="absent" checked', r.text)
    assert re.search(rf'name="status-{t}" value="excused" checked', r.text)
    assert re.search(rf'name="status-{a}" value="present" checked', r.text)
    # Unknown statuses and people outside the course are refused too.
    with nothing_written(site, Attendance):
        r = c.post(f"/sessions/{roster.session}", data={f"status-{a}": "asleep"})
        assert flashes(r)[0][0] == "error"
        r = c.post(f"/sessions/{roster.session}", data={f"status-{site.ids['outsider']}": "absent"})
        assert flashes(r)[0][0] == "error"


# --- the QR code and check-in ---------------------------------------------------------------------------------


@pytest.fixture
def running(site):
    """A session running now (started 10 minutes ago, 3 hours credited) with the trainee enrolled."""
    now = utcnow()
    with site.world() as w:
        crs = course(program(w.district, year=now.year), code="NOW")
        sess = session(crs, hours=3, start=now - timedelta(minutes=10))
        enrol(course=crs, person=w.trainee_person, actor=w.coord)
        return SimpleNamespace(id=sess.id, course=crs.id, person=w.trainee_person.id)


def test_the_check_in_screen_shows_a_code_only_while_check_in_is_open(site):
    """Before its window the screen says when check-in opens, after it that it closed and to use the roster,
    for a cancelled session that none is taken: no code that every scan would refuse."""
    from shegong_academy.training.changes import cancel_session

    now = utcnow()
    with site.world() as w:
        crs = course(program(w.district, year=now.year), code="WIN")
        ids = {
            "past": session(crs, start=now - timedelta(days=2)).id,
            "later": session(crs, start=now + timedelta(days=2)).id,
            "running": session(crs, start=now - timedelta(minutes=10)).id,
        }
        cancelled = session(crs, start=now - timedelta(minutes=20))
        cancel_session(session=cancelled, reason="暴雨", actor=w.coord)
        ids["cancelled"] = cancelled.id
        crs_id = crs.id
    c = site.client("coord")
    expected = {
        "running": "Scan with your phone to check in",
        "later": "Check-in opens at ",
        "past": "Check-in closed at ",
        "cancelled": "This session is cancelled: no attendance is taken.",
    }
    for name, words in expected.items():
        text = page(c.get(f"/sessions/{ids[name]}/qr"))
        assert words in text, name
        assert ('id="qr"' in text) is (name == "running"), name
    assert "Take attendance on the roster instead." in page(c.get(f"/sessions/{ids['past']}/qr"))
    # the course page and a session's roster offer the screen only where a code can still be used
    course_page = page(c.get(f"/courses/{crs_id}"))
    for name, offered in (("running", True), ("later", True), ("past", False), ("cancelled", False)):
        assert (f"/sessions/{ids[name]}/qr" in course_page) is offered, name
        assert (f"/sessions/{ids[name]}/qr" in page(c.get(f"/sessions/{ids[name]}"))) is offered, name


def test_qr_svg_encodes_a_fresh_check_in_link_and_is_never_cached(site, running, monkeypatch):
    encoded = []
    real_make = segno.make
    monkeypatch.setattr(segno, "make", lambda content, **kw: encoded.append(content) or real_make(content, **kw))
    c = site.client("coord")
    r = c.get(f"/sessions/{running.id}/qr")
    assert r.status_code == 200 and f'src="/sessions/{running.id}/qr.svg"' in r.text
    live = r'Checked in <strong data-live="checked_in">0</strong> / <span data-live="seats">1</span>'
    assert re.search(live, page(r))
    r = c.get(f"/sessions/{running.id}/qr.svg")
    assert r.status_code == 200
    assert r.mimetype == "image/svg+xml"
    assert r.headers["Cache-Control"] == "no-store"
    assert 0 < int(r.headers["X-Refresh-After"]) <= 30
    assert b"<svg" in r.data
    [url] = encoded
    parts = urlparse(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("http", "localhost", f"/checkin/{running.id}")
    [token] = parse_qs(parts.query)["t"]
    with site.app.app_context():
        assert token_is_fresh(running.id, token, utcnow())
    expected = BytesIO()
    real_make(url, error="m").save(expected, kind="svg", scale=10, border=2, dark="#1f2933")
    assert r.data == expected.getvalue()  # the picture is exactly the QR code of that link
    # The link in the code checks the trainee in.
    t = site.client("trainee")
    assert t.get(f"{parts.path}?{parts.query}").status_code == 200
    r = t.post(parts.path, data={"t": token})
    assert r.status_code == 302 and r.location.endswith("/my/")
    assert site.count(Attendance, Attendance.method == "qr") == 1


def test_check_in_get_writes_nothing_post_writes_one_row(site, running):
    token = site.token(running.id, utcnow())
    c = site.client("trainee")
    with nothing_written(site, Attendance):
        r = c.get(f"/checkin/{running.id}?t={token}")
        assert r.status_code == 200
        assert "Confirm: I am here" in page(r)
        # The page carries a proof of the scan, not the code that expires in a minute.
        proof = re.search(r'name="t" value="(p[^"]+)"', r.text)[1]
        c.get(f"/checkin/{running.id}?t={token}")  # reloading the page changes nothing either
    r = c.post(f"/checkin/{running.id}", data={"t": proof})
    assert r.status_code == 302 and urlparse(r.location).path == "/my/"
    assert flashes(c.get("/my/")) == [("success", "Checked in. Welcome!")]
    assert site.count(Attendance) == 1
    r = c.post(f"/checkin/{running.id}", data={"t": token}, follow_redirects=True)
    assert flashes(r) == [("success", "You had already checked in.")]
    assert site.count(Attendance) == 1
    with site.app.app_context():
        row = db.session.scalars(select(Attendance)).one()
        # Started 10 minutes ago: past the late threshold, still attended.
        assert (row.person_id, row.method, row.status, row.marked_by_id) == (running.person, "qr", "late", None)


def refused(r, message: str) -> None:
    assert r.status_code == 403
    assert flashes(r) == [("error", message)]


def test_check_in_refuses_expired_forged_and_foreign_tokens(site, running, monkeypatch):
    c = site.client("trainee")
    now = utcnow()
    expired = "This check-in code has expired. Scan the code on the screen again."
    other = site.token(running.id + 1000, now)
    for token in (
        site.token(running.id, now - timedelta(minutes=2)),  # a photo from two minutes ago
        forged(site.token(running.id, now)),
        other,  # another session's code
        "x",
        "",
    ):
        with nothing_written(site, Attendance):
            refused(c.post(f"/checkin/{running.id}", data={"t": token}), expired)

    # Frozen time: a code made now has expired 75 seconds later.
    token = site.token(running.id, now)
    monkeypatch.setattr(training_services, "utcnow", lambda: now + timedelta(seconds=75))
    with nothing_written(site, Attendance):
        refused(c.post(f"/checkin/{running.id}", data={"t": token}), expired)
    monkeypatch.setattr(training_services, "utcnow", lambda: now + timedelta(seconds=20))
    assert c.post(f"/checkin/{running.id}", data={"t": token}).status_code == 302
    assert site.count(Attendance) == 1


def test_a_scan_proof_outlasts_the_code_long_enough_to_sign_in(site, running, monkeypatch):
    """A trainee who must sign in on a phone after scanning still checks in; not ten minutes later."""
    now = utcnow()
    c = site.client("trainee")
    proof = re.search(
        r'name="t" value="(p[^"]+)"', c.get(f"/checkin/{running.id}?t={site.token(running.id, now)}").text
    )[1]
    monkeypatch.setattr(training_services, "utcnow", lambda: now + timedelta(minutes=11))
    with nothing_written(site, Attendance):
        assert c.post(f"/checkin/{running.id}", data={"t": proof}).status_code == 403
    monkeypatch.setattr(training_services, "utcnow", lambda: now + timedelta(minutes=4))
    assert c.post(f"/checkin/{running.id}", data={"t": proof}).status_code == 302
    assert site.count(Attendance) == 1
    assert c.post(f"/checkin/{running.id}", data={"t": forged(proof)}).status_code == 403


def test_check_in_refuses_people_not_enrolled_and_outside_the_session(site, running):
    with site.world() as w:
        user("lisi", "trainee", w.community, person=w.person)  # 李四 is not enrolled
        past = session(db.session.get(Course, running.course), n=-30)
        past_id = past.id
    now = utcnow()
    c = site.client("lisi")
    with nothing_written(site, Attendance):
        refused(
            c.post(f"/checkin/{running.id}", data={"t": site.token(running.id, now)}),
            "You are not enrolled in this course.",
        )
    c = site.client("trainee")
    with nothing_written(site, Attendance):
        refused(
            c.post(f"/checkin/{past_id}", data={"t": site.token(past_id, now)}),
            "Check-in is open only during the session.",
        )
    # Staff have no trainee page: a coordinator scanning the code gets 404.
    assert (
        site.client("coord").post(f"/checkin/{running.id}", data={"t": site.token(running.id, now)}).status_code == 404
    )
    assert site.client("trainee").get("/checkin/999999?t=x").status_code == 404


def test_anonymous_scan_signs_in_and_comes_back_to_the_check_in_page(site, running):
    token = site.token(running.id, utcnow())
    c = site.client()
    r = c.get(f"/checkin/{running.id}?t={token}")
    assert r.status_code == 302
    login_url = urlparse(r.location)
    assert login_url.path == "/login"
    [next_url] = parse_qs(login_url.query)["next"]
    assert urlparse(next_url).path == f"/checkin/{running.id}"
    assert parse_qs(urlparse(next_url).query)["t"][0].startswith("p")  # the scan's proof, not the code
    # The sign-in form posts back to its own address, ?next= included.
    r = c.get(r.location)
    assert r.status_code == 200 and '<form method="post" novalidate>' in r.text
    r = c.post(f"/login?{login_url.query}", data={"username": "trainee", "password": "correct-horse-battery"})
    assert r.status_code == 302 and r.location == next_url
    r = c.get(r.location)
    proof = parse_qs(urlparse(next_url).query)["t"][0]
    assert r.status_code == 200 and f'name="t" value="{proof}"' in r.text
    assert site.count(Attendance) == 0
    r = c.post(f"/checkin/{running.id}", data={"t": proof}, follow_redirects=True)
    assert urlparse(r.request.url).path == "/my/"
    assert flashes(r) == [("success", "Checked in. Welcome!")]
    assert site.count(Attendance) == 1


def scan(client, session_id: int, token: str) -> str:
    """Open the check-in link of a QR code in ``client``'s browser; return the scan proof it hands on."""
    r = client.get(f"/checkin/{session_id}?t={token}")
    if r.status_code == 302:  # not signed in: the proof travels in the sign-in page's next=
        return parse_qs(urlparse(parse_qs(urlparse(r.location).query)["next"][0]).query)["t"][0]
    return re.search(r'name="t" value="(p[^"]+)"', r.text)[1]


def test_a_scan_proof_only_works_in_the_browser_that_scanned(site, running):
    """A trainee scans, then forwards the link (with its ten-minute proof) to an absent colleague: the colleague's
    phone is refused, even signed in as the trainee; the phone that scanned signs in and checks in."""
    with site.world() as w:
        user("lisi", "trainee", w.community, person=w.person)
        enrol(course=db.session.get(Course, running.course), person=w.person, actor=w.coord)
    phone = site.client()
    proof = scan(phone, running.id, site.token(running.id))
    expired = "This check-in code has expired. Scan the code on the screen again."
    for colleague in (site.client("lisi"), site.client("trainee")):  # someone else's phone, or a second browser
        assert colleague.get(f"/checkin/{running.id}?t={proof}").status_code == 200
        with nothing_written(site, Attendance):
            refused(colleague.post(f"/checkin/{running.id}", data={"t": proof}), expired)
    # A colleague who copies the cookie's name but not its value gets no further.
    forger = site.client("lisi")
    forger.set_cookie("lms_checkin_browser", "x" * 32, path=f"/checkin/{running.id}")
    with nothing_written(site, Attendance):
        refused(forger.post(f"/checkin/{running.id}", data={"t": proof}), expired)

    # The phone that scanned keeps its id for as long as the proof lasts, out of reach of scripts.
    cookie = phone.get_cookie("lms_checkin_browser", path=f"/checkin/{running.id}")
    assert cookie.http_only and cookie.same_site == "Lax" and cookie.max_age == 600
    assert login(phone, "trainee").status_code == 302
    assert phone.post(f"/checkin/{running.id}", data={"t": proof}).status_code == 302
    with site.app.app_context():
        rows = db.session.execute(select(Attendance.person_id, Attendance.method)).all()
    assert rows == [(running.person, "qr")]


def test_every_qr_check_in_is_audited_once(site, running):
    phone = site.client("trainee")
    proof = scan(phone, running.id, site.token(running.id))
    assert phone.post(f"/checkin/{running.id}", data={"t": proof}).status_code == 302
    assert phone.post(f"/checkin/{running.id}", data={"t": proof}).status_code == 302  # already checked in
    with site.app.app_context():
        entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action.like("attendance.%"))).all()
        assert [(e.action, e.entity_type, e.entity_id, e.actor_id, e.after) for e in entries] == [
            (
                "attendance.qr",
                "course_session",
                running.id,
                site.ids["trainee"],
                {"person_id": running.person, "status": "late", "method": "qr"},
            )
        ]
        assert entries[0].actor_name == "trainee" and entries[0].ip == "127.0.0.1"
    # A refused check-in writes no entry either.
    with site.world() as w:
        user("lisi", "trainee", w.community, person=w.person)  # not enrolled
    with nothing_written(site, AuditEntry, Attendance):
        assert site.client("lisi").post(f"/checkin/{running.id}", data={"t": site.token(running.id)}).status_code == 403


# --- attendance import ----------------------------------------------------------------------------------------


@pytest.fixture
def importable(site, course_id):
    """A session of the course with two enrolled people whose ID numbers we know, and one not enrolled."""
    numbers = [id_number() for _ in range(3)]
    with site.world() as w:
        crs = db.session.get(Course, course_id)
        sess = session(crs)
        people = [person(w.community, name, id_number=n) for name, n in zip(("甲", "乙", "丙"), numbers, strict=True)]
        for p in people[:2]:
            enrol(course=crs, person=p, actor=w.coord)
        return SimpleNamespace(session=sess.id, numbers=numbers, people=[p.id for p in people])


def upload(client, session_id: int, text: str, encoding: str = "utf-8", name: str = "出勤.csv"):
    data = {"file": (BytesIO(text.encode(encoding)), name)}
    return client.post(f"/sessions/{session_id}/import", data=data, content_type="multipart/form-data")


def test_import_attendance_gb18030(site, importable):
    a, b, _c = importable.numbers
    c = site.client("coord")
    assert c.get(f"/sessions/{importable.session}/import").status_code == 200
    r = upload(c, importable.session, f"身份证号,出勤,原因\r\n{a},出席,\r\n{b},请假,单位值班\r\n", "gb18030")
    assert r.status_code == 302 and r.location.endswith(f"/sessions/{importable.session}")
    assert flashes(c.get(r.location)) == [("success", "Attendance imported for 2 people.")]
    assert marks(site, importable.session) == {
        importable.people[0]: ("present", None, "import"),
        importable.people[1]: ("excused", "单位值班", "import"),
    }


def test_import_with_a_bad_row_rejects_the_whole_file(site, importable):
    a, b, stranger = importable.numbers
    c = site.client("coord")
    text = (
        "身份证号,出勤,原因\n"
        f"{a},出席,\n"  # fine
        f"{b},请假,\n"  # excused without a reason
        f"{stranger},出席,\n"  # not enrolled
        "110105194912310021,迟到,\n"  # a wrong check digit
        f"{a},睡觉,\n"  # unknown status, and 甲 again
    )
    with nothing_written(site, Attendance):
        r = upload(c, importable.session, text)
    assert r.status_code == 200
    body = page(r)
    assert "Nothing was imported: 5 problem(s) in the file" in body
    report = re.findall(r"<tr><td>(\d+)</td><td>([^<]+)</td><td>(.*?)</td></tr>", body)
    assert report == [  # each column as the file heads it
        ("3", "原因", "An excused absence needs a reason."),
        ("4", "身份证号", "This person is not enrolled in the course."),
        ("5", "身份证号", "ID number has a wrong check digit."),
        ("6", "身份证号", "Same person as row 2."),
        ("6", "出勤", "Unknown status 睡觉."),
    ], report


def test_import_refuses_an_unreadable_file(site, importable):
    c = site.client("coord")
    with nothing_written(site, Attendance):
        r = upload(c, importable.session, "姓名,电话\n甲,123\n")
        assert r.status_code == 200 and field_errors(r)
        r = c.post(f"/sessions/{importable.session}/import", data={}, content_type="multipart/form-data")
        assert r.status_code == 200 and field_errors(r) == ["This field is required."]


# --- the trainee's pages --------------------------------------------------------------------------------------


def stats(r) -> dict[str, str]:
    pairs = re.findall(r'<span class="num">([^<]*)</span><span>([^<]*)</span>', r.text)
    return {unescape(label): num for num, label in pairs}


def test_my_page_shows_courses_and_hours_by_year(site, course_id):
    with site.world() as w:
        crs = db.session.get(Course, course_id)
        s1, _s2 = session(crs, 0), session(crs, 1)
        enrol(course=crs, person=w.trainee_person, actor=w.coord)
        record_attendance(session=s1, person=w.trainee_person, status="present", actor=w.coord)
    c = site.client("trainee")
    r = c.get("/my/?year=2022")
    assert r.status_code == 200
    body = page(r)
    assert "Welcome, 钱七" in body
    assert f'href="/my/courses/{course_id}">社会工作专业理念与方法</a>' in body
    assert "1/2" in body  # attended 1 of 2 scheduled sessions
    assert stats(r) == {
        "training hours in 2022": "3.0",
        "courses completed in 2022": "0",
        "supervision hours in 2022": "0.0",
        "training hours in all": "3.0",
    }
    r = c.get("/my/?year=2021")
    assert stats(r)["training hours in 2021"] == "0.0" and stats(r)["training hours in all"] == "3.0"
    assert 'href="/my/?year=2020"' in r.text and 'href="/my/?year=2022"' in r.text
    # A nonsense year falls back to this year.
    assert r.status_code == 200 and c.get("/my/?year=99999").status_code == 200


def test_my_course_is_404_unless_enrolled(site, course_id):
    with site.world() as w:
        crs = db.session.get(Course, course_id)
        session(crs)
        other = course(db.session.get(Program, crs.program_id), code="FULL", capacity=1)
        enrol(course=other, person=w.person, actor=w.coord)
        enrol(course=other, person=w.trainee_person, actor=w.coord)  # waitlisted
        other_id = other.id
    c = site.client("trainee")
    assert c.get(f"/my/courses/{course_id}").status_code == 404
    assert c.get(f"/my/courses/{other_id}").status_code == 404  # waitlisted: no seat yet
    assert c.get(f"/my/courses/{course_id}/lessons/1").status_code == 404
    assert c.get("/my/courses/999999").status_code == 404
    with site.world() as w:
        enrol(course=db.session.get(Course, course_id), person=w.trainee_person, actor=w.coord)
    r = c.get(f"/my/courses/{course_id}")
    assert r.status_code == 200
    assert "This course has no lesson material online." in page(r)
    assert c.get(f"/my/courses/{course_id}/lessons/1").status_code == 404  # no content


MALICIOUS = """# 第一讲 社工伦理

<script>alert('stolen')</script>

<p onclick="steal()">点我试试</p>

[普通链接](javascript:alert(1))

<a href="javascript:alert(2)">原样链接</a>

![图片](https://evil.example/track.png)

<img src="x" onerror="alert(3)">

| 原则 | 说明 |
| --- | --- |
| 保密 | **不泄露** 服务对象信息 |
"""


def write_course(root: Path, slug: str, *, yaml_text: str | None = None, lessons: dict[str, str] | None = None):
    folder = root / slug
    folder.mkdir(parents=True)
    if lessons is None:
        lessons = {"01-ethics.md": MALICIOUS, "02-practice.md": "# 第二讲 实务\n\n正文。\n"}
    if yaml_text is None:
        yaml_text = (
            "code: ETH101\n"
            "title: 社工伦理\n"
            "hours: 3\n"
            "tier: 新任\n"
            "summary: 伦理入门\n"
            "objectives:\n  - 了解伦理原则\n"
            "lessons:\n"
            "  - file: 01-ethics.md\n    title: 第一讲 社工伦理\n    hours: 2\n"
            "  - file: 02-practice.md\n    title: 第二讲 实务\n    hours: 1\n"
        )
    (folder / "course.yaml").write_text(yaml_text, encoding="utf-8")
    for name, text in lessons.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def sync(runner, root: Path):
    return runner.invoke(args=["lms", "content", "sync", "--path", str(root)])


def test_lessons_render_markdown_and_strip_anything_active(site, runner, course_id, tmp_path):
    root = tmp_path / "course_content"
    write_course(root, "ethics")
    r = sync(runner, root)
    assert r.exit_code == 0, r.output
    assert "courses created: 1, updated: 0, unchanged: 0" in r.output
    with site.world() as w:
        crs = db.session.get(Course, course_id)
        crs.content_slug = "ethics"
        enrol(course=crs, person=w.trainee_person, actor=w.coord)
    c = site.client("trainee")
    r = c.get(f"/my/courses/{course_id}")
    assert r.status_code == 200
    body = page(r)
    assert "第一讲 社工伦理" in body and "第二讲 实务" in body and "了解伦理原则" in body
    r = c.get(f"/my/courses/{course_id}/lessons/1")
    assert r.status_code == 200
    [article] = re.findall(r'<article class="card lesson-body">(.*?)</article>', r.text, re.S)
    assert "<h1>第一讲 社工伦理</h1>" in article
    assert "<table>" in article and "<strong>不泄露</strong>" in article
    assert "点我试试" in article and "普通链接" in article and "原样链接" in article  # the text stays
    lowered = article.lower()
    for bad in ("<script", "alert(", "onclick", "onerror", "javascript:", "<img", "<a ", "href=", "evil.example"):
        assert bad not in lowered, bad
    assert f'href="/my/courses/{course_id}/lessons/2"' in r.text  # next lesson
    assert c.get(f"/my/courses/{course_id}/lessons/3").status_code == 404


def test_content_sync_is_idempotent(site, runner, tmp_path):
    root = tmp_path / "course_content"
    write_course(root, "ethics")
    write_course(root, "practice", lessons={"01-ethics.md": "# 一\n", "02-practice.md": "# 二\n"})
    assert "courses created: 2, updated: 0, unchanged: 0" in sync(runner, root).output
    r = sync(runner, root)
    assert r.exit_code == 0 and "courses created: 0, updated: 0, unchanged: 2" in r.output
    (root / "practice" / "02-practice.md").write_text("# 二（修订）\n", encoding="utf-8")
    r = sync(runner, root)
    assert "courses created: 0, updated: 1, unchanged: 1" in r.output
    assert site.count(CourseContent) == 2 and site.count(Lesson) == 4
    assert site.count(Lesson, Lesson.body_html.contains("修订")) == 1
    assert "unchanged: 2" in sync(runner, root).output


GOOD_YAML = (
    "code: P1\ntitle: 实务\nhours: 2\nlessons:\n  - file: 01.md\n    title: 一\n    hours: 1\n"
    "  - file: 02.md\n    title: 二\n    hours: 1\n"
)


@pytest.mark.parametrize(
    ("yaml_text", "lessons", "expected"),
    [
        (None, {}, "broken/course.yaml: -: missing"),  # no course.yaml at all
        (GOOD_YAML, {"01.md": "# 一\n"}, "broken/02.md: file: listed in course.yaml but missing"),
        (GOOD_YAML.replace("hours: 2", "hours: 3"), None, "broken/course.yaml: lessons: lesson hours add up to 2"),
        (GOOD_YAML + "tier: 高级\n", None, "broken/course.yaml: tier: one of 新任, 骨干, 领军"),
        ("code: [P1\ntitle: 实务\n", {}, "broken/course.yaml: -: not valid UTF-8 YAML"),
        (GOOD_YAML.replace("code: P1\n", ""), None, "broken/course.yaml: code: required text"),
    ],
    ids=["no-course-yaml", "lesson-missing", "hours-dont-add-up", "bad-tier", "invalid-yaml", "no-code"],
)
def test_content_sync_reports_file_and_field_and_writes_nothing(site, runner, tmp_path, yaml_text, lessons, expected):
    root = tmp_path / "course_content"
    write_course(root, "a-good-one")
    folder = root / "broken"
    folder.mkdir()
    if yaml_text is not None:
        (folder / "course.yaml").write_text(yaml_text, encoding="utf-8")
    for name, text in (lessons if lessons is not None else {"01.md": "# 一\n", "02.md": "# 二\n"}).items():
        (folder / name).write_text(text, encoding="utf-8")
    r = sync(runner, root)
    assert r.exit_code != 0
    assert expected in r.output, r.output
    assert "nothing was synced" in r.output
    assert site.count(CourseContent) == 0 and site.count(Lesson) == 0  # not even the good course


# --- self-enrolment -------------------------------------------------------------------------------------------


def test_self_enrol_in_an_open_course_but_not_a_coordinators(site, program_id):
    with site.world():
        prog = db.session.get(Program, program_id)
        prog.year = utcnow().year
        open_id = course(prog, code="OPEN", title="开放课程").id
        closed_id = course(prog, code="CLOSED", title="指定课程", policy="coordinator").id
    c = site.client("trainee")
    r = c.get("/my/")
    body = page(r)
    assert "Open for enrolment" in body and "开放课程" in body and "指定课程" not in body
    assert f'action="/my/courses/{open_id}/enrol"' in r.text
    r = c.post(f"/my/courses/{open_id}/enrol", follow_redirects=True)
    assert flashes(r) == [("success", "You are enrolled in 开放课程.")]
    assert f'action="/my/courses/{open_id}/enrol"' not in r.text  # no longer offered
    assert f'href="/my/courses/{open_id}"' in r.text
    with nothing_written(site, Enrolment):
        assert c.post(f"/my/courses/{closed_id}/enrol").status_code == 404
    assert site.count(Enrolment, Enrolment.course_id == open_id, Enrolment.status == "enrolled") == 1
    # Withdrawing oneself from the open course asks first, and changes nothing until confirmed.
    asked = c.post(f"/my/courses/{open_id}/withdraw")
    assert asked.status_code == 200 and "Withdraw from 开放课程?" in asked.text
    assert "You leave 开放课程; its sessions leave your calendar." in asked.text
    assert 'name="confirmed" value="1"' in asked.text
    assert site.count(Enrolment, Enrolment.course_id == open_id, Enrolment.status == "enrolled") == 1
    r = c.post(f"/my/courses/{open_id}/withdraw", data={"confirmed": "1"}, follow_redirects=True)
    assert flashes(r) == [("success", "You have withdrawn from 开放课程.")]
    assert site.count(Enrolment, Enrolment.course_id == open_id, Enrolment.status == "enrolled") == 0


def test_a_full_open_course_offers_the_waitlist_and_leaving_a_seat_says_it_goes_to_the_queue(site, program_id):
    """The home page's open courses say which one is full and offer its waitlist (the catalogue did; the card
    had offered "Enrol" and then queued the trainee); withdrawing from a course with a capacity says the seat
    goes to the next in the queue."""
    with site.world():
        prog = db.session.get(Program, program_id)
        prog.year = utcnow().year
        full = course(prog, code="FULL", title="满员课程", capacity=1)
        roomy = course(prog, code="ROOMY", title="宽裕课程", capacity=5)
        enrol(course=full, person=person(prog.unit, "甲某"), actor=None)
        full_id, roomy_id = full.id, roomy.id
    c = site.client("trainee")
    body = c.get("/my/").text
    rows = {
        cid: body.split(f'action="/my/courses/{cid}/enrol"', 1)[0].rsplit("<tr>", 1)[1] for cid in (full_id, roomy_id)
    }
    after = {
        cid: body.split(f'action="/my/courses/{cid}/enrol"', 1)[1].split("</tr>", 1)[0] for cid in (full_id, roomy_id)
    }
    assert "Full" in rows[full_id] and "Join the waitlist" in after[full_id]
    assert "Full" not in rows[roomy_id] and ">Enrol<" in after[roomy_id]
    c.post(f"/my/courses/{roomy_id}/enrol")
    asked = c.post(f"/my/courses/{roomy_id}/withdraw")
    assert "Your seat goes to the next person on the waitlist." in asked.text


# --- who may open what ----------------------------------------------------------------------------------------


def test_coordinator_of_another_district_gets_404(site, running):
    with site.world():
        program_id = db.session.get(Course, running.course).program_id
    pages = [
        f"/programs/{program_id}",
        f"/programs/{program_id}/courses/new",
        f"/courses/{running.course}",
        f"/sessions/{running.id}",
        f"/sessions/{running.id}/qr",
        f"/sessions/{running.id}/qr.svg",
        f"/sessions/{running.id}/import",
    ]
    out = site.client("coordout")
    for url in pages:
        assert out.get(url).status_code == 404, url
    with nothing_written(site, CourseSession, Enrolment, Attendance):
        assert out.post(f"/courses/{running.course}/sessions", data=session_form()).status_code == 404
        assert out.post(f"/courses/{running.course}/enrol", data={"one-person_id": 1}).status_code == 404
        assert out.post(f"/courses/{running.course}/withdraw/{running.person}").status_code == 404
        assert out.post(f"/sessions/{running.id}", data={}).status_code == 404
    # …while the district's own coordinator and the admin see them all.
    for who in ("coord", "admin"):
        c = site.client(who)
        for url in pages:
            assert c.get(url).status_code == 200, (who, url)


def test_trainee_gets_403_on_staff_pages(site, running):
    with site.world():
        program_id = db.session.get(Course, running.course).program_id
    c = site.client("trainee")
    for url in [
        "/programs/",
        "/programs/new",
        f"/programs/{program_id}",
        f"/programs/{program_id}/courses/new",
        f"/courses/{running.course}",
        f"/sessions/{running.id}",
        f"/sessions/{running.id}/qr",
        f"/sessions/{running.id}/qr.svg",
        f"/sessions/{running.id}/import",
    ]:
        assert c.get(url).status_code == 403, url
    with nothing_written(site, Program, CourseSession, Enrolment, Attendance):
        assert c.post("/programs/new", data={**PROGRAM, "unit_id": site.ids["district"]}).status_code == 403
        assert c.post(f"/courses/{running.course}/sessions", data=session_form()).status_code == 403
        assert c.post(f"/courses/{running.course}/enrol", data={"one-person_id": running.person}).status_code == 403
        assert c.post(f"/sessions/{running.id}", data={}).status_code == 403


def test_enrol_a_whole_cohort_in_one_action(site, program_id):
    from shegong_academy.coverage.services import create_cohort
    from shegong_academy.training.models import Enrolment

    with site.world() as w:
        crs = course(db.session.get(Program, program_id), code="COH", capacity=None)
        cohort = create_cohort(
            data={"name": "2022年转岗", "year": 2022, "member_ids": [w.person.id, w.person2.id]},
            unit=w.district,
            actor=w.coord,
        )
        course_id, cohort_id = crs.id, cohort.id
        members = {w.person.id, w.person2.id}
    c = site.client("coord")
    r = c.post(
        f"/courses/{course_id}/enrol",
        data={"many-unit_id": site.ids["street"], "many-category": "", "many-cohort_id": cohort_id},
    )
    assert r.status_code == 302
    with site.app.app_context():
        enrolled = set(db.session.scalars(select(Enrolment.person_id).where(Enrolment.course_id == course_id)))
    assert enrolled == members
    other = site.client("coordout")
    assert (
        other.post(f"/courses/{course_id}/enrol", data={"many-unit_id": 1, "many-cohort_id": cohort_id}).status_code
        == 404
    )


# --- lesson progress (issue 17, item 3) -------------------------------------------------------------------------


def test_lessons_are_marked_done_undone_and_kept_across_a_content_sync(site, runner, course_id, tmp_path):
    from shegong_academy.training.models import LessonProgress

    root = tmp_path / "course_content"
    write_course(root, "ethics")
    assert sync(runner, root).exit_code == 0
    with site.world() as w:
        crs = db.session.get(Course, course_id)
        crs.content_slug = "ethics"
        enrol(course=crs, person=w.trainee_person, actor=w.coord)
        enrol(course=crs, person=w.person, actor=w.coord)
    c = site.client("trainee")
    done_url = f"/my/courses/{course_id}/lessons/2/done"
    assert "0 of 2 lessons done" in page(c.get(f"/my/courses/{course_id}"))
    assert "Mark as done" in page(c.get(f"/my/courses/{course_id}/lessons/2"))
    r = c.post(done_url, data={"done": "1"})
    assert r.status_code == 302 and flashes(c.get(r.location)) == [("success", "Marked as done.")]
    assert c.post(done_url, headers={"X-Requested-With": "fetch"}).status_code == 204  # the script's: again, no change
    assert site.count(LessonProgress) == 1
    body = page(c.get(f"/my/courses/{course_id}"))
    assert "1 of 2 lessons done" in body and '<progress id="lesson-progress" value="1" max="2">' in body
    # the coordinator sees each person's progress on the course page
    grid = page(site.client("coord").get(f"/courses/{course_id}"))
    assert "Lessons done" in grid and "1/2" in grid and "0/2" in grid
    # syncing a changed lesson keeps the progress (it belongs to the position)
    (root / "ethics" / "02-practice.md").write_text("# 第二讲 实务（修订）\n", encoding="utf-8")
    assert "updated: 1" in sync(runner, root).output
    assert "1 of 2 lessons done" in page(c.get(f"/my/courses/{course_id}"))
    # and the trainee can take the mark back
    r = c.post(done_url, data={"done": "0"})
    assert flashes(c.get(r.location)) == [("success", "No longer marked as done.")]
    assert site.count(LessonProgress) == 0
    # nobody marks a lesson of a course they hold no seat in, nor one that does not exist
    assert site.client("coord").post(done_url).status_code == 404
    assert c.post(f"/my/courses/{course_id}/lessons/3/done").status_code == 404
