"""Phone width (390 px): the pages reps and managers use between meetings never scroll sideways; wide tables
scroll inside their own box or stack. Every page also loads without a console error, a failed request or a
request to another host (no CDN): `open_session` fails the test on any of those."""

import pytest

from tests.browser.conftest import PHONE
from tests.factories import InfluencerFactory, ProfileFactory, VisitFactory

pytestmark = pytest.mark.browser


def test_reps_pages_fit_a_phone(open_session, world, portfolio):
    account = world.rep_account
    boss = InfluencerFactory(
        account=account, name="Maximilian Oberhauser-Lindqvist", title="Chief Operating Officer"
    )
    InfluencerFactory(account=account, name="Petra Buyer", reports_to=boss, buying_role="gatekeeper")
    ProfileFactory(account=account, mission="A deliberately long mission statement " * 8)
    VisitFactory(account=account, summary="Long notes " * 40)
    tab = open_session(PHONE)
    tab.login("rep")
    for path in ("/", "/accounts/", account.get_absolute_url(), f"/accounts/{account.pk}/visits/new/"):
        tab.goto(path)
        tab.page.wait_for_load_state("networkidle")
        assert tab.scroll_width() <= PHONE["width"], f"{path} scrolls sideways at {PHONE['width']} px"
    tab.problems.assert_none()


def test_managers_dashboard_fits_a_phone(open_session, world, portfolio):
    tab = open_session(PHONE)
    tab.login("manager")
    for path in ("/scoring/", "/scoring/model/", "/scoring/capacity/", "/scoring/runs/"):
        tab.goto(path)
        tab.page.wait_for_load_state("networkidle")
        assert tab.scroll_width() <= PHONE["width"], f"{path} scrolls sideways at {PHONE['width']} px"
    tab.problems.assert_none()
