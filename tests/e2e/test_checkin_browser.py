"""QR check-in on a phone, in a real browser: a trainee opens the session's check-in link,
signs in, lands back on the check-in page, confirms, and sees the hours on their page; a
stale link is refused.

The app runs on a fresh migrated database of its own (never the shared demo database), with
CSRF protection on, served on a free port. Chromium is the session's ``browser`` from
conftest.py (Playwright's sync API cannot start a second one in the same process); the pages
open in a phone-sized context. Screenshots go to tests/screenshots/checkin-*.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import pytest
from flask_babel import force_locale, gettext
from sqlalchemy import func, select

from shegong_academy.core.db import utcnow
from shegong_academy.extensions import db
from shegong_academy.training.checkin import make_token
from shegong_academy.training.models import Attendance
from shegong_academy.training.services import create_session, enrol
from tests.conftest import make_app, serving
from tests.e2e.conftest import TIMEOUT_MS
from tests.factories import PASSWORD, World
from tests.training.helpers import course, program

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}  # an ordinary phone, in CSS pixels
TRAINEE = "trainee"
COURSE_TITLE = "社区走访与需求评估"


@pytest.fixture
def checkin_app(db_url):
    """The application on a fresh, migrated database of this test, with CSRF protection on."""
    app = make_app(db_url, WTF_CSRF_ENABLED=True)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def checkin_server(checkin_app) -> Iterator[str]:
    with serving(checkin_app, "e2e-checkin-server") as base:
        yield base


@pytest.fixture
def phone(browser, checkin_server):
    """A page in a fresh phone-sized context speaking Chinese, relative to the check-in server."""
    context = browser.new_context(
        base_url=checkin_server, locale="zh-CN", viewport=PHONE, is_mobile=True, has_touch=True
    )
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def running(checkin_app):
    """A session running now (started 10 minutes ago, ends in 2 hours, 3 hours credited), the trainee enrolled."""
    now = utcnow()
    tz = ZoneInfo(checkin_app.config["LMS_TIMEZONE"])
    start = now - timedelta(minutes=10)
    with checkin_app.app_context():
        w = World()
        crs = course(program(w.district, year=start.astimezone(tz).year), code="QR1", title=COURSE_TITLE, hours=3)
        sess = create_session(
            course=crs,
            data={"starts_at": start, "ends_at": now + timedelta(hours=2), "hours": 3, "place": "和睦社区活动室"},
            actor=None,
        )
        enrol(course=crs, person=w.trainee_person, actor=w.coord)
        db.session.commit()
        return SimpleNamespace(id=sess.id, year=start.astimezone(tz).year)


def token(app, session_id: int, age: timedelta = timedelta(0)) -> str:
    with app.app_context():
        return make_token(session_id, utcnow() - age)


def zh(app, msgid: str) -> str:
    """What the Chinese page says for ``msgid``."""
    with app.test_request_context(), force_locale("zh_CN"):
        return gettext(msgid)


def attendance(app) -> list[tuple[str, str]]:
    with app.app_context():
        return [(a.method, a.status) for a in db.session.scalars(select(Attendance))]


def shot(page, screenshots: Path, name: str) -> None:
    page.screenshot(path=str(screenshots / name), full_page=True)


def overflow(page) -> int:
    """How many CSS pixels the page is wider than the phone (a sideways scroll)."""
    return page.evaluate("document.documentElement.scrollWidth") - PHONE["width"]


def test_trainee_checks_in_from_the_qr_link_on_a_phone(phone, checkin_app, running, screenshots):
    page = phone
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    widths: dict[str, int] = {}

    # The link in the QR code, opened while not signed in: off to the sign-in page, the link kept in next=.
    code = token(checkin_app, running.id)
    link = f"/checkin/{running.id}?t={code}"
    page.goto(link)
    page.wait_for_url(re.compile(r"/login\?"))
    [kept] = parse_qs(urlparse(page.url).query)["next"]
    # The sign-in keeps a proof of the scan, which outlasts the one-minute code.
    assert urlparse(kept).path == f"/checkin/{running.id}" and parse_qs(urlparse(kept).query)["t"][0].startswith("p")
    assert page.locator("#username").is_visible()
    shot(page, screenshots, "checkin-1-login.png")
    widths["login"] = overflow(page)

    page.fill("#username", TRAINEE)
    page.fill("#password", PASSWORD)
    page.locator("section.login form button[type=submit]").click()

    # Back on the check-in page, which writes nothing until the trainee confirms.
    page.wait_for_url(re.compile(rf"/checkin/{running.id}\?t="))
    assert urlparse(page.url).path + "?" + urlparse(page.url).query == kept
    assert page.locator("section.card h1").inner_text().strip() == zh(checkin_app, "Check in")
    assert COURSE_TITLE in page.locator("section.card").inner_text()
    confirm = page.locator("section.card form button[type=submit]")
    assert confirm.inner_text().strip() == zh(checkin_app, "Confirm: I am here")
    assert confirm.is_visible() and confirm.bounding_box()["width"] > PHONE["width"] / 2  # easy to hit
    assert attendance(checkin_app) == []
    shot(page, screenshots, "checkin-2-confirm.png")
    widths["confirm"] = overflow(page)

    confirm.click()
    page.wait_for_url(re.compile(r"/my/$"))
    assert page.locator(".flash-success").inner_text().strip() == zh(checkin_app, "Checked in. Welcome!")
    assert attendance(checkin_app) == [("qr", "late")]  # ten minutes after the start counts as late
    if f"<strong>{running.year}</strong>" not in page.content():  # only just after New Year
        page.goto(f"/my/?year={running.year}")
    first = page.locator(".stats .stat").first
    assert first.locator(".num").inner_text().strip() == "3.0"
    assert str(running.year) in first.inner_text()
    assert COURSE_TITLE in page.locator(".grid2 section.card").first.inner_text()
    shot(page, screenshots, "checkin-3-my.png")
    widths["my"] = overflow(page)

    # A second scan of a fresh code: already checked in, still one record.
    page.goto(f"/checkin/{running.id}?t={token(checkin_app, running.id)}")
    page.locator("section.card form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/my/$"))
    assert page.locator(".flash-success").inner_text().strip() == zh(checkin_app, "You had already checked in.")
    assert attendance(checkin_app) == [("qr", "late")]

    assert not errors, "console errors:\n" + "\n".join(errors)
    print(f"\nsideways overflow on a {PHONE['width']}px phone (px): {widths}")


def test_a_stale_qr_link_is_refused(phone, checkin_app, running, screenshots):
    page = phone
    page.goto("/login")
    page.fill("#username", TRAINEE)
    page.fill("#password", PASSWORD)
    page.locator("section.login form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/my/$"))

    # A photo of the projector taken two minutes ago.
    page.goto(f"/checkin/{running.id}?t={token(checkin_app, running.id, timedelta(minutes=2))}")
    assert attendance(checkin_app) == []
    with page.expect_navigation() as navigation:
        page.locator("section.card form button[type=submit]").click()
    assert navigation.value.status == 403
    message = zh(checkin_app, "This check-in code has expired. Scan the code on the screen again.")
    assert page.locator(".flash-error").inner_text().strip() == message
    assert COURSE_TITLE in page.locator("section.card").inner_text()
    shot(page, screenshots, "checkin-4-expired.png")
    assert attendance(checkin_app) == []
    with checkin_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Attendance)) == 0


def test_a_forwarded_check_in_link_is_refused_on_another_phone(browser, checkin_server, checkin_app, running):
    """The trainee scans, then sends the sign-in link (carrying the scan's proof) to a colleague: on another
    phone the link is refused, even signed in to the same account; on the phone that scanned it still works."""
    phones = [
        browser.new_context(base_url=checkin_server, locale="zh-CN", viewport=PHONE, is_mobile=True, has_touch=True)
        for _ in range(2)
    ]
    try:
        scanner, colleague = (context.new_page() for context in phones)
        for page in (scanner, colleague):
            page.set_default_timeout(TIMEOUT_MS)
        scanner.goto(f"/checkin/{running.id}?t={token(checkin_app, running.id)}")
        scanner.wait_for_url(re.compile(r"/login\?"))
        forwarded = scanner.url  # the sign-in page, the proof in its next=

        colleague.goto(forwarded)
        colleague.fill("#username", TRAINEE)
        colleague.fill("#password", PASSWORD)
        colleague.locator("section.login form button[type=submit]").click()
        colleague.wait_for_url(re.compile(rf"/checkin/{running.id}\?t="))
        with colleague.expect_navigation() as navigation:
            colleague.locator("section.card form button[type=submit]").click()
        assert navigation.value.status == 403
        message = zh(checkin_app, "This check-in code has expired. Scan the code on the screen again.")
        assert colleague.locator(".flash-error").inner_text().strip() == message
        assert attendance(checkin_app) == []

        scanner.fill("#username", TRAINEE)
        scanner.fill("#password", PASSWORD)
        scanner.locator("section.login form button[type=submit]").click()
        scanner.wait_for_url(re.compile(rf"/checkin/{running.id}\?t="))
        scanner.locator("section.card form button[type=submit]").click()
        scanner.wait_for_url(re.compile(r"/my/$"))
        assert attendance(checkin_app) == [("qr", "late")]
    finally:
        for context in phones:
            context.close()
