""" "The previous run" has one definition (ScoringRun.objects.previous_to): the run before in as-of order.

A backfill (a run for an older as-of date, finished after the run it precedes in time) must not become the
run the dashboard or the `account.tier_changed` webhook compares the current portfolio with.
"""

import datetime
from decimal import Decimal

import pytest

from accounts.models import Role
from integrations.models import WebhookDelivery, WebhookEndpoint
from scoring import webhooks
from scoring.analytics.dashboard import portfolio_dashboard
from scoring.analytics.loading import PortfolioFilters
from scoring.models import RunStatus, ScoreResult, ScoringRun
from scoring.selectors import active_model
from tests.factories import AccountFactory, UserFactory

pytestmark = pytest.mark.django_db


def _at(month: int, day: int) -> datetime.datetime:
    return datetime.datetime(2026, month, day, 10, tzinfo=datetime.UTC)


def _run(model, *, as_of: datetime.date, finished_at: datetime.datetime, tiers: dict) -> ScoringRun:
    run = ScoringRun.objects.create(
        model=model,
        as_of=as_of,
        status=RunStatus.SUCCEEDED,
        holds_lock=False,
        started_at=finished_at,
        finished_at=finished_at,
    )
    ScoreResult.objects.bulk_create(
        ScoreResult(
            run=run,
            account=account,
            score=score,
            rank=rank,
            tier=tier,
            revenue=Decimal(100),
            revenue_prev=Decimal(100),
            cm=Decimal(10),
            cm_pct=0.1,
        )
        for rank, (account, (score, tier)) in enumerate(tiers.items(), start=1)
    )
    return run


@pytest.fixture
def backfilled(db):
    """June's run, then a backfill for May finished on 10 June, then July's run (the current one)."""
    a1, a2 = AccountFactory(name="a1"), AccountFactory(name="a2")
    model = active_model()
    june = _run(
        model, as_of=datetime.date(2026, 6, 1), finished_at=_at(6, 1), tiers={a1: (90, "A"), a2: (50, "B")}
    )
    backfill = _run(
        model, as_of=datetime.date(2026, 5, 1), finished_at=_at(6, 10), tiers={a1: (20, "C"), a2: (20, "C")}
    )
    july = _run(
        model, as_of=datetime.date(2026, 7, 1), finished_at=_at(7, 1), tiers={a1: (60, "B"), a2: (55, "B")}
    )
    return {"a1": a1, "a2": a2, "june": june, "backfill": backfill, "july": july}


def test_the_previous_run_is_the_previous_as_of_date_not_the_last_finished(backfilled):
    assert backfilled["backfill"].finished_at > backfilled["june"].finished_at  # the premise: a late backfill
    assert ScoringRun.objects.previous_to(backfilled["july"]) == backfilled["june"]
    assert ScoringRun.objects.previous_to(backfilled["june"]) == backfilled["backfill"]  # May is before June
    assert ScoringRun.objects.previous_to(backfilled["backfill"]) is None


def test_after_a_backfill_the_dashboard_and_the_webhook_compare_with_the_same_run(backfilled):
    manager = UserFactory(username="boss", role=Role.MANAGER)
    WebhookEndpoint.objects.create(
        owner=manager,
        url="https://hooks.example.com/kam",
        events=["account.tier_changed"],
        secret=WebhookEndpoint.new_secret(),
    )
    webhooks.webhooks_emit_run_succeeded(run_id=backfilled["july"].pk)
    data = WebhookDelivery.objects.get(event="account.tier_changed").payload["data"]

    dash = portfolio_dashboard(filters=PortfolioFilters(), today=datetime.date(2026, 7, 2))

    assert dash.run == backfilled["july"]
    assert dash.previous == backfilled["june"]
    assert data["previous_run_id"] == dash.previous.pk
    # The same comparison in both: a1 went A -> B since June (against the backfill it would be C -> B), and
    # a2 stayed in B (against the backfill it would have moved up from C).
    changes = {item["account_id"]: (item["previous_tier"], item["tier"]) for item in data["items"]}
    assert changes == {backfilled["a1"].pk: ("A", "B")}
    assert dash.migration.loc["A", "B"] == 1
    assert dash.migration.loc["B", "B"] == 1
    assert int(dash.migration.to_numpy().sum()) == 2
