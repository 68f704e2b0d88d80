"""A trainee reading a lesson to the end on a phone: the page marks it done by itself, only once the end has
been in view after ten seconds on the page; the mark is kept, and taken back with one tap (issue 17, item 3)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import opened, sign_in

pytestmark = pytest.mark.e2e


def test_reading_a_lesson_to_the_end_marks_it_done(browser, live_server):
    with opened(browser, live_server, phone=True) as page:
        sign_in(page, "trainee")
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
