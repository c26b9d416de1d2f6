"""The portfolio recompute end to end on the database: explanations add up, history, failure safety."""

import datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from accounts.models import Account
from accounts.services import account_update
from scoring import engine, selectors
from scoring.criteria import compute_criteria, criteria_from_totals
from scoring.models import RunStatus, ScoreResult, ScoringModel, ScoringRun
from scoring.services import (
    RunInProgress,
    portfolio_recompute,
    scoring_model_create_version,
    scoring_run_request,
)
from tests.factories import AccountFactory, OrderFactory, UserFactory

pytestmark = pytest.mark.django_db

AS_OF = datetime.date(2026, 6, 30)


def _orders(account, amounts, start=datetime.date(2025, 1, 15), step_days=30):
    for i, (revenue, cost) in enumerate(amounts):
        OrderFactory(
            account=account,
            date=start + datetime.timedelta(days=step_days * i),
            revenue=Decimal(revenue),
            variable_cost=Decimal(cost),
        )


@pytest.fixture
def portfolio(db):
    owner = UserFactory(username="kam")
    big_thin = AccountFactory(name="Big Thin", owner=owner, image_rating=5, partnership_rating=2)
    mid_fat = AccountFactory(name="Mid Fat", owner=owner, image_rating=3, partnership_rating=5)
    small = AccountFactory(name="Small", owner=owner)
    AccountFactory(name="No Orders", owner=owner, image_rating=1)
    AccountFactory(name="Gone", owner=owner, status="lost")
    _orders(big_thin, [(100_000, 92_000)] * 18)
    _orders(mid_fat, [(30_000, 18_000)] * 18)
    _orders(small, [(2_000, 1_500)] * 5, start=datetime.date(2026, 1, 10))
    return owner


def test_recompute_scores_every_account_and_explanations_add_up(portfolio):
    run = portfolio_recompute(as_of=AS_OF)
    assert run.status == RunStatus.SUCCEEDED
    assert run.accounts_scored == 4  # the lost account is left out
    weights = run.model.normalised_weights
    for result in ScoreResult.objects.filter(run=run):
        explained = sum(item["points"] for item in result.explanation(weights))
        assert explained == pytest.approx(result.score, abs=1e-3)
    ranks = sorted(ScoreResult.objects.filter(run=run).values_list("rank", flat=True))
    assert ranks == [1, 2, 3, 4]


def test_recompute_updates_the_accounts_denormalised_fields(portfolio):
    run = portfolio_recompute(as_of=AS_OF)
    top = ScoreResult.objects.get(run=run, rank=1)
    account = Account.objects.get(pk=top.account_id)
    assert account.rank == 1
    assert account.tier == top.tier == "A"
    assert float(account.score) == pytest.approx(top.score, abs=0.01)
    assert account.target_cadence_days == 30  # tier A default of the active model
    gone = Account.objects.get(name="Gone")
    assert (gone.tier, gone.score) == ("", None)


def test_an_account_lost_since_the_last_run_leaves_the_portfolio_and_is_written_once(portfolio):
    portfolio_recompute(as_of=AS_OF - datetime.timedelta(days=30))
    small = Account.objects.get(name="Small")
    assert small.tier
    assert small.score is not None
    # Marked lost, keeping a manager's override: the cadence rule gives a lost account no cadence at all.
    account_update(account=small, data={"status": "lost", "cadence_days": 60}, by=small.owner)
    portfolio_recompute(as_of=AS_OF)
    small.refresh_from_db()
    assert (small.tier, small.score, small.rank, small.score_change, small.scored_at) == (
        "",
        None,
        None,
        None,
        None,
    )
    assert (small.cadence_days, small.target_cadence_days, small.next_contact_due) == (60, None, None)
    # Already out of the portfolio: the next run finds nothing to change and leaves the row as it is (on
    # PostgreSQL a rewritten row gets a new xmin; SQLite keeps no row versions to look at).
    xmin = _xmin(small)
    portfolio_recompute(as_of=AS_OF + datetime.timedelta(days=1))
    assert _xmin(small) == xmin
    small.refresh_from_db()
    assert (small.tier, small.target_cadence_days, small.next_contact_due) == ("", None, None)
    # ...while every scored account was rewritten by this run.
    assert Account.objects.exclude(status="lost").filter(scored_at__isnull=True).count() == 0


def _xmin(account) -> str | None:
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT xmin::text FROM accounts_account WHERE id = %s", [account.pk])
        return cursor.fetchone()[0]


def test_cm_and_cm_pct_come_from_the_trailing_twelve_months(portfolio):
    run = portfolio_recompute(as_of=AS_OF)
    mid = ScoreResult.objects.get(run=run, account__name="Mid Fat")
    # Orders every 30 days from 2025-01-15; those in (2025-06-30, 2026-06-30] are 12 orders.
    assert mid.revenue == Decimal("360000.00")
    assert mid.cm == Decimal("144000.00")
    assert mid.cm_pct == pytest.approx(0.4)
    no_orders = ScoreResult.objects.get(run=run, account__name="No Orders")
    assert "cm_pct" in no_orders.missing


def test_rerunning_the_same_model_and_date_replaces_never_duplicates(portfolio):
    first = portfolio_recompute(as_of=AS_OF)
    second = portfolio_recompute(as_of=AS_OF)
    assert not ScoringRun.objects.filter(pk=first.pk).exists()
    assert ScoringRun.objects.succeeded().count() == 1
    assert ScoreResult.objects.filter(run=second).count() == 4
    assert ScoreResult.objects.count() == 4


def test_history_is_kept_across_dates(portfolio):
    portfolio_recompute(as_of=AS_OF - datetime.timedelta(days=30))
    portfolio_recompute(as_of=AS_OF)
    assert ScoringRun.objects.succeeded().count() == 2
    account = Account.objects.get(name="Mid Fat")
    assert account.score_results.count() == 2
    assert account.score_change is not None


def test_second_request_while_one_is_queued_is_refused(portfolio):
    queued = scoring_run_request(as_of=AS_OF)
    with pytest.raises(RunInProgress) as refused:
        scoring_run_request(as_of=AS_OF)
    assert refused.value.run == queued
    assert "already queued" in str(refused.value)


def test_failed_run_leaves_the_previous_portfolio_current(portfolio, monkeypatch):
    good = portfolio_recompute(as_of=AS_OF)
    before = dict(Account.objects.values_list("name", "score"))

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("scoring.services._update_accounts", explode)
    with pytest.raises(RuntimeError):
        portfolio_recompute(as_of=AS_OF + datetime.timedelta(days=1))
    failed = ScoringRun.objects.exclude(pk=good.pk).get()
    assert failed.status == RunStatus.FAILED
    assert "disk full" in failed.error
    assert not failed.holds_lock
    assert not ScoreResult.objects.filter(run=failed).exists()
    assert selectors.current_run() == good
    assert dict(Account.objects.values_list("name", "score")) == before


def test_new_model_version_changes_the_ranking(portfolio):
    portfolio_recompute(as_of=AS_OF)
    v2 = scoring_model_create_version(
        data={f"weight_{c}": Decimal("0") for c in engine.CRITERIA} | {"weight_cm_pct": Decimal("1")},
        created_by=None,
    )
    assert v2.version == 2
    assert v2.is_active
    assert ScoringModel.objects.filter(is_active=True).count() == 1
    run = portfolio_recompute(as_of=AS_OF)
    assert run.model == v2
    assert ScoreResult.objects.get(run=run, rank=1).account.name == "Mid Fat"


def test_all_zero_weights_are_refused(portfolio):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="At least one criterion"):
        scoring_model_create_version(
            data={f"weight_{c}": Decimal("0") for c in engine.CRITERIA}, created_by=None
        )
    assert ScoringModel.objects.count() == 1


def test_database_totals_match_the_pure_engine(portfolio):
    """The database read (COPY, in chunks on PostgreSQL) and the engine's raw-order path agree on every criterion."""
    totals = selectors.order_totals(AS_OF)
    accounts = selectors.scored_accounts()
    from_sql = criteria_from_totals(totals, accounts, AS_OF)
    from accounts.models import Order

    orders = pd.DataFrame.from_records(
        Order.objects.values("account_id", "date", "revenue", "variable_cost"),
    )
    from_orders = compute_criteria(orders, accounts, AS_OF)
    for column in ("revenue_12m", "cm_12m", "cm_pct", "revenue_prev_12m", "growth", "order_count_12m"):
        np.testing.assert_allclose(from_sql[column], from_orders[column], equal_nan=True)


def test_recompute_command_prints_the_run(portfolio, capsys):
    call_command("recompute_portfolio", "--as-of", AS_OF.isoformat())
    out = capsys.readouterr().out
    assert "succeeded" in out
    assert "4 accounts" in out


def test_fit_clv_command_json_shape(portfolio, capsys):
    import json

    call_command("fit_clv", "--as-of", AS_OF.isoformat(), "--json")
    data = json.loads(capsys.readouterr().out)
    assert data["accounts"] == 3
    assert set(data) >= {"accounts", "bgnbd", "gamma_gamma"}


def test_a_backfill_for_an_earlier_date_is_history_and_leaves_the_current_portfolio(portfolio):
    current = portfolio_recompute(as_of=AS_OF)
    shown = dict(Account.objects.values_list("name", "score"))
    backfill = portfolio_recompute(as_of=datetime.date(2025, 6, 30))
    assert backfill.status == RunStatus.SUCCEEDED
    assert ScoreResult.objects.filter(run=backfill).exists()  # kept as history
    assert selectors.current_run() == current
    assert dict(Account.objects.values_list("name", "score")) == shown


def test_the_clv_fit_learns_from_lost_customers_too(portfolio):
    """Lost accounts are not scored, but their purchase histories inform the dropout rate of the fit."""
    gone = Account.objects.get(name="Gone")
    _orders(gone, [(5_000, 3_000)] * 4, start=datetime.date(2024, 1, 10))
    totals = selectors.order_totals(AS_OF)
    assert gone.pk in selectors.purchase_summary(totals, AS_OF).index
    run = portfolio_recompute(as_of=AS_OF)
    assert run.accounts_scored == 4
    assert not ScoreResult.objects.filter(run=run, account=gone).exists()


def test_a_key_account_is_visited_quarterly_at_worst_whatever_its_tier(portfolio, settings):
    """DOMAIN.md section 3: tier D has no default cadence, but a key account there still gets one."""
    settings.KAM_KEY_ACCOUNT_MAX_CADENCE_DAYS = 90
    small = Account.objects.get(name="Small")
    Account.objects.filter(pk=small.pk).update(
        is_key=True, key_reason="Strategic reference customer", key_since=AS_OF
    )
    mid = Account.objects.get(name="Mid Fat")
    Account.objects.filter(pk=mid.pk).update(cadence_days=120)  # a manager's explicit override wins
    model = ScoringModel.objects.get(is_active=True)
    portfolio_recompute(as_of=AS_OF)
    small.refresh_from_db()
    mid.refresh_from_db()
    tier_default = model.tier_cadences.get(small.tier)
    assert small.target_cadence_days == (min(tier_default, 90) if tier_default else 90)
    assert small.target_cadence_days == small.effective_cadence_days(tier_default)
    assert mid.target_cadence_days == 120


def test_an_account_deleted_while_the_run_computes_gets_no_result(portfolio, monkeypatch):
    """Results have no database foreign key (speed); publishing drops those of accounts deleted meanwhile."""
    doomed = Account.objects.get(name="No Orders")
    real = selectors.scored_accounts

    def read_then_delete():
        frame = real()
        Account.objects.filter(pk=doomed.pk).delete()
        return frame

    monkeypatch.setattr(selectors, "scored_accounts", read_then_delete)
    run = portfolio_recompute(as_of=AS_OF)
    assert run.status == RunStatus.SUCCEEDED
    assert not ScoreResult.objects.filter(account_id=doomed.pk).exists()
    assert ScoreResult.objects.filter(run=run).count() == 3


def test_deleting_an_account_or_a_run_deletes_its_results(portfolio):
    run = portfolio_recompute(as_of=AS_OF)
    account = Account.objects.get(name="No Orders")
    assert ScoreResult.objects.filter(account=account).exists()
    account.delete()
    assert not ScoreResult.objects.filter(account_id=account.pk).exists()
    run.delete()
    assert not ScoreResult.objects.filter(run_id=run.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_deleting_an_account_waits_for_a_run_that_is_publishing(postgres):
    """The advisory lock that keeps results from outliving their account (no database FK on results)."""
    import psycopg2
    from django.db import OperationalError, connection, transaction

    from scoring.services import RESULTS_LOCK

    account = AccountFactory(name="Leaving")
    publisher = psycopg2.connect(**connection.get_connection_params())
    try:
        with publisher.cursor() as cursor:  # a run in its publishing transaction
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [RESULTS_LOCK])
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '200ms'")
            with pytest.raises(OperationalError, match="lock timeout"), transaction.atomic():
                account.delete()
        assert Account.objects.filter(pk=account.pk).exists()
    finally:
        publisher.rollback()  # the run commits or fails: the lock goes with its transaction
        publisher.close()
    Account.objects.get(pk=account.pk).delete()
    assert not Account.objects.filter(pk=account.pk).exists()


def _stuck_run(*, started_ago: datetime.timedelta) -> ScoringRun:
    """A run whose process died mid-way: still running, still holding the lock."""
    run = scoring_run_request(as_of=AS_OF)
    ScoringRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, phase="score", started_at=timezone.now() - started_ago
    )
    return run


def test_recompute_command_reaps_a_run_killed_past_the_time_limit_and_recomputes(portfolio, settings, capsys):
    settings.KAM_RUN_TIME_LIMIT_SECONDS = 30 * 60
    dead = _stuck_run(started_ago=datetime.timedelta(minutes=31))
    call_command("recompute_portfolio", "--as-of", AS_OF.isoformat())
    out = capsys.readouterr().out
    assert "Marked 1 stuck run failed" in out
    assert "succeeded" in out
    dead.refresh_from_db()
    assert (dead.status, dead.holds_lock) == (RunStatus.FAILED, False)
    assert selectors.current_run().status == RunStatus.SUCCEEDED


def test_recompute_command_still_refuses_while_a_run_within_its_time_limit_holds_the_lock(
    portfolio, settings
):
    settings.KAM_RUN_TIME_LIMIT_SECONDS = 30 * 60
    alive = _stuck_run(started_ago=datetime.timedelta(minutes=5))
    with pytest.raises(CommandError, match="is already running"):
        call_command("recompute_portfolio", "--as-of", AS_OF.isoformat())
    alive.refresh_from_db()
    assert (alive.status, alive.holds_lock) == (RunStatus.RUNNING, True)


def test_reap_command_frees_the_lock_of_a_dead_run(portfolio, settings, capsys):
    settings.KAM_RUN_TIME_LIMIT_SECONDS = 30 * 60
    dead = _stuck_run(started_ago=datetime.timedelta(hours=2))
    call_command("reap_scoring_runs")
    assert capsys.readouterr().out.strip() == "Reaped 1 stuck scoring run."
    dead.refresh_from_db()
    assert dead.status == RunStatus.FAILED
    assert "did not finish within 30 minutes" in dead.error
    assert scoring_run_request(as_of=AS_OF).status == RunStatus.QUEUED
