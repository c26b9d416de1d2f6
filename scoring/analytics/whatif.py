"""The scoring-model editor's what-if preview: the current run rescored with unsaved weights and tier rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from scoring import engine, selectors
from scoring.analytics.loading import account_names, as_float, read_rows
from scoring.analytics.metrics import records
from scoring.models import ScoreResult, ScoringRun

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
        .annotate(f_cm=as_float("cm"), f_clv=as_float("clv"))
        .values_list(
            "account_id", "tier", "score", "rank", "f_cm", "cm_pct", "f_clv", "growth", "image", "partnership",
            "strategic",
        )
    )  # fmt: skip
    stored = read_rows(rows, WHATIF_COLUMNS).set_index("account_id")
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
