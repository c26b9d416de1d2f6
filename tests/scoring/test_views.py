"""Manager pages: who may open them, what they show, bounded queries, the what-if preview, saving a model,
starting a recompute and following it."""

import datetime
import re
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, Order
from scoring.models import RunStatus, ScoringModel, ScoringRun
from scoring.services import portfolio_recompute, scoring_run_execute, scoring_run_request
from tests.conftest import need
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

DASHBOARD_MAX_QUERIES = 15

MANAGER_PAGES = ["scoring:dashboard", "scoring:capacity", "scoring:model", "scoring:run_list"]

GOOD_MODEL = {
    "weight_cm": "3",
    "weight_cm_pct": "1",
    "weight_clv": "2",
    "weight_growth": "1",
    "weight_image": "1",
    "weight_partnership": "1",
    "weight_strategic": "0",
    "tier_method": "share",
    "share_a": "10",
    "share_b": "20",
    "share_c": "30",
    "cutoff_a": "70",
    "cutoff_b": "50",
    "cutoff_c": "30",
    "cadence_a_days": "30",
    "cadence_b_days": "90",
    "cadence_c_days": "180",
    "cadence_d_days": "",
    "clv_horizon_months": "36",
    "discount_rate_pct": "10",
    "note": "More weight on margin.",
}


def _orders(accounts, *, today):
    """Three orders per account over the last year, sizes and margins varying by account (bulk insert)."""
    rows = []
    for i, account in enumerate(accounts):
        for k in range(3):
            revenue = Decimal(500 + 137 * ((i * 7) % 23) + 40 * k)
            rows.append(
                Order(
                    account=account,
                    date=today - datetime.timedelta(days=30 + 90 * k + i % 11),
                    revenue=revenue,
                    variable_cost=(revenue * Decimal(0.4 + (i % 5) / 10)).quantize(Decimal("0.01")),
                )
            )
    Order.objects.bulk_create(rows)


def _portfolio(world, extra: int, *, today=None):
    """The world's accounts plus `extra` more, split over the two reps, some key; scored twice."""
    today = today or timezone.localdate()
    owners = [world.rep, world.other_rep]
    accounts = [world.rep_account, world.team_account, world.other_account]
    for i in range(extra):
        key = i % 4 == 0
        accounts.append(
            AccountFactory(
                owner=owners[i % 2],
                region=["North", "South"][i % 2],
                industry=["Food", "Chemicals", "Retail"][i % 3],
                is_key=key,
                key_since=today if key else None,
                key_reason="Partner" if key else "",
                image_rating=1 + i % 5,
            )
        )
    _orders(accounts, today=today)
    portfolio_recompute(as_of=today - datetime.timedelta(days=30))
    return portfolio_recompute(as_of=today)


def _login(client, user):
    client.force_login(user)
    return client


# --- Access --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MANAGER_PAGES)
def test_manager_pages_need_a_login(client, world, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name", MANAGER_PAGES)
def test_rep_cannot_open_manager_pages(client, world, name):
    assert _login(client, world.rep).get(reverse(name)).status_code == 403


@pytest.mark.parametrize("name", MANAGER_PAGES)
def test_integration_user_cannot_open_manager_pages(client, world, name):
    assert _login(client, world.integration).get(reverse(name)).status_code == 403


@pytest.mark.parametrize("name", MANAGER_PAGES)
def test_manager_opens_manager_pages(client, world, name):
    assert _login(client, world.manager).get(reverse(name)).status_code == 200


def test_rep_cannot_preview_save_or_recompute(client, world):
    _login(client, world.rep)
    assert client.post(reverse("scoring:model_preview"), GOOD_MODEL).status_code == 403
    assert client.post(reverse("scoring:model"), GOOD_MODEL).status_code == 403
    assert client.post(reverse("scoring:run_start")).status_code == 403
    assert not ScoringRun.objects.exists()
    assert ScoringModel.objects.count() == 1


def test_run_pages_are_for_managers_only(client, world):
    run = portfolio_recompute(as_of=timezone.localdate())
    url = reverse("scoring:run_detail", args=[run.pk])
    assert client.get(url).status_code == 302
    assert _login(client, world.rep).get(url).status_code == 403
    assert _login(client, world.integration).get(url).status_code == 403
    assert _login(client, world.manager).get(url).status_code == 200


# --- Dashboard -----------------------------------------------------------------------------------------------


def test_dashboard_without_a_run_offers_to_score_the_portfolio(client, world):
    response = _login(client, world.manager).get(reverse("scoring:dashboard"))
    html = response.content.decode()
    assert "No scores yet" in html
    assert reverse("scoring:run_start") in html


def test_dashboard_shows_kpis_charts_and_tables(client, world):
    _portfolio(world, 12)
    html = _login(client, world.manager).get(reverse("scoring:dashboard")).content.decode()
    for text in ("Key accounts", "Designation advice", "Concentration", "Tier migration", "Rising and falling",
                 "Cadence compliance by KAM", "Workload against capacity", "Profitability by tier"):  # fmt: skip
        assert text in html
    for chart in (
        "fig-pareto",
        "fig-margin",
        "fig-distribution",
        "fig-migration",
        "fig-compliance",
        "fig-workload",
    ):
        assert f'id="{chart}"' in html  # the figure JSON for charts.js ...
        assert f'data-chart="{chart}"' in html  # ... and where it is drawn
    assert "vendor/plotly.min.js" in html
    assert "<script>" not in html  # no inline scripts: figures travel as application/json


def test_dashboard_links_advice_to_the_designation_form(client, world):
    _portfolio(world, 12)
    # Make the best non-key account a candidate for sure: designate nobody in tier A.
    Account.objects.filter(tier="A").update(is_key=False, key_since=None, key_reason="")
    candidate = Account.objects.get(tier="A", rank=1)
    html = _login(client, world.manager).get(reverse("scoring:dashboard")).content.decode()
    assert reverse("accounts:designation", args=[candidate.pk]) in html
    assert reverse("accounts:detail", args=[candidate.pk]) in html


def test_dashboard_filters_narrow_the_numbers(client, world):
    _portfolio(world, 12)
    _login(client, world.manager)
    everyone = client.get(reverse("scoring:dashboard")).context["dash"].kpis
    mine = client.get(reverse("scoring:dashboard"), {"owner": world.rep.pk}).context["dash"].kpis
    north = client.get(reverse("scoring:dashboard"), {"region": "North"}).context["dash"].kpis
    assert everyone["accounts"] == 15
    assert mine["accounts"] == Account.objects.filter(owner=world.rep).count() < 15
    assert north["key_accounts"] == Account.objects.filter(region="North", is_key=True).count()


def test_dashboard_counts_the_open_alerts_of_the_filtered_accounts(client, world):
    from accounts import models as account_models

    if not hasattr(account_models, "CadenceAlert"):
        pytest.skip("cadence alerts are not part of this tree yet")
    _portfolio(world, 4)
    today = timezone.localdate()
    for account in (world.rep_account, world.other_account):
        account_models.CadenceAlert.objects.create(account=account, kind="lapsed_cadence", opened_on=today)
    _login(client, world.manager)
    assert client.get(reverse("scoring:dashboard")).context["dash"].open_alerts == 2
    mine = client.get(reverse("scoring:dashboard"), {"owner": world.rep.pk}).context["dash"]
    assert mine.open_alerts == 1


def test_dashboard_htmx_request_renders_only_the_body(client, world):
    _portfolio(world, 6)
    response = _login(client, world.manager).get(
        reverse("scoring:dashboard"),
        {"region": "North"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="dashboard-body",
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert "data-results-summary" in html
    assert 'id="dashboard-filters"' not in html


def test_dashboard_compares_any_two_runs(client, world):
    latest = _portfolio(world, 6)
    first = ScoringRun.objects.succeeded().exclude(pk=latest.pk).get()
    response = _login(client, world.manager).get(
        reverse("scoring:dashboard"), {"from": latest.pk, "to": first.pk}
    )
    dash = response.context["dash"]
    assert (dash.migration_from, dash.migration_to) == (latest, first)
    assert int(dash.migration.to_numpy().sum()) == 9


def _dashboard_queries(client, user) -> int:
    client.force_login(user)
    client.get(reverse("scoring:dashboard"))  # warm up the session and the content-type cache
    cache.clear()  # but measure the dashboard computed afresh, not its snapshot
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("scoring:dashboard"))
    assert response.status_code == 200
    return len(queries.captured_queries)


def test_dashboard_queries_do_not_grow_with_the_portfolio(client, world, django_assert_max_num_queries):
    _portfolio(world, 2)  # 5 accounts
    small = _dashboard_queries(client, world.manager)
    _portfolio(world, 45)  # 50 accounts (the first five again plus 45 more)
    assert Account.objects.count() == 50
    large = _dashboard_queries(client, world.manager)
    assert small == large
    with django_assert_max_num_queries(DASHBOARD_MAX_QUERIES):
        client.get(reverse("scoring:dashboard"))
    with django_assert_max_num_queries(DASHBOARD_MAX_QUERIES):
        client.get(reverse("scoring:dashboard"), {"owner": world.rep.pk}, HTTP_HX_REQUEST="true",
                   HTTP_HX_TARGET="dashboard-body")  # fmt: skip


def test_the_dashboard_snapshot_is_reused_until_an_account_changes(client, world):
    from accounts.services import account_designate

    _portfolio(world, 6)
    client.force_login(world.manager)
    cold = _dashboard_queries(client, world.manager)
    with CaptureQueriesContext(connection) as warm:
        first = client.get(reverse("scoring:dashboard")).context["dash"]
    assert len(warm.captured_queries) < cold  # the portfolio frame is not read again
    target = Account.objects.filter(is_key=False).exclude(score=None).first()
    account_designate(
        account=target, is_key=True, reason="Won a framework contract", decided_by=world.manager
    )
    again = client.get(reverse("scoring:dashboard")).context["dash"]
    assert again.kpis["key_accounts"] == first.kpis["key_accounts"] + 1  # the decision shows at once


def _dashboard_read(client) -> tuple:
    """The dashboard as the manager sees it now, and whether it was computed (True) or the snapshot reused."""
    with CaptureQueriesContext(connection) as queries:
        dash = client.get(reverse("scoring:dashboard")).context["dash"]
    computed = any("FROM \"accounts_account\"" in q["sql"] and "LEFT OUTER JOIN" in q["sql"]
                   and "scoring_scoreresult" in q["sql"] for q in queries.captured_queries)  # fmt: skip
    return dash, computed


def test_a_visit_that_changes_nothing_the_dashboard_counts_keeps_its_snapshot(client, world):
    """Reps log visits all day: one that leaves every account's cadence state as it was must not make each
    manager's dashboard recompute the portfolio; one that takes an account out of lapsed must show at once."""
    from accounts.services import visit_log

    need(connection.vendor == "postgresql", "the row fingerprint is PostgreSQL's; SQLite uses the version")
    today = timezone.localdate()
    _portfolio(world, 6)
    on_track, lapsed = world.rep_account, world.other_account
    Account.objects.filter(pk=on_track.pk).update(
        cadence_days=30, next_contact_due=today + datetime.timedelta(days=9)
    )
    Account.objects.filter(pk=lapsed.pk).update(
        cadence_days=30, next_contact_due=today - datetime.timedelta(days=4)
    )
    client.force_login(world.manager)
    first, computed = _dashboard_read(client)
    assert computed
    assert _dashboard_read(client)[1] is False  # nothing changed: the snapshot

    on_track.refresh_from_db()
    visit_log(account=on_track, logged_by=world.rep, date=today, kind="meeting", summary="Quarterly review")
    on_track.refresh_from_db()
    assert on_track.next_contact_due > today  # still on track, later
    same, computed = _dashboard_read(client)
    assert computed is False
    assert same.kpis == first.kpis

    lapsed.refresh_from_db()
    visit_log(account=lapsed, logged_by=world.other_rep, date=today, kind="meeting", summary="Back on track")
    after, computed = _dashboard_read(client)
    assert computed
    assert after.kpis["lapsed"] == first.kpis["lapsed"] - 1


@pytest.mark.parametrize(
    "change",
    [
        {"name": "Renamed GmbH"},
        {"status": "lost"},
        {"region": "West"},
        {"cadence_days": 14},
    ],
)
def test_any_change_the_dashboard_shows_recomputes_it(client, world, change):
    from scoring.analytics.loading import PortfolioFilters, portfolio_fingerprint

    _portfolio(world, 4)
    today = timezone.localdate()
    before = portfolio_fingerprint(PortfolioFilters(), today=today)
    Account.objects.filter(pk=world.rep_account.pk).update(**change, updated_at=timezone.now())
    assert portfolio_fingerprint(PortfolioFilters(), today=today) != before
    client.force_login(world.manager)
    assert _dashboard_read(client)[1]


def test_a_deleted_account_changes_the_fingerprint(world):
    from scoring.analytics.loading import PortfolioFilters, portfolio_fingerprint

    today = timezone.localdate()
    before = portfolio_fingerprint(PortfolioFilters(), today=today)
    AccountFactory()
    added = portfolio_fingerprint(PortfolioFilters(), today=today)
    assert added != before
    Account.objects.order_by("-pk").first().delete()
    assert portfolio_fingerprint(PortfolioFilters(), today=today) != added


def test_capacity_page_queries_do_not_grow_with_the_portfolio(client, world):
    _portfolio(world, 2)
    client.force_login(world.manager)
    client.get(reverse("scoring:capacity"))
    cache.clear()  # measure the uncached path both times: that is the one that could grow
    with CaptureQueriesContext(connection) as small:
        client.get(reverse("scoring:capacity"))
    _portfolio(world, 45)
    cache.clear()
    with CaptureQueriesContext(connection) as large:
        client.get(reverse("scoring:capacity"))
    assert len(small.captured_queries) == len(large.captured_queries)


# --- Capacity ------------------------------------------------------------------------------------------------


def test_capacity_page_draws_the_cut_line_for_an_overloaded_kam(client, world):
    _portfolio(world, 12)
    world.rep.monthly_visit_capacity = 1
    world.rep.save()
    Account.objects.filter(owner=world.rep).update(is_key=True, key_since=timezone.localdate(), key_reason="x",
                                                   cadence_days=30)  # fmt: skip
    html = _login(client, world.manager).get(reverse("scoring:capacity")).content.decode()
    assert "Cut line: capacity of 1 visits a month reached" in html
    assert "Over capacity by" in html
    below = re.findall(r'badge--warning">Below the line', html)
    assert len(below) == Account.objects.filter(owner=world.rep).count() - 1


# --- Scoring model and what-if --------------------------------------------------------------------------------


def test_preview_reports_how_many_accounts_would_change_tier(client, world):
    _portfolio(world, 7)  # 10 accounts: shares 10/20/30 % -> 1 | 2 | 3 | 4
    model = ScoringModel.objects.get(is_active=True)
    same = GOOD_MODEL | {f"weight_{c}": str(w) for c, w in model.weights.items()}
    _login(client, world.manager)
    response = client.post(reverse("scoring:model_preview"), same, HTTP_HX_REQUEST="true")
    assert 'data-preview-changed="0"' in response.content.decode()
    # A 30 %: ranks 1-3 A, 4-5 B, 6-8 C: ranks 2, 3 (B->A), 4, 5 (C->B), 7, 8 (D->C) change.
    wider = same | {"share_a": "30", "share_b": "20", "share_c": "30"}
    response = client.post(reverse("scoring:model_preview"), wider, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert 'data-preview-changed="6"' in html
    assert "6 up" in html
    assert "<html" not in html


def test_preview_of_invalid_settings_says_what_to_fix(client, world):
    response = _login(client, world.manager).post(
        reverse("scoring:model_preview"), GOOD_MODEL | {"weight_cm": "-1"}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert "The preview needs valid settings" in html
    assert "A weight cannot be negative" in html


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"weight_cm": "-1"}, "A weight cannot be negative"),
        ({f"weight_{c}": "0" for c in ("cm", "cm_pct", "clv", "growth", "image", "partnership")},
         "Give at least one criterion a weight above zero"),
        ({"share_a": "50", "share_b": "40", "share_c": "30"}, "Tier shares add up to 120 %"),
        ({"tier_method": "cutoff", "cutoff_a": "40", "cutoff_b": "60"}, "Cut-offs must run from A down to C"),
        ({"share_a": ""}, "Enter the tier A, % of accounts"),
    ],
)  # fmt: skip
def test_saving_a_bad_model_saves_nothing(client, world, change, message):
    before = list(ScoringModel.objects.values_list("pk", "is_active"))
    response = _login(client, world.manager).post(reverse("scoring:model"), GOOD_MODEL | change)
    assert response.status_code == 200
    assert "Nothing was saved" in response.content.decode()
    assert message in response.content.decode()
    assert list(ScoringModel.objects.values_list("pk", "is_active")) == before


def test_saving_a_model_makes_a_new_active_version(client, world):
    response = _login(client, world.manager).post(reverse("scoring:model"), GOOD_MODEL)
    assert response.status_code == 302
    active = ScoringModel.objects.get(is_active=True)
    assert active.version == 2
    assert active.created_by == world.manager
    assert active.weight_cm == Decimal("3")
    assert active.tier_a == Decimal("0.100")
    assert active.discount_rate == Decimal("0.1000")
    assert active.note == "More weight on margin."
    html = client.get(reverse("scoring:model")).content.decode()
    assert "Saved as version 2" in html
    assert "More weight on margin." in html  # in the version list


def test_cutoff_model_is_saved_with_scores_not_shares(client, world):
    _login(client, world.manager).post(
        reverse("scoring:model"), GOOD_MODEL | {"tier_method": "cutoff", "share_a": ""}
    )
    active = ScoringModel.objects.get(is_active=True)
    assert (active.tier_method, active.tier_a, active.tier_b, active.tier_c) == ("cutoff", 70, 50, 30)


def test_model_page_shows_the_active_model_in_the_units_people_use(client, world):
    html = _login(client, world.manager).get(reverse("scoring:model")).content.decode()
    assert 'name="share_a" value="10"' in html  # 0.100 stored, 10 % shown
    assert 'name="weight_cm" value="0.3"' in html
    assert 'name="discount_rate_pct" value="10"' in html


# --- Recompute ----------------------------------------------------------------------------------------------


def test_recompute_button_creates_a_run_and_the_status_partial_follows_it(client, world):
    _login(client, world.manager)
    response = client.post(reverse("scoring:run_start"), HTTP_HX_REQUEST="true")
    run = ScoringRun.objects.get()
    html = response.content.decode()
    assert f"Run #{run.pk}" in html
    assert run.triggered_by == world.manager
    status_url = reverse("scoring:run_detail", args=[run.pk])
    if run.status in (RunStatus.QUEUED, RunStatus.RUNNING):
        # Queued for a worker (the job is enqueued after commit): the partial polls itself.
        assert f'hx-get="{status_url}"' in html
        assert 'hx-trigger="every 1s"' in html
        scoring_run_execute(run_id=run.pk)
    status = client.get(status_url, HTTP_HX_REQUEST="true").content.decode()
    assert "Succeeded" in status
    assert "hx-trigger" not in status  # finished: polling stops
    assert "<html" not in status


def test_status_partial_shows_the_phase_of_a_running_run_and_the_reason_of_a_failed_one(client, world):
    run = scoring_run_request(as_of=timezone.localdate(), triggered_by=world.manager)
    ScoringRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, phase="clv", started_at=timezone.now()
    )
    _login(client, world.manager)
    url = reverse("scoring:run_detail", args=[run.pk])
    html = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "Running" in html
    assert "Fitting the CLV model" in html
    assert 'hx-trigger="every 1s"' in html
    ScoringRun.objects.filter(pk=run.pk).update(
        status=RunStatus.FAILED, holds_lock=False, error="Boom: no data"
    )
    html = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "Boom: no data" in html
    assert "hx-trigger" not in html


def test_second_recompute_while_one_runs_follows_the_running_one(client, world):
    running = scoring_run_request(as_of=timezone.localdate(), triggered_by=world.rep)
    response = _login(client, world.manager).post(reverse("scoring:run_start"), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert ScoringRun.objects.count() == 1
    assert "already queued" in html
    assert f"Run #{running.pk}" in html


def test_recompute_without_htmx_redirects_to_the_run(client, world):
    response = _login(client, world.manager).post(reverse("scoring:run_start"))
    run = ScoringRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("scoring:run_detail", args=[run.pk])


def test_run_list_and_detail_show_status_timings_and_clv(client, world):
    run = _portfolio(world, 5)
    _login(client, world.manager)
    html = client.get(reverse("scoring:run_list")).content.decode()
    assert f"#{run.pk}" in html
    assert "Succeeded" in html
    assert run.clv_method in html
    detail = client.get(reverse("scoring:run_detail", args=[run.pk])).content.decode()
    assert "CLV parameters" in detail
    assert "Reading orders" in detail  # the load phase, timed
    assert f"Scored {run.accounts_scored} accounts" in detail


def test_unknown_run_is_404(client, world):
    assert _login(client, world.manager).get(reverse("scoring:run_detail", args=[999])).status_code == 404
