"""Key-account scoring engine: weighted selection criteria -> score, rank and tier (DOMAIN.md sections 2, 3).

Pure module: pandas DataFrames and plain values in, DataFrames out. No Django, no database, no settings, so
the same code serves the nightly batch, the what-if preview and the API, and can be tested without a database.
Everything is vectorised (numpy / pandas); there is no per-account Python loop.

Pipeline
    compute_criteria(orders, accounts, as_of, clv)  raw criteria per account
    normalise(criteria)                              percentile norm in [0, 1] per criterion
    score_accounts(criteria, weights, tier_rule)     score, rank, tier, per-criterion points
    run_engine(...)                                  the two steps above, joined

Windows (day granularity, ``as_of`` inclusive)
    trailing 12 months  = days in (as_of - 365, as_of]
    previous 12 months  = days in (as_of - 730, as_of - 365]
    Orders after ``as_of`` or older than 730 days are ignored by every sum. Orders for account ids that are
    not in ``accounts`` are ignored. Missing (NaN) revenue or variable cost on an order counts as 0.

Raw criteria
    cm          = revenue_12m - variable_cost_12m
    cm_pct      = cm / revenue_12m; missing when revenue_12m <= 0 (a ratio on no sales means nothing)
    growth      = (revenue_12m - revenue_prev_12m) / revenue_prev_12m  when revenue_prev_12m > 0
                  (-1.0 = the account stopped buying)
                = NEW_ACCOUNT_GROWTH (1.0, i.e. +100 %)      when revenue_prev_12m <= 0 < revenue_12m
                  (a new account growing from nothing: clearly growing, but not infinitely so)
                = missing                                    when neither window has revenue
                Growth is not capped: only the ordering matters to the percentile norm, and the raw value is
                shown to the user as observed.
    clv         = input (see scoring.clv); accounts absent from the input are missing
    image, partnership = manager ratings 1-5; strategic = optional rating 0-5; None/NaN = not rated (missing)

Normalisation: percentile rank
    Each criterion is ranked across the scored population (higher raw = better), ties share the average rank:
        norm = (average_rank - 1) / (n_valid - 1)  in [0, 1]
    where n_valid counts the non-missing values. With one valid value, or all valid values equal, norm = 0.5.
    Percentile ranks put money (CM, CLV), ratios (CM %, growth) and 1-5 ratings on one scale and make the
    score robust to outliers: one giant account does not squash everyone else to zero.

Missing values: NEUTRAL_NORM = 0.5
    A missing criterion (not rated, no CLV, no revenue for CM %, no history for growth) gets norm 0.5, the
    middle of the scale, and is flagged. 0.5 neither rewards nor punishes: an unrated account is not
    assumed to be a great partner nor a poor one, and its score is driven by what we do know. Zero would
    punish accounts for the manager's backlog; the mean of the others would quietly invent a rating.
    (0.5 is the middle of the percentile scale, not of the rating scale: when most rated accounts score 4-5,
    an unrated account sits above one rated 3. That is the intended "median account" reading.)

Score
    weights are normalised to sum to 1 (normalise_weights);  points_c = 100 * w_c * norm_c
    score = sum_c points_c  in [0, 100]
    rank 1 = best; ties broken by higher score, then higher cm_12m, then account_id ascending.
    tier by TierRule: "share" (fractions of the ranked population) or "cutoff" (minimum scores).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

CRITERIA: tuple[str, ...] = ("cm", "cm_pct", "clv", "growth", "image", "partnership", "strategic")

CRITERION_LABELS: dict[str, str] = {
    "cm": "Contribution margin (12 months)",
    "cm_pct": "Contribution margin % (12 months)",
    "clv": "Customer lifetime value",
    "growth": "Revenue growth (12 months vs previous 12)",
    "image": "Image / prestige",
    "partnership": "Willingness to partner",
    "strategic": "Strategic importance",
}

# Criterion key -> column of the compute_criteria() output holding its raw value.
RAW_COLUMNS: dict[str, str] = {c: c for c in CRITERIA} | {"cm": "cm_12m"}

# Output columns of compute_criteria(), in order.
# fmt: off
CRITERIA_COLUMNS: tuple[str, ...] = (
    "revenue_12m", "variable_cost_12m", "cm_12m", "cm_pct", "revenue_prev_12m", "growth",
    "clv", "image", "partnership", "strategic", "order_count_12m", "last_order_date",
)
# fmt: on

NEUTRAL_NORM = 0.5
NEW_ACCOUNT_GROWTH = 1.0
WINDOW_DAYS = 365
TIERS: tuple[str, ...] = ("A", "B", "C", "D")

# Ratings: criterion -> (accounts column, min, max); ranges match the database check constraints.
RATING_COLUMNS: dict[str, tuple[str, int, int]] = {
    "image": ("image_rating", 1, 5),
    "partnership": ("partnership_rating", 1, 5),
    "strategic": ("strategic_rating", 0, 5),
}

ORDER_COLUMNS = ("account_id", "date", "revenue", "variable_cost")

# Scores are rounded this far before ranking and tiering so that float summation noise (1e-14) never decides
# a tie-break or pushes a 70.0 score under a 70 cutoff.
_SCORE_DECIMALS = 9
_NAT = np.iinfo(np.int64).min


def _require_columns(df: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what} is missing column(s): {', '.join(missing)}")


def _day_number(as_of: Any) -> int:
    """Days since 1970-01-01 of the as-of date (time of day and time zone dropped: scoring is per day)."""
    ts = pd.Timestamp(as_of)
    if ts is pd.NaT:
        raise ValueError("as_of must be a date, got a missing value")
    return int(np.datetime64(ts.date(), "D").astype(np.int64))


def _order_days(dates: pd.Series) -> np.ndarray:
    """Order dates as int64 day numbers; NaT becomes int64 min, so it falls outside every window."""
    if not pd.api.types.is_datetime64_any_dtype(dates):
        dates = pd.to_datetime(dates)
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    return dates.to_numpy().astype("datetime64[D]").view(np.int64)


def _floats(values: pd.Series) -> np.ndarray:
    """A numeric-like column (float, int, nullable Int64, Decimal objects, None) as floats, NaN = missing."""
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "fiub":
        return values.to_numpy(dtype=float)  # no copy for float64: these columns can hold 20M rows
    return pd.to_numeric(values).to_numpy(dtype=float, na_value=np.nan)


def _amounts(values: pd.Series) -> np.ndarray:
    """Order amounts as floats; a missing amount counts as 0 rather than wiping out the account's sum."""
    amounts = _floats(values)
    return np.nan_to_num(amounts) if np.isnan(amounts).any() else amounts


def _ratings(accounts: pd.DataFrame, key: str) -> np.ndarray:
    """A rating column as floats (NaN = not rated), rejecting values outside the allowed range."""
    column, lo, hi = RATING_COLUMNS[key]
    values = _floats(accounts[column])
    bad = ~np.isnan(values) & ((values < lo) | (values > hi))
    if bad.any():
        raise ValueError(
            f"{column} must be between {lo} and {hi} (or empty); {int(bad.sum())} value(s) are not"
        )
    return values


def _clv_values(clv: pd.DataFrame | pd.Series | None, index: pd.Index) -> np.ndarray:
    """CLV aligned on the portfolio; accounts absent from the input are NaN (missing)."""
    if clv is None:
        return np.full(len(index), np.nan)
    if isinstance(clv, pd.DataFrame):
        if "account_id" in clv.columns:
            clv = clv.set_index("account_id")
        _require_columns(clv, ["clv"], "clv")
        clv = clv["clv"]
    if not clv.index.is_unique:
        raise ValueError("clv has duplicate account ids")
    return _floats(clv.reindex(index))


def compute_criteria(
    orders: pd.DataFrame,
    accounts: pd.DataFrame,
    as_of: Any,
    clv: pd.DataFrame | pd.Series | None = None,
) -> pd.DataFrame:
    """Raw selection criteria per account (formulas and windows: see the module docstring).

    Returns one row per account in ``accounts`` (same order, indexed by account_id), with CRITERIA_COLUMNS.
    Accounts without orders get zero sums, order_count_12m 0, cm_pct and growth missing. last_order_date is
    the latest order on or before as_of in the data given (any age), NaT when there is none.
    """
    _require_columns(orders, ORDER_COLUMNS, "orders")
    days = _order_days(orders["date"])
    dated = days != _NAT  # an order without a date falls in no window
    totals = order_totals(
        orders["account_id"].to_numpy()[dated],
        days[dated],
        _amounts(orders["revenue"])[dated],
        _amounts(orders["variable_cost"])[dated],
        as_of,
    )
    return criteria_from_totals(totals, accounts, as_of, clv=clv)


TOTALS_COLUMNS = (
    "revenue_12m",
    "variable_cost_12m",
    "revenue_prev_12m",
    "order_count_12m",
    "last_order_date",
)


# Columns of order_totals(), indexed by account_id.
ORDER_TOTALS_COLUMNS: tuple[str, ...] = (
    "first_date", "last_date", "n_occasions", "total_margin", "first_margin",
    *TOTALS_COLUMNS, "orders",
)  # fmt: skip


def order_totals(
    account_ids: np.ndarray, days: np.ndarray, revenue: np.ndarray, cost: np.ndarray, as_of: Any
) -> pd.DataFrame:
    """Per account, from raw order rows: the 12-month window totals and the purchase-occasion summary.

    Inputs are parallel arrays, one entry per order: account id, order date as days since 1970-01-01,
    revenue and variable cost. Orders after ``as_of`` are ignored. Returns one row per account with at least
    one order, indexed by account_id, with ORDER_TOTALS_COLUMNS:

        first_date, last_date   first and last purchase day (datetime64[D]); last_order_date = last_date
        n_occasions             distinct purchase days: same-day orders are one occasion (DOMAIN.md section 8)
        total_margin            sum of revenue - cost over all orders
        first_margin            the margin of the first purchase day, which Gamma-Gamma leaves out
        revenue_12m, variable_cost_12m, revenue_prev_12m, order_count_12m  over the windows above
        orders                  number of orders

    O(n log n) in one in-place sort of (account, day) keys, which gives the distinct purchase days and each
    account's first and last day in one pass; every sum is one np.bincount over dense account codes and
    window slots. Twenty million orders take a few seconds and about 40 bytes per order beyond the input.
    """
    today = _day_number(as_of)
    ids = np.asarray(account_ids)
    days = np.asarray(days)
    revenue = np.asarray(revenue, dtype=float)
    cost = np.asarray(cost, dtype=float)
    if len(days) and days.max() > today:
        keep = days <= today
        ids, days, revenue, cost = ids[keep], days[keep], revenue[keep], cost[keep]
    if np.isnan(revenue).any():
        revenue = np.nan_to_num(revenue)
    if np.isnan(cost).any():
        cost = np.nan_to_num(cost)
    if not len(days):
        empty = pd.DataFrame({c: pd.Series(dtype=float) for c in ORDER_TOTALS_COLUMNS})
        for c in ("first_date", "last_date", "last_order_date"):
            empty[c] = empty[c].astype("datetime64[s]")
        return empty.rename_axis("account_id")
    codes, accounts = pd.factorize(ids, sort=True)
    m = len(accounts)

    # Distinct (account, day) pairs: sort code * span + day offset; a pair starts where the key changes.
    low = int(days.min())
    span = int(days.max()) - low + 1
    key = codes.astype(np.int64)
    key *= span
    key += days
    key -= low
    key.sort()
    starts = np.empty(len(key), dtype=bool)
    starts[0] = True
    np.not_equal(key[1:], key[:-1], out=starts[1:])
    pairs = key[starts]
    del key, starts
    pair_account, pair_day = np.divmod(pairs, span)
    del pairs
    pair_day += low
    n_occasions = np.bincount(pair_account, minlength=m)
    # Every account has a pair, and pairs are sorted by account then day: first and last day per account.
    first_pair = np.flatnonzero(np.r_[True, pair_account[1:] != pair_account[:-1]])
    first = pair_day[first_pair]
    last = pair_day[np.r_[first_pair[1:] - 1, len(pair_day) - 1]]
    del pair_account, pair_day

    # Slot = window * m + code, window 0 = trailing 12 months, 1 = the 12 before, 2 = older: one bincount
    # per amount gives every window of every account.
    slots = (days <= today - WINDOW_DAYS).astype(np.intp)
    slots += days <= today - 2 * WINDOW_DAYS
    slots *= m
    slots += codes
    shape = (3, m)
    rev = np.bincount(slots, weights=revenue, minlength=3 * m).reshape(shape)
    var = np.bincount(slots, weights=cost, minlength=3 * m).reshape(shape)
    count = np.bincount(slots, minlength=3 * m).reshape(shape)
    del slots
    on_first = days == first[codes]
    first_margin = np.bincount(codes[on_first], weights=revenue[on_first] - cost[on_first], minlength=m)

    dates_first, dates_last = first.astype("datetime64[D]"), last.astype("datetime64[D]")
    return pd.DataFrame(
        {
            "first_date": dates_first,
            "last_date": dates_last,
            "n_occasions": n_occasions.astype(float),
            "total_margin": rev.sum(axis=0) - var.sum(axis=0),
            "first_margin": first_margin,
            "revenue_12m": rev[0],
            "variable_cost_12m": var[0],
            "revenue_prev_12m": rev[1],
            "order_count_12m": count[0].astype(float),
            "last_order_date": dates_last,
            "orders": count.sum(axis=0).astype(float),
        },
        index=pd.Index(accounts, name="account_id"),
    )


def criteria_from_totals(
    totals: pd.DataFrame,
    accounts: pd.DataFrame,
    as_of: Any,
    clv: pd.DataFrame | pd.Series | None = None,
) -> pd.DataFrame:
    """The same criteria as compute_criteria, from per-account window totals already aggregated (order_totals).

    ``totals`` is indexed by account_id with TOTALS_COLUMNS computed over the same windows as
    compute_criteria; accounts absent from it have no orders. ``as_of`` is accepted for symmetry: the windows
    were applied by whoever aggregated.
    """
    _require_columns(accounts, ["account_id", *(col for col, _, _ in RATING_COLUMNS.values())], "accounts")
    _require_columns(totals, TOTALS_COLUMNS, "totals")
    index = pd.Index(accounts["account_id"].to_numpy(), name="account_id")
    if not index.is_unique:
        raise ValueError("accounts has duplicate account ids")
    aligned = totals.reindex(index)
    return _criteria_frame(
        index,
        accounts,
        rev_12m=np.nan_to_num(_floats(aligned["revenue_12m"])),
        cost_12m=np.nan_to_num(_floats(aligned["variable_cost_12m"])),
        rev_prev=np.nan_to_num(_floats(aligned["revenue_prev_12m"])),
        order_count=np.nan_to_num(_floats(aligned["order_count_12m"])),
        last_order=pd.to_datetime(aligned["last_order_date"]).to_numpy(),
        clv=clv,
    )


def _criteria_frame(
    index, accounts, *, rev_12m, cost_12m, rev_prev, order_count, last_order, clv
) -> pd.DataFrame:
    """Derive CM, CM %, growth and the ratings from the window totals (formulas: module docstring)."""
    n = len(index)
    cm = rev_12m - cost_12m
    cm_pct = np.divide(cm, rev_12m, out=np.full(n, np.nan), where=rev_12m > 0)
    growth = np.full(n, np.nan)
    has_prev = rev_prev > 0
    np.divide(rev_12m - rev_prev, rev_prev, out=growth, where=has_prev)
    growth[~has_prev & (rev_12m > 0)] = NEW_ACCOUNT_GROWTH

    return pd.DataFrame(
        {
            "revenue_12m": rev_12m,
            "variable_cost_12m": cost_12m,
            "cm_12m": cm,
            "cm_pct": cm_pct,
            "revenue_prev_12m": rev_prev,
            "growth": growth,
            "clv": _clv_values(clv, index),
            "image": _ratings(accounts, "image"),
            "partnership": _ratings(accounts, "partnership"),
            "strategic": _ratings(accounts, "strategic"),
            "order_count_12m": np.asarray(order_count).astype(np.int64),
            "last_order_date": last_order,
        },
        index=index,
    )


def _average_rank(values: np.ndarray) -> np.ndarray:
    """1-based rank of each value, ties sharing the average rank, NaN for NaN (pandas rank 'average')."""
    ranks = np.full(len(values), np.nan)
    valid = ~np.isnan(values)
    # np.unique sorts once; a value's average rank is (count of smaller values) + (count equal + 1) / 2.
    _, inverse, counts = np.unique(values[valid], return_inverse=True, return_counts=True)
    ranks[valid] = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]
    return ranks


def _norms(criteria: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Criterion key -> (norm, missing) arrays; the formula is documented on normalise()."""
    _require_columns(criteria, RAW_COLUMNS.values(), "criteria")
    out = {}
    for key in CRITERIA:
        ranks = _average_rank(_floats(criteria[RAW_COLUMNS[key]]))
        missing = np.isnan(ranks)
        n_valid = len(ranks) - int(missing.sum())
        norm = (ranks - 1.0) / (n_valid - 1) if n_valid > 1 else np.full(len(ranks), NEUTRAL_NORM)
        out[key] = (np.where(missing, NEUTRAL_NORM, norm), missing)
    return out


def normalise(criteria: pd.DataFrame) -> pd.DataFrame:
    """Percentile norm per criterion: ``{c}_norm`` in [0, 1] and ``{c}_missing`` (bool), same index.

    norm = (average_rank - 1) / (n_valid - 1), higher raw value = higher norm, ties share the average rank;
    0.5 when there is a single valid value (all-equal values give 0.5 by the formula itself).
    Missing raw values get NEUTRAL_NORM (0.5) and ``{c}_missing`` = True.
    """
    norms = _norms(criteria)
    out = {f"{key}_norm": norms[key][0] for key in CRITERIA} | {
        f"{key}_missing": norms[key][1] for key in CRITERIA
    }
    return pd.DataFrame(out, index=criteria.index)


def normalise_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """Weights for every key in CRITERIA, scaled to sum to 1 (w_c / sum w); absent keys weigh 0.

    Raises ValueError for unknown keys, non-numeric, negative or non-finite weights, or all weights zero.
    """
    unknown = sorted(set(weights) - set(CRITERIA))
    if unknown:
        raise ValueError(
            f"Unknown criteria in weights: {', '.join(map(str, unknown))}; allowed: {', '.join(CRITERIA)}"
        )
    values = {}
    for key in CRITERIA:
        raw = weights.get(key, 0.0)
        try:
            value = float(0.0 if raw is None else raw)
        except (TypeError, ValueError):
            raise ValueError(f"Weight for {key!r} must be a number, got {raw!r}") from None
        if not math.isfinite(value):
            raise ValueError(f"Weight for {key!r} must be finite, got {raw!r}")
        if value < 0:
            raise ValueError(f"Weight for {key!r} must not be negative, got {raw!r}")
        values[key] = value
    total = math.fsum(values.values())
    if total <= 0:
        raise ValueError("At least one criterion weight must be positive (all weights are zero)")
    return {key: value / total for key, value in values.items()}


@dataclass(frozen=True)
class TierRule:
    """How scores become tiers A (key), B, C, D.

    method "share":  ``shares`` = fraction of the ranked population in A, B and C (the rest is D). Ranks
                     1..ceil(n * s_A) are A, then up to ceil(n * (s_A + s_B)) B, up to
                     ceil(n * (s_A + s_B + s_C)) C: a non-empty portfolio with s_A > 0 always has an A. This
                     fits the number of key accounts to the team's capacity whatever the score distribution.
    method "cutoff": ``cutoffs`` = minimum score for A, B, C (score >= cutoff); below the C cutoff is D.
    Ranks are unique, so with "share" two equal scores on a boundary split by the rank tie-break.
    """

    method: str = "share"
    shares: Mapping[str, float] = field(default_factory=lambda: {"A": 0.10, "B": 0.20, "C": 0.30})
    cutoffs: Mapping[str, float] = field(default_factory=lambda: {"A": 70.0, "B": 50.0, "C": 30.0})

    def validate(self) -> None:
        """Raise ValueError with a user-readable message when the rule cannot be applied."""
        if self.method not in ("share", "cutoff"):
            raise ValueError(f"Tier method must be 'share' or 'cutoff', got {self.method!r}")
        values = self._values(self.shares if self.method == "share" else self.cutoffs)
        if self.method == "share":
            if any(not 0 <= v <= 1 for v in values.values()):
                raise ValueError("Tier shares must each be between 0 and 1")
            if sum(values.values()) > 1 + 1e-9:
                raise ValueError("Tier shares for A, B and C must add up to at most 1 (100 %)")
        else:
            if any(not 0 <= v <= 100 for v in values.values()):
                raise ValueError("Tier cutoffs must each be between 0 and 100")
            if not values["A"] >= values["B"] >= values["C"]:
                raise ValueError("Tier cutoffs must decrease: A >= B >= C")

    def _values(self, mapping: Mapping[str, float]) -> dict[str, float]:
        name = "shares" if self.method == "share" else "cutoffs"
        if set(mapping) != {"A", "B", "C"}:
            raise ValueError(f"Tier {name} need exactly the keys A, B and C, got {sorted(map(str, mapping))}")
        out = {}
        for tier in "ABC":
            try:
                out[tier] = float(mapping[tier])
            except (TypeError, ValueError):
                raise ValueError(
                    f"Tier {name[:-1]} for {tier} must be a number, got {mapping[tier]!r}"
                ) from None
            if not math.isfinite(out[tier]):
                raise ValueError(f"Tier {name[:-1]} for {tier} must be finite")
        return out

    def assign(self, score: np.ndarray, rank: np.ndarray) -> np.ndarray:
        """Tier letter per account from its (rounded) score and its unique 1-based rank."""
        self.validate()
        values = self._values(self.shares if self.method == "share" else self.cutoffs)
        if self.method == "share":
            n = len(rank)
            cumulative = np.cumsum([values["A"], values["B"], values["C"]])
            # round() first: (0.1 + 0.2) * 10 is 3.0000000000000004 and must not ceil to 4.
            bounds = np.array([min(n, math.ceil(round(c * n, 9))) for c in cumulative])
            position = np.searchsorted(bounds, rank, side="left")
        else:
            position = 3 - sum((score >= values[t]).astype(int) for t in "ABC")
        return np.asarray(TIERS, dtype=object)[position]


def _missing_labels(missing: dict[str, np.ndarray], weights: dict[str, float], n: int) -> np.ndarray:
    """Comma-joined keys of the weighted criteria that were missing ('' if none), via a bitmask lookup."""
    code = np.zeros(n, dtype=np.int64)
    for bit, key in enumerate(CRITERIA):
        if weights[key] > 0:
            code |= missing[key].astype(np.int64) << bit
    table = [",".join(k for bit, k in enumerate(CRITERIA) if m >> bit & 1) for m in range(1 << len(CRITERIA))]
    return np.asarray(table, dtype=object)[code]


def score_accounts(criteria: pd.DataFrame, weights: Mapping[str, float], tier_rule: TierRule) -> pd.DataFrame:
    """Score, rank and tier every account of ``criteria`` (the compute_criteria output, or any frame with the
    raw criterion columns, indexed by account_id). Rows come back sorted by rank.

    Columns: score, rank, tier, missing, then per criterion c: {c}_raw, {c}_norm, {c}_weight, {c}_points,
    {c}_missing.  points_c = 100 * w_c * norm_c; score = sum of the points (see the module docstring).
    ``missing`` lists (comma-joined) the criteria with a positive weight whose value was missing; criteria
    weighted 0 (usually strategic) are left out because they cannot affect the score.
    """
    w = normalise_weights(weights)
    tier_rule.validate()
    if not criteria.index.is_unique:
        raise ValueError("criteria has duplicate account ids")
    norms = _norms(criteria)
    n = len(criteria)
    score = np.zeros(n)
    per_criterion = {}
    for key in CRITERIA:
        norm, missing = norms[key]
        points = 100.0 * w[key] * norm
        score += points
        per_criterion |= {
            f"{key}_raw": _floats(criteria[RAW_COLUMNS[key]]),
            f"{key}_norm": norm,
            f"{key}_weight": w[key],
            f"{key}_points": points,
            f"{key}_missing": missing,
        }

    rounded = np.round(score, _SCORE_DECIMALS)
    cm = np.nan_to_num(_floats(criteria["cm_12m"]), nan=-np.inf)
    id_order = np.empty(n, dtype=np.int64)
    id_order[criteria.index.argsort()] = np.arange(n)
    order = np.lexsort((id_order, -cm, -rounded))
    # Rows are laid out in rank order up front: reordering the finished 40-column frame costs 10x more.
    rank = np.arange(1, n + 1)
    missing_labels = _missing_labels({k: norms[k][1] for k in CRITERIA}, w, n)
    return pd.DataFrame(
        {
            "score": score[order],
            "rank": rank,
            "tier": tier_rule.assign(rounded[order], rank),
            "missing": missing_labels[order],
            **{col: v[order] if isinstance(v, np.ndarray) else v for col, v in per_criterion.items()},
        },
        index=pd.Index(criteria.index[order], name="account_id"),
    )


def run_engine(
    orders: pd.DataFrame,
    accounts: pd.DataFrame,
    as_of: Any,
    weights: Mapping[str, float],
    tier_rule: TierRule,
    clv: pd.DataFrame | pd.Series | None = None,
) -> pd.DataFrame:
    """compute_criteria + score_accounts: CRITERIA_COLUMNS followed by the score columns, sorted by rank."""
    criteria = compute_criteria(orders, accounts, as_of, clv)
    scores = score_accounts(criteria, weights, tier_rule)
    return pd.concat([criteria.reindex(scores.index), scores], axis=1)


def _plain(value: Any) -> Any:
    """numpy scalar -> Python value, NaN -> None, so the explanation serialises to JSON as is."""
    if value is None or (isinstance(value, float | np.floating) and math.isnan(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value


def explain(result_row: Mapping[str, Any] | pd.Series) -> list[dict[str, Any]]:
    """'Why this score': one dict per criterion (CRITERIA order) for one row of score_accounts/run_engine.

    Keys: key, label, raw (None when missing), norm, weight, points, missing. The points add up to the score.
    """
    return [
        {"key": key, "label": CRITERION_LABELS[key]}
        | {f: _plain(result_row[f"{key}_{f}"]) for f in ("raw", "norm", "weight", "points")}
        | {"missing": bool(result_row[f"{key}_missing"])}
        for key in CRITERIA
    ]


def explain_frame(result: pd.DataFrame) -> pd.DataFrame:
    """Vectorised explain(): long frame with one row per account x criterion, in the order of ``result``.

    Columns: account_id, key, label, raw, norm, weight, points, missing.
    """
    n, k = len(result), len(CRITERIA)
    fields = {
        f: result[[f"{c}_{f}" for c in CRITERIA]].to_numpy().ravel()
        for f in ("raw", "norm", "weight", "points")
    }
    return pd.DataFrame(
        {
            "account_id": np.repeat(result.index.to_numpy(), k),
            "key": np.tile(np.asarray(CRITERIA, dtype=object), n),
            "label": np.tile(np.asarray([CRITERION_LABELS[c] for c in CRITERIA], dtype=object), n),
            **{f: v.astype(float) for f, v in fields.items()},
            "missing": result[[f"{c}_missing" for c in CRITERIA]].to_numpy(dtype=bool).ravel(),
        }
    )


def _tiers(tiers: pd.Series, what: str) -> pd.Series:
    tiers = pd.Series(tiers).dropna().astype(object)
    bad = sorted(set(tiers) - set(TIERS))
    if bad:
        raise ValueError(f"{what} tiers must be one of {', '.join(TIERS)}, got {bad}")
    if not tiers.index.is_unique:
        raise ValueError(f"{what} tiers have duplicate account ids")
    return tiers.rename_axis("account_id")


def _aligned(old: pd.Series, new: pd.Series) -> pd.DataFrame:
    return pd.concat({"old_tier": _tiers(old, "old"), "new_tier": _tiers(new, "new")}, axis=1, join="outer")


def tier_changes(old: pd.Series, new: pd.Series) -> pd.DataFrame:
    """Accounts whose tier differs between two tier Series indexed by account_id (e.g. current vs what-if).

    Columns: account_id, old_tier, new_tier (None when the account is only on one side) and change:
    "up" (towards A), "down", "new" (only in ``new``) or "gone" (only in ``old``). Sorted by account_id.
    """
    both = _aligned(old, new)
    both = both[~both["old_tier"].eq(both["new_tier"])]
    position = {tier: i for i, tier in enumerate(TIERS)}
    old_pos = both["old_tier"].map(position)
    new_pos = both["new_tier"].map(position)
    change = np.select(
        [both["old_tier"].isna(), both["new_tier"].isna(), new_pos < old_pos], ["new", "gone", "up"], "down"
    )
    out = both.astype(object).where(both.notna(), None).assign(change=change)
    return out.sort_index().reset_index()


def migration_matrix(old: pd.Series, new: pd.Series) -> pd.DataFrame:
    """Counts of accounts by old tier (rows A-D + "new") x new tier (columns A-D + "gone").

    The "new" row counts accounts only in ``new``, the "gone" column accounts only in ``old``; every row and
    column is present even when zero, so the matrix has a stable shape for display.
    """
    rows, cols = [*TIERS, "new"], [*TIERS, "gone"]
    both = _aligned(old, new)
    r = pd.Categorical(both["old_tier"].fillna("new"), categories=rows).codes.astype(np.int64)
    c = pd.Categorical(both["new_tier"].fillna("gone"), categories=cols).codes.astype(np.int64)
    counts = np.bincount(r * len(cols) + c, minlength=len(rows) * len(cols)).reshape(len(rows), len(cols))
    return pd.DataFrame(
        counts, index=pd.Index(rows, name="old_tier"), columns=pd.Index(cols, name="new_tier")
    )
