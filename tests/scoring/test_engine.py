"""Scoring engine: criteria from orders, percentile norms, weights, ranks, tiers, explanations (no DB)."""

import datetime as dt
import json
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from scoring.criteria import CRITERIA_COLUMNS, compute_criteria
from scoring.engine import (
    CRITERIA,
    CRITERION_LABELS,
    NEUTRAL_NORM,
    RAW_COLUMNS,
    TierRule,
    explain,
    explain_frame,
    migration_matrix,
    normalise,
    normalise_weights,
    run_engine,
    score_accounts,
    tier_changes,
)

AS_OF = dt.date(2024, 12, 31)
# Trailing 12 months = (2024-01-01, 2024-12-31]; previous 12 = (2023-01-01, 2024-01-01] (2024 is a leap year).
IN_12M = dt.date(2024, 6, 15)
IN_PREV = dt.date(2023, 6, 15)
WEIGHTS = {"cm": 30, "cm_pct": 20, "clv": 20, "growth": 10, "image": 10, "partnership": 10, "strategic": 0}
RAW = tuple(RAW_COLUMNS[c] for c in CRITERIA)
SHARE_20 = TierRule("share", shares={"A": 0.2, "B": 0.2, "C": 0.2})


def make_orders(rows):
    return pd.DataFrame(rows, columns=["account_id", "date", "revenue", "variable_cost"]).astype(
        {"revenue": float, "variable_cost": float}
    )


def make_accounts(ratings):
    """ratings: {account_id: (image, partnership, strategic)}"""
    return pd.DataFrame(
        [(a, *r) for a, r in ratings.items()],
        columns=["account_id", "image_rating", "partnership_rating", "strategic_rating"],
    )


@pytest.fixture
def portfolio():
    """Five accounts computed by hand below."""
    orders = make_orders(
        [
            (1, IN_12M, 1000, 600),  # cm 400, cm% 0.4, prev 800 -> growth 0.25
            (1, IN_PREV, 800, 500),
            (2, IN_12M, 2000, 1800),  # cm 200, cm% 0.1, prev 2000 -> growth 0
            (2, IN_PREV, 2000, 1500),
            (3, IN_12M, 500, 200),  # cm 300, cm% 0.6, no prev -> growth 1.0 (new account rule)
            (4, IN_12M, 300, 450),  # cm -150, cm% -0.5, prev 600 -> growth -0.5
            (4, IN_PREV, 600, 100),
            # account 5: no orders -> cm 0, cm% and growth missing
        ]
    )
    accounts = make_accounts(
        {1: (5, 4, None), 2: (3, 2, None), 3: (4, None, None), 4: (2, 2, None), 5: (None, 5, None)}
    )
    clv = pd.DataFrame({"account_id": [1, 2, 3, 4], "clv": [5000.0, 3000.0, 4000.0, 1000.0]})
    return orders, accounts, clv


def test_compute_criteria_by_hand(portfolio):
    orders, accounts, clv = portfolio
    c = compute_criteria(orders, accounts, AS_OF, clv)
    assert list(c.columns) == list(CRITERIA_COLUMNS)
    assert list(c.index) == [1, 2, 3, 4, 5]
    assert c.index.name == "account_id"
    assert c["cm_12m"].tolist() == [400, 200, 300, -150, 0]
    assert c["cm_pct"].tolist()[:4] == pytest.approx([0.4, 0.1, 0.6, -0.5])
    assert c["growth"].tolist()[:4] == pytest.approx([0.25, 0.0, 1.0, -0.5])
    assert c["revenue_prev_12m"].tolist() == [800, 2000, 0, 600, 0]
    assert c["order_count_12m"].tolist() == [1, 1, 1, 1, 0]
    assert c.loc[1, "last_order_date"] == pd.Timestamp(IN_12M)
    # Account 5 has no orders, no CLV, no image rating: still scored, with missing values.
    assert np.isnan(c.loc[5, ["cm_pct", "growth", "clv", "image", "strategic"]].astype(float)).all()
    assert pd.isna(c.loc[5, "last_order_date"])


def test_portfolio_scores_ranks_and_tiers_by_hand(portfolio):
    # Norms = (average rank - 1) / (n_valid - 1); missing -> 0.5.
    #   cm          400, 200, 300, -150, 0        ranks 5,2... -> 1, 0.5, 0.75, 0, 0.25
    #   cm_pct      0.4, 0.1, 0.6, -0.5, NaN      n=4      -> 2/3, 1/3, 1, 0, [0.5]
    #   clv         5000, 3000, 4000, 1000, NaN            -> 1, 1/3, 2/3, 0, [0.5]
    #   growth      0.25, 0, 1.0, -0.5, NaN                -> 2/3, 1/3, 1, 0, [0.5]
    #   image       5, 3, 4, 2, NaN                        -> 1, 1/3, 2/3, 0, [0.5]
    #   partnership 4, 2, NaN, 2, 5   ties 2,2 -> rank 1.5 -> 2/3, 1/6, [0.5], 1/6, 1
    #   strategic   all NaN (weight 0)                     -> 0.5 everywhere
    # Weights 30/20/20/10/10/10/0 -> 0.3/0.2/0.2/0.1/0.1/0.1/0.
    #   1: 30 + 20*2/3 + 20 + 10*2/3 + 10 + 10*2/3     = 86.6667
    #   2: 15 + 20/3 + 20/3 + 10/3 + 10/3 + 10/6        = 36.6667
    #   3: 22.5 + 20 + 40/3 + 10 + 20/3 + 5             = 77.5
    #   4: 10/6                                         = 1.6667
    #   5: 7.5 + 10 + 10 + 5 + 5 + 10                   = 47.5
    orders, accounts, clv = portfolio
    r = run_engine(orders, accounts, AS_OF, WEIGHTS, SHARE_20, clv)
    expected_norms = {
        "cm": [1, 0.5, 0.75, 0, 0.25],
        "cm_pct": [2 / 3, 1 / 3, 1, 0, 0.5],
        "clv": [1, 1 / 3, 2 / 3, 0, 0.5],
        "growth": [2 / 3, 1 / 3, 1, 0, 0.5],
        "image": [1, 1 / 3, 2 / 3, 0, 0.5],
        "partnership": [2 / 3, 1 / 6, 0.5, 1 / 6, 1],
        "strategic": [0.5] * 5,
    }
    by_id = r.sort_index()
    for key, norms in expected_norms.items():
        assert by_id[f"{key}_norm"].tolist() == pytest.approx(norms), key
    assert by_id["score"].tolist() == pytest.approx([86.666667, 36.666667, 77.5, 1.666667, 47.5])
    # Output comes sorted by rank.
    assert list(r.index) == [1, 3, 5, 2, 4]
    assert r["rank"].tolist() == [1, 2, 3, 4, 5]
    # Shares 20/20/20 of 5 -> ceil(1), ceil(2), ceil(3): one A, one B, one C, two D.
    assert r["tier"].tolist() == ["A", "B", "C", "D", "D"]
    assert r.loc[5, "missing"] == "cm_pct,clv,growth,image"  # strategic weighs 0: not listed
    assert r.loc[3, "missing"] == "partnership"
    assert r.loc[1, "missing"] == ""
    assert bool(r.loc[1, "strategic_missing"])
    cutoff = score_accounts(
        compute_criteria(orders, accounts, AS_OF, clv),
        WEIGHTS,
        TierRule("cutoff", cutoffs={"A": 80, "B": 40, "C": 20}),
    )
    assert cutoff["tier"].to_dict() == {1: "A", 3: "B", 5: "B", 2: "C", 4: "D"}


def test_points_add_up_to_score_and_explain(portfolio):
    orders, accounts, clv = portfolio
    r = run_engine(orders, accounts, AS_OF, WEIGHTS, SHARE_20, clv)
    points = r[[f"{c}_points" for c in CRITERIA]].sum(axis=1)
    np.testing.assert_allclose(points, r["score"], atol=1e-9)
    weights = r[[f"{c}_weight" for c in CRITERIA]].sum(axis=1)
    np.testing.assert_allclose(weights, 1.0)

    why = explain(r.loc[5])
    assert [item["key"] for item in why] == list(CRITERIA)
    assert set(why[0]) == {"key", "label", "raw", "norm", "weight", "points", "missing"}
    assert why[0]["label"] == CRITERION_LABELS["cm"]
    image = why[CRITERIA.index("image")]
    assert image == {
        "key": "image",
        "label": CRITERION_LABELS["image"],
        "raw": None,
        "norm": 0.5,
        "weight": pytest.approx(0.1),
        "points": pytest.approx(5.0),
        "missing": True,
    }
    assert sum(item["points"] for item in why) == pytest.approx(r.loc[5, "score"])
    json.dumps(why)  # the API returns it as is

    long = explain_frame(r)
    assert len(long) == len(r) * len(CRITERIA)
    assert long["account_id"].iloc[0] == r.index[0]
    np.testing.assert_allclose(
        long.groupby("account_id")["points"].sum().sort_index(), r["score"].sort_index()
    )


def test_points_sum_to_score_on_random_portfolio():
    rng = np.random.default_rng(3)
    n = 500
    criteria = pd.DataFrame(
        {
            "cm_12m": rng.normal(1000, 800, n),
            "cm_pct": np.where(rng.random(n) < 0.1, np.nan, rng.normal(0.2, 0.1, n)),
            "clv": np.where(rng.random(n) < 0.2, np.nan, rng.gamma(2, 1000, n)),
            "growth": rng.normal(0.05, 0.3, n),
            "image": rng.integers(1, 6, n).astype(float),
            "partnership": np.where(rng.random(n) < 0.3, np.nan, rng.integers(1, 6, n)),
            "strategic": np.nan,
        },
        index=pd.Index(np.arange(n) + 100, name="account_id"),
    )
    weights = {
        "cm": 3,
        "cm_pct": 1.5,
        "clv": 2,
        "growth": 1,
        "image": 0.7,
        "partnership": 0.3,
        "strategic": 0.5,
    }
    r = score_accounts(criteria, weights, TierRule())
    np.testing.assert_allclose(r[[f"{c}_points" for c in CRITERIA]].sum(axis=1), r["score"], atol=1e-9)
    assert r["score"].between(0, 100).all()
    assert r["score"].is_monotonic_decreasing
    assert r["rank"].tolist() == list(range(1, n + 1))


def test_single_account_is_neutral_and_tier_a():
    orders = make_orders([(7, IN_12M, 100, 30)])
    accounts = make_accounts({7: (4, 2, 1)})
    for weights in ({"cm": 1}, {"image": 5, "growth": 1}, WEIGHTS):
        r = run_engine(orders, accounts, AS_OF, weights, TierRule())
        assert r.loc[7, "score"] == pytest.approx(50.0)
        assert all(r.loc[7, f"{c}_norm"] == 0.5 for c in CRITERIA)
        assert r.loc[7, "tier"] == "A"
        assert r.loc[7, "rank"] == 1


def test_all_equal_accounts_score_50_and_rank_by_id():
    orders = make_orders(
        [(a, IN_12M, 100, 40) for a in (3, 1, 2)] + [(a, IN_PREV, 50, 20) for a in (3, 1, 2)]
    )
    accounts = make_accounts({3: (3, 3, None), 1: (3, 3, None), 2: (3, 3, None)})
    r = run_engine(orders, accounts, AS_OF, WEIGHTS, TierRule())
    assert r["score"].tolist() == pytest.approx([50.0] * 3)
    assert list(r.index) == [1, 2, 3]  # equal score and cm: account_id ascending


def test_zero_revenue_makes_cm_pct_missing_and_neutral():
    orders = make_orders([(1, IN_12M, 100, 50), (2, IN_12M, 200, 20), (3, IN_PREV, 100, 10)])
    accounts = make_accounts({1: (1, 1, None), 2: (1, 1, None), 3: (1, 1, None)})
    c = compute_criteria(orders, accounts, AS_OF)
    assert c.loc[3, "revenue_12m"] == 0
    assert np.isnan(c.loc[3, "cm_pct"])
    assert c.loc[3, "growth"] == pytest.approx(-1.0)  # stopped buying
    r = score_accounts(c, {"cm_pct": 1}, TierRule())
    assert bool(r.loc[3, "cm_pct_missing"])
    assert r.loc[3, "cm_pct_norm"] == NEUTRAL_NORM
    assert r.loc[3, "missing"] == "cm_pct"
    assert r.loc[3, "score"] == pytest.approx(50.0)
    assert r.loc[2, "score"] == pytest.approx(100.0)  # cm% 0.9 beats 0.5
    assert r.loc[1, "score"] == pytest.approx(0.0)


def test_negative_cm_ranks_below_positive():
    orders = make_orders([(1, IN_12M, 100, 150), (2, IN_12M, 100, 90), (3, IN_12M, 1000, 1010)])
    accounts = make_accounts({1: (None, None, None), 2: (None, None, None), 3: (None, None, None)})
    r = run_engine(orders, accounts, AS_OF, {"cm": 1}, TierRule())
    assert list(r.index) == [2, 3, 1]  # cm 10 > -10 > -50
    assert r["cm_norm"].tolist() == [1.0, 0.5, 0.0]


def test_missing_ratings_are_flagged_and_neutral():
    orders = make_orders([(a, IN_12M, 100, 50) for a in (1, 2, 3)])
    accounts = make_accounts({1: (5, None, None), 2: (None, 1, None), 3: (1, 5, None)})
    r = run_engine(orders, accounts, AS_OF, {"image": 1, "partnership": 1}, TierRule())
    assert r.loc[2, "image_norm"] == 0.5
    assert bool(r.loc[2, "image_missing"])
    assert r.loc[1, "partnership_norm"] == 0.5
    assert r.loc[1, "missing"] == "partnership"
    assert r.loc[2, "missing"] == "image"
    assert r.loc[3, "missing"] == ""
    # 1: image 1.0, partnership 0.5 -> 75; 2: 0.5, 0 -> 25; 3: 0, 1 -> 50
    assert r.sort_index()["score"].tolist() == pytest.approx([75.0, 25.0, 50.0])


def test_account_without_orders_is_scored():
    orders = make_orders([(1, IN_12M, 100, 50)])
    accounts = make_accounts({1: (3, 3, None), 2: (3, 3, None)})
    r = run_engine(orders, accounts, AS_OF, WEIGHTS, TierRule())
    assert set(r.index) == {1, 2}
    assert r.loc[2, "revenue_12m"] == 0
    assert r.loc[2, "order_count_12m"] == 0
    assert r.loc[2, "cm_norm"] == 0.0
    assert r.loc[2, "rank"] == 2


def test_window_boundaries_and_ignored_orders():
    orders = make_orders(
        [
            (1, dt.date(2024, 12, 31), 1, 0),  # as_of day: trailing window
            (1, dt.date(2024, 1, 2), 10, 0),  # first day of trailing window
            (1, dt.date(2024, 1, 1), 100, 0),  # as_of - 365: previous window
            (1, dt.date(2023, 1, 2), 1000, 0),  # first day of previous window
            (1, dt.date(2023, 1, 1), 10_000, 0),  # as_of - 730: too old, ignored
            (1, dt.date(2025, 1, 1), 100_000, 0),  # after as_of: ignored
            (99, IN_12M, 1_000_000, 0),  # unknown account: ignored
        ]
    )
    accounts = make_accounts({1: (None, None, None)})
    c = compute_criteria(orders, accounts, pd.Timestamp("2024-12-31 09:30"))
    assert c.loc[1, "revenue_12m"] == 11
    assert c.loc[1, "revenue_prev_12m"] == 1100
    assert c.loc[1, "order_count_12m"] == 2
    assert c.loc[1, "last_order_date"] == pd.Timestamp("2024-12-31")
    assert c.loc[1, "growth"] == pytest.approx((11 - 1100) / 1100)


def test_growth_without_prior_revenue_follows_rule():
    orders = make_orders([(1, IN_12M, 500, 100), (2, IN_12M, 100, 10), (2, IN_PREV, 50, 5)])
    accounts = make_accounts({1: (None,) * 3, 2: (None,) * 3, 3: (None,) * 3})
    c = compute_criteria(orders, accounts, AS_OF)
    assert c.loc[1, "growth"] == 1.0  # new account: +100 %
    assert c.loc[2, "growth"] == pytest.approx(1.0)
    assert np.isnan(c.loc[3, "growth"])  # no revenue in either window: missing


def test_django_shaped_inputs_decimal_dates_nullable_ratings_string_ids():
    orders = pd.DataFrame(
        {
            "account_id": ["b", "a", "zz"],
            "date": [IN_12M, IN_PREV, IN_12M],
            "revenue": [Decimal("10.50"), Decimal("4.00"), Decimal("1")],
            "variable_cost": [Decimal("0.50"), None, Decimal("0")],
        }
    )
    accounts = pd.DataFrame(
        {
            "account_id": ["a", "b"],
            "image_rating": pd.array([None, 3], dtype="Int64"),
            "partnership_rating": [1, 2],
            "strategic_rating": [None, None],
        }
    )
    c = compute_criteria(orders, accounts, str(AS_OF), clv=pd.Series({"b": 7.0}, name="clv"))
    assert c.loc["b", "cm_12m"] == 10.0
    assert c.loc["a", "revenue_prev_12m"] == 4.0
    assert np.isnan(c.loc["a", "image"])
    assert c.loc["b", "clv"] == 7.0
    assert np.isnan(c.loc["a", "clv"])


def test_sparse_integer_ids_match_dense_path():
    rng = np.random.default_rng(5)
    n = 50
    dates = pd.to_datetime("2022-06-01") + pd.to_timedelta(rng.integers(0, 1000, 400), unit="D")
    base = pd.DataFrame(
        {
            "k": rng.integers(0, n, 400),
            "date": dates,
            "revenue": rng.random(400),
            "variable_cost": rng.random(400),
        }
    )
    results = []
    for ids in (np.arange(n), np.arange(n) * 1_000_003):
        orders = base.assign(account_id=ids[base["k"]]).drop(columns="k")
        accounts = make_accounts(dict.fromkeys(ids, (3, 3, None)))
        results.append(compute_criteria(orders, accounts, AS_OF).reset_index(drop=True))
    pd.testing.assert_frame_equal(results[0], results[1])


def test_invalid_inputs_are_rejected():
    accounts = make_accounts({1: (6, None, None)})
    with pytest.raises(ValueError, match="image_rating must be between 1 and 5"):
        compute_criteria(make_orders([]), accounts, AS_OF)
    with pytest.raises(ValueError, match="duplicate account ids"):
        compute_criteria(
            make_orders([]), make_accounts({1: (1, 1, 1)}).pipe(lambda a: pd.concat([a, a])), AS_OF
        )
    with pytest.raises(ValueError, match="missing column"):
        compute_criteria(make_orders([]).drop(columns="variable_cost"), make_accounts({1: (1, 1, 1)}), AS_OF)


def test_normalise_ties_single_value_and_missing():
    criteria = pd.DataFrame(
        {
            "cm_12m": [10.0, 20.0, 20.0, 30.0],
            "cm_pct": [np.nan, 0.3, np.nan, np.nan],
            "clv": [np.nan] * 4,
            "growth": [1.0, 1.0, 1.0, 1.0],
            "image": [1.0, 2.0, 3.0, np.nan],
            "partnership": [np.nan] * 4,
            "strategic": [0.0, 5.0, np.nan, np.nan],
        },
        index=pd.Index([1, 2, 3, 4], name="account_id"),
    )
    norms = normalise(criteria)
    assert norms["cm_norm"].tolist() == [0.0, 0.5, 0.5, 1.0]  # ranks 1, 2.5, 2.5, 4
    assert norms["cm_pct_norm"].tolist() == [0.5] * 4  # single valid value and missing: both neutral
    assert norms["cm_pct_missing"].tolist() == [True, False, True, True]
    assert norms["growth_norm"].tolist() == [0.5] * 4
    assert norms["image_norm"].tolist() == [0.0, 0.5, 1.0, 0.5]
    assert norms["strategic_norm"].tolist() == [0.0, 1.0, 0.5, 0.5]


def test_normalise_weights():
    w = normalise_weights({"cm": 3, "image": 1})
    assert list(w) == list(CRITERIA)
    assert w["cm"] == 0.75
    assert w["image"] == 0.25
    assert w["clv"] == 0.0
    assert sum(w.values()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="positive"):
        normalise_weights({"cm": 0, "image": 0})
    with pytest.raises(ValueError, match="positive"):
        normalise_weights({})
    with pytest.raises(ValueError, match="must not be negative"):
        normalise_weights({"cm": 1, "image": -0.1})
    with pytest.raises(ValueError, match="Unknown criteria in weights: revenue"):
        normalise_weights({"cm": 1, "revenue": 1})
    with pytest.raises(ValueError, match="finite"):
        normalise_weights({"cm": float("inf")})
    with pytest.raises(ValueError, match="finite"):
        normalise_weights({"cm": float("nan")})
    with pytest.raises(ValueError, match="must be a number"):
        normalise_weights({"cm": "lots"})


def test_weights_drive_the_ranking(portfolio):
    orders, accounts, clv = portfolio
    by_image = run_engine(orders, accounts, AS_OF, {"image": 1}, TierRule(), clv)
    # image norms: 5 -> 1, 4 -> 2/3, unrated -> 0.5, 3 -> 1/3, 2 -> 0
    assert list(by_image.index) == [1, 3, 5, 2, 4]
    by_cm_pct = run_engine(orders, accounts, AS_OF, {"cm_pct": 1}, TierRule(), clv)
    assert list(by_cm_pct.index)[:2] == [3, 1]
    by_partnership = run_engine(orders, accounts, AS_OF, {"partnership": 1}, TierRule(), clv)
    assert by_partnership.index[0] == 5


@pytest.mark.parametrize(
    ("n", "expected"), [(10, [1, 2, 3, 4]), (1000, [100, 200, 300, 400]), (7, [1, 2, 2, 2])]
)
def test_share_rule_counts(n, expected):
    criteria = pd.DataFrame(
        {"cm_12m": np.arange(n, dtype=float)} | {c: np.nan for c in CRITERIA if c != "cm"},
        index=pd.Index(range(n), name="account_id"),
    )
    r = score_accounts(criteria, {"cm": 1}, TierRule("share", shares={"A": 0.1, "B": 0.2, "C": 0.3}))
    counts = r["tier"].value_counts()
    assert [int(counts.get(t, 0)) for t in "ABCD"] == expected
    assert r["tier"].tolist() == sorted(r["tier"])  # A's first, D's last, in rank order


def test_share_rule_small_a_share_still_gives_one_a():
    criteria = pd.DataFrame(
        {"cm_12m": np.arange(10.0)} | {c: np.nan for c in CRITERIA if c != "cm"},
        index=pd.Index(range(10), name="account_id"),
    )
    r = score_accounts(criteria, {"cm": 1}, TierRule("share", shares={"A": 0.01, "B": 0.0, "C": 0.0}))
    assert r["tier"].tolist() == ["A"] + ["D"] * 9
    assert r.index[0] == 9


def test_cutoff_rule_boundaries():
    criteria = pd.DataFrame(
        {"image": [1.0, 2.0, 3.0, 4.0, 5.0]} | {c: np.nan for c in RAW if c != "image"},
        index=pd.Index([1, 2, 3, 4, 5], name="account_id"),
    )
    # image norms 0, .25, .5, .75, 1 -> scores 0, 25, 50, 75, 100; a score equal to a cutoff reaches the tier
    rule = TierRule("cutoff", cutoffs={"A": 75, "B": 50, "C": 25})
    r = score_accounts(criteria, {"image": 1}, rule)
    assert r.sort_index()["tier"].tolist() == ["D", "C", "B", "A", "A"]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (TierRule("rank"), "'share' or 'cutoff'"),
        (TierRule("share", shares={"A": 0.5, "B": 0.4, "C": 0.3}), "at most 1"),
        (TierRule("share", shares={"A": -0.1, "B": 0.4, "C": 0.3}), "between 0 and 1"),
        (TierRule("share", shares={"A": 0.1, "B": 0.2}), "exactly the keys A, B and C"),
        (TierRule("share", shares={"A": 0.1, "B": 0.2, "C": "x"}), "must be a number"),
        (TierRule("cutoff", cutoffs={"A": 50, "B": 70, "C": 30}), "A >= B >= C"),
        (TierRule("cutoff", cutoffs={"A": 170, "B": 70, "C": 30}), "between 0 and 100"),
        (TierRule("cutoff", cutoffs={"A": float("nan"), "B": 70, "C": 30}), "finite"),
    ],
)
def test_tier_rule_validation(rule, message):
    with pytest.raises(ValueError, match=message):
        rule.validate()
    criteria = pd.DataFrame({c: [1.0] for c in RAW}, index=pd.Index([1], name="account_id"))
    with pytest.raises(ValueError, match=message):
        score_accounts(criteria, {"cm": 1}, rule)


def test_tier_rule_defaults_are_valid():
    TierRule().validate()
    TierRule("cutoff").validate()
    TierRule("share", shares={"A": 0.5, "B": 0.3, "C": 0.2}).validate()  # 100 % is allowed


def test_tier_changes_and_migration_matrix():
    old = pd.Series({1: "A", 2: "B", 3: "C", 4: "D"})
    new = pd.Series({1: "B", 2: "B", 3: "A", 5: "C"})
    changes = tier_changes(old, new)
    assert changes.to_dict("records") == [
        {"account_id": 1, "old_tier": "A", "new_tier": "B", "change": "down"},
        {"account_id": 3, "old_tier": "C", "new_tier": "A", "change": "up"},
        {"account_id": 4, "old_tier": "D", "new_tier": None, "change": "gone"},
        {"account_id": 5, "old_tier": None, "new_tier": "C", "change": "new"},
    ]
    m = migration_matrix(old, new)
    assert list(m.index) == ["A", "B", "C", "D", "new"]
    assert list(m.columns) == ["A", "B", "C", "D", "gone"]
    assert m.loc["A", "B"] == 1
    assert m.loc["B", "B"] == 1
    assert m.loc["C", "A"] == 1
    assert m.loc["D", "gone"] == 1
    assert m.loc["new", "C"] == 1
    assert m.to_numpy().sum() == 5
    assert tier_changes(old, old).empty
    with pytest.raises(ValueError, match="must be one of"):
        migration_matrix(pd.Series({1: "E"}), new)


def test_empty_portfolio():
    r = run_engine(make_orders([]), make_accounts({}), AS_OF, WEIGHTS, TierRule())
    assert r.empty
    assert {"score", "rank", "tier", "missing", "cm_points"} <= set(r.columns)


def test_vectorised_on_100k_accounts():
    rng = np.random.default_rng(11)
    n, per = 100_000, 10
    m = n * per
    orders = pd.DataFrame(
        {
            "account_id": rng.integers(1, n + 1, m),
            "date": pd.Timestamp(AS_OF) - pd.to_timedelta(rng.integers(-30, 900, m), unit="D"),
            "revenue": rng.gamma(2.0, 500.0, m),
        }
    )
    orders["variable_cost"] = orders["revenue"] * rng.uniform(0.3, 1.2, m)
    accounts = pd.DataFrame(
        {
            "account_id": np.arange(1, n + 1),
            "image_rating": np.where(rng.random(n) < 0.3, np.nan, rng.integers(1, 6, n)),
            "partnership_rating": rng.integers(1, 6, n),
            "strategic_rating": np.nan,
        }
    )
    clv = pd.Series(rng.gamma(2, 1000, n), index=np.arange(1, n + 1), name="clv")
    r = run_engine(orders, accounts, AS_OF, WEIGHTS, TierRule(), clv)
    assert len(r) == n
    assert r["rank"].tolist() == list(range(1, n + 1))
    assert r["tier"].value_counts().to_dict() == {"A": 10_000, "B": 20_000, "C": 30_000, "D": 40_000}
    np.testing.assert_allclose(r[[f"{c}_points" for c in CRITERIA]].sum(axis=1), r["score"], atol=1e-9)
    # Cross-check the vectorised sums against a plain groupby.
    days = (pd.Timestamp(AS_OF) - orders["date"]).dt.days
    expected = orders[(days >= 0) & (days < 365)].groupby("account_id")["revenue"].sum()
    got = r["revenue_12m"].reindex(expected.index)
    np.testing.assert_allclose(got, expected)
