"""The portfolio metrics: pure functions of the portfolio frame, DataFrames in, DataFrames (or dicts) out.

No database, no settings, no cache: the frame (one row per account, FRAME_COLUMNS, loaded by
scoring.analytics.loading) and every other input arrive as arguments, so each metric can be tested on a
hand-made DataFrame. Everything is vectorised pandas, so the cost grows with the frame, never with queries.

Definitions (all over the filtered portfolio; "scored" = accounts with a result in the current run)
    CM %                   pooled: sum(CM) / sum(revenue) of a group, never the mean of account ratios
    concentration          accounts sorted by trailing-12-month revenue (largest first); the top p % of
                           accounts are the first k = max(1, ceil(p * n)) of them;
                           revenue share = sum of their revenue / total revenue;
                           CM share = sum of THEIR CM / total CM (the same accounts, ranked by revenue)
    Herfindahl index (HHI) = sum_i s_i^2 with s_i = revenue_i / total revenue, in [1/n, 1]
                           (x 10,000 on the antitrust scale); 1 / HHI is the number of equal-sized
                           accounts that would be as concentrated (Hirschman 1964)
    visits needed          per key account, 30 / cadence days visits a month, where cadence is the account's
                           target under the cadence rule (the caller passes it: accounts.cadence)
    cut line               per KAM, key accounts ordered by score per required visit (score / visits a
                           month, highest first); those whose running total of visits stays within the KAM's
                           monthly capacity fit, the rest fall below the line
    cadence compliance     accounts with a target cadence that are not lapsed (next contact due today or
                           later) / accounts with a target cadence
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scoring import engine

# Designation advice: a key account scoring below this is worth a second look whatever its tier.
REVIEW_SCORE_BELOW = 40.0
CONCENTRATION_SHARES = (0.01, 0.05, 0.10, 0.20)
PARETO_POINTS = 200
# The CM %-against-revenue scatter shows the largest accounts only: they are the ones that matter there,
# and a browser should not draw 100,000 markers.
SCATTER_POINTS = 1500
DAYS_PER_MONTH = 30
TABLE_ROWS = 10

# cadence_state in the frame (loading.portfolio_frame encodes the cadence rule's answer as one of these)
NO_CADENCE, ON_TRACK, LAPSED = 0, 1, 2

FRAME_COLUMNS = [
    "account_id",
    "owner_id",
    "is_key",
    "active",
    "cadence_days",
    "cadence_state",
    "tier",
    "score",
    "rank",
    "revenue",
    "cm",
    "cm_pct",
    "prev_tier",
    "prev_score",
    "prev_rank",
]


def _scored(frame: pd.DataFrame) -> pd.DataFrame:
    """Accounts in the current run that are still in the portfolio."""
    return frame[frame["score"].notna() & (frame["active"] == 1)]


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole > 0 else None


# --- Designation advice and movers -------------------------------------------------------------------------

ADVICE_COLUMNS = ["account_id", "tier", "score", "rank", "revenue", "cm", "cm_pct", "is_key", "owner_id"]


@dataclass
class Advice:
    review: pd.DataFrame  # key accounts in tier C/D or scoring below review_below, lowest score first
    candidates: pd.DataFrame  # tier A accounts that are not key, best rank first
    value_at_risk: pd.DataFrame  # key accounts with CM % below the non-key median, thinnest first
    review_below: float
    non_key_median_cm_pct: float | None


def designation_advice(frame: pd.DataFrame, *, review_below: float = REVIEW_SCORE_BELOW) -> Advice:
    """Which key designations the scores question, and which accounts the scores would promote.

    review        is_key and (tier in {C, D} or score < review_below)
    candidate     tier A and not is_key
    value at risk is_key and cm_pct < median(cm_pct of the scored non-key accounts)
    """
    scored = _scored(frame)
    key = scored[scored["is_key"] == 1]
    review = key[key["tier"].isin(["C", "D"]) | (key["score"] < review_below)]
    candidates = scored[(scored["tier"] == "A") & (scored["is_key"] == 0)]
    non_key_cm_pct = scored.loc[scored["is_key"] == 0, "cm_pct"].dropna()
    median = float(non_key_cm_pct.median()) if len(non_key_cm_pct) else None
    at_risk = key[key["cm_pct"] < median] if median is not None else key.iloc[0:0]
    return Advice(
        review=review.sort_values(["score", "account_id"])[ADVICE_COLUMNS],
        candidates=candidates.sort_values(["rank", "account_id"])[ADVICE_COLUMNS],
        value_at_risk=at_risk.sort_values(["cm_pct", "account_id"])[ADVICE_COLUMNS],
        review_below=review_below,
        non_key_median_cm_pct=median,
    )


MOVER_COLUMNS = ["account_id", "tier", "prev_tier", "score", "prev_score", "score_delta", "rank", "prev_rank"]


def movers(frame: pd.DataFrame, *, limit: int | None = TABLE_ROWS) -> dict[str, pd.DataFrame]:
    """Rising and falling accounts since the previous run.

    score_delta = score - prev_score; rank_delta = prev_rank - rank (positive = climbed). Only accounts in
    both runs. "rising" sorted by score_delta descending, "falling" ascending; ``limit`` rows each.
    """
    both = _scored(frame)
    both = both[both["prev_score"].notna()].copy()
    both["score_delta"] = (both["score"] - both["prev_score"]).round(4)
    both["rank_delta"] = both["prev_rank"] - both["rank"]
    columns = [*MOVER_COLUMNS, "rank_delta", "is_key"]
    rising = both[both["score_delta"] > 0].sort_values(["score_delta", "account_id"], ascending=[False, True])
    falling = both[both["score_delta"] < 0].sort_values(["score_delta", "account_id"])
    if limit is not None:
        rising, falling = rising.head(limit), falling.head(limit)
    return {"rising": rising[columns], "falling": falling[columns], "compared": len(both)}


def tier_migration_from_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Migration matrix previous run -> current run from the portfolio frame (no extra query)."""
    old = frame.loc[frame["prev_tier"] != "", ["account_id", "prev_tier"]].set_index("account_id")[
        "prev_tier"
    ]
    new = frame.loc[frame["tier"] != "", ["account_id", "tier"]].set_index("account_id")["tier"]
    return engine.migration_matrix(old, new)


# --- Profitability and concentration ----------------------------------------------------------------------


def profitability(frame: pd.DataFrame) -> pd.DataFrame:
    """Revenue, CM and pooled CM % per tier (A-D), for key and non-key accounts, and for all.

    Index: "A", "B", "C", "D", "Key", "Not key", "All". Columns: accounts, key_accounts, revenue, cm,
    median_score, cm_pct (sum CM / sum revenue, NaN without revenue), revenue_share and cm_share (of the "All" totals,
    NaN when the total is not positive).
    """
    scored = _scored(frame)
    segment_of = {"Key": scored["is_key"] == 1, "Not key": scored["is_key"] == 0}
    rows = {}
    for tier in engine.TIERS:
        rows[tier] = scored[scored["tier"] == tier]
    for label, mask in segment_of.items():
        rows[label] = scored[mask]
    rows["All"] = scored
    total_revenue, total_cm = float(scored["revenue"].sum()), float(scored["cm"].sum())
    out = pd.DataFrame(
        {
            "accounts": [len(part) for part in rows.values()],
            "key_accounts": [int(part["is_key"].sum()) for part in rows.values()],
            "revenue": [float(part["revenue"].sum()) for part in rows.values()],
            "cm": [float(part["cm"].sum()) for part in rows.values()],
            "median_score": [
                float(part["score"].median()) if len(part) else np.nan for part in rows.values()
            ],
        },
        index=pd.Index(list(rows), name="segment"),
    )
    out["cm_pct"] = np.where(out["revenue"] > 0, out["cm"] / out["revenue"].where(out["revenue"] > 0), np.nan)
    out["revenue_share"] = out["revenue"] / total_revenue if total_revenue > 0 else np.nan
    out["cm_share"] = out["cm"] / total_cm if total_cm > 0 else np.nan
    return out


def _top_count(share: float, n: int) -> int:
    # round() first: 0.07 * 100 is 7.000000000000001 and must not ceil to 8.
    return max(1, math.ceil(round(share * n, 9))) if n else 0


def concentration(
    frame: pd.DataFrame, *, shares: Iterable[float] = CONCENTRATION_SHARES, points: int = PARETO_POINTS
) -> dict[str, Any]:
    """How much of revenue and CM hangs on a few accounts (formulas in the module docstring).

    Returns accounts, revenue, cm, top (list of {share, accounts, revenue_share, cm_share}), hhi,
    hhi_points (x 10,000), equivalent_accounts (1 / HHI), largest_share, largest_account_id, and pareto:
    a DataFrame of at most ``points`` + 1 rows (account_share, revenue_share, cm_share, accounts) from (0, 0)
    to (1, 1): the cumulative shares of revenue and CM held by the largest accounts. Shares are None (NaN in
    pareto) when their total is not positive; the CM curve can rise above 1 when small accounts lose money.
    """
    scored = _scored(frame).sort_values(["revenue", "account_id"], ascending=[False, True])
    revenue = scored["revenue"].to_numpy(dtype=float)
    cm = scored["cm"].to_numpy(dtype=float)
    n = len(revenue)
    total_revenue, total_cm = float(revenue.sum()), float(cm.sum())
    cum_revenue, cum_cm = np.cumsum(revenue), np.cumsum(cm)
    top = []
    for share in shares:
        k = _top_count(share, n)
        top.append(
            {
                "share": share,
                "accounts": k,
                "revenue_share": _share(float(cum_revenue[k - 1]), total_revenue) if k else None,
                "cm_share": _share(float(cum_cm[k - 1]), total_cm) if k else None,
            }
        )
    hhi = float(np.sum((revenue / total_revenue) ** 2)) if total_revenue > 0 else None
    idx = np.unique(np.round(np.linspace(1, n, points)).astype(int)) - 1 if n > points else np.arange(n)
    pareto = pd.DataFrame(
        {
            "accounts": np.concatenate([[0], idx + 1]),
            "account_share": np.concatenate([[0.0], (idx + 1) / n]) if n else [0.0],
            "revenue_share": np.concatenate([[0.0], cum_revenue[idx] / total_revenue])
            if total_revenue > 0
            else np.full(len(idx) + 1, np.nan),
            "cm_share": np.concatenate([[0.0], cum_cm[idx] / total_cm])
            if total_cm > 0
            else np.full(len(idx) + 1, np.nan),
        }
    )
    return {
        "accounts": n,
        "revenue": total_revenue,
        "cm": total_cm,
        "top": top,
        "hhi": hhi,
        "hhi_points": hhi * 10_000 if hhi is not None else None,
        "equivalent_accounts": 1 / hhi if hhi else None,
        "largest_share": _share(float(revenue[0]), total_revenue) if n else None,
        "largest_account_id": int(scored["account_id"].iloc[0]) if n else None,
        "pareto": pareto,
    }


def margin_map(
    frame: pd.DataFrame, *, limit: int = SCATTER_POINTS, big_share: float = 0.20
) -> dict[str, Any]:
    """CM % against revenue: the largest ``limit`` accounts, and which of them are big but thin.

    big   = revenue >= the revenue of the k-th largest account, k = max(1, ceil(big_share * n))
    thin  = cm_pct < the pooled CM % of the filtered portfolio (sum CM / sum revenue)
    Returns points (DataFrame: account_id, revenue, cm_pct, tier, is_key, big_thin), big_revenue,
    portfolio_cm_pct, big_thin (all big-and-thin accounts, largest first) and shown / total counts.
    """
    scored = _scored(frame)
    scored = scored[scored["revenue"] > 0].sort_values(["revenue", "account_id"], ascending=[False, True])
    n = len(scored)
    total_revenue = float(scored["revenue"].sum())
    pooled = float(scored["cm"].sum()) / total_revenue if total_revenue > 0 else None
    big_revenue = float(scored["revenue"].iloc[_top_count(big_share, n) - 1]) if n else None
    flags = (
        (scored["revenue"] >= big_revenue) & (scored["cm_pct"] < pooled)
        if n and pooled is not None
        else pd.Series(False, index=scored.index)
    )
    scored = scored.assign(big_thin=flags.astype(bool))
    columns = [
        "account_id",
        "revenue",
        "cm",
        "cm_pct",
        "tier",
        "is_key",
        "big_thin",
        "owner_id",
        "score",
        "rank",
    ]
    return {
        "points": scored.head(limit)[columns],
        "big_revenue": big_revenue,
        "portfolio_cm_pct": pooled,
        "big_thin": scored[scored["big_thin"]][columns],
        "shown": min(n, limit),
        "total": n,
    }


def score_distribution(frame: pd.DataFrame) -> pd.DataFrame:
    """Per tier A-D: accounts, min, q1, median, q3, max and mean of the score (box-plot statistics)."""
    scored = _scored(frame)
    grouped = scored.groupby("tier")["score"]
    stats = pd.DataFrame(
        {
            "accounts": grouped.size(),
            "min": grouped.min(),
            "q1": grouped.quantile(0.25),
            "median": grouped.median(),
            "q3": grouped.quantile(0.75),
            "max": grouped.max(),
            "mean": grouped.mean(),
        }
    )
    stats = stats.reindex(list(engine.TIERS))
    stats["accounts"] = stats["accounts"].fillna(0).astype(int)
    return stats


# --- Capacity and cadence ---------------------------------------------------------------------------------


@dataclass
class Kam:
    id: int | None  # None = accounts without an owner
    name: str
    capacity: int


def capacity(
    frame: pd.DataFrame,
    *,
    owners: Mapping[int, Kam],
    targets: pd.Series,
) -> dict[str, pd.DataFrame]:
    """Visits the key accounts need against each KAM's monthly capacity, and the cut line.

    Per key account (active): cadence = ``targets`` (each account's target cadence in days, NaN for none,
    aligned with the frame's index: accounts.cadence.target_days_series);
    visits = 30 / cadence (0 when there is no cadence); score_per_visit = score / visits (inf for 0 visits,
    so accounts that need no visit never push others out); accounts ordered per KAM by score_per_visit
    desc, then score desc; cumulative_visits = running total; fits = cumulative_visits <= capacity.

    Returns {"kams": one row per owner of any account in the frame, sorted by overload then name, columns
    owner_id (0 = nobody), name, capacity, key_accounts, visits_needed, overload (max(0, need - capacity)),
    utilisation (need / capacity, NaN at capacity 0), fitting, below_line, no_cadence;
    "accounts": one row per key account, in cut-line order, with cadence, visits, score_per_visit,
    cumulative_visits, fits}.
    """
    active = frame[frame["active"] == 1]
    key = active[active["is_key"] == 1].copy()
    key["owner"] = key["owner_id"].fillna(0).astype(np.int64)
    key["cadence"] = targets.reindex(key.index).astype(float)
    key["visits"] = (DAYS_PER_MONTH / key["cadence"]).fillna(0.0)
    score = key["score"].fillna(0.0)
    key["score_per_visit"] = np.where(
        key["visits"] > 0, score / key["visits"].where(key["visits"] > 0), np.inf
    )
    key = key.sort_values(
        ["owner", "score_per_visit", "score", "account_id"], ascending=[True, False, False, True]
    )
    key["cumulative_visits"] = key.groupby("owner")["visits"].cumsum()
    key["capacity"] = key["owner"].map(lambda o: owners[o].capacity if o in owners else 0).astype(float)
    key["fits"] = key["cumulative_visits"] <= key["capacity"] + 1e-9

    all_owners = sorted(set(active["owner_id"].fillna(0).astype(np.int64)) | set(key["owner"]))
    per = key.groupby("owner").agg(
        key_accounts=("account_id", "size"),
        visits_needed=("visits", "sum"),
        fitting=("fits", "sum"),
        no_cadence=("cadence", lambda c: int(c.isna().sum())),
    )
    per = per.reindex(all_owners).fillna(0)
    rows = pd.DataFrame(
        {
            "owner_id": all_owners,
            "name": [owners[o].name if o in owners else f"User {o}" for o in all_owners],
            "capacity": [owners[o].capacity if o in owners else 0 for o in all_owners],
        }
    )
    for column in ("key_accounts", "fitting", "no_cadence"):
        rows[column] = per[column].to_numpy().astype(int)
    rows["visits_needed"] = per["visits_needed"].to_numpy().astype(float)
    rows["overload"] = (rows["visits_needed"] - rows["capacity"]).clip(lower=0)
    rows["utilisation"] = rows["visits_needed"] / rows["capacity"].where(rows["capacity"] > 0)
    rows["below_line"] = rows["key_accounts"] - rows["fitting"]
    # Nobody's accounts are only shown when some of them are key (a real gap); otherwise it is noise.
    rows = rows[(rows["owner_id"] != 0) | (rows["key_accounts"] > 0)]
    rows = rows.sort_values(["overload", "name"], ascending=[False, True]).reset_index(drop=True)
    columns = [
        "account_id", "owner", "tier", "score", "rank", "cadence_days", "cadence", "visits", "score_per_visit",
        "cumulative_visits", "capacity", "fits", "revenue", "cm_pct",
    ]  # fmt: skip
    return {"kams": rows, "accounts": key[columns].reset_index(drop=True)}


def cadence_compliance(frame: pd.DataFrame, *, owners: Mapping[int, Kam]) -> pd.DataFrame:
    """Per KAM (owner): accounts with a target cadence, how many are on track and lapsed, and the share on
    track (on_track / with_cadence, NaN without any cadence). Sorted by compliance, worst first."""
    active = frame[(frame["active"] == 1) & (frame["cadence_state"] != NO_CADENCE)]
    owner = active["owner_id"].fillna(0).astype(np.int64)
    grouped = pd.DataFrame(
        {
            "owner_id": owner,
            "on_track": active["cadence_state"] == ON_TRACK,
            "lapsed": active["cadence_state"] == LAPSED,
        }
    ).groupby("owner_id")
    out = grouped.agg(
        with_cadence=("on_track", "size"), on_track=("on_track", "sum"), lapsed=("lapsed", "sum")
    )
    out = out.reset_index()
    out["name"] = [owners[o].name if o in owners else f"User {o}" for o in out["owner_id"]]
    out["compliance"] = out["on_track"] / out["with_cadence"]
    return out.sort_values(["compliance", "name"]).reset_index(drop=True)


# --- KPIs -------------------------------------------------------------------------------------------------


def kpis(frame: pd.DataFrame, *, concentration_: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The headline numbers of the filtered portfolio.

    key_accounts (active, designated key), scored, revenue, cm, key_revenue_share, key_cm_share,
    cm_pct_key and cm_pct_non_key (pooled), cadence_compliance (share of accounts with a cadence that are
    not lapsed), lapsed, top20_revenue_share and hhi (from concentration()).
    """
    active = frame[frame["active"] == 1]
    scored = _scored(frame)
    key = scored[scored["is_key"] == 1]
    non_key = scored[scored["is_key"] == 0]
    revenue, cm = float(scored["revenue"].sum()), float(scored["cm"].sum())
    with_cadence = active[active["cadence_state"] != NO_CADENCE]
    lapsed = int((with_cadence["cadence_state"] == LAPSED).sum())
    conc = concentration_ if concentration_ is not None else concentration(frame, points=2)
    top20 = next((t for t in conc["top"] if abs(t["share"] - 0.20) < 1e-9), None)
    return {
        "accounts": len(active),
        "scored": len(scored),
        "key_accounts": int(active["is_key"].sum()),
        "revenue": revenue,
        "cm": cm,
        "key_revenue_share": _share(float(key["revenue"].sum()), revenue),
        "key_cm_share": _share(float(key["cm"].sum()), cm),
        "cm_pct_key": _share(float(key["cm"].sum()), float(key["revenue"].sum())),
        "cm_pct_non_key": _share(float(non_key["cm"].sum()), float(non_key["revenue"].sum())),
        "with_cadence": len(with_cadence),
        "lapsed": lapsed,
        "cadence_compliance": (len(with_cadence) - lapsed) / len(with_cadence) if len(with_cadence) else None,
        "top20_revenue_share": top20["revenue_share"] if top20 else None,
        "hhi": conc["hhi"],
        "equivalent_accounts": conc["equivalent_accounts"],
    }


# --- Names for the rows a page shows ---------------------------------------------------------------------


def records(frame: pd.DataFrame, names: Mapping[int, str], *, limit: int | None = None) -> list[dict]:
    """Rows as plain dicts for a template, with the account's name; NaN and infinities become None."""
    part = frame.head(limit) if limit is not None else frame
    out = []
    for row in part.to_dict("records"):
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
        clean["account_id"] = int(clean["account_id"])
        clean["name"] = names.get(clean["account_id"], f"Account {clean['account_id']}")
        out.append(clean)
    return out
