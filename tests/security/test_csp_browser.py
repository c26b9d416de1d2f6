"""The Content-Security-Policy holds in a real browser: every page renders with no violation reported.

Chromium (Debian's, through Playwright) loads the pages people use, the chart pages, the API docs and the
admin, and listens for `securitypolicyviolation` events. plotly.js is the demanding one: the charts must be
drawn, and its global stylesheet (allowed by hash in kam/security.py) must hold its rules, or legends and
axes fall out of place.
"""

import os
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

from accounts.models import Account
from demo.company import DEMO_PASSWORD
from tests.conftest import need

CHROMIUM = os.environ.get("KAM_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
LISTEN = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.log("CSP-VIOLATION " + e.violatedDirective + " " + (e.blockedURI || "inline") + " at " +
              (e.sourceFile || "") + ":" + e.lineNumber + " sample=" + (e.sample || ""));
});
"""


def chromium_available() -> bool:
    return (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)) or bool(shutil.which(CHROMIUM))


@pytest.fixture
def demo(transactional_db):
    call_command("seed_demo", accounts=40, verbosity=0)
    account = Account.objects.filter(orders__isnull=False).order_by("pk").first()
    return {"account": account.pk}


def visit_all(base_url: str, username: str, paths: list[str]) -> tuple[dict, dict]:
    """Log in, open each path; returns {path: [violations]} and {path: (charts drawn, plotly rules)}."""
    from playwright.sync_api import sync_playwright

    violations: dict[str, list[str]] = {}
    charts: dict[str, tuple[int, int]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_init_script(LISTEN)
        page = context.new_page()
        current: list[str] = []
        page.on(
            "console",
            lambda message: (
                current.append(message.text)
                if "CSP-VIOLATION" in message.text or "Content Security Policy" in message.text
                else None
            ),
        )
        page.goto(base_url + "/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        for path in paths:
            current.clear()
            response = page.goto(base_url + path)
            assert response.status == 200, f"{path}: {response.status}"
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(300)
            charts[path] = page.evaluate(
                """() => {
                  const sheet = document.getElementById("plotly.js-style-global");
                  return [document.querySelectorAll(".js-plotly-plot").length,
                          sheet && sheet.sheet ? sheet.sheet.cssRules.length : -1];
                }"""
            )
            name = path.strip("/").replace("/", "_") or "home"
            page.screenshot(path=str(SCREENSHOTS / f"csp_{username}_{name}.png"), full_page=True)
            violations[path] = sorted(set(current))
        browser.close()
    return violations, charts


@pytest.mark.browser
def test_pages_render_without_a_csp_violation(live_server, demo, monkeypatch):
    need(
        chromium_available(), f"needs Chromium at {CHROMIUM} (apt-get install chromium, or set KAM_CHROMIUM)"
    )
    # Playwright's sync API runs an event loop in this thread; the live server answers from its own.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    SCREENSHOTS.mkdir(exist_ok=True)
    account = demo["account"]
    chart_pages = [f"/accounts/{account}/", "/scoring/", "/scoring/capacity/"]
    manager_pages = [
        "/",
        "/accounts/",
        *chart_pages,
        "/scoring/model/",
        "/scoring/runs/",
        f"/accounts/{account}/profile/",
        "/settings/integrations/",
        "/audit/",
        f"/audit/account/{account}/",
        "/password/",
        "/api/docs/",
    ]
    violations, charts = visit_all(live_server.url, "manager", manager_pages)
    admin_violations, _ = visit_all(
        live_server.url,
        "admin",
        [
            "/admin/",
            "/admin/accounts/account/",
            f"/admin/accounts/account/{account}/change/",
            f"/admin/accounts/account/{account}/history/",
        ],
    )
    violations.update(admin_violations)

    assert {path: found for path, found in violations.items() if found} == {}
    for path in chart_pages:
        drawn, rules = charts[path]
        assert drawn >= 1, f"{path}: no chart drawn"
        assert rules > 0, f"{path}: plotly's global stylesheet is empty (blocked by the CSP?)"
