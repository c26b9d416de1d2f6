"""The portfolio dashboard and the capacity page: the metrics over one loaded frame, assembled and cached.

A dashboard is computed once per snapshot (run, filters, day, and a fingerprint of what it reads of the
accounts, _snapshot_key) and cached; only the open-alert count is read live on every request.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from django.conf import settings
from django.core.cache import cache

from accounts import cadence
from scoring import selectors
from scoring.analytics.loading import (
    PortfolioFilters,
    account_names,
    kams,
    open_alert_count,
    portfolio_fingerprint,
    portfolio_frame,
    tier_migration,
)
from scoring.analytics.metrics import (
    TABLE_ROWS,
    Advice,
    cadence_compliance,
    capacity,
    concentration,
    designation_advice,
    kpis,
    margin_map,
    movers,
    profitability,
    records,
    score_distribution,
    tier_migration_from_frame,
)
from scoring.models import ScoringRun

# KAMs shown in the dashboard's per-KAM charts and tables (the worst first); the capacity page lists them all.
KAM_ROWS = 15

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
    dash.previous = ScoringRun.objects.select_related("model").previous_to(run)
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
        cadence.key_account_cap(),
    ]
    # v2: the snapshot's classes moved into scoring.analytics.dashboard / .metrics / .loading; a snapshot
    # pickled under the old paths (scoring.analytics.Dashboard) must be a miss, not an unpickling error.
    return "dashboard:v2:" + hashlib.sha256(repr(parts).encode()).hexdigest()


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
    dash.capacity = _capacity(frame, owners)
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


def _capacity(frame: pd.DataFrame, owners) -> dict[str, pd.DataFrame]:
    """metrics.capacity with each account's target under the cadence rule (its pandas form)."""
    return capacity(frame, owners=owners, targets=cadence_targets(frame))


def cadence_targets(frame: pd.DataFrame) -> pd.Series:
    return cadence.target_days_series(
        override=frame["cadence_days"],
        is_key=frame["is_key"],
        lost=frame["active"] == 0,
        tier=frame["tier"],
        defaults=cadence.tier_defaults(),
        cap=cadence.key_account_cap(),
    )


# --- Capacity page ----------------------------------------------------------------------------------------


def capacity_report(*, filters: PortfolioFilters, today: datetime.date) -> dict[str, Any]:
    """Per KAM: capacity against need, overload, and their key accounts in cut-line order (with names)."""
    run = selectors.current_run()
    frame = portfolio_frame(run=run, filters=filters, today=today)
    owners = kams(frame["owner_id"])
    result = _capacity(frame, owners)
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
