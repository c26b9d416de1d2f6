"""criteria.order_totals by hand, and the database read behind it on both back ends."""

import datetime

import numpy as np
import pandas as pd
import pytest

from scoring import criteria, selectors
from tests.factories import AccountFactory, OrderFactory

AS_OF = datetime.date(2026, 6, 30)


def _day(text: str) -> int:
    return int(np.datetime64(text, "D").astype(np.int64))


def test_order_totals_by_hand():
    # Account 7: two orders on its first day (one occasion), one a year and a half ago, one last month, one
    # after as_of (ignored). Account 3: a single order in the previous 12-month window.
    rows = [
        (7, "2024-11-02", 100.0, 60.0),
        (7, "2024-11-02", 50.0, 20.0),
        (7, "2025-12-31", 200.0, 150.0),
        (7, "2026-06-01", 80.0, 40.0),
        (7, "2026-07-01", 999.0, 0.0),
        (3, "2025-03-01", 400.0, 100.0),
    ]
    ids, days, revenue, cost = zip(*[(a, _day(d), r, c) for a, d, r, c in rows], strict=True)
    totals = criteria.order_totals(np.array(ids), np.array(days), np.array(revenue), np.array(cost), AS_OF)

    assert list(totals.index) == [3, 7]
    seven = totals.loc[7]
    assert seven["first_date"] == pd.Timestamp("2024-11-02")
    assert seven["last_date"] == seven["last_order_date"] == pd.Timestamp("2026-06-01")
    assert seven["n_occasions"] == 3  # the two orders of 2024-11-02 are one purchase occasion
    assert seven["orders"] == 4
    assert seven["total_margin"] == pytest.approx(40 + 30 + 50 + 40)
    assert seven["first_margin"] == pytest.approx(70)  # both orders of the first day
    # Trailing 12 months = (2025-06-30, 2026-06-30]; previous = (2024-06-30, 2025-06-30].
    assert seven["revenue_12m"] == pytest.approx(280)
    assert seven["variable_cost_12m"] == pytest.approx(190)
    assert seven["order_count_12m"] == 2
    assert seven["revenue_prev_12m"] == pytest.approx(150)
    three = totals.loc[3]
    assert (three["n_occasions"], three["orders"], three["revenue_12m"], three["revenue_prev_12m"]) == (
        1,
        1,
        0,
        400,
    )


def test_order_totals_of_no_orders_is_an_empty_frame_with_the_columns():
    empty = np.array([], dtype=np.int64)
    totals = criteria.order_totals(empty, empty, empty.astype(float), empty.astype(float), AS_OF)
    assert totals.empty
    assert list(totals.columns) == list(criteria.ORDER_TOTALS_COLUMNS)
    summary = selectors.purchase_summary(totals, AS_OF)
    assert summary.empty


def test_missing_amounts_count_as_zero():
    totals = criteria.order_totals(
        np.array([1, 1]),
        np.array([_day("2026-01-01")] * 2),
        np.array([10.0, np.nan]),
        np.array([np.nan, 2.0]),
        AS_OF,
    )
    assert totals.loc[1, "revenue_12m"] == 10
    assert totals.loc[1, "total_margin"] == 8


def _random_orders():
    rng = np.random.default_rng(3)
    accounts = [AccountFactory() for _ in range(6)]
    expected_rows = []
    for _ in range(300):
        account = accounts[int(rng.integers(0, 6))]
        date = AS_OF - datetime.timedelta(days=int(rng.integers(-20, 900)))
        revenue, cost = round(float(rng.uniform(10, 5000)), 2), round(float(rng.uniform(0, 10)), 2)
        OrderFactory(account=account, date=date, revenue=revenue, variable_cost=cost)
        expected_rows.append((account.pk, np.datetime64(date, "D").astype(np.int64), revenue, cost))
    ids, days, revenue, cost = (np.array(column) for column in zip(*expected_rows, strict=True))
    return criteria.order_totals(ids, days, revenue, cost, AS_OF)


@pytest.mark.django_db
def test_the_database_read_matches_the_pure_aggregation(monkeypatch):
    """Inside a caller's transaction (READ COMMITTED) the orders come in one COPY, whatever the chunk size."""
    expected = _random_orders()
    monkeypatch.setattr(selectors, "ORDER_CHUNK_BLOCKS", 1)
    actual = selectors.order_totals(AS_OF)
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False, check_index_type=False)


@pytest.mark.django_db(transaction=True)
def test_a_read_of_its_own_reads_every_order_once_in_heap_block_chunks(postgres, monkeypatch):
    """Outside any transaction the read opens a REPEATABLE READ one and COPYs one heap block at a time."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    expected = _random_orders()
    monkeypatch.setattr(selectors, "ORDER_CHUNK_BLOCKS", 1)
    chunks = []
    read_csv = pd.read_csv

    def counted(*args, **kwargs):
        chunks.append(1)
        return read_csv(*args, **kwargs)

    monkeypatch.setattr(selectors.pd, "read_csv", counted)
    with CaptureQueriesContext(connection) as queries:
        actual = selectors.order_totals(AS_OF)
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False, check_index_type=False)
    statements = [q["sql"] for q in queries.captured_queries if q["sql"] != "BEGIN"]
    assert statements[0] == "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"
    assert len(chunks) > 1  # several heap-block ranges, each read once


@pytest.mark.django_db(transaction=True)
def test_the_copies_run_one_ahead_in_a_thread_that_hands_errors_over_and_stops(postgres):
    """selectors._copied: every COPY's output in order; an error in the copying thread is raised to the reader,
    and a reader that stops early leaves no thread behind."""
    import threading

    import psycopg2
    from django.db import connection

    connection.ensure_connection()
    raw = connection.connection
    queries = [f"COPY (SELECT {i}) TO STDOUT" for i in range(5)]
    assert [buffer.getvalue() for buffer in selectors._copied(raw, queries)] == [
        f"{i}\n".encode() for i in range(5)
    ]

    failing = [*queries[:2], "COPY (SELECT 1 / 0) TO STDOUT", *queries[2:]]
    read = []
    with pytest.raises(psycopg2.errors.DivisionByZero):
        read.extend(buffer.getvalue() for buffer in selectors._copied(raw, failing))
    assert read == [b"0\n", b"1\n"]
    raw.rollback()

    copies = selectors._copied(raw, queries)
    assert next(copies).getvalue() == b"0\n"
    copies.close()  # the reader gives up after the first chunk
    assert not [t for t in threading.enumerate() if t.name == "order-copy"]
    assert [buffer.getvalue() for buffer in selectors._copied(raw, queries[:1])] == [b"0\n"]  # usable again
