"""Key-account scoring engine: weighted selection criteria -> score, rank and tier (DOMAIN.md sections 2, 3).

Pure module: pandas DataFrames and plain values in, DataFrames out. No Django, no database, no settings, so
the same code serves the nightly batch, the what-if preview and the API, and can be tested without a database.
Everything is vectorised (numpy / pandas); there is no per-account Python loop.

Pipeline
    compute_criteria(orders, accounts, as_of, clv)  raw criteria per account (scoring.criteria, with the
                                                     windows and the formulas)
    normalise(criteria)                              percentile norm in [0, 1] per criterion
    score_accounts(criteria, weights, tier_rule)     score, rank, tier, per-criterion points
    run_engine(...)                                  the two steps above, joined

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

from scoring.criteria import compute_criteria, floats, require_columns

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

NEUTRAL_NORM = 0.5
TIERS: tuple[str, ...] = ("A", "B", "C", "D")

# Scores are rounded this far before ranking and tiering so that float summation noise (1e-14) never decides
# a tie-break or pushes a 70.0 score under a 70 cutoff.
_SCORE_DECIMALS = 9


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
    require_columns(criteria, RAW_COLUMNS.values(), "criteria")
    out = {}
    for key in CRITERIA:
        ranks = _average_rank(floats(criteria[RAW_COLUMNS[key]]))
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
            f"{key}_raw": floats(criteria[RAW_COLUMNS[key]]),
            f"{key}_norm": norm,
            f"{key}_weight": w[key],
            f"{key}_points": points,
            f"{key}_missing": missing,
        }

    rounded = np.round(score, _SCORE_DECIMALS)
    cm = np.nan_to_num(floats(criteria["cm_12m"]), nan=-np.inf)
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
