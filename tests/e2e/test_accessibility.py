"""Accessibility and phones: axe-core (the copy axe-playwright-python ships, no CDN) finds no serious or
critical violation on the main pages of each role, in Chinese; every trainee page fits a 390 px phone.

Runs against the demo world (read only) served by the e2e live server.
"""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from shegong_academy.demo.world import DEMO_PASSWORD
from tests.e2e.conftest import TIMEOUT_MS

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
SERIOUS = ("serious", "critical")
PAGES = {
    None: ["/login", "/verify/", "/verify/pdf"],
    "gongshu": [
        "/coverage/",
        "/people/",
        "/units/",
        "/programs/",
        "/courses/1",
        "/sessions/1",
        "/assessments/1",
        "/courses/1/evaluation",
        "/supervision/",
        "/credentials/",
        "/credentials/1",
        "/users/",
        "/users/new",
        "/audit/",
    ],
    "trainee": [
        "/my/",
        "/my/catalogue",
        "/my/record",
        "/my/hours",
        "/my/calendar",
        "/supervision/mine",
        "/my/certificates",
        "/my/courses/1",
    ],
    "supervisor": ["/supervision/", "/supervision/new"],
}
TRAINEE_PAGES = PAGES["trainee"] + ["/account/password"]


def _signed_in(browser, live_server, username, viewport=None, **kw):
    context = browser.new_context(
        base_url=live_server, locale="zh-CN", viewport=viewport or {"width": 1366, "height": 900}, **kw
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    if username:
        page.goto("/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
    return context, page


@pytest.mark.parametrize("role", list(PAGES), ids=[r or "anonymous" for r in PAGES])
def test_axe_finds_no_serious_violation(browser, live_server, role):
    context, page = _signed_in(browser, live_server, role)
    axe = Axe()
    found = {}
    try:
        for path in PAGES[role]:
            response = page.goto(path)
            assert response.status == 200, path
            results = axe.run(page)
            bad = [v for v in results.response["violations"] if v["impact"] in SERIOUS]
            if bad:
                found[path] = [
                    f"{v['id']} ({v['impact']}): {v['help']} — " + "; ".join(n["target"][0] for n in v["nodes"][:3])
                    for v in bad
                ]
    finally:
        context.close()
    assert not found, "\n".join(f"{path}: {problems}" for path, problems in found.items())


def test_every_trainee_page_fits_a_phone(browser, live_server):
    context, page = _signed_in(browser, live_server, "trainee", viewport=PHONE, is_mobile=True, has_touch=True)
    wide = {}
    try:
        for path in TRAINEE_PAGES:
            assert page.goto(path).status == 200, path
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > PHONE["width"]:
                wide[path] = width
    finally:
        context.close()
    assert not wide, f"wider than {PHONE['width']} px: {wide}"


def test_the_person_picker_works_from_the_keyboard(browser, live_server):
    """Type part of a name, arrow down to a match, Enter: the hidden field holds the person, the hint says who."""
    context, page = _signed_in(browser, live_server, "gongshu")
    try:
        page.goto("/users/new")
        search = page.locator("#person_id-q")
        # Nothing of the empty list shows before typing (it showed as a stray line), and the box looks like its
        # neighbours (a search input had the browser's bare style).
        assert not page.locator("#person_id-list").is_visible()
        style = "e => [getComputedStyle(e).paddingLeft, getComputedStyle(e).borderTopColor]"
        assert search.evaluate(style) == page.locator("#username").evaluate(style)
        search.type("付晓")
        page.wait_for_selector("#person_id-list li")
        options = page.locator("#person_id-list li")
        assert options.count() >= 1 and "付晓" in options.first.inner_text()
        assert search.get_attribute("aria-expanded") == "true"
        search.press("ArrowDown")
        search.press("ArrowUp")
        search.press("Enter")  # chooses; does not submit the form
        assert page.url.endswith("/users/new")
        chosen = page.locator("#person_id").input_value()
        assert chosen.isdigit()
        assert "付晓" in page.locator("#person_id-chosen").inner_text()
        assert "*" in page.locator("#person_id-chosen").inner_text()  # the ID number, masked
        assert search.get_attribute("aria-expanded") == "false"
        assert not page.locator("#person_id-list").is_visible()
    finally:
        context.close()
