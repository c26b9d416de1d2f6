"""Portfolio analytics for managers: what the stored scores say about the key-account portfolio.

Reads only. Everything a dashboard shows comes from ONE query that loads the portfolio frame (one row per
account: its designation, owner, cadence state, and its result in the current and the previous run, joined
in SQL), plus a handful of small, fixed lookups (runs, users, names of the accounts a table shows). The
functions below are vectorised pandas over that frame, so the number of queries never grows with the
number of accounts (DOMAIN.md sections 2 and 3).

Definitions (all over the filtered portfolio; "scored" = accounts with a result in the current run)
    CM %                   pooled: sum(CM) / sum(revenue) of a group, never the mean of account ratios
    concentration          accounts sorted by trailing-12-month revenue (largest first); the top p % of
                           accounts are the first k = max(1, ceil(p * n)) of them;
                           revenue share = sum of their revenue / total revenue;
                           CM share = sum of THEIR CM / total CM (the same accounts, ranked by revenue)
    Herfindahl index (HHI) = sum_i s_i^2 with s_i = revenue_i / total revenue, in [1/n, 1]
                           (x 10,000 on the antitrust scale); 1 / HHI is the number of equal-sized
                           accounts that would be as concentrated (Hirschman 1964)
    visits needed          per key account, 30 / cadence days visits a month, where cadence = the account's
                           own override, else the default of its tier in the active scoring model
    cut line               per KAM, key accounts ordered by score per required visit (score / visits a
                           month, highest first); those whose running total of visits stays within the KAM's
                           monthly capacity fit, the rest fall below the line
    cadence compliance     accounts with a target cadence that are not lapsed (next contact due today or
                           later) / accounts with a target cadence
"""

from __future__ import annotations

import datetime
import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    F,
    FilteredRelation,
    FloatField,
    Func,
    IntegerField,
    Q,
    Sum,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Cast

from accounts.models import Account, AccountStatus, User
from accounts.selectors import accounts_version
from scoring import engine, selectors
from scoring.models import ScoreResult, ScoringRun

# Designation advice: a key account scoring below this is worth a second look whatever its tier.
REVIEW_SCORE_BELOW = 40.0
CONCENTRATION_SHARES = (0.01, 0.05, 0.10, 0.20)
PARETO_POINTS = 200
# The CM %-against-revenue scatter shows the largest accounts only: they are the ones that matter there,
# and a browser should not draw 100,000 markers.
SCATTER_POINTS = 1500
DAYS_PER_MONTH = 30
TABLE_ROWS = 10
# KAMs shown in the dashboard's per-KAM charts and tables (the worst first); the capacity page lists them all.
KAM_ROWS = 15

# cadence_state in the frame
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


@dataclass(frozen=True)
class PortfolioFilters:
    """The dashboard's filters: one owner (KAM), one region, one industry; empty = all."""

    owner: int | None = None
    region: str = ""
    industry: str = ""

    def q(self, prefix: str = "") -> Q:
        """The filter on Account (prefix "") or on a model with an account (prefix "account__")."""
        q = Q()
        if self.owner:
            q &= Q(**{f"{prefix}owner_id": self.owner})
        if self.region:
            q &= Q(**{f"{prefix}region": self.region})
        if self.industry:
            q &= Q(**{f"{prefix}industry": self.industry})
        return q

    @property
    def any(self) -> bool:
        return bool(self.owner or self.region or self.industry)


# --- Runs --------------------------------------------------------------------------------------------------


def previous_run(run: ScoringRun | None) -> ScoringRun | None:
    """The successful run before ``run`` in as-of order: "since the previous run" means since this one."""
    return ScoringRun.objects.select_related("model").previous_to(run)


# --- Loading -----------------------------------------------------------------------------------------------


def _read(rows, columns: list[str]) -> pd.DataFrame:
    """A values_list queryset as a DataFrame in one query (through COPY on PostgreSQL, several times faster)."""
    if connection.vendor == "postgresql":
        sql, params = rows.query.sql_with_params()
        return selectors.read_frame(sql, list(params), columns)
    return pd.DataFrame.from_records(list(rows), columns=columns)


def _flag(condition: Q) -> Case:
    return Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField())


def _as_float(expression: str) -> Cast:
    return Cast(expression, FloatField())


def _cadence_state(today: datetime.date) -> Case:
    """NO_CADENCE, LAPSED (next contact due before ``today``) or ON_TRACK, in SQL."""
    return Case(
        When(next_contact_due__isnull=True, then=Value(NO_CADENCE)),
        When(next_contact_due__lt=today, then=Value(LAPSED)),
        default=Value(ON_TRACK),
        output_field=IntegerField(),
    )


# What portfolio_frame and the dashboard read of each account, hashed per row by portfolio_fingerprint.
FINGERPRINT_FIELDS = ("id", "name", "owner_id", "is_key", "status", "cadence_days", "region", "industry")


def portfolio_fingerprint(filters: PortfolioFilters, *, today: datetime.date) -> tuple:
    """A fingerprint of exactly what the dashboard reads of the accounts matching ``filters`` as of ``today``.

    On PostgreSQL: the number of accounts and the sum of a 64-bit hash per account of the fields the frame
    and the dashboard's tables show (FINGERPRINT_FIELDS) and of its cadence state, one sequential scan in
    SQL (about 10 ms for 10,000 accounts, against ~200 ms of Python to recompute the dashboard). A logged
    visit changes the fingerprint only when it changes what the dashboard counts (an account no longer
    lapsed), so reps logging visits all day do not make every manager's dashboard recompute. Elsewhere
    (SQLite, the embedded default): accounts_version(), which any account change moves.
    """
    if connection.vendor != "postgresql":
        return accounts_version()
    row = Func(
        *(F(name) for name in FINGERPRINT_FIELDS),
        _cadence_state(today),
        template="concat_ws('|', %(expressions)s)",
        output_field=TextField(),
    )
    found = (
        Account.objects.filter(filters.q())
        .order_by()
        .aggregate(
            accounts=Count("id"),
            hashed=Sum(Func(row, Value(0), function="hashtextextended", output_field=BigIntegerField())),
        )
    )
    return (found["accounts"], str(found["hashed"]))


def portfolio_frame(
    *,
    run: ScoringRun | None,
    previous: ScoringRun | None = None,
    filters: PortfolioFilters = PortfolioFilters(),
    today: datetime.date,
) -> pd.DataFrame:
    """One row per account matching ``filters`` with its result in ``run`` and ``previous``, in ONE query.

    Columns: account_id, owner_id (NaN = nobody), is_key and active (0/1; active = not marked lost),
    cadence_days (the account's own override), cadence_state (0 no cadence, 1 on track, 2 lapsed as of
    ``today``), then from ``run``: tier ("" when not scored), score, rank, revenue, cm, cm_pct; and from
    ``previous``: prev_tier, prev_score, prev_rank. Without a run (or for accounts without a result) those
    are NaN / "".
    """
    qs = Account.objects.filter(filters.q()).order_by()
    annotations: dict[str, Any] = {
        "f_key": _flag(Q(is_key=True)),
        "f_active": _flag(~Q(status=AccountStatus.LOST)),
        "f_cadence": _cadence_state(today),
    }
    names = ["id", "owner_id", "f_key", "f_active", "cadence_days", "f_cadence"]
    for alias, source in (("cur", run), ("prev", previous)):
        if source is None:
            continue
        qs = qs.annotate(
            **{alias: FilteredRelation("score_results", condition=Q(score_results__run_id=source.pk))}
        )
        annotations |= {
            f"{alias}_tier": F(f"{alias}__tier"),
            f"{alias}_score": F(f"{alias}__score"),
            f"{alias}_rank": F(f"{alias}__rank"),
        }
        names += [f"{alias}_tier", f"{alias}_score", f"{alias}_rank"]
        if alias == "cur":
            annotations |= {
                "cur_revenue": _as_float("cur__revenue"),
                "cur_cm": _as_float("cur__cm"),
                "cur_cm_pct": F("cur__cm_pct"),
            }
            names += ["cur_revenue", "cur_cm", "cur_cm_pct"]
    frame = _read(qs.annotate(**annotations).values_list(*names), names)
    frame = frame.rename(
        columns={
            "id": "account_id",
            "f_key": "is_key",
            "f_active": "active",
            "f_cadence": "cadence_state",
            **{f"cur_{c}": c for c in ("tier", "score", "rank", "revenue", "cm", "cm_pct")},
        }
    )
    for column in FRAME_COLUMNS:
        if column not in frame:
            frame[column] = np.nan
    for column in ("tier", "prev_tier"):
        frame[column] = frame[column].astype(object).where(frame[column].notna(), "").astype(str)
    for column in ("account_id", "is_key", "active", "cadence_state"):
        frame[column] = frame[column].astype(np.int64)
    for column in ("owner_id", "cadence_days", "score", "rank", "revenue", "cm", "cm_pct", "prev_score",
                   "prev_rank"):  # fmt: skip
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame[FRAME_COLUMNS]


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


def tier_migration(
    run_from: ScoringRun,
    run_to: ScoringRun,
    filters: PortfolioFilters = PortfolioFilters(),
) -> pd.DataFrame:
    """Counts of accounts by tier in ``run_from`` (rows A-D, "new") x tier in ``run_to`` (columns A-D,
    "gone"), engine.migration_matrix over the stored results of the two runs: one query."""
    rows = (
        ScoreResult.objects.filter(run_id__in=[run_from.pk, run_to.pk])
        .filter(filters.q("account__"))
        .order_by()
        .values_list("run_id", "account_id", "tier")
    )
    frame = pd.DataFrame.from_records(list(rows), columns=["run_id", "account_id", "tier"])
    old = frame.loc[frame["run_id"] == run_from.pk].set_index("account_id")["tier"]
    new = frame.loc[frame["run_id"] == run_to.pk].set_index("account_id")["tier"]
    return engine.migration_matrix(old.astype(object), new.astype(object))


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


def kams(owner_ids: Iterable[float]) -> dict[int, Kam]:
    """The owners (KAMs) of the given ids with their monthly visit capacity, in one query; key 0 = nobody."""
    ids = sorted(int(i) for i in pd.unique(pd.Series(owner_ids, dtype=float).dropna()))
    out = {0: Kam(None, "No owner", 0)}
    users = User.objects.filter(pk__in=ids).values_list(
        "id", "first_name", "last_name", "username", "monthly_visit_capacity"
    )
    for pk, first, last, username, capacity in users:
        out[pk] = Kam(pk, f"{first} {last}".strip() or username, capacity or 0)
    return out


def capacity(
    frame: pd.DataFrame, *, owners: Mapping[int, Kam], tier_cadences: Mapping[str, int | None]
) -> dict[str, pd.DataFrame]:
    """Visits the key accounts need against each KAM's monthly capacity, and the cut line.

    Per key account (active): cadence = cadence_days override, else tier_cadences[tier] capped at
    KAM_KEY_ACCOUNT_MAX_CADENCE_DAYS (a key account is visited quarterly at worst);
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
    # As Account.effective_cadence_days: a key account's tier default is capped (quarterly at worst).
    cap = float(settings.KAM_KEY_ACCOUNT_MAX_CADENCE_DAYS)
    defaults = pd.to_numeric(key["tier"].map(dict(tier_cadences)), errors="coerce").astype(float)
    key["cadence"] = key["cadence_days"].fillna(defaults.clip(upper=cap).fillna(cap))
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


def open_alert_count(filters: PortfolioFilters = PortfolioFilters()) -> int | None:
    """Open cadence alerts on the filtered accounts (one COUNT), or None where alerts are not tracked."""
    from accounts import models as account_models

    alert_model = getattr(account_models, "CadenceAlert", None)
    alerts = alert_model.objects.all() if alert_model is not None else None
    if alerts is None or not hasattr(alerts, "open"):
        return None
    alerts = alerts.open()
    if filters.any:
        alerts = alerts.filter(filters.q("account__"))
    return alerts.count()


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


def account_names(ids: Iterable[Any]) -> dict[int, str]:
    """Names of the accounts a page lists (a bounded set of ids), in one query."""
    wanted = sorted(int(i) for i in pd.unique(pd.Series(ids, dtype=float).dropna()))
    if not wanted:
        return {}
    return dict(Account.objects.filter(pk__in=wanted).values_list("id", "name"))


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


# --- The dashboard ----------------------------------------------------------------------------------------


@dataclass
class Dashboard:
    filters: PortfolioFilters
    today: datetime.date
    run: ScoringRun | None
    previous: ScoringRun | None
    last_run: ScoringRun | None
    kpis: dict[str, Any] = field(default_factory=dict)
    open_alerts: int | None = None
    profitability: pd.DataFrame | None = None
    concentration: dict[str, Any] = field(default_factory=dict)
    margin_map: dict[str, Any] = field(default_factory=dict)
    distribution: pd.DataFrame | None = None
    migration: pd.DataFrame | None = None
    migration_from: ScoringRun | None = None
    migration_to: ScoringRun | None = None
    compliance: pd.DataFrame | None = None
    compliance_top: pd.DataFrame | None = None
    workload_top: pd.DataFrame | None = None
    capacity: dict[str, pd.DataFrame] = field(default_factory=dict)
    advice: Advice | None = None
    advice_rows: dict[str, list[dict]] = field(default_factory=dict)
    movers: dict[str, list[dict]] = field(default_factory=dict)
    movers_compared: int = 0
    big_thin_rows: list[dict] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)
    snapshot_key: str = ""  # what the page may cache its own derived work under (the charts)


def portfolio_dashboard(
    *,
    filters: PortfolioFilters,
    today: datetime.date,
    migration_runs: tuple[ScoringRun, ScoringRun] | None = None,
    rows: int = TABLE_ROWS,
) -> Dashboard:
    """Everything the portfolio dashboard shows, in a fixed number of queries whatever the portfolio size.

    ``migration_runs`` = (from, to) for the tier-migration matrix; default: previous run -> current run.
    """
    run = selectors.current_run()
    last_run = (
        ScoringRun.objects.select_related("model", "triggered_by").order_by("-created_at", "-id").first()
    )
    dash = Dashboard(filters=filters, today=today, run=run, previous=None, last_run=last_run)
    if run is None:
        return dash
    dash.previous = previous_run(run)
    key = _snapshot_key(dash, migration_runs, rows)
    snapshot = cache.get(key)
    if snapshot is None:
        dash.snapshot_key = key
        _compute(dash, migration_runs=migration_runs, rows=rows)
        cache.set(key, dash, settings.KAM_DASHBOARD_CACHE_SECONDS)
    else:
        dash = snapshot
        dash.last_run = last_run
    dash.open_alerts = open_alert_count(filters)  # live: acknowledging or resolving one shows at once
    return dash


def _snapshot_key(dash: Dashboard, migration_runs, rows: int) -> str:
    """What makes a dashboard snapshot stale: another run, another day, other filters, a change to what the
    dashboard reads of the matching accounts (portfolio_fingerprint).

    Changes that touch no account row (a KAM's name or capacity) show within KAM_DASHBOARD_CACHE_SECONDS.
    """
    parts = [
        dash.run.pk,
        getattr(dash.previous, "pk", None),
        tuple(r.pk for r in migration_runs) if migration_runs else None,
        dash.run.model_id,
        dash.filters,
        dash.today,
        rows,
        portfolio_fingerprint(dash.filters, today=dash.today),
        settings.KAM_KEY_ACCOUNT_MAX_CADENCE_DAYS,
    ]
    return "dashboard:" + hashlib.sha256(repr(parts).encode()).hexdigest()


def _compute(dash: Dashboard, *, migration_runs, rows: int) -> None:
    run, filters, today = dash.run, dash.filters, dash.today
    frame = portfolio_frame(run=run, previous=dash.previous, filters=filters, today=today)
    owners = kams(frame["owner_id"])
    dash.concentration = concentration(frame)
    dash.kpis = kpis(frame, concentration_=dash.concentration)
    dash.profitability = profitability(frame)
    dash.margin_map = margin_map(frame)
    dash.distribution = score_distribution(frame)
    dash.compliance = cadence_compliance(frame, owners=owners)
    dash.capacity = capacity(frame, owners=owners, tier_cadences=selectors.tier_cadence_defaults())
    # Both already sorted worst first; hundreds of bars or rows would help nobody.
    dash.compliance_top = dash.compliance.head(KAM_ROWS)
    dash.workload_top = dash.capacity["kams"].head(KAM_ROWS)
    dash.advice = designation_advice(frame)
    moved = movers(frame, limit=rows)
    dash.movers_compared = moved["compared"]
    if migration_runs and (migration_runs[0].pk, migration_runs[1].pk) != (
        getattr(dash.previous, "pk", None),
        run.pk,
    ):
        dash.migration_from, dash.migration_to = migration_runs
        dash.migration = tier_migration(*migration_runs, filters)
    elif dash.previous is not None:
        dash.migration_from, dash.migration_to = dash.previous, run
        dash.migration = tier_migration_from_frame(frame)

    mm = dash.margin_map
    shown = [
        dash.advice.review.head(rows),
        dash.advice.candidates.head(rows),
        dash.advice.value_at_risk.head(rows),
        moved["rising"],
        moved["falling"],
        mm["big_thin"].head(rows),
        mm["points"],
    ]
    dash.names = account_names(pd.concat([part["account_id"] for part in shown]))
    dash.advice_rows = {
        "review": records(dash.advice.review, dash.names, limit=rows),
        "candidates": records(dash.advice.candidates, dash.names, limit=rows),
        "value_at_risk": records(dash.advice.value_at_risk, dash.names, limit=rows),
    }
    dash.movers = {k: records(moved[k], dash.names) for k in ("rising", "falling")}
    dash.big_thin_rows = records(mm["big_thin"], dash.names, limit=rows)


# --- Capacity page ----------------------------------------------------------------------------------------


def capacity_report(*, filters: PortfolioFilters, today: datetime.date) -> dict[str, Any]:
    """Per KAM: capacity against need, overload, and their key accounts in cut-line order (with names)."""
    run = selectors.current_run()
    frame = portfolio_frame(run=run, filters=filters, today=today)
    owners = kams(frame["owner_id"])
    result = capacity(frame, owners=owners, tier_cadences=selectors.tier_cadence_defaults())
    names = account_names(result["accounts"]["account_id"])
    accounts = records(result["accounts"], names)
    by_owner: dict[int, list[dict]] = {}
    for row in accounts:
        by_owner.setdefault(int(row["owner"]), []).append(row)
    kam_rows = result["kams"].to_dict("records")
    for row in kam_rows:
        row["owner_id"] = int(row["owner_id"])
        row["accounts"] = by_owner.get(row["owner_id"], [])
        row["utilisation"] = None if pd.isna(row["utilisation"]) else row["utilisation"]
        # A load bar: green up to 80 % of capacity, amber up to 100 %, red beyond (HTML <meter> regions).
        capacity_ = float(row["capacity"])
        row["meter"] = {
            "max": max(capacity_, row["visits_needed"], 1.0),
            "low": 0.8 * capacity_,
            "high": capacity_,
        }
    return {"run": run, "kams": kam_rows, "frame_accounts": len(frame)}


# --- What-if ----------------------------------------------------------------------------------------------


@dataclass
class WhatIf:
    run: ScoringRun | None
    accounts: int = 0
    changed: int = 0
    up: int = 0
    down: int = 0
    tier_counts: list[dict] = field(default_factory=list)  # tier, now, would_be
    changes: list[dict] = field(
        default_factory=list
    )  # the first `limit` changed accounts, biggest moves first
    movers: list[dict] = field(default_factory=list)  # largest rank changes, whatever the tier
    weights: dict[str, float] = field(default_factory=dict)  # normalised


WHATIF_COLUMNS = ["account_id", "tier", "score", "rank", "cm", "cm_pct", "clv", "growth", "image", "partnership",
                  "strategic"]  # fmt: skip


def whatif_preview(
    *,
    weights: Mapping[str, float],
    tier_rule: engine.TierRule,
    run: ScoringRun | None = None,
    limit: int = 12,
) -> WhatIf:
    """Rescore the current run's stored raw criteria with unsaved weights and tier rules (no order re-read).

    The stored raw values (cm, cm_pct, clv, growth, ratings) form the engine's criteria frame;
    engine.score_accounts gives the would-be score, rank and tier; engine.tier_changes lists the accounts
    whose tier would change. One query for the results, one for the names shown.
    """
    run = run if run is not None else selectors.current_run()
    normalised = engine.normalise_weights(weights)
    if run is None:
        return WhatIf(run=None, weights=normalised)
    rows = (
        ScoreResult.objects.filter(run=run)
        .order_by()
        .annotate(f_cm=_as_float("cm"), f_clv=_as_float("clv"))
        .values_list(
            "account_id", "tier", "score", "rank", "f_cm", "cm_pct", "f_clv", "growth", "image", "partnership",
            "strategic",
        )
    )  # fmt: skip
    stored = _read(rows, WHATIF_COLUMNS).set_index("account_id")
    if stored.empty:
        return WhatIf(run=run, weights=normalised)
    # Stored column c holds the raw value the engine reads from column RAW_COLUMNS[c] ("cm" -> "cm_12m").
    criteria = pd.DataFrame(
        {
            raw: pd.to_numeric(stored[c], errors="coerce").astype(float)
            for c, raw in engine.RAW_COLUMNS.items()
        }
    )
    criteria.index.name = "account_id"
    scored = engine.score_accounts(criteria, normalised, tier_rule)
    old_tier = stored["tier"].astype(object)
    changes = engine.tier_changes(old_tier, scored["tier"].astype(object))
    both = pd.DataFrame(
        {
            "tier": old_tier,
            "score": pd.to_numeric(stored["score"]).astype(float),
            "rank": pd.to_numeric(stored["rank"]).astype(float),
        }
    ).join(scored[["score", "rank", "tier"]].rename(columns=lambda c: f"new_{c}"))
    both["rank_delta"] = both["rank"] - both["new_rank"]
    both["score_delta"] = both["new_score"] - both["score"]
    both.index.name = "account_id"
    both = both.reset_index()
    changed = both[both["tier"] != both["new_tier"]].copy()
    changed["abs_move"] = changed["rank_delta"].abs()
    changed = changed.sort_values(["abs_move", "account_id"], ascending=[False, True]).head(limit)
    moving = both.assign(abs_move=both["rank_delta"].abs())
    moving = moving[moving["abs_move"] > 0].sort_values(["abs_move", "account_id"], ascending=[False, True])
    moving = moving.head(limit)
    names = account_names(pd.concat([changed["account_id"], moving["account_id"]]))
    counts_now = old_tier.value_counts()
    counts_new = scored["tier"].value_counts()
    return WhatIf(
        run=run,
        accounts=len(stored),
        changed=len(changes),
        up=int((changes["change"] == "up").sum()),
        down=int((changes["change"] == "down").sum()),
        tier_counts=[
            {"tier": t, "now": int(counts_now.get(t, 0)), "would_be": int(counts_new.get(t, 0))}
            for t in engine.TIERS
        ],
        changes=records(changed.drop(columns="abs_move"), names),
        movers=records(moving.drop(columns="abs_move"), names),
        weights=normalised,
    )
