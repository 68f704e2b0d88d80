"""The trainee's side and the record pages: catalogue and waitlist rank, calendar feed, a person's record by
year, the statement of hours, the live check-in figures, and the audit viewer with its scope and export."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select

from shegong_academy.auth.models import User
from shegong_academy.core.db import utcnow
from shegong_academy.extensions import db
from shegong_academy.supervision.services import record_supervision
from shegong_academy.training.changes import cancel_session
from shegong_academy.training.models import Course
from shegong_academy.training.services import enrol, save_roster
from tests.factories import World, login, person, user
from tests.training.helpers import course, program, session


def client_for(app, username=None, lang="en"):
    c = app.test_client()
    c.environ_base["HTTP_ACCEPT_LANGUAGE"] = lang
    if username:
        assert login(c, username).status_code == 302
    return c


@pytest.fixture
def site(app):
    """A course of 拱墅区 this year with two seats, taken; the trainee 钱七 and 李四 wait; a supervision record."""
    with app.app_context():
        w = World()
        now = utcnow()
        crs = course(program(w.district, year=now.year, title="社区治理专题班"), capacity=2, title="社区协商议事")
        s1 = session(crs, 0, start=now + timedelta(days=3))
        s2 = session(crs, 1, start=now + timedelta(days=3))
        first, second = person(w.community, "甲一"), person(w.community, "乙二")
        for p in (first, second):
            enrol(course=crs, person=p, actor=w.coord)
        enrol(course=crs, person=w.person, actor=w.coord)  # waitlisted, number 1
        supervisor = person(w.street, "孙督导")
        user("supervisor", "supervisor", w.district, person=supervisor)
        record_supervision(
            data={
                "format": "individual",
                "mode": "onsite",
                "held_on": date(2022, 5, 20),
                "hours": 2,
                "topic": "个案督导",
            },
            supervisor=supervisor,
            supervisees=[w.trainee_person],
            actor=w.coord,
        )
        db.session.commit()
        return {"course": crs.id, "s1": s1.id, "s2": s2.id, "trainee_person": w.trainee_person.id, "coord": w.coord.id}


def test_the_catalogue_says_seats_and_the_waitlist_before_enrolling(app, site):
    c = client_for(app, "trainee")
    text = c.get("/my/catalogue").get_data(as_text=True)
    assert "社区协商议事" in text and "Full" in text and "1 waiting" in text
    assert "Enrolling now puts you on the waitlist, number 2." in text and "Join the waitlist" in text
    r = c.post(f"/my/courses/{site['course']}/enrol", data={})
    assert r.status_code == 302
    my = c.get("/my/").get_data(as_text=True)
    assert "number 2 in the queue" in my
    # someone ahead withdraws: the rank moves up, whatever the sequence number says
    with app.app_context():
        from shegong_academy.people.models import Person
        from shegong_academy.training.services import withdraw

        crs = db.session.get(Course, site["course"])
        li = db.session.scalars(select(Person).where(Person.name == "李四")).one()
        withdraw(course=crs, person=li, actor=db.session.get(User, site["coord"]))
        db.session.commit()
    assert "number 1 in the queue" in c.get("/my/").get_data(as_text=True)


def test_the_calendar_feed_is_private_follows_cancellations_and_can_be_reset(app, site):
    c = client_for(app, "trainee")
    with app.app_context():
        me = db.session.scalars(select(User).where(User.username == "trainee")).one()
        crs = db.session.get(Course, site["course"])
        enrol(course=crs, person=me.person, actor=None, self_service=True)
        # give the trainee a seat: raise the capacity
        crs.capacity = 5
        db.session.execute(Course.__table__.update().values(capacity=5))
        db.session.commit()
    with app.app_context():
        from shegong_academy.training.services import _promote_first

        _promote_first(db.session.get(Course, site["course"]), None)
        _promote_first(db.session.get(Course, site["course"]), None)
        db.session.commit()
    page = c.get("/my/calendar").get_data(as_text=True)
    url = page.split('readonly value="')[1].split('"')[0]
    path = url.removeprefix("http://localhost")
    anonymous = app.test_client()
    feed = anonymous.get(path)
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    events = [e for e in Calendar.from_ical(feed.data).walk("VEVENT")]
    assert len(events) == 2 and {str(e["summary"]) for e in events} == {"社区协商议事"}
    with app.app_context():
        from shegong_academy.training.models import CourseSession

        cancel_session(session=db.session.get(CourseSession, site["s2"]), reason="场地检修", actor=None)
        db.session.commit()
    events = Calendar.from_ical(anonymous.get(path).data).walk("VEVENT")
    assert sorted(str(e["status"]) for e in events) == ["CANCELLED", "CONFIRMED"]
    assert anonymous.get(path.replace(".ics", "0.ics")).status_code == 404  # a guessed address
    assert anonymous.get("/calendar/1-" + "0" * 32 + ".ics").status_code == 404
    assert c.post("/my/calendar", data={}).status_code == 302  # a new address
    assert anonymous.get(path).status_code == 404  # the old one stops


def test_a_person_record_by_year_never_shows_supervision_notes(app, site):
    c = client_for(app, "coord")
    text = c.get(f"/people/{site['trainee_person']}").get_data(as_text=True)
    assert "Record by year" in text and "2022" in text and "个案督导" in text
    mine = client_for(app, "trainee").get("/my/record").get_data(as_text=True)
    assert "个案督导" in mine and "孙督导" in mine


def test_the_statement_of_hours_counts_what_the_ledger_counts(app, site):
    with app.app_context():
        w_coord = db.session.get(User, site["coord"])
        crs = course(program(db.session.get(Course, site["course"]).program.unit, year=2022), code="P2", hours=3)
        s = session(crs, 0)
        me = db.session.scalars(select(User).where(User.username == "trainee")).one().person
        enrol(course=crs, person=me, actor=w_coord)
        save_roster(session=s, exceptions={}, actor=w_coord)
        db.session.commit()
    c = client_for(app, "trainee")
    text = c.get("/my/hours?from=2022-01-01&to=2022-12-31").get_data(as_text=True)
    assert "社会工作专业理念与方法" in text and "个案督导" in text
    assert '<td class="num">3.0</td>' in text and '<td class="num">2.0</td>' in text
    bad = c.get("/my/hours?from=2022-12-31&to=2022-01-01")
    assert bad.status_code == 200 and "Choose a period whose end is not before its start." in bad.get_data(as_text=True)
    empty = c.get("/my/hours?from=2020-01-01&to=2020-12-31").get_data(as_text=True)
    assert "No hours in this period." in empty
    assert re.findall(r"<tfoot>.*?</tfoot>", empty, re.S)[0].count('<td class="num">0.0</td>') == 2  # as 3.0 is
    for query, message in (
        ("from=2022-13-01&to=2022-12-31", "Enter both dates as year-month-day, such as "),
        ("from=1900-01-01&to=2022-12-31", "Choose dates from "),
    ):
        answer = c.get(f"/my/hours?{query}")
        assert answer.status_code == 200 and message in answer.get_data(as_text=True), query


def test_the_live_figures_follow_check_ins(app, site):
    c = client_for(app, "coord")
    live = c.get(f"/sessions/{site['s1']}/live.json").json
    assert live == {"checked_in": 0, "seats": 2, "marks": {}}
    with app.app_context():
        from shegong_academy.training.models import CourseSession

        save_roster(
            session=db.session.get(CourseSession, site["s1"]), exceptions={}, actor=db.session.get(User, site["coord"])
        )
        db.session.commit()
    live = c.get(f"/sessions/{site['s1']}/live.json").json
    assert live["checked_in"] == 2 and {m["method"] for m in live["marks"].values()} == {"roster"}
    assert client_for(app, "coordout").get(f"/sessions/{site['s1']}/live.json").status_code == 404


def _log_table(client, page: str) -> str:
    """The log's entries on a page (its filter's list of actions names every code)."""
    return re.search("<table.*?</table>", client.get(page).get_data(as_text=True), re.S).group(0)


def test_the_audit_log_filters_keeps_to_the_readers_units_and_exports(app, site):
    with app.app_context():
        from shegong_academy.audit.services import record_audit
        from shegong_academy.people.models import Person

        outsider = db.session.scalars(select(Person).where(Person.name == "赵六")).one()
        coord_out = db.session.scalars(select(User).where(User.username == "coordout")).one()
        record_audit(
            actor=coord_out,
            action="person.update",
            entity_type="person",
            entity_id=outsider.id,
            before={"phone": None},
            after={"phone": "13900000001"},
        )
        db.session.commit()
    c = client_for(app, "coord")
    text = _log_table(c, "/audit/")
    assert "course.create" in text and "enrolment" in text
    assert "赵六" not in text and "coordout" not in text  # another district's change stays out
    only = _log_table(c, "/audit/?action=enrolment.")
    assert "enrolment.enrolled" in only and "course.create" not in only
    by_object = _log_table(c, f"/audit/?object=course&id={site['course']}")
    assert "course.create" in by_object and "enrolment." not in by_object
    admin_text = _log_table(client_for(app, "admin"), "/audit/?who=coordout")
    assert "person.update" in admin_text and "13900000001" in admin_text
    export = c.get("/audit/export.csv?action=enrolment.")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(export.data.decode("utf-8-sig"))))
    assert rows[0] == [
        "Time",
        "By",
        "Action",
        "Object",
        "Object number",
        "Change",
        "Address",
        "Action code",
        "Before (as recorded)",
        "After (as recorded)",
    ]
    assert {(r[2], r[7]) for r in rows[1:]} <= {
        ("Enrolled", "enrolment.enrolled"),
        ("Put on the waitlist", "enrolment.waitlisted"),
    }
    assert len(rows) == 4  # three enrolments
    assert client_for(app, "trainee").get("/audit/").status_code == 403


AUDIT_WORDS = {
    "zh-CN": {
        "phone": "手机号：",
        "active": "在职：",
        "titles": "人才称号：",
        "category": "人员类别：",
        "unit": "所属单位：",
        "yes": "是",
        "no": "否",
        "worker": "社区专职工作者",
        "psw": "项目社工",
        "leaders": "社会工作督导、市社会组织领军人才",
        "person": "人员",
        "edited": "修改人员",
        "no_level": "职业水平等级： 无",
    },
    "en": {
        "phone": "Mobile phone:",
        "active": "Active:",
        "titles": "Titles:",
        "category": "Category:",
        "unit": "Unit:",
        "yes": "Yes",
        "no": "No",
        "worker": "Community worker",
        "psw": "Project social worker",
        "leaders": "Social-work supervisor, City social-organisation leading talent",
        "person": "Person",
        "edited": "Person edited",
        "no_level": "Qualification level: None",  # the label of the level "none", not Python's None
    },
}


def _audit_text(client, page: str, part: str) -> str:
    html = re.search(part, client.get(page).get_data(as_text=True), re.S).group(0)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_audit_entries_read_as_words_not_codes_or_python_on_every_page_that_shows_them(app, site, lang):
    """A field is named as its form names it, a code as its select does, a unit by its name; an empty field is
    "—", a switch yes or no, a list its items: never unit_id, community_worker, None, True or ['a', 'b'].
    A field with no name of its own keeps its key. A deletion (only a "before") is shown on the person's page
    too. The action reads as words (修改人员), and one with none keeps its code; the log also shows the code,
    which its filter takes."""
    with app.app_context():
        from shegong_academy.audit.services import record_audit
        from shegong_academy.org.queries import unit_by_code
        from shegong_academy.people.models import Person

        someone = db.session.scalars(select(Person).where(Person.name == "李四")).one()
        admin = db.session.scalars(select(User).where(User.username == "admin")).one()
        street2 = unit_by_code("330105002")
        record_audit(
            actor=admin,
            action="person.update",
            entity_type="person",
            entity_id=someone.id,
            before={
                "phone": None,
                "active": True,
                "titles": [],
                "category": "community_worker",
                "unit_id": someone.unit_id,
            },
            after={
                "phone": "13900000002",
                "active": False,
                "titles": ["supervisor", "city_leader"],
                "category": "project_social_worker",
                "unit_id": street2.id,
            },
        )
        record_audit(
            actor=admin, action="person.forget", entity_type="person", entity_id=someone.id, before={"note": "旧"}
        )
        db.session.commit()
        person_id = someone.id
    words = AUDIT_WORDS[lang]
    c = client_for(app, "admin", lang=lang)
    # the log's table, and the person's history (the person page's own fields hold words such as "None" in English)
    for page, part in (
        (f"/audit/?object=person&id={person_id}", "<table.*?</table>"),
        (f"/people/{person_id}", '<ol class="history">.*?</ol>'),
    ):
        text = _audit_text(c, page, part)
        assert f"{words['phone']} — → 13900000002" in text, page
        assert f"{words['active']} {words['yes']} → {words['no']}" in text, page
        assert f"{words['titles']} — → {words['leaders']}" in text, page  # a list as its language separates it
        assert f"{words['category']} {words['worker']} → {words['psw']}" in text, page
        assert f"{words['unit']} 和睦社区 → 湖墅街道" in text, page
        assert "note" in text and "旧" in text, page
        assert words["edited"] in text and "person.forget" in text, page
        text = text.replace(words["no_level"], "")
        if page.startswith("/audit/"):  # the log names the code beside its words, for its filter
            assert "person.update" in text
            text = text.replace("person.update", "")
        for raw in ("person.update", "None", "True", "False", "['", "unit_id", "community_worker", "city_leader"):
            assert raw not in text, (page, text[max(0, text.find(raw) - 200) : text.find(raw) + 40])
    log = _audit_text(c, f"/audit/?object=person&id={person_id}", "<table.*?</table>")
    assert f"{words['person']} {person_id}" in log


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_a_certificates_entry_names_its_credential_and_shows_an_unchanged_field_once(app, site, lang):
    """A certificate's issue names the credential by its title, not its key; a field both sides hold with the same
    value (the category, when the credential changes none) is shown once, not as "a → a"; the export says the
    same in words and keeps what was written, as JSON, for a machine."""
    import json

    from shegong_academy.audit.services import record_audit
    from shegong_academy.credentials.models import CredentialType
    from shegong_academy.org.queries import unit_by_code

    with app.app_context():
        admin = db.session.scalars(select(User).where(User.username == "admin")).one()
        district = unit_by_code("330105")
        db.session.add(
            CredentialType(
                name="training-completion",
                title="培训结业证书",
                design="completion-zh",
                issuer_unit_id=district.id,
                issuer_name="杭州市拱墅区民政局",
                issuer_code="GS",
            )
        )
        record_audit(
            actor=admin,
            action="certificate.issue",
            entity_type="certificate",
            entity_id=4242,
            before={"category": "community_worker", "replaces": None, "renews": None},
            after={"serial": "GS-2022-0001", "credential": "training-completion", "category": "community_worker"},
        )
        db.session.commit()
    c = client_for(app, "admin", lang=lang)
    text = _audit_text(c, "/audit/?object=certificate&id=4242", "<table.*?</table>")
    category = {"zh-CN": "人员类别： 社区专职工作者", "en": "Category: Community worker"}[lang]
    assert "培训结业证书" in text and "training-completion" not in text
    assert category in text and "→" not in text, text
    rows = list(csv.reader(io.StringIO(c.get("/audit/export.csv?object=certificate").data.decode("utf-8-sig"))))
    [row] = rows[1:]
    in_cell = {"zh-CN": "人员类别：社区专职工作者", "en": "Category: Community worker"}[lang]  # a line a field
    assert "培训结业证书" in row[5] and in_cell in row[5].split("\n") and "→" not in row[5]
    assert row[7] == "certificate.issue"
    assert json.loads(row[9])["credential"] == "training-completion"  # as written


def _audited_actions() -> tuple[set[str], int]:
    """Every action code the app writes to the log, read from its calls of record_audit and of its two helpers
    (the action their second argument); and how many are built at run time (f-strings), each expanded below."""
    import ast
    from pathlib import Path

    import shegong_academy

    codes: set[str] = set()
    built = 0

    def take(node) -> None:
        nonlocal built
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            codes.add(node.value)
        elif isinstance(node, ast.IfExp):
            take(node.body)
            take(node.orelse)
        elif isinstance(node, ast.JoinedStr):
            built += 1
        # a name (a helper's parameter) is the action its callers pass, taken where they call it

    for path in Path(shegong_academy.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            called = getattr(node.func, "id", getattr(node.func, "attr", None))
            if called == "record_audit":
                for keyword in node.keywords:
                    if keyword.arg == "action":
                        take(keyword.value)
            elif called in ("_audit", "_audit_changes") and len(node.args) > 1:
                take(node.args[1])
    return codes, built


def test_every_action_the_app_audits_reads_as_words_in_both_languages(app):
    """The log, an account's and a person's history name an action in words (修改课程, "Course edited"): every
    code the app writes has words, in Chinese as well. A new action without them fails here."""
    from flask_babel import force_locale

    from shegong_academy.audit.labels import ACTIONS, action_label

    codes, built = _audited_actions()
    assert len(codes) > 50, codes  # the scan found the calls
    # the three built at run time: a program or course closed or reopened, an enrolment's outcome, a confirmation
    assert built == 3
    codes |= {f"{kind}.{verb}" for kind in ("program", "course") for verb in ("close", "reopen")}
    codes |= {"enrolment.enrolled", "enrolment.waitlisted", "supervision.confirmed", "supervision.disputed"}
    assert sorted(codes - set(ACTIONS)) == []
    with app.test_request_context():
        for code in codes:
            with force_locale("en"):
                english = action_label(code)
            with force_locale("zh_Hans_CN"):
                chinese = action_label(code)
            assert english != code and chinese != english, (code, english, chinese)
            assert re.search(r"[\u4e00-\u9fff]", chinese), (code, chinese)


@pytest.mark.parametrize(
    "lang, lines",
    [
        ("en", ["李四, sitting 1: — → 83", "李四, sitting 2: Absent (病假) → 86.5", "钱七, sitting 1: 60 → —"]),
        ("zh-CN", ["李四 第 1 次：— → 83", "李四 第 2 次：缺席 (病假) → 86.5", "钱七 第 1 次：60 → —"]),
    ],
)
def test_recorded_scores_read_a_line_a_person_and_sitting(app, site, lang, lines):
    """An entry of scores (``{"person#sitting": [before, after]}``, each ``[outcome, score, reason]``) reads
    one line a sitting, the person by name, a score as written on the roster, an outcome by its word; a value
    of another shape is shown as any other, never dropped."""
    with app.app_context():
        from shegong_academy.audit.services import record_audit
        from shegong_academy.people.models import Person

        names = dict(db.session.execute(select(Person.name, Person.id).where(Person.name.in_(["李四", "钱七"]))).all())
        admin = db.session.scalars(select(User).where(User.username == "admin")).one()
        changes = {
            f"{names['钱七']}#1": [["scored", "60.0", None], None],
            f"{names['李四']}#2": [["absent", None, "病假"], ["scored", "86.5", None]],
            f"{names['李四']}#1": [None, ["scored", "83.00", None]],
        }
        record_audit(
            actor=admin,
            action="assessment.results",
            entity_type="assessment",
            entity_id=7001,
            after={"source": "roster", "changes": changes},
        )
        record_audit(
            actor=admin,
            action="assessment.results",
            entity_type="assessment",
            entity_id=7002,
            after={"changes": {"odd": [1, 2]}},
        )
        db.session.commit()
    c = client_for(app, "admin", lang=lang)
    text = _audit_text(c, "/audit/?object=assessment&id=7001", "<table.*?</table>")
    positions = [text.find(line) for line in lines]
    assert -1 not in positions, (lines, text)
    assert positions == sorted(positions)  # by person, then sitting
    assert "#" not in text and "scored" not in text
    odd = _audit_text(c, "/audit/?object=assessment&id=7002", "<table.*?</table>")
    assert "odd=1" in odd and "2" in odd


def test_an_accounts_history_names_the_unit_its_creation_wrote_by_code(app, site):
    """An account's creation writes its unit by code (330105002): its history names the unit (湖墅街道) to a
    reader who may see it; one who may not reads the code."""
    with app.app_context():
        from shegong_academy.audit.services import record_audit

        trainee = db.session.scalars(select(User).where(User.username == "trainee")).one()
        record_audit(
            actor=None,
            action="user.create",
            entity_type="user",
            entity_id=trainee.id,
            after={"username": "trainee", "role": "trainee", "unit": "330105002"},
        )
        db.session.commit()
        trainee_id = trainee.id
    history = _audit_text(client_for(app, "admin"), f"/users/{trainee_id}", "<h2>History</h2>.*?</table>")
    assert "Unit: 湖墅街道" in history and "330105002" not in history
    outside = _audit_text(client_for(app, "coordout"), f"/audit/?object=user&id={trainee_id}", "<table.*?</table>")
    assert "湖墅街道" not in outside


def test_an_audit_entry_names_only_what_the_reader_may_see(app, site):
    """An entry a coordinator may read (about a person of their district) that refers to a person and a unit of
    another district shows their numbers, not their names; the administrator reads the names."""
    with app.app_context():
        from shegong_academy.audit.services import record_audit
        from shegong_academy.org.queries import unit_by_code
        from shegong_academy.people.models import Person

        someone = db.session.scalars(select(Person).where(Person.name == "李四")).one()
        outsider = db.session.scalars(select(Person).where(Person.name == "赵六")).one()
        other = unit_by_code("330106")
        coord = db.session.scalars(select(User).where(User.username == "coord")).one()
        record_audit(
            actor=coord,
            action="person.update",
            entity_type="person",
            entity_id=someone.id,
            after={"supervisor_id": outsider.id, "unit_id": other.id, "supervisees": [someone.id, outsider.id]},
        )
        db.session.commit()
        ids = {"someone": someone.id, "outsider": outsider.id, "other": other.id}
    page = f"/audit/?object=person&id={ids['someone']}"
    coordinator = _audit_text(client_for(app, "coord"), page, "<table.*?</table>")
    assert f"Supervised by: {ids['outsider']}" in coordinator and f"Unit: {ids['other']}" in coordinator
    assert f"Supervisees: 李四, {ids['outsider']}" in coordinator
    assert "赵六" not in coordinator and "西湖区" not in coordinator
    administrator = _audit_text(client_for(app, "admin"), page, "<table.*?</table>")
    assert "Supervised by: 赵六" in administrator and "Unit: 西湖区" in administrator
    assert "Supervisees: 李四, 赵六" in administrator


def test_a_list_ticked_in_another_order_is_not_a_change(app):
    """The form's ticks come back in the order they were ticked: the same items reordered are shown once."""
    from types import SimpleNamespace

    from flask_babel import force_locale

    from shegong_academy.audit.labels import change_lines

    entry = SimpleNamespace(
        entity_type="person",
        before={"service_areas": ["disability", "elderly"], "titles": []},
        after={"service_areas": ["elderly", "disability"], "titles": ["supervisor"]},
    )
    with app.test_request_context(), force_locale("zh_CN"):
        lines = change_lines(entry)
    assert [text for _label, text in lines] == ["养老服务、助残服务", "— → 社会工作督导"], lines
