"""A manager's morning in a real browser: the portfolio dashboard with its charts drawn, a what-if preview of
new weights that says how many accounts would change tier (and saves nothing), and a recompute that is
started from the scoring-model page and followed until it finishes."""

import pytest
from playwright.sync_api import expect

from kam.celery import app as celery_app
from scoring.models import RunStatus, ScoringModel, ScoringRun

pytestmark = pytest.mark.browser

DASHBOARD_CHARTS = ("fig-pareto", "fig-margin", "fig-distribution", "fig-compliance", "fig-workload")


@pytest.fixture
def eager_jobs():
    """The recompute runs inside the request, as without REDIS_URL, whatever the environment says.

    The live server answers from a thread of this process, so this reaches it; CI sets REDIS_URL and has no
    worker on this test's queue. (The queue itself is tested with a real worker in tests/kam/test_worker.py.)"""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def test_manager_opens_the_dashboard_and_every_chart_is_drawn(open_session, world, portfolio):
    tab = open_session()
    tab.login("manager")
    tab.page.get_by_role("link", name="Portfolio").click()
    page = tab.page
    expect(page.get_by_role("heading", name="Portfolio", exact=True)).to_be_visible()
    expect(page.locator(".kpi, .stat").first).to_be_visible()
    for chart in DASHBOARD_CHARTS:
        # plotly drew it: an <svg> inside the container, with the data plotted
        expect(page.locator(f"[data-chart={chart}] svg.main-svg").first).to_be_attached()
        expect(page.locator(f"[data-chart={chart}] svg .trace").first).to_be_attached()
    # ...and every chart has its numbers next to it
    assert page.locator(".chart-card table").count() >= len(DASHBOARD_CHARTS)

    # Filters refresh the body in place (htmx) and the charts are drawn again.
    page.get_by_label("Region").select_option("South")
    page.wait_for_url("**region=South**")
    expect(page.locator("[data-chart=fig-pareto] svg.main-svg").first).to_be_attached()
    expect(
        page.locator("#dashboard-body").get_by_text("8 scored accounts matching the filters")
    ).to_be_visible()
    tab.problems.assert_none()


def test_manager_previews_new_weights_and_starts_a_recompute(open_session, world, portfolio, eager_jobs):
    versions = ScoringModel.objects.count()
    tab = open_session()
    tab.login("manager")
    tab.goto("/scoring/model/")
    page = tab.page
    headline = page.locator(".preview-headline")
    expect(headline).to_contain_text("0 of 20 accounts would change tier")  # the preview runs on load

    # Only the image rating counts now: the live preview says how many accounts move, and which.
    for label in (
        "Contribution margin (12 months)",
        "Contribution margin % (12 months)",
        "Customer lifetime value",
        "Revenue growth (12 months vs previous 12)",
        "Willingness to partner",
    ):
        page.get_by_label(label).fill("0")
    page.get_by_label("Image / prestige").fill("1")
    expect(headline).not_to_have_attribute("data-preview-changed", "0")
    changed = int(headline.get_attribute("data-preview-changed"))
    assert 0 < changed <= 20
    expect(headline).to_contain_text(f"{changed} of 20 accounts would change tier")
    moves = page.locator("#preview table").filter(has=page.get_by_role("columnheader", name="Rank"))
    expect(moves.locator("tbody tr").first).to_be_visible()
    assert ScoringModel.objects.count() == versions  # previewing saves nothing

    page.get_by_label("What changed and why").fill("Image first, for the trade-fair season.")
    page.get_by_role("button", name="Save as a new version").click()
    expect(page.get_by_role("status").filter(has_text="Saved as version")).to_be_visible()
    assert ScoringModel.objects.count() == versions + 1

    runs = ScoringRun.objects.count()
    status = page.locator("#run-status .run-status")
    previous = status.get_attribute("data-run-id")  # the page opens on the last run
    # Let the preview that the reload fired finish first: on SQLite the live server's threads share one
    # in-memory connection, and two requests at once would step on each other.
    expect(headline).to_contain_text("would change tier")
    page.wait_for_load_state("networkidle")
    page.get_by_role("button", name="Recompute now").click()
    expect(status).not_to_have_attribute("data-run-id", previous)
    expect(status).to_have_attribute("data-run-status", RunStatus.SUCCEEDED, timeout=60_000)
    run = ScoringRun.objects.order_by("-pk").first()
    assert ScoringRun.objects.count() == runs + 1
    expect(status).to_have_attribute("data-run-id", str(run.pk))
    expect(status).to_contain_text("Scored 20 accounts")
    assert run.model.note == "Image first, for the trade-fair season."

    # The run's own page tells the same story, and the dashboard now compares the two runs.
    status.get_by_role("link", name=f"Run #{run.pk}").click()
    expect(page.get_by_role("heading", name=f"Scoring run #{run.pk}")).to_be_visible()
    expect(page.get_by_text("the current portfolio")).to_be_visible()
    tab.problems.assert_none()
