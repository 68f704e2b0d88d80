"""Pages on a phone (390 px, the demo world): a page's title has its own line, and a list of credential types
becomes one card per type with each value labelled, instead of five columns a few characters wide."""

from __future__ import annotations

import re

import pytest

from shegong_academy.demo.world import DEMO_PASSWORD
from tests.e2e.conftest import DEFAULT_LOCALE, TIMEOUT_MS

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(
        base_url=live_server, locale=DEFAULT_LOCALE, viewport=PHONE, is_mobile=True, has_touch=True
    )
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


def sign_in(page, username: str) -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", DEMO_PASSWORD)
    page.locator("section.login form button[type=submit]").click()
    page.wait_for_url(re.compile(r"^(?!.*/login)"))


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
    assert box(phone, ".pagehead h1")["height"] < 60  # “欢迎您，付晓鑫” on one line
    assert buttons["y"] >= title["y"] + title["height"]
    assert years["y"] >= title["y"] + title["height"]
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


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
