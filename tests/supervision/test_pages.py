"""The supervision pages through the test client: the new-record form (success, every refusal with
its message and nothing written, the ratio flash), the coordinator's list with its filters, the CSV
and XLSX exports, the supervisee's confirmations, statuses, and who may open what."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from html import unescape
from types import SimpleNamespace

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from shegong_academy.auth.models import User
from shegong_academy.extensions import db
from shegong_academy.people.models import Person
from shegong_academy.supervision.models import SupervisionCredit, SupervisionRecord
from shegong_academy.supervision.services import respond_to_credit
from tests.factories import login
from tests.supervision import NOTES, counts, ids_of, record, shanghai_tomorrow, stored_notes, sup_world

HEADER = ["日期", "督导", "形式", "方式", "类别", "时长(小时)", "主题", "被督导人", "确认状态"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def site(app):
    with app.app_context():
        w = sup_world()
        ids = ids_of(w)

    def client(username: str | None, lang: str | None = "en"):
        c = app.test_client()
        if lang:
            c.environ_base["HTTP_ACCEPT_LANGUAGE"] = lang
        if username:
            assert login(c, username).status_code == 302
        return c

    def db_counts():
        with app.app_context():
            return counts()

    return SimpleNamespace(app=app, ids=ids, client=client, counts=db_counts)


def form_data(ids, **changes) -> dict:
    data = {
        "supervisor_id": ids.sup_person,
        "supervisee_ids": [ids.person, ids.trainee_person],
        "format": "group",
        "mode": "onsite",
        "kind": "overall",
        "held_on": "2023-03-01",
        "hours": "2",
        "topic": "表单小组督导",
        "functions": ["educational", "supportive"],
        "advice": "梳理服务记录。",
        "follow_up": "",
        "notes": NOTES,
    }
    data.update(changes)
    return data


def field_error(html: str, name: str) -> bool:
    """Whether the form field ``name`` is marked as in error."""
    return bool(re.search(rf'<div class="field[^"]*\bhas-error\b[^"]*">\s*<label for="{name}"', html))


def options(html: str, name: str) -> list[str]:
    select_html = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', html, re.S).group(1)
    return [unescape(t).strip() for t in re.findall(r"<option[^>]*>(.*?)</option>", select_html, re.S)]


# --- the new-record form -------------------------------------------------------------------------


def test_supervisor_form_offers_only_themself_and_in_scope_people(site):
    html = site.client("sup1").get("/supervision/new").text
    assert options(html, "supervisor_id") == ["督导甲"]
    supervisees = " ".join(options(html, "supervisee_ids"))
    assert "李四" in supervisees and "王五" in supervisees and "组员09" in supervisees
    assert "赵六" not in supervisees  # 西湖区
    assert "Only the session's supervisor ever sees these notes" in html


def test_coordinator_form_offers_the_supervisors_of_their_units(site):
    html = site.client("coord").get("/supervision/new").text
    assert sorted(options(html, "supervisor_id")) == ["督导乙", "督导甲"]


def test_supervisor_records_through_the_form(site):
    c = site.client("sup1")
    r = c.post("/supervision/new", data=form_data(site.ids))
    assert r.status_code == 302
    with site.app.app_context():
        rec = db.session.scalars(select(SupervisionRecord)).one()
        assert rec.supervisor_id == site.ids.sup_person and stored_notes(rec) == NOTES
        assert rec.held_on == date(2023, 3, 1) and rec.functions == ["educational", "supportive"]
        assert sorted(c.person_id for c in rec.credits) == sorted([site.ids.person, site.ids.trainee_person])
        assert {str(c.hours) for c in rec.credits} == {"2.0"}
        rid = rec.id
    assert r.headers["Location"].endswith(f"/supervision/{rid}")
    page = c.get(r.headers["Location"])
    assert page.status_code == 200
    assert "Supervision recorded: 2 supervisee(s) credited 2.0 hours each." in page.text
    assert "表单小组督导" in page.text and NOTES in page.text  # the author reads their notes


def test_a_large_district_lists_a_unit_at_a_time_and_the_form_still_reaches_everyone(site, monkeypatch):
    """Past the form's limit the list was cut silently: whoever came later by unit and name could not be chosen."""
    monkeypatch.setattr("shegong_academy.supervision.routes.SUPERVISEES_LISTED", 3)
    c = site.client("sup1")
    everyone = c.get("/supervision/new")
    assert len(options(everyone.text, "supervisee_ids")) == 3
    assert "Only the first 3 people are listed: choose a unit above to list the others." in everyone.text
    assert "和睦社区" in options(everyone.text, "unit")[3]  # the units, the community indented under its street
    community = c.get(f"/supervision/new?unit={site.ids.community}")
    assert [o.split("（")[0] for o in options(community.text, "supervisee_ids")] == ["李四", "钱七"]
    assert "Only the first" not in community.text
    # The form posts to the address it was shown at, unit included, and records for the people listed there.
    r = c.post(f"/supervision/new?unit={site.ids.community}", data=form_data(site.ids))
    assert r.status_code == 302
    with site.app.app_context():
        rec = db.session.scalars(select(SupervisionRecord)).one()
        assert sorted(c.person_id for c in rec.credits) == sorted([site.ids.person, site.ids.trainee_person])
    # someone of another unit than the one listed is refused like anyone not offered, and nothing is written
    before = site.counts()
    refused = c.post(f"/supervision/new?unit={site.ids.street2}", data=form_data(site.ids))
    assert refused.status_code == 200 and field_error(refused.text, "supervisee_ids") and site.counts() == before
    assert c.get(f"/supervision/new?unit={site.ids.other}").status_code == 404
    assert c.get("/supervision/new?unit=999999").status_code == 404


def test_the_form_takes_the_smallest_duration_it_states(site):
    """0.1 h is the stated minimum; bounded by the float 0.1, Decimal("0.1") counted as smaller."""
    r = site.client("sup1").post("/supervision/new", data=form_data(site.ids, hours="0.1"))
    assert r.status_code == 302
    with site.app.app_context():
        assert {str(c.hours) for c in db.session.scalars(select(SupervisionCredit))} == {"0.1"}


def test_coordinator_records_for_a_supervisor_through_the_form(site):
    r = site.client("coord").post(
        "/supervision/new",
        data=form_data(site.ids, format="individual", kind="special", supervisee_ids=[site.ids.person2], hours="1.5"),
    )
    assert r.status_code == 302
    with site.app.app_context():
        credit = db.session.scalars(select(SupervisionCredit)).one()
        assert credit.person_id == site.ids.person2 and str(credit.hours) == "1.5"


FORM_RULES = [
    # (id, who, change, field, message or None)
    (
        "individual-two",
        "sup1",
        {"format": "individual"},
        "supervisee_ids",
        "One-to-one supervision has exactly one supervisee.",
    ),
    ("group-one", "sup1", {"supervisee_ids": ["person"]}, "supervisee_ids", "Group supervision has at least two"),
    ("none", "sup1", {"supervisee_ids": []}, "supervisee_ids", None),
    (
        "self",
        "sup1",
        {"supervisee_ids": ["sup_person", "person"]},
        "supervisee_ids",
        "A supervisor cannot supervise themself.",
    ),
    ("hours-zero", "sup1", {"hours": "0"}, "hours", None),
    ("hours-negative", "sup1", {"hours": "-1"}, "hours", None),
    ("hours-over-8", "sup1", {"hours": "8.5"}, "hours", None),
    ("hours-text", "sup1", {"hours": "abc"}, "hours", None),
    ("hours-snan", "sup1", {"hours": "sNaN"}, "hours", "Not a valid decimal value."),  # was a 500
    ("hours-rounds-to-0", "sup1", {"hours": "0.04"}, "hours", None),
    ("future", "sup1", {"held_on": "tomorrow"}, "held_on", "The date is in the future."),
    ("bad-date", "sup1", {"held_on": "2023-02-30"}, "held_on", None),
    ("out-of-scope", "coord", {"supervisee_ids": ["person", "outsider"]}, "supervisee_ids", None),
    ("street-scope", "streetcoord", {"supervisee_ids": ["person", "person2"]}, "supervisee_ids", None),
    ("not-a-supervisor", "coord", {"supervisor_id": "plain"}, "supervisor_id", None),
    ("another-supervisor", "sup1", {"supervisor_id": "sup2_person"}, "supervisor_id", None),
    (
        "duplicate",
        "sup1",
        {"supervisee_ids": ["person", "person2", "person"]},
        "supervisee_ids",
        "A supervisee is listed twice.",
    ),
    (
        "duplicate-individual",
        "sup1",
        {"format": "individual", "supervisee_ids": ["person", "person"]},
        "supervisee_ids",
        "A supervisee is listed twice.",
    ),
    ("format", "sup1", {"format": "pair"}, "format", None),
    ("mode", "sup1", {"mode": "offline"}, "mode", None),
    ("kind", "sup1", {"kind": "formal"}, "kind", None),
    ("function", "sup1", {"functions": ["therapy"]}, "functions", None),
    ("topic", "sup1", {"topic": ""}, "topic", None),
]


def _resolve(ids, change: dict) -> dict:
    out = dict(change)
    if "supervisee_ids" in out:
        out["supervisee_ids"] = [getattr(ids, n) for n in out["supervisee_ids"]]
    if "supervisor_id" in out:
        out["supervisor_id"] = getattr(ids, out["supervisor_id"])
    if out.get("held_on") == "tomorrow":
        out["held_on"] = shanghai_tomorrow().isoformat()
    return out


@pytest.mark.parametrize("who,change,field,message", [r[1:] for r in FORM_RULES], ids=[r[0] for r in FORM_RULES])
def test_form_refusals_rerender_with_a_message_and_write_nothing(site, who, change, field, message):
    before = site.counts()
    r = site.client(who).post("/supervision/new", data=form_data(site.ids, **_resolve(site.ids, change)))
    assert r.status_code == 200
    html = unescape(r.text)
    assert field_error(html, field), field
    assert '<p class="error">' in r.text
    if message:
        assert message in html
    assert "表单小组督导" in html or field == "topic"  # the form keeps what was typed
    assert site.counts() == before


def test_form_messages_speak_chinese_by_default(site):
    r = site.client("sup1", lang=None).post("/supervision/new", data=form_data(site.ids, format="individual"))
    assert "个别督导只能有一名被督导人。" in unescape(r.text)
    r = site.client("sup1", lang=None).post(
        "/supervision/new", data=form_data(site.ids, held_on=shanghai_tomorrow().isoformat())
    )
    assert field_error(r.text, "held_on") and '<div class="flash flash-error"' in r.text


def test_ratio_warning_is_flashed_and_the_record_saved(site):
    with site.app.app_context():
        sup = db.session.get(Person, site.ids.sup_person)
        members = [db.session.get(Person, i) for i in site.ids.members[:8]]
        record(SimpleNamespace(sup_person=sup, sup=db.session.get(User, site.ids.sup)), supervisees=members)
    before = site.counts()
    c = site.client("sup1")
    r = c.post("/supervision/new", data=form_data(site.ids, supervisee_ids=site.ids.members[8:10]))
    assert r.status_code == 302
    page = c.get(r.headers["Location"]).text
    assert '<div class="flash flash-warning"' in page
    assert "督导甲 supervises 10 people in 2023, above the ratio of 1:8." in unescape(page)
    after = site.counts()
    assert after["SupervisionRecord"] == before["SupervisionRecord"] + 1
    assert after["SupervisionCredit"] == before["SupervisionCredit"] + 2


@pytest.mark.parametrize("url", ["/supervision/", "/supervision/new", "/supervision/export.csv"])
def test_trainee_and_anonymous_are_kept_out(site, url):
    assert site.client("trainee").get(url).status_code == 403
    r = site.client(None).get(url)
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_trainee_cannot_post_a_record(site):
    before = site.counts()
    assert site.client("trainee").post("/supervision/new", data=form_data(site.ids)).status_code == 403
    assert site.counts() == before


# --- the coordinator's list, filters and exports ----------------------------------------------------

TOPICS = {"A": "甲-2022团体", "B": "乙-2023个别线上", "C": "丙-督导乙团体", "D": "丁-督导乙个别"}


@pytest.fixture
def listed(site):
    """Four records: A sup1 2022 group onsite; B sup1 2023 individual online; C sup2 2023 group online;
    D sup2 2023 individual onsite. 钱七 confirmed A and disputed C; 李四's credit of D is confirmed."""
    with site.app.app_context():
        p = {n: db.session.get(Person, getattr(site.ids, n)) for n in ("person", "person2", "trainee_person")}
        sup1, sup2 = db.session.get(Person, site.ids.sup_person), db.session.get(Person, site.ids.sup2_person)
        coord = db.session.get(User, site.ids.coord)
        trainee = db.session.get(User, site.ids.trainee)
        w = SimpleNamespace(sup_person=sup1, sup=coord)

        def make(key, supervisor, supervisees, **kw):
            return record(w, supervisor=supervisor, supervisees=supervisees, topic=TOPICS[key], **kw).record

        a = make("A", sup1, [p["person"], p["trainee_person"]], held_on=date(2022, 5, 1), mode="onsite")
        b = make("B", sup1, [p["person2"]], held_on=date(2023, 3, 1), mode="online", format="individual")
        c = make("C", sup2, [p["person2"], p["trainee_person"]], held_on=date(2023, 4, 1), mode="online")
        d = make("D", sup2, [p["person"]], held_on=date(2023, 6, 1), mode="onsite", format="individual")

        def credit(rec, person):
            return db.session.scalar(
                select(SupervisionCredit).where(
                    SupervisionCredit.record_id == rec.id, SupervisionCredit.person_id == person.id
                )
            )

        respond_to_credit(credit=credit(a, p["trainee_person"]), actor=trainee, confirm=True)
        respond_to_credit(credit=credit(c, p["trainee_person"]), actor=trainee, confirm=False, reason="时长有误")
        credit(d, p["person"]).status = "confirmed"
        db.session.commit()
        credit_ids = {
            "A-qian": credit(a, p["trainee_person"]).id,
            "A-li": credit(a, p["person"]).id,
            "C-qian": credit(c, p["trainee_person"]).id,
        }
        return SimpleNamespace(ids={"A": a.id, "B": b.id, "C": c.id, "D": d.id}, credits=credit_ids)


def shown(html: str) -> set[str]:
    return {k for k, t in TOPICS.items() if t in html}


@pytest.mark.parametrize(
    "query,expected",
    [
        ("", "ABCD"),
        ("year=2022", "A"),
        ("year=2023", "BCD"),
        ("year=2021", ""),
        ("format=individual", "BD"),
        ("format=group", "AC"),
        ("mode=online", "BC"),
        ("mode=onsite", "AD"),
        ("supervisor={sup2_person}", "CD"),
        ("supervisor={sup_person}", "AB"),
        ("status=disputed", "C"),
        ("status=confirmed", "AD"),
        ("status=unconfirmed", "ABC"),
        ("unit={street2}", "BC"),
        ("unit={community}", "ACD"),
        ("year=2023&format=group", "C"),
        ("year=2023&mode=onsite&supervisor={sup2_person}", "D"),
        ("format=wizard", "ABCD"),  # an unknown value filters nothing
    ],
)
def test_list_filters_return_exactly_the_matching_records(site, listed, query, expected):
    query = query.format(**vars(site.ids))
    c = site.client("coord")
    r = c.get(f"/supervision/?{query}")
    assert r.status_code == 200
    assert shown(r.text) == set(expected)
    assert f"{len(expected)} records" in r.text
    rows = list(csv.reader(io.StringIO(c.get(f"/supervision/export.csv?{query}").data.decode("utf-8-sig"))))
    assert {k for k, t in TOPICS.items() for row in rows[1:] if row[6] == t} == set(expected)
    assert len(rows) == 1 + len(expected)


def test_the_list_comes_in_pages_with_the_whole_count_and_every_supervisor_to_filter_by(site, listed):
    """Two records a page: newest first, the count of them all, and the filter offers supervisors on other pages."""
    site.app.config["LMS_PER_PAGE"] = 2
    c = site.client("coord")
    first = c.get("/supervision/?mode=")
    assert first.status_code == 200
    assert shown(first.text) == set("DC") and "4 records" in first.text and "Page 1 of 2" in first.text
    # both supervisors, though only sup2's records are on this page
    assert options(first.text, "supervisor") == ["All", "督导乙", "督导甲"]
    href = unescape(re.search(r'<nav class="pager"[^>]*>.*?<a href="([^"]+)">Next', first.text, re.S).group(1))
    assert "page=2" in href and "mode=" in href  # the next page keeps the filters
    second = c.get(href)
    assert shown(second.text) == set("BA") and "Page 2 of 2" in second.text
    assert shown(c.get("/supervision/?page=3").text) == set()  # past the end: an empty page, not an error
    assert shown(c.get("/supervision/?page=0").text) == set("DC")  # not a page number: the first page
    filtered = c.get(f"/supervision/?supervisor={site.ids.sup_person}")
    assert shown(filtered.text) == set("BA") and "2 records" in filtered.text and "Page" not in filtered.text


def test_unit_filter_outside_scope_is_404(site, listed):
    c = site.client("coord")
    assert c.get(f"/supervision/?unit={site.ids.other}").status_code == 404
    assert c.get("/supervision/?unit=999999").status_code == 404
    assert c.get(f"/supervision/export.csv?unit={site.ids.other}").status_code == 404


def test_csv_export_has_a_bom_and_chinese_headers(site, listed):
    r = site.client("coord", lang=None).get("/supervision/export.csv?year=2022")  # headers in the user's language
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.data.startswith(b"\xef\xbb\xbf")
    assert "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert rows[0] == HEADER
    assert rows[1][:2] == ["2022-05-01", "督导甲"] and rows[1][5] == "2.0" and rows[1][6] == TOPICS["A"]
    assert set(rows[1][7].split("、")) == {"李四", "钱七"}


def test_xlsx_export_opens_with_the_same_header(site, listed):
    r = site.client("coord", lang=None).get("/supervision/export.xlsx")
    assert r.status_code == 200 and r.mimetype == XLSX
    ws = load_workbook(io.BytesIO(r.data)).active
    rows = [list(row) for row in ws.iter_rows(values_only=True)]
    assert rows[0] == HEADER
    assert {row[6] for row in rows[1:]} == set(TOPICS.values())
    assert all(isinstance(row[5], float | int) for row in rows[1:])


def test_unknown_export_format_is_404(site):
    assert site.client("coord").get("/supervision/export.pdf").status_code == 404


def test_statuses_are_marked_on_the_coordinators_list(site, listed):
    c = site.client("coord", lang=None)  # Chinese, as coordinators see it
    html = c.get("/supervision/?year=2022").text
    assert re.search(r'class="tag ok" title="已确认">钱七</span>', html)
    assert re.search(r'class="tag muted" title="待确认">李四 · 待确认</span>', html)
    html = c.get("/supervision/?status=disputed").text
    assert re.search(r'class="tag bad" title="有异议">钱七 · 有异议</span>', html)
    assert "钱七 · Disputed" in site.client("coord").get("/supervision/?status=disputed").text
    detail = c.get(f"/supervision/{listed.ids['C']}").text
    assert "有异议：时长有误" in detail


def test_statuses_are_marked_on_the_supervisees_page(site, listed):
    html = site.client("trainee", lang=None).get("/supervision/mine").text
    assert TOPICS["A"] in html and TOPICS["C"] in html
    assert TOPICS["B"] not in html and TOPICS["D"] not in html  # not 钱七's
    row_a = re.search(rf"{TOPICS['A']}.*?</tr>", html, re.S).group(0)
    row_c = re.search(rf"{TOPICS['C']}.*?</tr>", html, re.S).group(0)
    assert "已确认" in row_a and "有异议：时长有误" in row_c


def test_another_districts_coordinator_sees_nothing(site, listed):
    c = site.client("coordout")
    html = c.get("/supervision/").text
    assert shown(html) == set() and "0 records" in html
    for rid in listed.ids.values():
        assert c.get(f"/supervision/{rid}").status_code == 404
    c = site.client("coordout", lang=None)  # the export's headers in Chinese
    rows = list(csv.reader(io.StringIO(c.get("/supervision/export.csv").data.decode("utf-8-sig"))))
    assert rows == [HEADER]
    ws = load_workbook(io.BytesIO(c.get("/supervision/export.xlsx").data)).active
    assert [list(r) for r in ws.iter_rows(values_only=True)] == [HEADER]


def test_another_supervisor_sees_only_their_own_records(site, listed):
    c = site.client("sup2")
    assert shown(c.get("/supervision/").text) == {"C", "D"}
    assert c.get(f"/supervision/{listed.ids['A']}").status_code == 404
    assert c.get(f"/supervision/{listed.ids['C']}").status_code == 200


# --- the supervisee confirms or disputes -------------------------------------------------------------


def _status(site, credit_id):
    with site.app.app_context():
        credit = db.session.get(SupervisionCredit, credit_id)
        return credit.status, credit.reason


def test_supervisee_confirms_from_their_page(site, listed):
    c = site.client("trainee")
    cid = listed.credits["A-qian"]
    with site.app.app_context():
        db.session.get(SupervisionCredit, cid).status = "unconfirmed"
        db.session.commit()
    r = c.post(f"/supervision/credits/{cid}/confirm")
    assert r.status_code == 302 and r.headers["Location"].endswith("/supervision/mine")
    assert _status(site, cid) == ("confirmed", None)
    assert "Thank you: your answer is recorded." in c.get("/supervision/mine").text


def test_supervisee_disputes_with_a_reason(site, listed):
    c = site.client("trainee")
    cid = listed.credits["A-qian"]
    r = c.post(f"/supervision/credits/{cid}/dispute", data={"reason": "那天我在外地培训"})
    assert r.status_code == 302
    assert _status(site, cid) == ("disputed", "那天我在外地培训")
    assert "那天我在外地培训" in c.get("/supervision/mine").text


@pytest.mark.parametrize("data", [{}, {"reason": ""}, {"reason": "   "}])
def test_a_dispute_without_a_reason_changes_nothing(site, listed, data):
    c = site.client("trainee")
    cid = listed.credits["A-qian"]
    before = site.counts()
    r = c.post(f"/supervision/credits/{cid}/dispute", data=data)
    assert r.status_code == 302
    page = c.get("/supervision/mine").text
    assert '<div class="flash flash-error"' in page and "Please give a reason for the dispute." in page
    assert _status(site, cid) == ("confirmed", None)
    assert site.counts() == before


@pytest.mark.parametrize("who", ["trainee", "coord", "admin", "sup1"])
def test_someone_elses_credit_is_404(site, listed, who):
    cid = listed.credits["A-li"]  # 李四's
    before = site.counts()
    c = site.client(who)
    assert c.post(f"/supervision/credits/{cid}/confirm").status_code == 404
    assert c.post(f"/supervision/credits/{cid}/dispute", data={"reason": "x"}).status_code == 404
    assert c.post("/supervision/credits/999999/confirm").status_code == 404
    assert _status(site, cid) == ("unconfirmed", None)
    assert site.counts() == before


def test_the_form_names_every_problem_at_once(site):
    """A duration out of range (the form's check), a date in the future and a one-to-one session with two
    supervisees (the service's) are all marked on the first try, and nothing is written."""
    c = site.client("sup1")
    future = shanghai_tomorrow().isoformat()
    before = site.counts()
    r = c.post("/supervision/new", data=form_data(site.ids, hours="20", held_on=future, format="individual"))
    assert r.status_code == 200 and site.counts() == before
    html = r.text
    assert field_error(html, "hours") and field_error(html, "held_on") and field_error(html, "supervisee_ids")


def test_the_form_names_a_supervisees_unit_with_the_unit_above_it(site):
    """Communities of different streets share names (杏花社区): a supervisee is listed with both."""
    html = site.client("sup1").get("/supervision/new").text
    assert "李四（米市巷街道 和睦社区）" in unescape(html)
