"""Loading the portfolio for the analytics: the filters, the ONE query that reads the portfolio frame, and the
handful of small, fixed lookups (owners, names of the accounts a table shows, open alerts).

The portfolio frame is one row per account: its designation, owner, cadence state, and its result in the
current and the previous run, joined in SQL. The metrics (scoring.analytics.metrics) are pure functions of
it, so the number of queries never grows with the number of accounts (DOMAIN.md sections 2 and 3).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
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

from accounts import cadence
from accounts import models as account_models
from accounts.models import Account, AccountStatus, User
from accounts.selectors import accounts_version
from kam.web import int_or_none
from scoring import engine, selectors
from scoring.analytics.metrics import FRAME_COLUMNS, LAPSED, NO_CADENCE, ON_TRACK, Kam
from scoring.models import ScoreResult, ScoringRun


@dataclass(frozen=True)
class PortfolioFilters:
    """The dashboard's filters: one owner (KAM), one region, one industry; empty = all."""

    owner: int | None = None
    region: str = ""
    industry: str = ""

    @classmethod
    def from_query(cls, get) -> PortfolioFilters:
        """The filters a dashboard, capacity or export URL's query string asks for."""
        return cls(
            owner=int_or_none(get.get("owner")),
            region=get.get("region", "").strip()[:100],
            industry=get.get("industry", "").strip()[:100],
        )

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


# --- Loading -----------------------------------------------------------------------------------------------


def read_rows(rows, columns: list[str]) -> pd.DataFrame:
    """A values_list queryset as a DataFrame in one query (through COPY on PostgreSQL, several times faster)."""
    if connection.vendor == "postgresql":
        sql, params = rows.query.sql_with_params()
        return selectors.read_frame(sql, list(params), columns)
    return pd.DataFrame.from_records(list(rows), columns=columns)


def _flag(condition: Q) -> Case:
    return Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField())


def as_float(expression: str) -> Cast:
    return Cast(expression, FloatField())


def _cadence_state(today: datetime.date) -> Case:
    """The cadence rule's answer (accounts.cadence) in the frame's encoding: NO_CADENCE, LAPSED or ON_TRACK."""
    return Case(
        When(~cadence.has_cadence_q(), then=Value(NO_CADENCE)),
        When(cadence.lapsed_q(today), then=Value(LAPSED)),
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
                "cur_revenue": as_float("cur__revenue"),
                "cur_cm": as_float("cur__cm"),
                "cur_cm_pct": F("cur__cm_pct"),
            }
            names += ["cur_revenue", "cur_cm", "cur_cm_pct"]
    frame = read_rows(qs.annotate(**annotations).values_list(*names), names)
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


# --- Small lookups: owners, open alerts, names of the rows a page shows -------------------------------------


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


def open_alert_count(filters: PortfolioFilters = PortfolioFilters()) -> int | None:
    """Open cadence alerts on the filtered accounts (one COUNT), or None where alerts are not tracked."""
    alert_model = getattr(account_models, "CadenceAlert", None)
    alerts = alert_model.objects.all() if alert_model is not None else None
    if alerts is None or not hasattr(alerts, "open"):
        return None
    alerts = alerts.open()
    if filters.any:
        alerts = alerts.filter(filters.q("account__"))
    return alerts.count()


def account_names(ids: Iterable[Any]) -> dict[int, str]:
    """Names of the accounts a page lists (a bounded set of ids), in one query."""
    wanted = sorted(int(i) for i in pd.unique(pd.Series(ids, dtype=float).dropna()))
    if not wanted:
        return {}
    return dict(Account.objects.filter(pk__in=wanted).values_list("id", "name"))
