"""Pages on a phone (390 px): a page's title has its own line; the attendance sheet, one's certificates, the
credential types, the programs and their courses, a course's sessions, the supervision records and the
continuing-education list become one card per row with each value labelled in the page's language; the
dashboard keeps a unit to a row; a course's attendance grid scrolls in its box with the names in view; the
supervision form's hint is for a finger. Each page fits the screen."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shegong_academy.credentials.services import issue_certificate
from shegong_academy.extensions import db
from shegong_academy.training.models import CourseSession, Program
from tests.conftest import make_app, serving
from tests.credentials.helpers import attend, completion_type
from tests.e2e.conftest import PHONE, opened, sign_in
from tests.factories import PASSWORD, World

pytestmark = pytest.mark.e2e


@pytest.fixture
def phone(browser, live_server):
    with opened(browser, live_server, phone=True) as page:
        yield page


def box(page, selector: str) -> dict:
    found = page.locator(selector).first.bounding_box()
    assert found is not None, selector
    return found


def test_a_trainees_title_has_its_own_line_above_the_buttons_and_the_year(phone):
    sign_in(phone, "trainee")
    phone.goto("/my/")
    title = box(phone, ".pagehead h1")
    buttons = box(phone, ".pagehead .actions")
    years = box(phone, ".pagehead .yearnav")
    assert title["width"] >= PHONE["width"] * 0.8  # the whole row, not a narrow column of two characters
    assert title["height"] < 60  # “欢迎您，付晓鑫” on one line
    assert buttons["y"] >= title["y"] + title["height"]
    assert years["y"] >= title["y"] + title["height"]
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_the_header_is_two_lines_on_a_phone_and_the_account_pages_are_in_its_menu(phone):
    """A coordinator's eight sections and five account pages once took four lines (180 px) of a 390 px phone,
    with 退出登录 broken over two: now the brand and the tools, then the sections in a row that scrolls."""
    sign_in(phone, "gongshu")
    phone.goto("/people/")
    header = box(phone, ".topbar")
    assert header["height"] < 100, header
    sections = box(phone, ".mainnav")
    assert sections["height"] < 45  # one row
    assert phone.evaluate("document.querySelector('.mainnav').scrollWidth") > PHONE["width"]  # it scrolls
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # the page does not
    sign_out = phone.locator("form[action$='/logout'] button")
    assert not sign_out.is_visible()
    phone.locator("details.account summary").click()
    assert sign_out.is_visible() and box(phone, "form[action$='/logout'] button")["height"] < 45  # one line
    menu = box(phone, "details.account .menu")
    assert menu["x"] >= 0 and menu["x"] + menu["width"] <= PHONE["width"]
    phone.keyboard.press("Escape")  # (focus is on the summary, in the menu)
    assert not sign_out.is_visible()
    # tabbing past its last item closes it; on one of its pages, its name says the page is in it
    phone.locator("details.account summary").click()
    sign_out.focus()
    phone.keyboard.press("Tab")
    assert not sign_out.is_visible()
    phone.goto("/notifications/preferences")
    assert phone.locator("details.account summary").get_attribute("aria-current") == "true"
    # the section one is on, last in the row, is scrolled into view
    phone.goto("/supervision/")
    active = box(phone, ".mainnav a.active")
    assert active["x"] >= 0 and active["x"] + active["width"] <= PHONE["width"], active


@pytest.mark.parametrize("width", [800, 1150])
def test_on_a_tablet_a_coordinators_sections_are_one_row_under_the_brand(browser, live_server, width):
    """In English a coordinator's eight sections took two rows at 1,150 px and three at 800 px, beside the brand."""
    with opened(browser, live_server, "en-US", viewport={"width": width, "height": 900}) as page:
        sign_in(page, "gongshu")
        page.goto("/people/")
        assert box(page, ".mainnav")["height"] < 45  # one row
        assert box(page, ".topbar")["height"] < 100
        assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_credential_types_are_cards_with_labelled_values_on_a_phone(phone):
    sign_in(phone, "gongshu")
    phone.goto("/credentials/")
    first_row = phone.locator("table.table tbody tr").first
    cells = first_row.locator("td")
    assert cells.count() == 5
    lefts = {round(cells.nth(i).bounding_box()["x"]) for i in range(5)}
    assert len(lefts) == 1  # one under another, each the card's width
    labels = [cells.nth(i).evaluate("td => getComputedStyle(td, '::before').content") for i in range(1, 5)]
    assert labels == ['"发证单位："', '"条件："', '"转岗："', '"有效证书："']
    assert "项目社工" in first_row.inner_text()
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


@pytest.fixture
def holder_server(db_url):
    """A world of its own whose trainee holds a certificate (the demo's trainee holds none)."""
    app = make_app(db_url, WTF_CSRF_ENABLED=True)
    with app.app_context():
        w = World()
        attend(w, [w.trainee_person])
        cert = issue_certificate(credential=completion_type(w), person=w.trainee_person, actor=w.coord, render=False)
        cert.pdf_sha256 = "9f2c" * 16  # as a rendered one has: 64 characters without a break
        db.session.commit()
    with serving(app, "e2e-phone-holder") as base:
        yield base
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_holders_certificates_are_labelled_cards_on_a_phone(browser, holder_server):
    with opened(browser, holder_server, phone=True) as page:
        sign_in(page, "trainee", PASSWORD)
        page.goto("/my/certificates")
        cells = page.locator("table.table tbody tr").first.locator("td")
        assert cells.count() == 6
        assert len({round(cells.nth(i).bounding_box()["x"]) for i in range(6)}) == 1
        labels = [cells.nth(i).evaluate("td => getComputedStyle(td, '::before').content") for i in range(1, 5)]
        assert labels == ['"证书编号："', '"签发日期："', '"有效期至："', '"状态："']
        assert "培训结业证书" in cells.nth(0).inner_text() and "PDF" in cells.nth(5).inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_a_certificates_page_fits_a_phone_with_its_fingerprint_wrapped(browser, holder_server):
    """The coordinator's page of a certificate: the PDF's 64-character fingerprint wraps inside its card (it
    had made the page 707 px wide on a 390 px phone)."""
    with opened(browser, holder_server, phone=True) as page:
        sign_in(page, "coord", PASSWORD)
        page.goto("/certificates/1")
        assert "9f2c" * 16 in page.inner_text("main").replace("\n", "")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_the_attendance_sheet_is_a_card_per_person_that_fits_a_phone(phone, live_app):
    """Marking attendance on a phone: name, unit, the four statuses and a reason box a thumb can use, without
    scrolling sideways (the sheet was 462 px wide, its reason boxes a few pixels)."""
    with live_app.app_context():
        session_id = db.session.scalar(select(CourseSession.id).order_by(CourseSession.id))
    sign_in(phone, "gongshu")
    phone.goto(f"/sessions/{session_id}")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    row = phone.locator("table.roster tbody tr[data-person]").first
    name, unit, statuses, why = (
        box(phone, f"table.roster tbody tr[data-person] td:nth-child({i})") for i in (1, 2, 3, 4)
    )
    assert name["y"] < unit["y"] < statuses["y"] < why["y"]  # one under another
    assert statuses["x"] + statuses["width"] <= PHONE["width"]
    assert row.locator("input.reason").bounding_box()["width"] >= 200
    assert len(row.locator("label.pill").all()) == 4
    row.locator("label.pill").nth(2).click()  # 请假 (excused): the radio is the label's to tap
    assert row.locator("input[type=radio]").nth(2).is_checked()


@pytest.mark.parametrize(
    ("path", "labels"),
    [
        ("/courses/{course}", ['"地点："', '"方式："', '"计入学时："']),
        ("/supervision/", ['"督导人员："', '"督导形式："', '"方式："', '"学时："', '"主题："']),
        ("/programs/", ['"类型："', '"层级："', '"主办单位："', '"年度："', '"课程："']),
    ],
)
def test_programs_a_courses_sessions_and_the_supervision_records_are_cards_on_a_phone(phone, live_app, path, labels):
    with live_app.app_context():
        course = db.session.scalar(select(CourseSession.course_id).order_by(CourseSession.id))
    sign_in(phone, "gongshu")
    phone.goto(path.format(course=course))
    cells = phone.locator("table.stack tbody tr").first.locator("td")
    assert len({round(cells.nth(i).bounding_box()["x"]) for i in range(cells.count())}) == 1
    found = [cells.nth(i).evaluate("td => getComputedStyle(td, '::before').content") for i in range(1, 1 + len(labels))]
    assert found == labels
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_choosing_supervisees_is_explained_for_a_finger_on_a_phone_and_for_ctrl_at_a_desk(phone, page):
    """A phone has no Ctrl key: its hint says to tap; a desk's says to hold Ctrl (or ⌘)."""
    for browser_page, shown, hidden in (
        (phone, "点选姓名即可多选", "按住 Ctrl"),
        (page, "按住 Ctrl", "点选姓名即可多选"),
    ):
        sign_in(browser_page, "supervisor")
        browser_page.goto("/supervision/new")
        assert browser_page.locator(f"p.hint:has-text('{shown}')").is_visible()
        assert not browser_page.locator(f"p.hint:has-text('{hidden}')").is_visible()


def test_labels_end_in_the_pages_own_colon(browser, live_server):
    """“状态：” with the Chinese full-width colon, “Status: ” in English."""
    for locale, expected in (("zh-CN", '"督导人员："'), ("en-US", '"Supervisor: "')):
        with opened(browser, live_server, locale, phone=True) as page:
            sign_in(page, "gongshu")
            page.goto("/supervision/")
            cell = page.locator("table.stack tbody tr").first.locator("td").nth(1)
            assert cell.evaluate("td => getComputedStyle(td, '::before').content") == expected


def test_the_dashboards_units_show_their_rates_in_a_row_each_on_a_phone(phone):
    """Unit, people, trained, supervised: the person-times and members wait for the report, and a street's
    name keeps one line (it was a column of one character per line)."""
    sign_in(phone, "gongshu")
    phone.goto("/coverage/")
    table = phone.locator("table.by-unit")
    visible = [h for h in table.locator("thead th").all() if h.is_visible()]
    assert [h.inner_text() for h in visible] == ["所属单位", "人员", "已培训", "已督导"]
    first = table.locator("tbody tr").first.locator("td").first
    assert first.bounding_box()["height"] < 40 and first.inner_text().endswith("街道")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_a_courses_attendance_grid_scrolls_sideways_on_a_phone_with_the_names_in_view(phone, live_app):
    """The grid is a matrix: a row per person one line high (it squeezed each name into a column of single
    characters, 138 px a row), scrolling inside its own box while each person's name stays in view."""
    with live_app.app_context():
        course = db.session.scalar(select(CourseSession.course_id).order_by(CourseSession.id))
    sign_in(phone, "gongshu")
    phone.goto(f"/courses/{course}")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    grid = phone.locator(".scroll-x:has(table.grid)")
    assert grid.evaluate("box => box.scrollWidth > box.clientWidth")  # the box scrolls, not the page
    name = phone.locator("table.grid tbody tr").first.locator("td").first
    assert name.bounding_box()["height"] < 50  # one line: “丁俊志” written across, not down
    left = name.bounding_box()["x"]
    grid.evaluate("box => box.scrollLeft = box.scrollWidth")
    assert abs(name.bounding_box()["x"] - left) < 1  # still in view at the far right of the grid
    last = phone.locator("table.grid tbody tr").first.locator("td").last
    assert last.bounding_box()["x"] + last.bounding_box()["width"] <= PHONE["width"]


def test_a_programs_courses_are_cards_headed_by_the_title_on_a_phone(phone, live_app):
    """At a desk a course's code comes first; on a phone its card is headed by its title, the code labelled under it."""
    with live_app.app_context():
        program = db.session.scalar(select(Program.id).order_by(Program.id))
    sign_in(phone, "gongshu")
    phone.goto(f"/programs/{program}")
    cells = phone.locator("table.stack tbody tr").first.locator("td")
    title, code = box(phone, "table.stack tbody tr td.lead"), cells.nth(0).bounding_box()
    assert title["y"] < code["y"] and title["height"] < 30  # above the code, on one line
    labels = [cells.nth(i).evaluate("td => getComputedStyle(td, '::before').content") for i in (0, 2, 3, 4, 5, 6)]
    assert labels == ['"编码："', '"学时："', '"课次："', '"已报名："', '"候补中："', '"名额："']
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_the_continuing_education_list_is_a_card_per_person_on_a_phone(phone):
    sign_in(phone, "gongshu")
    phone.goto("/coverage/ce")
    cells = phone.locator("table.ce-risk tbody tr").first.locator("td")
    assert len({round(cells.nth(i).bounding_box()["x"]) for i in range(cells.count())}) == 1
    labels = [cells.nth(i).evaluate("td => getComputedStyle(td, '::before').content") for i in range(1, 7)]
    assert labels == ['"所属单位："', '"职业水平等级："', '"周期届满："', '"学时："', '"最低学时："', '"尚缺："']
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_the_dashboards_two_charts_stack_on_a_phone(phone):
    """Coverage by unit and the monthly progress take the phone's width one above the other: side by side, each
    was 160 px wide and its legend wrapped a character a line."""
    sign_in(phone, "gongshu")
    phone.goto("/coverage/")
    charts = phone.locator(".grid2.even > section.card")
    assert charts.count() == 2
    first, second = charts.nth(0).bounding_box(), charts.nth(1).bounding_box()
    assert second["y"] >= first["y"] + first["height"]
    assert first["width"] > PHONE["width"] * 0.8 and second["width"] > PHONE["width"] * 0.8
    legend = charts.nth(1).locator(".legend")
    assert legend.bounding_box()["height"] < 30  # one line


def test_the_coverage_chart_says_what_its_colours_mean(phone):
    """A bar's colour is how far it is from its target (every unit of the demo has met it: green), and which bar
    is which is its place. The legend said blue for trained and green for supervised: no bar was blue."""
    sign_in(phone, "gongshu")
    phone.goto("/coverage/")
    card = phone.locator(".grid2.even > section.card").first
    fills = set(card.locator("rect.bar-t, rect.bar-s").evaluate_all("rs => rs.map(r => getComputedStyle(r).fill)"))
    met = card.locator(".legend span:has-text('已达目标') .key")
    assert fills == {met.evaluate("k => getComputedStyle(k).backgroundColor")}
    assert "上条为培训，下条为督导" in card.locator(".legend").first.inner_text()
    keys = card.locator(".legend .key").evaluate_all("ks => ks.map(k => getComputedStyle(k).backgroundColor)")
    assert len(set(keys)) == 3  # met, close, behind


def test_the_coverage_charts_are_drawn_for_the_phones_width(phone):
    """On a phone each chart is the one drawn for its narrow card, its names and figures as large as the page's
    small print; the desk's chart, scaled down to half, wrote them about 5 px high."""
    sign_in(phone, "gongshu")
    phone.goto("/coverage/")
    assert phone.locator("svg.chart.wide").count() == 2 and phone.locator("svg.chart.narrow").count() == 2
    assert not any(phone.locator("svg.chart.wide").nth(i).is_visible() for i in range(2))
    assert all(phone.locator("svg.chart.narrow").nth(i).is_visible() for i in range(2))
    for selector in ("svg.chart.narrow text.axis", "svg.chart.narrow text.val"):
        heights = phone.locator(selector).evaluate_all("ts => ts.map(t => t.getBoundingClientRect().height)")
        assert heights and min(heights) >= 10, (selector, min(heights))
    # one legend for the monthly progress, below its chart
    progress = phone.locator(".grid2.even > section.card").nth(1)
    assert progress.locator(".legend").count() == 1
    assert progress.locator(".legend").bounding_box()["y"] > progress.locator("svg.chart.narrow").bounding_box()["y"]
