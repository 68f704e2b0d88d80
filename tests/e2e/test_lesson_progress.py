"""A trainee reading a lesson to the end on a phone: the page marks it done by itself, only once the end has
been in view after ten seconds on the page; the mark is kept, and taken back with one tap (issue 17, item 3)."""

from __future__ import annotations

import pytest

from shegong_academy.demo.world import DEMO_PASSWORD
from tests.e2e.conftest import TIMEOUT_MS

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}


def test_reading_a_lesson_to_the_end_marks_it_done(browser, live_server):
    context = browser.new_context(base_url=live_server, locale="zh-CN", viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        page.goto("/login")
        page.fill("input[name=username]", "trainee")
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        page.clock.install()
        page.goto("/my/courses/1/lessons/1")
        auto, undo = page.locator("form[data-auto-done]"), page.locator("form[data-undo-done]")
        assert auto.is_visible() and not undo.is_visible()
        auto.scroll_into_view_if_needed()
        page.clock.run_for(5_000)  # the end is in view, but a reader has not had the time to read
        assert auto.is_visible() and not undo.is_visible()
        page.clock.run_for(6_000)
        undo.wait_for(state="visible")
        assert "已完成" in undo.inner_text() and not auto.is_visible()
        page.goto("/my/courses/1")
        assert "已学完 1 /" in page.locator(".lesson-progress").inner_text()
        page.goto("/my/courses/1/lessons/1")
        page.get_by_role("button", name="取消学完标记").click()
        page.wait_for_load_state()
        assert "已取消“学完”标记" in page.content()
        assert page.locator("form[data-auto-done]").is_visible()
    finally:
        context.close()
