"""Portfolio analytics on a small portfolio whose every number is computed by hand below.

Five accounts in the current run (revenue, CM, score, tier; K1 has capacity 2, K2 capacity 10):

    account  owner  key  revenue  CM    CM %    score  tier  cadence        prev score/rank/tier
    a1       K1     yes  500      25     5 %    80     A     tier A = 30 d  75 / 1 / A
    a2       K2     no   250      100   40 %    70     A     -              72 / 2 / A
    a3       K1     yes  150      45    30 %    50     B     own 15 d       20 / 4 / C
    a4       K2     yes  60       30    50 %    30     C     tier C = 180 d 35 / 3 / B
    a5       K2     no   40       -10  -25 %    10     D     -              10 / 5 / D
    a6       K2     no   (lost since the previous run, where it was tier D)

Totals: revenue 1000, CM 190. Revenue shares .50 .25 .15 .06 .04, so
HHI = .25 + .0625 + .0225 + .0036 + .0016 = 0.3402.
"""

import datetime
import os
import pathlib
import subprocess
import sys
from decimal import Decimal

import pandas as pd
import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import cadence
from accounts.models import Account, AccountStatus
from scoring import engine
from scoring.analytics import dashboard, loading, metrics, whatif
from scoring.analytics.loading import PortfolioFilters
from scoring.models import RunStatus, ScoreResult, ScoringRun
from scoring.selectors import active_model
from scoring.services import portfolio_recompute
from tests.factories import AccountFactory, OrderFactory, UserFactory

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 6, 30)

# name: owner, is_key, revenue, cm, score, rank, tier, cadence_days, next_contact_due offset (days from TODAY)
ACCOUNTS = {
    "a1": ("K1", True, 500, 25, 80, 1, "A", None, -1),
    "a2": ("K2", False, 250, 100, 70, 2, "A", None, 0),
    "a3": ("K1", True, 150, 45, 50, 3, "B", 15, 10),
    "a4": ("K2", True, 60, 30, 30, 4, "C", None, 20),
    "a5": ("K2", False, 40, -10, 10, 5, "D", None, None),
}
PREVIOUS = {
    "a1": (75, 1, "A"),
    "a2": (72, 2, "A"),
    "a3": (20, 4, "C"),
    "a4": (35, 3, "B"),
    "a5": (10, 5, "D"),
}


def _run(model, finished_at) -> ScoringRun:
    return ScoringRun.objects.create(
        model=model,
        as_of=finished_at.date(),
        status=RunStatus.SUCCEEDED,
        holds_lock=False,
        started_at=finished_at,
        finished_at=finished_at,
    )


def _result(run, account, *, score, rank, tier, revenue=0, cm=0, **raw) -> ScoreResult:
    revenue, cm = Decimal(revenue), Decimal(cm)
    return ScoreResult(
        run=run,
        account=account,
        score=score,
        rank=rank,
        tier=tier,
        revenue=revenue,
        revenue_prev=revenue,
        cm=cm,
        cm_pct=float(cm / revenue) if revenue else None,
        **raw,
    )


@pytest.fixture
def portfolio(db):
    """The portfolio of the module docstring, stored as two successful runs (previous and current)."""
    k1 = UserFactory(username="k1", first_name="Kim", last_name="One", monthly_visit_capacity=2)
    k2 = UserFactory(username="k2", first_name="Kai", last_name="Two", monthly_visit_capacity=10)
    owners = {"K1": k1, "K2": k2}
    accounts = {}
    for name, (owner, key, *_rest, cadence_days, due) in ACCOUNTS.items():
        accounts[name] = AccountFactory(
            name=name,
            owner=owners[owner],
            region="North" if owner == "K1" else "South",
            is_key=key,
            key_since=TODAY if key else None,
            key_reason="Strategic partner" if key else "",
            cadence_days=cadence_days,
        )
        due_date = TODAY + datetime.timedelta(days=due) if due is not None else None
        Account.objects.filter(pk=accounts[name].pk).update(next_contact_due=due_date)
    accounts["a6"] = AccountFactory(name="a6", owner=k2, region="South", status=AccountStatus.LOST)

    model = active_model()
    now = timezone.now()
    previous = _run(model, now - datetime.timedelta(days=30))
    current = _run(model, now)
    rows = [
        _result(previous, accounts[name], score=s, rank=r, tier=t) for name, (s, r, t) in PREVIOUS.items()
    ]
    rows.append(_result(previous, accounts["a6"], score=5, rank=6, tier="D"))
    for name, (_owner, _key, revenue, cm, score, rank, tier, *_rest) in ACCOUNTS.items():
        rows.append(
            _result(current, accounts[name], score=score, rank=rank, tier=tier, revenue=revenue, cm=cm)
        )
    ScoreResult.objects.bulk_create(rows)
    return {"accounts": accounts, "k1": k1, "k2": k2, "previous": previous, "current": current}


def _frame(portfolio, filters=PortfolioFilters()):  # noqa: B008
    return loading.portfolio_frame(
        run=portfolio["current"], previous=portfolio["previous"], filters=filters, today=TODAY
    )


def _ids(frame, portfolio):
    names = {a.pk: name for name, a in portfolio["accounts"].items()}
    return [names[i] for i in frame["account_id"]]


def test_previous_run_is_the_successful_run_published_before(portfolio):
    assert ScoringRun.objects.previous_to(portfolio["current"]) == portfolio["previous"]
    assert ScoringRun.objects.previous_to(portfolio["previous"]) is None


def test_portfolio_frame_is_one_query_with_both_runs(portfolio):
    with CaptureQueriesContext(connection) as queries:
        frame = _frame(portfolio)
    assert len(queries.captured_queries) == 1
    assert len(frame) == 6  # a6 is still an account, though lost and not in the current run
    row = frame.set_index("account_id").loc[portfolio["accounts"]["a3"].pk]
    assert (row["tier"], row["score"], row["revenue"], row["cm"]) == ("B", 50, 150, 45)
    assert (row["prev_tier"], row["prev_score"], row["prev_rank"]) == ("C", 20, 4)
    assert row["cadence_days"] == 15
    assert row["cadence_state"] == metrics.ON_TRACK


def test_concentration_shares_hhi_and_largest_account(portfolio):
    conc = metrics.concentration(_frame(portfolio), shares=(0.01, 0.2, 0.4))
    assert conc["accounts"] == 5
    assert conc["revenue"] == pytest.approx(1000)
    assert conc["cm"] == pytest.approx(190)
    top1, top20, top40 = conc["top"]
    assert (top1["accounts"], top20["accounts"], top40["accounts"]) == (1, 1, 2)  # ceil(p x 5)
    assert top1["revenue_share"] == pytest.approx(0.5)
    assert top1["cm_share"] == pytest.approx(25 / 190)
    assert top40["revenue_share"] == pytest.approx(0.75)
    assert top40["cm_share"] == pytest.approx(125 / 190)
    assert conc["hhi"] == pytest.approx(0.3402)
    assert conc["hhi_points"] == pytest.approx(3402)
    assert conc["equivalent_accounts"] == pytest.approx(1 / 0.3402)
    assert conc["largest_share"] == pytest.approx(0.5)
    assert conc["largest_account_id"] == portfolio["accounts"]["a1"].pk


def test_pareto_curve_is_cumulative_revenue_and_cm_by_revenue_rank(portfolio):
    pareto = metrics.concentration(_frame(portfolio))["pareto"]
    assert pareto["account_share"].tolist() == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert pareto["revenue_share"].tolist() == pytest.approx([0, 0.5, 0.75, 0.9, 0.96, 1.0])
    # CM by the same order (a1 25, a2 100, a3 45, a4 30, a5 -10): rises above 1 before the loss-maker.
    assert pareto["cm_share"].tolist() == pytest.approx([0, 25 / 190, 125 / 190, 170 / 190, 200 / 190, 1.0])


def test_pareto_curve_is_downsampled_to_the_requested_points(portfolio):
    pareto = metrics.concentration(_frame(portfolio), points=2)["pareto"]
    assert pareto["accounts"].tolist() == [0, 1, 5]
    assert pareto["revenue_share"].iloc[-1] == pytest.approx(1.0)


def test_profitability_pools_cm_pct_per_tier_and_key_segment(portfolio):
    table = metrics.profitability(_frame(portfolio))
    assert table.loc["A", ["accounts", "revenue", "cm"]].tolist() == [2, 750, 125]
    assert table.loc["A", "cm_pct"] == pytest.approx(125 / 750)
    assert table.loc["B", "cm_pct"] == pytest.approx(0.30)
    assert table.loc["C", "cm_pct"] == pytest.approx(0.50)
    assert table.loc["D", "cm_pct"] == pytest.approx(-0.25)
    assert table.loc["Key", ["accounts", "revenue", "cm"]].tolist() == [3, 710, 100]
    assert table.loc["Key", "cm_pct"] == pytest.approx(100 / 710)
    assert table.loc["Not key", "cm_pct"] == pytest.approx(90 / 290)
    assert table.loc["All", "cm_pct"] == pytest.approx(0.19)
    assert table.loc["Key", "revenue_share"] == pytest.approx(0.71)
    assert table.loc["A", "median_score"] == pytest.approx(75)


def test_designation_advice_lists(portfolio):
    advice = metrics.designation_advice(_frame(portfolio))
    assert _ids(advice.review, portfolio) == ["a4"]  # key, tier C, score 30
    assert _ids(advice.candidates, portfolio) == ["a2"]  # tier A, not key
    # Non-key CM %: a2 40 %, a5 -25 % -> median 7.5 %; only a1 (5 %) of the key accounts is below it.
    assert advice.non_key_median_cm_pct == pytest.approx(0.075)
    assert _ids(advice.value_at_risk, portfolio) == ["a1"]


def test_review_threshold_catches_key_accounts_scoring_low_in_a_good_tier(portfolio):
    advice = metrics.designation_advice(_frame(portfolio), review_below=60)
    assert _ids(advice.review, portfolio) == ["a4", "a3"]  # lowest score first; a3 is tier B at 50


def test_rising_and_falling_since_the_previous_run(portfolio):
    moved = metrics.movers(_frame(portfolio))
    rising, falling = moved["rising"], moved["falling"]
    assert _ids(rising, portfolio) == ["a3", "a1"]
    assert rising["score_delta"].tolist() == [30, 5]
    assert rising["rank_delta"].tolist() == [1, 0]  # a3 from rank 4 to 3
    assert _ids(falling, portfolio) == ["a4", "a2"]
    assert falling["score_delta"].tolist() == [-5, -2]
    assert moved["compared"] == 5


def test_tier_migration_between_two_runs_counts_moves_new_and_gone(portfolio):
    matrix = loading.tier_migration(portfolio["previous"], portfolio["current"])
    assert matrix.loc["A", "A"] == 2
    assert matrix.loc["C", "B"] == 1  # a3 climbed
    assert matrix.loc["B", "C"] == 1  # a4 fell
    assert matrix.loc["D", "D"] == 1
    assert matrix.loc["D", "gone"] == 1  # a6, lost since
    assert int(matrix.to_numpy().sum()) == 6
    # The frame-based default (previous -> current) gives the same matrix without another query.
    pd.testing.assert_frame_equal(metrics.tier_migration_from_frame(_frame(portfolio)), matrix)


def _targets(frame):
    """Each account's target cadence under the rule's pandas form (accounts.cadence), as the dashboard asks."""
    return cadence.target_days_series(
        override=frame["cadence_days"],
        is_key=frame["is_key"],
        lost=frame["active"] == 0,
        tier=frame["tier"],
        defaults={"A": 30, "B": 90, "C": 180, "D": None},
        cap=settings.KAM_KEY_ACCOUNT_MAX_CADENCE_DAYS,
    )


def test_capacity_overload_and_cut_line(portfolio):
    frame = _frame(portfolio)
    owners = loading.kams(frame["owner_id"])
    result = metrics.capacity(
        frame,
        owners=owners,
        targets=_targets(frame),
    )
    kams = result["kams"].set_index("name")
    # K1: a1 needs 30/30 = 1 visit, a3 (own cadence 15 days) 2 visits: 3 against a capacity of 2.
    assert kams.loc["Kim One", "visits_needed"] == pytest.approx(3)
    assert kams.loc["Kim One", "overload"] == pytest.approx(1)
    assert kams.loc["Kim One", "utilisation"] == pytest.approx(1.5)
    assert kams.loc["Kim One", ["key_accounts", "fitting", "below_line"]].tolist() == [2, 1, 1]
    # K2: a4 is a key account in tier C (180 days), capped at quarterly: 30/90 visits, far within 10.
    assert kams.loc["Kai Two", "visits_needed"] == pytest.approx(1 / 3)
    assert kams.loc["Kai Two", "overload"] == 0
    assert result["kams"]["name"].iloc[0] == "Kim One"  # the overloaded KAM first

    accounts = result["accounts"]
    k1 = accounts[accounts["owner"] == portfolio["k1"].pk]
    # Score per visit: a1 80 / 1 = 80, a3 50 / 2 = 25 -> a1 above the line, a3 below it.
    assert _ids(k1, portfolio) == ["a1", "a3"]
    assert k1["score_per_visit"].tolist() == pytest.approx([80, 25])
    assert k1["cumulative_visits"].tolist() == pytest.approx([1, 3])
    assert k1["fits"].tolist() == [True, False]


def test_cut_line_orders_by_score_per_visit_not_by_score():
    frame = pd.DataFrame(
        {
            "account_id": [1, 2, 3],
            "owner_id": [7.0, 7.0, 7.0],
            "is_key": [1, 1, 1],
            "active": [1, 1, 1],
            "cadence_days": [15.0, 60.0, None],
            "cadence_state": [1, 1, 1],
            "tier": ["A", "B", "D"],
            "score": [90.0, 60.0, 20.0],
            "rank": [1.0, 2.0, 3.0],
        }
    ).reindex(columns=metrics.FRAME_COLUMNS)
    owners = {7: metrics.Kam(7, "Kim", 2)}
    result = metrics.capacity(
        frame,
        owners=owners,
        targets=_targets(frame),
    )
    rows = result["accounts"]
    # 1: 2 visits, 45 per visit; 2: 0.5 visits, 120 per visit; 3: tier D has no default, but a key account
    # is seen quarterly at worst: 30/90 visits, 60 per visit.
    assert rows["account_id"].tolist() == [2, 3, 1]
    assert rows["visits"].tolist() == pytest.approx([0.5, 1 / 3, 2])
    assert rows["fits"].tolist() == [True, True, False]
    assert result["kams"].loc[0, "no_cadence"] == 0


def test_cadence_compliance_by_kam(portfolio):
    frame = _frame(portfolio)
    table = metrics.cadence_compliance(frame, owners=loading.kams(frame["owner_id"])).set_index("name")
    assert table.loc["Kim One", ["with_cadence", "on_track", "lapsed"]].tolist() == [2, 1, 1]
    assert table.loc["Kim One", "compliance"] == pytest.approx(0.5)
    assert table.loc["Kai Two", "compliance"] == pytest.approx(1.0)  # a2 due today counts as on track


def test_kpis(portfolio):
    k = metrics.kpis(_frame(portfolio))
    assert k["key_accounts"] == 3
    assert k["key_revenue_share"] == pytest.approx(0.71)
    assert k["key_cm_share"] == pytest.approx(100 / 190)
    assert k["cm_pct_key"] == pytest.approx(100 / 710)
    assert k["cm_pct_non_key"] == pytest.approx(90 / 290)
    assert k["cadence_compliance"] == pytest.approx(0.75)
    assert k["lapsed"] == 1
    assert k["top20_revenue_share"] == pytest.approx(0.5)
    assert k["hhi"] == pytest.approx(0.3402)


def test_filters_apply_to_every_number(portfolio):
    frame = _frame(portfolio, PortfolioFilters(owner=portfolio["k1"].pk))
    assert sorted(_ids(frame, portfolio)) == ["a1", "a3"]
    k = metrics.kpis(frame)
    assert k["key_accounts"] == 2
    assert k["revenue"] == pytest.approx(650)
    assert k["hhi"] == pytest.approx((500 / 650) ** 2 + (150 / 650) ** 2)
    south = _frame(portfolio, PortfolioFilters(region="South"))
    assert sorted(_ids(south, portfolio)) == ["a2", "a4", "a5", "a6"]
    matrix = loading.tier_migration(
        portfolio["previous"], portfolio["current"], PortfolioFilters(region="North")
    )
    assert int(matrix.to_numpy().sum()) == 2


def test_dashboard_puts_names_on_the_rows_it_shows(portfolio):
    dash = dashboard.portfolio_dashboard(filters=PortfolioFilters(), today=TODAY)
    assert dash.run == portfolio["current"]
    assert dash.previous == portfolio["previous"]
    assert [r["name"] for r in dash.advice_rows["candidates"]] == ["a2"]
    assert [r["name"] for r in dash.movers["rising"]] == ["a3", "a1"]
    assert dash.migration.loc["C", "B"] == 1


def test_dashboard_without_a_run_is_empty(db):
    dash = dashboard.portfolio_dashboard(filters=PortfolioFilters(), today=TODAY)
    assert dash.run is None
    assert dash.kpis == {}


def test_whatif_counts_the_accounts_that_would_change_tier(portfolio):
    # Stored raw CM: a1 25, a2 100, a3 45, a4 30, a5 -10. Weighting CM only ranks a2, a3, a4, a1, a5;
    # with 20 % shares (A 1, B 1, C 1 of 5 accounts) only a1 changes tier: A -> D.
    ScoreResult.objects.filter(run=portfolio["current"]).update(cm_pct=None)
    rule = engine.TierRule("share", shares={"A": 0.2, "B": 0.2, "C": 0.2})
    preview = whatif.whatif_preview(weights={"cm": 1}, tier_rule=rule)
    assert preview.run == portfolio["current"]
    assert (preview.accounts, preview.changed, preview.up, preview.down) == (5, 1, 0, 1)
    assert [(c["name"], c["tier"], c["new_tier"]) for c in preview.changes] == [("a1", "A", "D")]
    assert preview.weights["cm"] == 1.0
    counts = {row["tier"]: (row["now"], row["would_be"]) for row in preview.tier_counts}
    assert counts == {"A": (2, 1), "B": (1, 1), "C": (1, 1), "D": (1, 2)}


def test_whatif_with_the_runs_own_model_changes_nothing_and_wider_shares_move_six(db):
    owner = UserFactory(username="kam")
    for i in range(10):
        account = AccountFactory(owner=owner, image_rating=1 + i % 5, partnership_rating=5 - i % 5)
        for month in range(1, 4 + i):
            OrderFactory(
                account=account,
                date=TODAY - datetime.timedelta(days=20 * month),
                revenue=Decimal(1000 + 250 * i),
                variable_cost=Decimal(900 - 40 * i),
            )
    run = portfolio_recompute(as_of=TODAY)
    model = run.model
    same = engine.TierRule("share", shares=model.tier_values)
    assert whatif.whatif_preview(weights=model.weights, tier_rule=same).changed == 0
    # Shares A 10/20/30 % of 10 -> ranks 1 | 2-3 | 4-6 | 7-10; with A 30 %: 1-3 | 4-5 | 6-8 | 9-10.
    wider = engine.TierRule("share", shares={"A": 0.3, "B": 0.2, "C": 0.3})
    preview = whatif.whatif_preview(weights=model.weights, tier_rule=wider)
    assert (preview.changed, preview.up, preview.down) == (6, 6, 0)


def test_whatif_without_a_run(db):
    preview = whatif.whatif_preview(weights={"cm": 1}, tier_rule=engine.TierRule())
    assert preview.run is None
    assert preview.changed == 0


def test_capacity_report_groups_key_accounts_under_their_kam(portfolio):
    report = dashboard.capacity_report(filters=PortfolioFilters(), today=TODAY)
    first = report["kams"][0]
    assert first["name"] == "Kim One"
    assert [(a["name"], a["fits"]) for a in first["accounts"]] == [("a1", True), ("a3", False)]
    assert first["meter"] == {"max": 3.0, "low": pytest.approx(1.6), "high": 2.0}


def test_the_metrics_are_pure_pandas():
    """scoring.analytics.metrics imports no Django (ORM, settings, cache): it imports without a configured project."""
    code = "import sys, scoring.analytics.metrics; print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    root = pathlib.Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(  # noqa: S603 - our own argv
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
