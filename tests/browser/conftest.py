"""Playwright driving Debian's Chromium against pytest-django's live server.

One browser per session (starting Chromium is the slow part); every test gets a fresh context, so cookies and
storage never leak between tests. Playwright's own browser downloads are never used: `KAM_CHROMIUM` (default
/usr/bin/chromium) is launched headless, and a machine without it skips these tests through `need()`.

Each page records what a user would notice going wrong: console errors, uncaught exceptions, failed or 4xx/5xx
responses (other than the ones a test asks for) and any request to a host other than the live server, which
proves every script, stylesheet and font is served by us and none comes from a CDN.
"""

import datetime
import os
import shutil
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from accounts.models import Order
from scoring import selectors
from scoring.defaults import DEFAULT_WEIGHTS
from scoring.services import portfolio_recompute, scoring_model_create_version
from tests.conftest import need
from tests.factories import AccountFactory

CHROMIUM = os.environ.get("KAM_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "correct-horse-battery"  # tests/factories.py UserFactory
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"


def chromium_available() -> bool:
    return (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)) or bool(shutil.which(CHROMIUM))


@pytest.fixture(scope="package")
def browser():
    """Chromium for every test in this package, closed after the last one.

    While Playwright's sync API is open, an asyncio loop runs in this thread, and Django then refuses every
    ORM call from it (SynchronousOnlyOperation) - the tests' own setup and pytest-django's flush included.
    Nothing here is async (the live server answers from its own thread), so the check is switched off for
    exactly as long as that loop runs, and restored once the package's tests are done.
    """
    need(
        chromium_available(), f"needs Chromium at {CHROMIUM} (apt-get install chromium, or set KAM_CHROMIUM)"
    )
    from playwright.sync_api import expect, sync_playwright

    # Assertions wait as long as actions do (the context's 15 s): on a 2-core runner shared with other suites,
    # parsing the chart bundle alone took more than expect()'s default 5 s. A wait, not a speed limit.
    expect.set_options(timeout=15_000)
    previous = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    try:
        with sync_playwright() as playwright:
            instance = playwright.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                # Containers and CI runners often have a tiny /dev/shm and no user namespaces.
                args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
            )
            yield instance
            instance.close()
    finally:
        if previous is None:
            os.environ.pop(ASYNC_UNSAFE, None)
        else:
            os.environ[ASYNC_UNSAFE] = previous


@dataclass
class Problems:
    """What went wrong in the browser while a page was open, as readable lines."""

    origin: str
    expected_statuses: set = field(default_factory=set)
    lines: list = field(default_factory=list)

    def watch(self, page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.lines.append(f"uncaught exception: {error}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)
        page.on("request", self._request)

    def _console(self, message) -> None:
        if message.type == "error" and not self._expected_console(message.text):
            self.lines.append(f"console error: {message.text} ({message.location.get('url', '')})")

    def _expected_console(self, text: str) -> bool:
        # htmx logs a request it cancelled on purpose as an error: hx-sync="this:replace" drops a stale
        # what-if preview when the next keystroke comes, and leaving a page stops its polling. A failed
        # request still shows, as htmx:sendError or htmx:responseError (and as a failed response below).
        if text.startswith(("htmx:sendAbort", "htmx:afterRequest")):
            return True
        # Chromium logs every 4xx/5xx document as a console error; a test that asks for one expects it.
        return any(f"status of {status}" in text for status in self.expected_statuses)

    def _failed(self, request) -> None:
        failure = request.failure or ""
        # Leaving a page while htmx still polls aborts that request: the user sees nothing wrong.
        if "ERR_ABORTED" not in failure:
            self.lines.append(f"request failed: {request.method} {request.url} ({failure})")

    def _response(self, response) -> None:
        if response.status >= 400 and response.status not in self.expected_statuses:
            self.lines.append(f"HTTP {response.status}: {response.request.method} {response.url}")

    def _request(self, request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "blob", "about"):
            return
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            self.lines.append(f"request to another host: {request.url}")

    def expect(self, *statuses: int) -> None:
        self.expected_statuses.update(statuses)

    def assert_none(self) -> None:
        assert not self.lines, "The browser reported problems:\n" + "\n".join(self.lines)


@dataclass
class Session:
    """A browser tab on the live server, and what went wrong while it was open."""

    page: object
    problems: Problems
    base_url: str

    def url(self, path: str) -> str:
        return self.base_url + path

    def goto(self, path: str):
        return self.page.goto(self.url(path))

    def login(self, username: str, password: str = PASSWORD) -> None:
        self.goto("/login/")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Log in").click()
        self.page.wait_for_url(self.url("/"))

    def scroll_width(self) -> int:
        return self.page.evaluate("document.scrollingElement.scrollWidth")


@pytest.fixture
def open_session(browser, live_server):
    """`open_session(viewport=DESKTOP)` → a Session in a fresh context; every problem fails the test."""
    sessions = []

    def open_(viewport: dict = DESKTOP) -> Session:
        context = browser.new_context(viewport=viewport, locale="en-GB", timezone_id="Europe/Amsterdam")
        context.set_default_timeout(15_000)
        page = context.new_page()
        problems = Problems(origin=live_server.url)
        problems.watch(page)
        session = Session(page=page, problems=problems, base_url=live_server.url)
        sessions.append((context, session))
        return session

    yield open_
    for context, _ in sessions:
        context.close()
    for _, session in sessions:
        session.problems.assert_none()


@pytest.fixture
def portfolio(world):
    """Twenty scored accounts over both reps: sizes, margins and image ratings varied, so weights matter.

    A transactional test starts from empty tables (the data migration's default model included)."""
    if selectors.active_model() is None:
        scoring_model_create_version(data=dict(DEFAULT_WEIGHTS), created_by=None)
    today = timezone.localdate()
    accounts = [world.rep_account, world.team_account, world.other_account]
    for i in range(17):
        accounts.append(
            AccountFactory(
                owner=[world.rep, world.other_rep][i % 2],
                region=["North", "South"][i % 2],
                industry=["Food", "Chemicals"][i % 2],
                is_key=i % 5 == 0,
                key_since=today if i % 5 == 0 else None,
                key_reason="Co-develops with us" if i % 5 == 0 else "",
                image_rating=1 + (i * 3) % 5,
            )
        )
    orders = []
    for i, account in enumerate(accounts):
        for k in range(4):
            revenue = Decimal(800 + 450 * ((i * 7) % 19) + 60 * k)
            margin = Decimal("0.15") + Decimal((i * 11) % 9) / 20
            orders.append(
                Order(
                    account=account,
                    reference=f"BR-{i:03d}-{k}",
                    date=today - datetime.timedelta(days=20 + 85 * k + i % 13),
                    revenue=revenue,
                    variable_cost=(revenue * (1 - margin)).quantize(Decimal("0.01")),
                )
            )
    Order.objects.bulk_create(orders)
    portfolio_recompute(as_of=today)
    return accounts
