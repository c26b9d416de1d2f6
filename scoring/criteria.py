"""Raw selection criteria per account, from the order history and the ratings (DOMAIN.md section 2).

The scoring engine's first step (scoring.engine normalises, weighs and tiers what this returns). Pure module,
like the engine: numpy arrays, pandas DataFrames and plain values in, DataFrames out; no Django, no database,
no settings. Everything is vectorised (numpy / pandas); there is no per-account Python loop.

    order_totals(ids, days, revenue, cost, as_of)        per-account window totals from raw order rows
    criteria_from_totals(totals, accounts, as_of, clv)   raw criteria from those totals (the nightly recompute)
    compute_criteria(orders, accounts, as_of, clv)       both steps from an orders DataFrame

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
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

# Output columns of compute_criteria(), in order.
# fmt: off
CRITERIA_COLUMNS: tuple[str, ...] = (
    "revenue_12m", "variable_cost_12m", "cm_12m", "cm_pct", "revenue_prev_12m", "growth",
    "clv", "image", "partnership", "strategic", "order_count_12m", "last_order_date",
)
# fmt: on

NEW_ACCOUNT_GROWTH = 1.0
WINDOW_DAYS = 365

# Ratings: criterion -> (accounts column, min, max); ranges match the database check constraints.
RATING_COLUMNS: dict[str, tuple[str, int, int]] = {
    "image": ("image_rating", 1, 5),
    "partnership": ("partnership_rating", 1, 5),
    "strategic": ("strategic_rating", 0, 5),
}

ORDER_COLUMNS = ("account_id", "date", "revenue", "variable_cost")
_NAT = np.iinfo(np.int64).min


def require_columns(df: pd.DataFrame, columns, what: str) -> None:
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


def floats(values: pd.Series) -> np.ndarray:
    """A numeric-like column (float, int, nullable Int64, Decimal objects, None) as floats, NaN = missing."""
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "fiub":
        return values.to_numpy(dtype=float)  # no copy for float64: these columns can hold 20M rows
    return pd.to_numeric(values).to_numpy(dtype=float, na_value=np.nan)


def _amounts(values: pd.Series) -> np.ndarray:
    """Order amounts as floats; a missing amount counts as 0 rather than wiping out the account's sum."""
    amounts = floats(values)
    return np.nan_to_num(amounts) if np.isnan(amounts).any() else amounts


def _ratings(accounts: pd.DataFrame, key: str) -> np.ndarray:
    """A rating column as floats (NaN = not rated), rejecting values outside the allowed range."""
    column, lo, hi = RATING_COLUMNS[key]
    values = floats(accounts[column])
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
        require_columns(clv, ["clv"], "clv")
        clv = clv["clv"]
    if not clv.index.is_unique:
        raise ValueError("clv has duplicate account ids")
    return floats(clv.reindex(index))


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
    require_columns(orders, ORDER_COLUMNS, "orders")
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
    require_columns(accounts, ["account_id", *(col for col, _, _ in RATING_COLUMNS.values())], "accounts")
    require_columns(totals, TOTALS_COLUMNS, "totals")
    index = pd.Index(accounts["account_id"].to_numpy(), name="account_id")
    if not index.is_unique:
        raise ValueError("accounts has duplicate account ids")
    aligned = totals.reindex(index)
    return _criteria_frame(
        index,
        accounts,
        rev_12m=np.nan_to_num(floats(aligned["revenue_12m"])),
        cost_12m=np.nan_to_num(floats(aligned["variable_cost_12m"])),
        rev_prev=np.nan_to_num(floats(aligned["revenue_prev_12m"])),
        order_count=np.nan_to_num(floats(aligned["order_count_12m"])),
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
