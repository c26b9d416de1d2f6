"""Full-page screenshots of every main page at desktop (1280 px) and phone (390 px) width, to look at.

Not part of `make test` (the file name does not start with test_). Two ways to run it:

    # seeds the demo company into the test database and serves it with pytest-django's live server
    DJANGO_ENV=test .venv/bin/python -m pytest -p no:cacheprovider tests/browser/screenshots.py

    # against a server you already run with the demo data (`make run`, or any seeded instance)
    .venv/bin/python tests/browser/screenshots.py --base-url http://127.0.0.1:8000

The PNGs land in screenshots/ (git-ignored), named <page>-<width>.png. Each page's horizontal overflow and
any console error or failed request is printed, so a broken page is noticed even before the images are opened.
"""

import argparse
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

OUT = Path(__file__).resolve().parents[2] / "screenshots"
DEMO_PASSWORD = "demo-pass-2026"  # demo.company.DEMO_PASSWORD
WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def _settle(page) -> None:
    page.wait_for_load_state("networkidle")
    if page.locator("[data-chart]").count():
        page.wait_for_selector("[data-chart] svg.main-svg", state="attached")
    page.evaluate("document.fonts.ready")


def _rep_pages(page, base: str) -> list[tuple[str, str]]:
    """My day, the list, the rep's best account and its plan: found by clicking, as a rep would."""
    pages = [("my-day", "/"), ("account-list", "/accounts/")]
    page.goto(base + "/accounts/?mine=1&key=yes&sort=-score")
    account = urlsplit(page.locator("a.row-title").first.get_attribute("href")).path
    pages += [("account", account), ("visit-form", account + "visits/new/")]
    page.goto(base + account)
    plan_link = page.get_by_role("link", name="Account plan", exact=True)
    if plan_link.count():
        pages.append(("plan", urlsplit(plan_link.first.get_attribute("href")).path))
    pages += [
        ("profile-history", account + "profile/history/"),
        ("not-found-404", "/accounts/999999999/"),
        ("not-allowed-403", "/scoring/"),
    ]
    return pages


def _manager_pages(page, base: str) -> list[tuple[str, str]]:
    pages = [
        ("dashboard", "/scoring/"),
        ("scoring-model", "/scoring/model/"),
        ("capacity", "/scoring/capacity/"),
        ("runs", "/scoring/runs/"),
        ("integrations", "/settings/integrations/"),
    ]
    page.goto(base + "/scoring/runs/")
    run = page.locator("a[href*='/scoring/runs/']").filter(has_text="#").first
    if run.count():
        pages.append(("run", urlsplit(run.get_attribute("href")).path))
    return pages


def _login(page, base: str, username: str) -> None:
    page.goto(base + "/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base + "/")


def shoot(browser, base: str, out: Path = OUT) -> list[str]:
    """Save every screenshot; return one line per page saying its overflow and what went wrong on it."""
    out.mkdir(parents=True, exist_ok=True)
    report = []
    for viewport in WIDTHS.values():
        for who in (None, "rep1", "manager"):
            context = browser.new_context(viewport=viewport, locale="en-GB", timezone_id="Europe/Amsterdam")
            page = context.new_page()
            problems: list[str] = []
            page.on("console", lambda m, p=problems: m.type == "error" and p.append(m.text))
            page.on("pageerror", lambda e, p=problems: p.append(str(e)))
            if who is None:
                pages = [("login", "/login/")]
            else:
                _login(page, base, who)
                pages = _rep_pages(page, base) if who == "rep1" else _manager_pages(page, base)
            for name, path in pages:
                problems.clear()
                response = page.goto(base + path)
                _settle(page)
                width = page.evaluate("document.scrollingElement.scrollWidth")
                file = out / f"{name}-{viewport['width']}.png"
                page.screenshot(path=str(file), full_page=True)
                flag = "" if width <= viewport["width"] else f"  OVERFLOW {width}px"
                errors = [p for p in problems if "status of 40" not in p]
                report.append(
                    f"{file.name:32} HTTP {response.status}{flag}"
                    + ("  " + " | ".join(errors) if errors else "")
                )
            context.close()
    return report


@pytest.mark.browser
def test_screenshots_of_every_main_page(browser, live_server):
    from django.core.management import call_command

    with open(os.devnull, "w") as quiet:
        call_command("seed_demo", accounts=120, stdout=quiet)
        call_command("check_cadence", stdout=quiet)  # the morning job: alerts on My day and the account pages
    report = shoot(browser, live_server.url)
    print("\n".join(report))
    assert not [line for line in report if "OVERFLOW" in line], "\n".join(report)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=os.environ.get("KAM_CHROMIUM", "/usr/bin/chromium"),
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        )
        print("\n".join(shoot(browser, args.base_url.rstrip("/"), args.out)))
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
