"""The notification centre in Chromium, in both languages: the bell and its count, opening a notification,
marking all read, the settings form (with a wrong address first), and unsubscribing from a mail's link
without signing in."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from sqlalchemy import select

from shegong_academy.core.uow import commit
from shegong_academy.extensions import db
from shegong_academy.notices.preferences import prefs_of, unsubscribe_token
from shegong_academy.training.services import enrol
from tests.conftest import make_app, serving
from tests.e2e.conftest import SCREENSHOTS, opened, sign_in
from tests.factories import PASSWORD, World
from tests.training.helpers import course, program

pytestmark = pytest.mark.e2e

WORDS = {
    "zh-CN": {
        "bell": "通知，2 条未读",
        "open": "打开课程",
        "all_read": "全部标为已读",
        "settings": "设置",
        "save": "保存",
        "bad_address": "请输入邮箱地址，例如 name@example.cn。",
        "saved": "通知设置已保存。",
        "unsubscribe": "退订",
        "done": "已完成：不再发送“明天有课”邮件。",
        "title": "通知",
    },
    "en": {
        "bell": "Notifications, 2 unread",
        "open": "Open the course",
        "all_read": "Mark all as read",
        "settings": "Settings",
        "save": "Save",
        "bad_address": "Enter a mail address such as name@example.cn.",
        "saved": "Your notification settings are saved.",
        "unsubscribe": "Unsubscribe",
        "done": "Done: no more mail for A session tomorrow.",
        "title": "Notifications",
    },
}


@pytest.fixture
def told(db_url):
    """A world of its own (the demo's is only read): 钱七 enrolled in two courses, so told twice."""
    app = make_app(db_url, WTF_CSRF_ENABLED=True)
    with app.app_context():
        w = World()
        first = course(program(w.district), code="N1", title="社区治理与服务创新")
        enrol(course=first, person=w.trainee_person, actor=w.coord)
        enrol(course=course(program(w.district), code="N2"), person=w.trainee_person, actor=w.coord)
        first_id = first.id
        commit()
        token = unsubscribe_token(w.trainee.id, "session.tomorrow")
    with serving(app, "e2e-notifications") as base:
        yield app, base, first_id, token
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def serious(page) -> list[str]:
    results = Axe().run(page)
    return [v["id"] for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_the_bell_the_centre_the_settings_and_unsubscribing(browser, told, locale):
    app, base, first_course, token = told
    words = WORDS[locale]
    with opened(browser, base, locale, viewport={"width": 1280, "height": 800}) as page:
        sign_in(page, "trainee", PASSWORD)
        bell = page.get_by_role("link", name=words["bell"])
        assert bell.locator(".count").inner_text() == "2"
        bell.click()
        page.wait_for_url(re.compile(r"/notifications/$"))
        assert page.locator("h1").inner_text() == words["title"]
        assert page.locator(".notifications li.unread").count() == 2
        assert serious(page) == []
        page.screenshot(path=str(SCREENSHOTS / f"notifications-{locale}.png"), full_page=True)
        # Opening one goes to its course and marks it read: the bell counts one.
        page.locator(".notifications li").filter(has_text="社区治理与服务创新").get_by_role(
            "button", name=words["open"]
        ).click()
        page.wait_for_url(re.compile(rf"/my/courses/{first_course}$"))
        assert page.locator(".bell .count").inner_text() == "1"
        page.goto("/notifications/")
        page.get_by_role("button", name=words["all_read"]).click()
        page.wait_for_url(re.compile(r"/notifications/$"))
        assert page.locator(".bell .count").count() == 0 and page.locator(".notifications li.unread").count() == 0
        # The settings: a wrong address is refused and nothing is saved; then a good one with quiet hours.
        page.get_by_role("link", name=words["settings"]).click()
        page.fill("input[name=email]", "not an address")
        page.get_by_role("button", name=words["save"]).click()
        page.wait_for_load_state()
        assert words["bad_address"] in page.locator(".error").all_inner_texts()
        page.fill("input[name=email]", "qian@example.cn")
        page.locator("input[name=mailed][value='session.tomorrow']").uncheck()
        page.fill("input[name=quiet_from]", "22:00")
        page.fill("input[name=quiet_to]", "07:00")
        page.get_by_role("button", name=words["save"]).click()
        page.wait_for_url(re.compile(r"/notifications/preferences$"))
        assert words["saved"] in page.locator(".flash").inner_text()
        assert serious(page) == []
        page.screenshot(path=str(SCREENSHOTS / f"notification-settings-{locale}.png"), full_page=True)
        with app.app_context():
            from shegong_academy.auth.models import User

            user = db.session.scalar(select(User).where(User.username == "trainee"))
            prefs = prefs_of(user)
            assert user.email == "qian@example.cn" and prefs.off == {"session.tomorrow"}
            assert [t.strftime("%H:%M") for t in prefs.quiet] == ["22:00", "07:00"]
            user.notify_prefs = {}  # as before, for the unsubscribe below
            db.session.commit()
    # The link in a mail, opened without signing in: it asks first, then stops that mail.
    with opened(browser, base, locale) as page:
        page.goto(f"/notifications/unsubscribe/{token}")
        with app.app_context():
            from shegong_academy.auth.models import User

            assert prefs_of(db.session.scalar(select(User).where(User.username == "trainee"))).off == frozenset()
        page.get_by_role("button", name=words["unsubscribe"]).click()
        page.wait_for_load_state()
        assert words["done"] in page.locator("[role=status]").inner_text()
        with app.app_context():
            from shegong_academy.auth.models import User

            assert prefs_of(db.session.scalar(select(User).where(User.username == "trainee"))).off == {
                "session.tomorrow"
            }
