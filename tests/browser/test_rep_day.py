"""A rep's working day in a real browser: log a visit (from the account page, from My day, and with the
keyboard only) and watch the cadence alert go; edit the profile in place and read its history; never see
another rep's account. Every page must load without a console error, a failed request or a CDN."""

import datetime
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import AlertStatus, CadenceAlert, Visit, VisitKind
from accounts.services import visit_log
from profiles.models import AccountProfile
from tests.browser.conftest import PASSWORD
from tests.factories import InfluencerFactory
from workspace.cadence_check import cadence_check

pytestmark = pytest.mark.browser


def _lapsed(account, *, days_ago: int = 60):
    """A monthly cadence last met `days_ago` days ago, and the alert the morning check opened for it."""
    account.cadence_days = 30
    account.save(update_fields=["cadence_days"])
    today = timezone.localdate()
    visit_log(
        account=account,
        logged_by=account.owner,
        date=today - datetime.timedelta(days=days_ago),
        kind=VisitKind.ON_SITE,
        summary="Quarterly review.",
    )
    cadence_check(today=today)
    return CadenceAlert.objects.get(account=account, kind="lapsed_cadence", status=AlertStatus.OPEN)


@pytest.fixture
def lapsed_account(world):
    account = world.rep_account
    InfluencerFactory(account=account, name="Petra Buyer", title="Head of Purchasing")
    _lapsed(account)
    return account


def test_rep_logs_a_visit_from_the_account_page_and_the_alert_disappears(open_session, world, lapsed_account):
    tab = open_session()
    tab.login("rep")
    tab.goto(lapsed_account.get_absolute_url())
    page = tab.page
    alert = page.locator(".account-alerts")
    expect(alert).to_contain_text("Lapsed visit cadence")

    # "Log a visit" opens the quick form on the page itself, with today's date already filled in.
    page.get_by_role("link", name="Log a visit").first.click()
    expect(page.locator("#log-visit")).to_have_attribute("open", "")
    expect(page.get_by_label("Date")).to_have_value(timezone.localdate().isoformat())
    page.get_by_label("Kind of contact").select_option(label="Phone call")
    page.get_by_label("Petra Buyer (Head of Purchasing)").check()
    page.get_by_label("What happened").fill("Agreed the spring volumes.")
    page.get_by_role("button", name="Save visit").click()

    expect(page.get_by_role("status").filter(has_text="logged")).to_contain_text(
        f"Visit to {lapsed_account.name} logged."
    )
    expect(alert).to_have_count(0)
    expect(page.locator("#visits-title ~ .timeline, .timeline").first).to_contain_text(
        "Agreed the spring volumes."
    )
    expect(page.locator(".timeline .chips").first).to_contain_text("Petra Buyer")
    assert not CadenceAlert.objects.filter(account=lapsed_account, status=AlertStatus.OPEN).exists()
    tab.problems.assert_none()


def test_rep_logs_a_visit_from_my_day_and_comes_back_to_it(open_session, world, lapsed_account):
    tab = open_session()
    tab.login("rep")
    page = tab.page
    alerts = page.locator("section[aria-labelledby=alerts-title]")
    expect(alerts).to_contain_text(lapsed_account.name)

    alerts.get_by_role("link", name=f"Log a visit to {lapsed_account.name}").click()
    expect(page.get_by_role("heading", name="Log a visit")).to_be_visible()
    page.get_by_label("What happened").fill("Coffee with the buyer; all fine.")
    page.get_by_role("button", name="Save visit").click()

    page.wait_for_url(tab.url("/"))
    expect(page.get_by_role("status").filter(has_text="logged")).to_be_visible()
    expect(alerts).to_contain_text("No open alerts")
    expect(page.locator("section[aria-labelledby=due-title]")).not_to_contain_text(lapsed_account.name)
    tab.problems.assert_none()


def test_a_visit_with_errors_is_refused_and_the_errors_are_announced(open_session, world, lapsed_account):
    tab = open_session()
    tab.login("rep")
    tab.goto(f"/accounts/{lapsed_account.pk}/visits/new/")
    page = tab.page
    today = timezone.localdate()
    page.get_by_label("Date").fill((today + datetime.timedelta(days=1)).isoformat())
    page.get_by_label("What happened").fill("Planned the trial.")
    page.get_by_role("button", name="Save visit").click()

    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("There is a problem")
    expect(summary).to_be_focused()  # read out first by a screen reader
    date = page.get_by_label("Date")
    expect(date).to_have_attribute("aria-invalid", "true")
    assert "id_date_error" in date.get_attribute("aria-describedby").split()
    expect(page.locator("#id_date_error")).to_contain_text("cannot be in the future")
    expect(page.get_by_label("What happened")).to_have_value("Planned the trial.")  # nothing typed is lost
    assert Visit.objects.filter(account=lapsed_account).count() == 1  # only the one from the setup
    tab.problems.assert_none()


def _tab_to(page, selector: str, *, limit: int = 80) -> None:
    """Press Tab until the focus is on `selector`, checking that every stop shows where the focus is."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => {
                const el = document.activeElement;
                if (el === document.body) return {ring: true, html: "body"};  // past the last stop: wraps
                const style = getComputedStyle(el);
                const ring = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
                return {ring: ring || style.boxShadow !== "none", html: el.outerHTML.slice(0, 120)};
            }"""
        )
        assert focused["ring"], f"No visible focus indicator on {focused['html']}"
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    pytest.fail(f"{selector} cannot be reached with the Tab key")


def test_keyboard_only_login_and_visit_logging(open_session, world, lapsed_account):
    tab = open_session()
    page = tab.page
    tab.goto("/login/")
    _tab_to(page, "input[name=username]")
    page.keyboard.type("rep")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(tab.url("/"))

    _tab_to(page, f"a[href^='/accounts/{lapsed_account.pk}/visits/new/']")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Log a visit")).to_be_visible()
    _tab_to(page, "textarea[name=summary]")
    page.keyboard.type("Called the buyer from the car.")
    _tab_to(page, "main button[type=submit]")  # Save visit (the only button in the form)
    page.keyboard.press("Enter")

    page.wait_for_url(tab.url("/"))
    expect(page.get_by_role("status").filter(has_text="logged")).to_be_visible()
    assert Visit.objects.filter(account=lapsed_account, summary="Called the buyer from the car.").exists()
    tab.problems.assert_none()


def test_rep_edits_the_profile_in_place_and_sees_the_history(open_session, world):
    account = world.rep_account
    tab = open_session()
    tab.login("rep")
    tab.goto(account.get_absolute_url())
    page = tab.page
    card = page.locator("#profile-card")
    expect(card).to_contain_text("No profile yet")

    card.get_by_role("link", name="Start profile").click()
    mission = card.get_by_label("What is the account's mission?")
    expect(mission).to_be_focused()  # in place: the form replaced the card and the focus moved into it
    mission.fill("Feed the region with fresh food.")
    card.get_by_role("button", name="Save profile").click()
    expect(card).to_contain_text("Profile saved.")
    expect(card).to_contain_text("Feed the region with fresh food.")
    expect(card).to_contain_text("1 of 9 questions answered")
    assert page.url == tab.url(account.get_absolute_url())  # no page load: edited where it stands

    card.get_by_role("link", name="Edit profile").click()
    card.get_by_label("What is the account's mission?").fill("Feed Europe with fresh food.")
    card.get_by_role("button", name="Save profile").click()
    expect(card).to_contain_text("Feed Europe with fresh food.")

    card.get_by_role("link", name="History").click()
    expect(page.get_by_role("heading", name="Profile history")).to_be_visible()
    newest = page.locator("article.change").first
    expect(newest).to_contain_text("changed 1 answer")
    expect(newest.locator(".diff__old")).to_contain_text("Feed the region with fresh food.")
    expect(newest.locator(".diff__new")).to_contain_text("Feed Europe with fresh food.")
    expect(page.locator("article.change").last).to_contain_text("started the profile")
    assert AccountProfile.history.filter(account_id=account.pk).count() == 2
    tab.problems.assert_none()


def test_rep_cannot_reach_another_reps_account(open_session, world):
    tab = open_session()
    tab.problems.expect(404)
    tab.login("rep")
    page = tab.page
    for path in (
        world.other_account.get_absolute_url(),
        f"/accounts/{world.other_account.pk}/visits/new/",
        f"/accounts/{world.other_account.pk}/profile/history/",
    ):
        response = tab.goto(path)
        assert response.status == 404, path
        expect(page.get_by_role("heading", name="We can't find that page")).to_be_visible()
        expect(page).not_to_have_title(re.compile(world.other_account.name))
        expect(page.locator("main")).not_to_contain_text(world.other_account.name)

    # The friendly page keeps the layout and offers a way on.
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    page.get_by_role("link", name="Find an account").click()
    page.get_by_label("Search").fill("Other Rep")
    expect(page.locator("#results")).to_contain_text("No accounts match these filters")
    tab.problems.assert_none()


def test_a_rep_is_told_kindly_that_manager_pages_are_not_for_them(open_session, world):
    tab = open_session()
    tab.problems.expect(403)
    tab.login("rep")
    assert tab.goto("/scoring/").status == 403
    expect(tab.page.get_by_role("heading", name="You can't do that here")).to_be_visible()
    expect(tab.page.get_by_role("link", name="Go to My day")).to_be_visible()
    tab.problems.assert_none()


def test_a_filter_after_the_session_expired_opens_the_login_page_and_comes_back(open_session, world):
    """htmx follows a redirect inside its own request: without HtmxLoginRedirectMiddleware the login form
    would appear inside the results table. Instead the whole page goes to the login and back."""
    tab = open_session()
    tab.login("rep")
    tab.goto("/accounts/?tier=A")
    page = tab.page
    expect(page.locator("#results")).to_be_visible()
    page.context.clear_cookies()  # the session ends (expired, or logged out in another tab)

    page.get_by_label("Search").fill("Own")
    page.wait_for_url(re.compile(r"/login/\?next="))
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    assert page.locator("#results").count() == 0  # a whole login page, not a fragment of one
    page.get_by_label("Username").fill("rep")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/accounts/\?"))
    expect(page.get_by_role("heading", name="Accounts", exact=True)).to_be_visible()
    tab.problems.assert_none()


def test_a_quick_log_that_cannot_be_fetched_says_so(open_session, world):
    """The server failing the quick log's fetch must not leave "Opening the form..." on screen for ever."""
    tab = open_session()
    tab.login("rep")
    tab.goto(world.rep_account.get_absolute_url())
    page = tab.page
    page.route(re.compile(r"/visits/new/"), lambda route: route.fulfill(status=500, body="Server Error"))
    page.locator("#log-visit > summary").click()
    alert = page.locator("#log-visit-body [role=alert]")
    expect(alert).to_have_text("The form could not be opened. Reload the page and try again.")
    expect(page.locator("#log-visit-body")).not_to_contain_text("Opening the form")
    # The 500 we staged is the only thing the browser reported.
    assert tab.problems.lines
    assert all("500" in line for line in tab.problems.lines), tab.problems.lines
    tab.problems.lines.clear()
