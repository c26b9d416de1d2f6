"""Reads for scoring: the active model, and the bulk inputs of a portfolio recompute aggregated in SQL."""

import datetime
import io

import numpy as np
import pandas as pd
from django.db import connection, transaction

from accounts.models import Account, AccountStatus
from scoring.models import ScoringModel, ScoringRun

# Used until a manager saves a scoring model: monthly for key (A) accounts, quarterly and half-yearly below,
# and no cadence for D (DOMAIN.md section 3).
DEFAULT_TIER_CADENCE = {"A": 30, "B": 90, "C": 180, "D": None}


def active_model() -> ScoringModel | None:
    return ScoringModel.objects.active().first()


def tier_cadence_defaults() -> dict[str, int | None]:
    model = active_model()
    return model.tier_cadences if model else dict(DEFAULT_TIER_CADENCE)


def current_run() -> ScoringRun | None:
    return ScoringRun.objects.select_related("model").current()


def read_frame(sql: str, params: list, columns: list[str], *, work_mem: str | None = None) -> pd.DataFrame:
    """Run a query and return a DataFrame; on PostgreSQL through COPY, several times faster than fetchall.

    `work_mem` (e.g. "256MB") raises PostgreSQL's sort and hash memory for this one statement, for the
    whole-portfolio scans of a scoring run; page queries leave it alone and stay a single round trip.
    """
    if work_mem and connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT set_config('work_mem', %s, true)", [work_mem])
            return read_frame(sql, params, columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            buffer = io.StringIO()
            query = cursor.mogrify(sql, params).decode()
            cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)", buffer)
            buffer.seek(0)
            if buffer.getvalue() == "":
                return pd.DataFrame({c: [] for c in columns})
            return pd.read_csv(buffer, header=None, names=columns)
        cursor.execute(sql, params)
        return pd.DataFrame.from_records(cursor.fetchall(), columns=columns)


ORDER_TOTALS_COLUMNS = [
    "account_id",
    "first_date",
    "last_date",
    "n_occasions",
    "total_margin",
    "first_margin",
    "revenue_12m",
    "variable_cost_12m",
    "revenue_prev_12m",
    "order_count_12m",
    "last_order_date",
    "orders",
]


def order_totals(as_of: datetime.date) -> pd.DataFrame:
    """Per account, in one pass over the orders: the 12-month windows and the purchase-occasion summary.

    Orders of one account on one calendar day are one purchase occasion (DOMAIN.md section 8), so the
    inner query groups by day first; the window function finds each account's first occasion, whose margin
    the Gamma-Gamma model leaves out. Money is summed as floating point: numeric aggregation is several
    times slower in PostgreSQL, and the engine works in floats anyway (the stored results are rounded).
    """
    start_12 = as_of - datetime.timedelta(days=365)
    start_24 = as_of - datetime.timedelta(days=730)
    sql = """
        SELECT account_id, MIN(day), MAX(day), COUNT(*), SUM(rev - cost),
               SUM(CASE WHEN day = first_day THEN rev - cost ELSE 0 END),
               SUM(CASE WHEN day > %s THEN rev ELSE 0 END),
               SUM(CASE WHEN day > %s THEN cost ELSE 0 END),
               SUM(CASE WHEN day > %s AND day <= %s THEN rev ELSE 0 END),
               SUM(CASE WHEN day > %s THEN n ELSE 0 END),
               MAX(day), SUM(n)
        FROM (
            SELECT account_id, day, rev, cost, n, MIN(day) OVER (PARTITION BY account_id) AS first_day
            FROM (
                SELECT account_id, date AS day, SUM(CAST(revenue AS FLOAT)) AS rev,
                       SUM(CAST(variable_cost AS FLOAT)) AS cost, COUNT(*) AS n
                FROM accounts_order WHERE date <= %s
                GROUP BY account_id, date
            ) daily
        ) occasions
        GROUP BY account_id
    """
    params = [start_12, start_12, start_24, start_12, start_12, as_of]
    frame = read_frame(sql, params, ORDER_TOTALS_COLUMNS, work_mem="256MB")
    for column in ("first_date", "last_date", "last_order_date"):
        frame[column] = pd.to_datetime(frame[column]).to_numpy().astype("datetime64[D]")
    for column in ORDER_TOTALS_COLUMNS[3:]:
        if column != "last_order_date":
            frame[column] = pd.to_numeric(frame[column]).astype(float)
    return frame.set_index("account_id")


def purchase_summary(totals: pd.DataFrame, as_of: datetime.date) -> pd.DataFrame:
    """x, t_x, T (weeks) and the mean repeat-occasion margin per account, from order_totals()."""
    as_of_day = np.datetime64(as_of, "D")
    n = totals["n_occasions"].to_numpy()
    x = n - 1
    first = totals["first_date"].to_numpy().astype("datetime64[D]")
    last = totals["last_date"].to_numpy().astype("datetime64[D]")
    total = totals["total_margin"].to_numpy()
    first_margin = totals["first_margin"].to_numpy()
    return pd.DataFrame(
        {
            "x": x.astype(int),
            "t_x": (last - first).astype(np.int64) / 7.0,
            "T": (as_of_day - first).astype(np.int64) / 7.0,
            "monetary": np.where(x > 0, (total - first_margin) / np.maximum(x, 1), 0.0),
            "first_margin": first_margin,
            "mean_margin": total / n,
            "total_margin": total,
            "n_occasions": n.astype(int),
        },
        index=totals.index,
    )


def scored_accounts() -> pd.DataFrame:
    """The accounts a run scores (every account not marked lost) with the manager ratings."""
    rows = (
        Account.objects.exclude(status=AccountStatus.LOST)
        .order_by()
        .values_list("id", "image_rating", "partnership_rating", "strategic_rating")
    )
    frame = pd.DataFrame.from_records(
        list(rows.iterator(chunk_size=20_000)),
        columns=["account_id", "image_rating", "partnership_rating", "strategic_rating"],
    )
    for column in ("image_rating", "partnership_rating", "strategic_rating"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame
