"""Browser end-to-end fixtures: the demo world served on a free port, driven by Debian's Chromium.

The live application reads the session's demo database (``demo_url``), with
CSRF protection switched on so the real forms are exercised. Tests only read
that database; signing in writes login-session rows, which is acceptable.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from shegong_academy.demo.world import DEMO_PASSWORD
from shegong_academy.extensions import db
from tests.conftest import make_app, serving

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"
VIEWPORT = {"width": 1366, "height": 768}  # the commonest office screen
PHONE = {"width": 390, "height": 844}
DEFAULT_LOCALE = "zh-CN"
TIMEOUT_MS = 15_000
MISSING_BROWSER = (
    "The browser tests need Debian's Chromium at /usr/bin/chromium, which is missing or cannot start. "
    "Run `make testdeps` (it installs chromium); never `playwright install`."
)


@pytest.fixture(scope="session")
def live_app(demo_url):
    """The application serving the demo world, with CSRF protection on."""
    app = make_app(demo_url, WTF_CSRF_ENABLED=True)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def live_server(live_app) -> Iterator[str]:
    """Serve ``live_app`` on 127.0.0.1 and a port the OS chooses; yield the base URL."""
    with serving(live_app, "e2e-live-server") as base:
        yield base


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="session")
def browser(live_server):
    """Headless Chromium (Debian's). Depends on ``live_server`` so it closes first and
    the server's keep-alive connections are gone before the server shuts down."""
    if not CHROMIUM.exists():
        pytest.fail(MISSING_BROWSER, pytrace=False)
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        try:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        except PlaywrightError as exc:
            pytest.fail(f"{MISSING_BROWSER}\n{exc}", pytrace=False)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@contextmanager
def opened(browser, base_url: str, locale: str = DEFAULT_LOCALE, *, phone: bool = False, **options) -> Iterator:
    """A page in a context of its own on ``base_url`` (a touch phone of 390 px with ``phone``), closed after."""
    if phone:
        options = {"viewport": PHONE, "is_mobile": True, "has_touch": True, **options}
    context = browser.new_context(base_url=base_url, locale=locale, **{"viewport": VIEWPORT, **options})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(page, username: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the real form and wait until the browser has left the sign-in page."""
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("section.login form button[type=submit]")
    page.wait_for_url(re.compile(r"^(?!.*/login)"))


@pytest.fixture
def new_page(browser, live_server) -> Iterator[Callable]:
    """Open pages, each in a fresh context (own cookies) with the given locale.

    ``new_page(locale="en-US")`` returns a page whose ``goto("/people/")`` is
    relative to the live server; every context is closed after the test.
    """
    contexts = []

    def _open(locale: str = DEFAULT_LOCALE):
        # Playwright sends the locale as the Accept-Language header too.
        context = browser.new_context(base_url=live_server, locale=locale, viewport=VIEWPORT)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield _open
    for context in contexts:
        context.close()


@pytest.fixture
def page(request, new_page):
    """A page in a fresh context; the locale defaults to zh-CN and can be set with
    ``@pytest.mark.parametrize("page", ["en-US"], indirect=True)``."""
    return new_page(getattr(request, "param", DEFAULT_LOCALE))
