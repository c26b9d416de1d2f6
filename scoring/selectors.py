"""Reads for scoring: the active model, and the bulk inputs of a portfolio recompute, streamed with COPY."""

import contextlib
import datetime
import io
import queue
import threading

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.db.models import Subquery

from accounts.cadence import DEFAULT_TIER_CADENCE
from accounts.models import Account, AccountStatus, Order
from scoring import criteria
from scoring.models import RunStatus, ScoreResult, ScoringModel, ScoringRun


def active_model() -> ScoringModel | None:
    return ScoringModel.objects.active().first()


def tier_cadence_defaults() -> dict[str, int | None]:
    """Each tier's default visit cadence: the active model's, or the rule's defaults before there is one."""
    model = active_model()
    return model.tier_cadences if model else dict(DEFAULT_TIER_CADENCE)


def current_run() -> ScoringRun | None:
    return ScoringRun.objects.select_related("model").current()


def read_frame(sql: str, params: list, columns: list[str]) -> pd.DataFrame:
    """Run a query and return a DataFrame; on PostgreSQL through COPY, several times faster than fetchall."""
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


# Heap blocks read per COPY: about 1.5 million orders, so twenty million never sit in memory as text at once.
ORDER_CHUNK_BLOCKS = 16_384


def order_totals(as_of: datetime.date) -> pd.DataFrame:
    """Per account: the 12-month windows and the purchase-occasion summary (criteria.order_totals).

    The database only streams the raw orders (account, day number, revenue, cost); the aggregation runs in
    numpy. That is three times faster than grouping in SQL (the by-day grouping and the window for the first
    occasion need a hash and a sort of every order), and it is one code path for PostgreSQL and SQLite.
    """
    if connection.vendor == "postgresql":
        ids, days, revenue, cost = _order_arrays_postgresql(as_of)
    else:
        ids, days, revenue, cost = _order_arrays_generic(as_of)
    return criteria.order_totals(ids, days, revenue, cost, as_of)


def _order_arrays_postgresql(as_of: datetime.date):
    """Stream the orders up to `as_of` with COPY, in ranges of heap blocks (TID range scans, PostgreSQL 14+).

    The ranges are read in one REPEATABLE READ transaction when we own it, so an order updated during the
    read (its new version in another block range) is seen once. Inside a caller's READ COMMITTED
    transaction every statement would see a new snapshot, so there the orders come in one COPY.
    """
    table = Order._meta.db_table
    columns = ["account_id", "day", "revenue", "cost"]
    dtypes = {"account_id": np.int64, "day": np.int32, "revenue": np.float64, "cost": np.float64}
    parts = []
    owned = not connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cursor:
        if owned:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cursor.execute(
            "SELECT pg_relation_size(%s) / current_setting('block_size')::int, "
            "current_setting('transaction_isolation')",
            [table],
        )
        blocks, isolation = cursor.fetchone()
        one_snapshot = isolation in ("repeatable read", "serializable")
        if one_snapshot and connection.pg_version >= 140000:
            starts = list(range(0, max(int(blocks), 1), ORDER_CHUNK_BLOCKS))
        else:
            starts = [0]
        queries = []
        for i, start in enumerate(starts):
            ranges = []
            if len(starts) > 1:
                ranges.append(f"ctid >= '({start},0)'::tid")
                if i + 1 < len(starts):
                    ranges.append(f"ctid < '({starts[i + 1]},0)'::tid")
            where = " AND ".join(["date <= %s", *ranges])
            # The table name is our model's; the TID bounds are integers we computed.
            sql = f"SELECT account_id, date - DATE '1970-01-01', revenue, variable_cost FROM {table} WHERE {where}"  # noqa: S608
            queries.append(f"COPY ({cursor.mogrify(sql, [as_of]).decode()}) TO STDOUT WITH (FORMAT csv)")
        # closing(): the copying thread is stopped before the transaction ends, even if a parse fails.
        with contextlib.closing(_copied(connection.connection, queries)) as copies:
            for buffer in copies:
                if buffer.tell():
                    buffer.seek(0)
                    parts.append(pd.read_csv(buffer, header=None, names=columns, dtype=dtypes, engine="c"))
                del buffer
    return _concat_columns(parts, columns, dtypes)


def _copied(raw_connection, queries: list[str]):
    """Yield each COPY's output (a BytesIO), the next one copying while the caller parses this one.

    PostgreSQL formats a chunk of orders in its own process while we parse the previous one in ours: on two
    cores the two overlap instead of taking turns. A thread runs the COPYs one after the other on the same
    connection (so in the same transaction and snapshot), at most one chunk ahead; the caller must not use
    the connection until the generator is exhausted or closed. An error in the thread is raised here.
    """
    handoff: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce():
        try:
            with raw_connection.cursor() as cursor:
                for query in queries:
                    if stop.is_set():
                        return
                    buffer = io.BytesIO()
                    cursor.copy_expert(query, buffer)
                    handoff.put(buffer)
            handoff.put(None)
        except BaseException as exc:  # handed to the consumer, which raises it
            handoff.put(exc)

    producer = threading.Thread(target=produce, name="order-copy", daemon=True)
    producer.start()
    try:
        while (item := handoff.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while producer.is_alive():  # let a producer blocked on a full hand-off finish its COPY and see `stop`
            with contextlib.suppress(queue.Empty):
                handoff.get(timeout=0.05)
        producer.join()


def _order_arrays_generic(as_of: datetime.date):
    columns = ["account_id", "day", "revenue", "cost"]
    dtypes = {"account_id": np.int64, "day": np.int32, "revenue": np.float64, "cost": np.float64}
    parts = []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT account_id, date, revenue, variable_cost FROM {Order._meta.db_table} WHERE date <= %s",  # noqa: S608
            [as_of],
        )
        while rows := cursor.fetchmany(100_000):
            part = pd.DataFrame.from_records(rows, columns=columns)
            part["day"] = pd.to_datetime(part["day"]).to_numpy().astype("datetime64[D]").view(np.int64)
            for column in ("revenue", "cost"):
                part[column] = pd.to_numeric(part[column], errors="coerce")
            parts.append(part.astype(dtypes))
    return _concat_columns(parts, columns, dtypes)


def _concat_columns(parts: list[pd.DataFrame], columns: list[str], dtypes: dict):
    """One array per column, built a column at a time so the peak is one column's copy, not the frame's."""
    arrays = []
    for column in columns:
        if parts:
            arrays.append(np.concatenate([part[column].to_numpy() for part in parts]))
        else:
            arrays.append(np.empty(0, dtype=dtypes[column]))
        for part in parts:
            del part[column]
    return arrays


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
    columns = ["account_id", "image_rating", "partnership_rating", "strategic_rating"]
    frame = read_frame(
        f"SELECT id, image_rating, partnership_rating, strategic_rating FROM {Account._meta.db_table} "  # noqa: S608
        "WHERE status <> %s",
        [AccountStatus.LOST],
        columns,
    )
    frame["account_id"] = frame["account_id"].astype(np.int64)
    for column in columns[1:]:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame


# --- The account page ------------------------------------------------------------------------------------


def score_history(account: Account, *, limit: int = 24) -> list[dict]:
    """The account's score, rank and tier in its last `limit` successful runs, oldest first (one query)."""
    rows = (
        ScoreResult.objects.filter(account=account, run__status=RunStatus.SUCCEEDED)
        .order_by("-run__as_of", "-run__finished_at", "-run_id")
        .values("run_id", "run__as_of", "score", "rank", "tier")[:limit]
    )
    return [
        {
            "run_id": r["run_id"],
            "as_of": r["run__as_of"],
            "score": r["score"],
            "rank": r["rank"],
            "tier": r["tier"],
        }
        for r in reversed(rows)
    ]


# How each criterion's raw value reads: money, a 0..1 share as a percent, a signed growth, or a rating.
CRITERION_FORMATS = {
    "cm": "money",
    "clv": "money",
    "cm_pct": "percent",
    "growth": "growth",
    "image": "rating",
    "partnership": "rating",
    "strategic": "rating",
}


def score_explanation(account: Account) -> dict | None:
    """Why the account scored what it did in the current run: each criterion's raw value, percentile-
    normalised value, weight and points (points = 100 x weight x normalised). One query (the result with its
    run and model, the current run found in a subquery), two when the current run did not score the account.

    None if there is no successful run yet; `result` is None if the current run did not score the account.
    """
    current = ScoringRun.objects.current_candidates().values("pk")[:1]
    result = (
        ScoreResult.objects.select_related("run__model")
        .filter(account=account, run=Subquery(current))
        .first()
    )
    run = result.run if result is not None else current_run()
    if run is None:
        return None
    rows = []
    if result is not None:
        rows = [
            row | {"format": CRITERION_FORMATS[row["key"]]}
            for row in result.explanation(run.model.normalised_weights)
        ]
    return {"run": run, "result": result, "rows": rows, "missing": [r for r in rows if r["missing"]]}
