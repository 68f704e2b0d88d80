"""A bureau run from the browser, never the command line (issue: run a bureau from the browser).

As a district coordinator, in Chromium: create a program and a course with a typo, fix it, add two
sessions, reschedule one, cancel the other, void a supervision record, create a street coordinator's
account (whose owner sets a password through the one-time link and signs in), create a credential
type with an uploaded seal and issue it after confirming. Then as a trainee on a phone: browse the
catalogue, enrol, subscribe to the calendar, check in — every page no wider than the phone.

Runs on a fresh migrated database of its own with CSRF protection on. Marked ``once``: the browser
proves the same on either database, so CI runs it in the SQLite pass.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from sqlalchemy import select

from shegong_academy.core.db import utcnow
from shegong_academy.credentials.models import Certificate
from shegong_academy.extensions import db
from shegong_academy.supervision.models import SupervisionRecord
from shegong_academy.supervision.services import record_supervision
from shegong_academy.training.checkin import make_token
from shegong_academy.training.models import Course, CourseSession
from tests.conftest import make_app, serving
from tests.credentials.test_credentials import _trained
from tests.e2e.conftest import SCREENSHOTS, TIMEOUT_MS
from tests.factories import PASSWORD, World, person, user

pytestmark = [pytest.mark.e2e, pytest.mark.once]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
NEW_PASSWORD = "米市巷的桂花-2026"


@pytest.fixture
def walk_app(db_url, tmp_path):
    app = make_app(db_url, WTF_CSRF_ENABLED=True, LMS_STORAGE_URL=(tmp_path / "store").as_uri())
    with app.app_context():
        w = World()
        trained = [person(w.community, name) for name in ("赵一", "钱二", "孙三")]
        _trained(w, trained)  # a completed course of a 拱墅区 program: they qualify for a credential
        supervisor = person(w.street, "孙督导")
        user("supervisor", "supervisor", w.district, person=supervisor)
        record = record_supervision(
            data={
                "format": "individual",
                "mode": "onsite",
                "held_on": date(2022, 5, 20),
                "hours": 2,
                "topic": "重复录入的督导",
            },
            supervisor=supervisor,
            supervisees=[w.person],
            actor=w.coord,
        ).record
        db.session.commit()
        app.config["WALK"] = {"record": record.id, "street": w.street.id}
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def walk_server(walk_app) -> Iterator[str]:
    with serving(walk_app, "e2e-walk-server") as base:
        yield base


def context(browser, base, viewport=DESKTOP, **kw):
    ctx = browser.new_context(base_url=base, locale="zh-CN", viewport=viewport, **kw)
    ctx.set_default_timeout(TIMEOUT_MS)
    return ctx


def sign_in(page, username, password=PASSWORD):
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"^(?!.*/login)"))


def flash(page) -> str:
    return " ".join(page.locator(".flash").all_inner_texts())


def shot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"walk-{name}.png"), full_page=True)


def narrow_enough(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide on a {PHONE['width']}px phone"


def local(dt, tz) -> str:
    return dt.astimezone(tz).strftime("%Y-%m-%dT%H:%M")


def test_a_coordinator_runs_the_bureau_and_a_trainee_follows_on_a_phone(browser, walk_app, walk_server, tmp_path):
    tz = ZoneInfo(walk_app.config["LMS_TIMEZONE"])
    now = utcnow()
    ctx = context(browser, walk_server)
    page = ctx.new_page()
    sign_in(page, "coord")

    # a program of this year, and a course with a typo in its title
    page.goto("/programs/new")
    page.fill("#title", "社区工作者能力提升班")
    page.select_option("#kind", "class")
    page.click("button.primary")
    page.wait_for_url(re.compile(r"/programs/\d+$"))
    page.click("text=添加课程")
    page.fill("#code", "NL-01")
    page.fill("#title", "社区协商议视")
    page.fill("#hours", "6")
    page.click("button.primary")
    page.wait_for_url(re.compile(r"/courses/\d+$"))
    course_id = int(page.url.rsplit("/", 1)[1])
    page.click("a.btn:has-text('编辑')")
    page.fill("#title", "社区协商议事")
    page.click("button.primary")
    page.wait_for_url(re.compile(rf"/courses/{course_id}$"))
    assert "社区协商议事" in page.locator("h1").inner_text()

    # two sessions: one to reschedule to now (the trainee checks in to it), one to cancel
    for days in (7, 8):
        start = now + timedelta(days=days)
        page.click("summary:has-text('添加课次')")
        page.fill("#session-starts_at", local(start, tz))
        page.fill("#session-ends_at", local(start + timedelta(hours=3), tz))
        page.fill("#session-hours", "3")
        page.fill("#session-place", "米市巷街道社工站")
        page.click("button:has-text('添加课次')")
        assert "已添加" in flash(page) or "添加" in flash(page)
    page.locator("a:has-text('修改')").first.click()
    page.fill("#starts_at", local(now - timedelta(minutes=10), tz))
    page.fill("#ends_at", local(now + timedelta(hours=2), tz))
    page.click("button.primary")
    page.wait_for_url(re.compile(rf"/courses/{course_id}$"))
    page.locator("tr:has-text('米市巷街道社工站') a:has-text('取消')").last.click()
    assert "将通知 0 名已报名学员" in page.inner_text("main")  # it says what will happen first
    page.fill("#reason", "场地检修，停课一次")
    page.click("button.danger")
    page.wait_for_url(re.compile(rf"/courses/{course_id}$"))
    assert "已取消" in page.inner_text("main") and "场地检修" in page.inner_text("main")
    shot(page, "course")
    with walk_app.app_context():
        sessions = db.session.scalars(select(CourseSession).where(CourseSession.course_id == course_id)).all()
        assert sorted(s.cancelled_at is not None for s in sessions) == [False, True]
        running = next(s for s in sessions if s.cancelled_at is None)
        assert running.starts_at <= utcnow() <= running.ends_at
        running_id = running.id

    # void a supervision record
    record_id = walk_app.config["WALK"]["record"]
    page.goto(f"/supervision/{record_id}")
    page.click("a:has-text('作废')")
    page.fill("#reason", "重复录入")
    page.click("button.danger")
    assert "该记录已作废" in page.inner_text("main")
    with walk_app.app_context():
        assert db.session.get(SupervisionRecord, record_id).void_reason == "重复录入"

    # a street coordinator's account; its owner sets a password through the link and signs in
    page.goto("/users/new")
    page.fill("#username", "mishixiang")
    page.select_option("#role", "coordinator")
    page.select_option("#unit_id", str(walk_app.config["WALK"]["street"]))
    page.click("button.primary")
    link = page.locator("input[readonly]").input_value()
    assert "/users/password/" in link
    owner_ctx = context(browser, walk_server)
    owner = owner_ctx.new_page()
    owner.goto(link)
    owner.fill("#new", NEW_PASSWORD)
    owner.fill("#confirm", NEW_PASSWORD)
    owner.click("button.primary")
    sign_in(owner, "mishixiang", NEW_PASSWORD)
    owner.goto("/users/")
    assert "mishixiang" in owner.inner_text("main") and "coord\n" not in owner.inner_text("main")
    owner_ctx.close()

    # a credential type with an uploaded seal, issued after confirming
    seal = tmp_path / "seal.png"
    buffer = io.BytesIO()
    Image.new("RGBA", (160, 160), (190, 20, 20, 255)).save(buffer, "PNG")
    seal.write_bytes(buffer.getvalue())
    page.goto("/credentials/types/new")
    page.fill("#title", "社区协商能力培训证书")
    page.fill("#name", "consultation-training")
    page.select_option("#design", "completion-zh")
    page.fill("#issuer_name", "杭州市拱墅区民政局")
    page.fill("#issuer_code", "GSXS")
    page.fill("#min_training_hours", "3")
    page.set_input_files("#seal", str(seal))
    page.click("button.primary")
    page.wait_for_url(re.compile(r"/credentials/\d+$"))
    credential_page = page.url
    # keep two of the eligible ticked, then approve: the page says what will happen and asks
    boxes = page.locator("input[name=person_id]")
    for i in range(2, boxes.count()):
        boxes.nth(i).uncheck()
    page.click("button.primary:has-text('审批')")
    assert "2 人将获得社区协商能力培训证书" in page.inner_text("main")
    with walk_app.app_context():
        assert db.session.scalar(select(Certificate.id)) is None  # asking issued nothing
    page.click("button.primary")
    page.wait_for_url(re.compile(r"show=issued"))
    assert page.locator("td.mono a").count() == 2
    shot(page, "issued")
    assert credential_page

    # the trainee, on a phone: catalogue, enrol, calendar, check in
    phone_ctx = context(browser, walk_server, viewport=PHONE, is_mobile=True, has_touch=True)
    phone = phone_ctx.new_page()
    sign_in(phone, "trainee")
    narrow_enough(phone)
    phone.goto("/my/catalogue")
    assert "社区协商议事" in phone.inner_text("main")
    narrow_enough(phone)
    shot(phone, "phone-catalogue")
    phone.locator("article:has-text('社区协商议事') button").click()
    assert "社区协商议事" in flash(phone)
    narrow_enough(phone)
    phone.goto("/my/calendar")
    narrow_enough(phone)
    feed = phone.locator("input[readonly]").input_value()
    ics = phone.request.get(feed)
    assert ics.ok and "社区协商议事" in ics.text() and "STATUS:CANCELLED" in ics.text()
    for path in ("/my/", "/my/record", "/my/hours", "/supervision/mine", "/my/certificates"):
        phone.goto(path)
        narrow_enough(phone)
    with walk_app.app_context():
        token = make_token(running_id, utcnow())
    phone.goto(f"/checkin/{running_id}?t={token}")
    narrow_enough(phone)
    phone.click("button.primary")
    assert "签到成功" in flash(phone) or "欢迎" in flash(phone)
    shot(phone, "phone-checked-in")
    with walk_app.app_context():
        assert db.session.get(Course, course_id).seats_taken == 1
    phone_ctx.close()
    ctx.close()
