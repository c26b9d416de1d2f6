"""The binary COPY writer round-trips every kind of value through PostgreSQL."""

import numpy as np
import pandas as pd
import pytest
from django.db import connection

from kam import pgcopy

KINDS = {"a": "int8", "f": "float8", "n": "numeric:2", "t": "text", "i": "int4", "z": "numeric:0"}


@pytest.fixture
def table(postgres):
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE copy_check "
            "(a bigint, f float8, n numeric(16, 2), t varchar(40), i integer, z numeric(12, 0))"
        )
    return "copy_check"


def _rows(table):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT a, f, n, t, i, z FROM {table} ORDER BY a")
        return cursor.fetchall()


def test_values_nulls_signs_and_texts_round_trip(table):
    frame = pd.DataFrame(
        {
            "a": [1, 2, 3, 4, 5],
            "f": [1.5, np.nan, -2.25, 0.0, 1e-300],
            "n": [1234567.89, -0.01, np.nan, 0.0, 12345678901234.5],
            "t": ["A", "", None, 'héllo, "world"\t\\n', "cm,clv"],
            "i": [1, 2, 3, 2**31 - 1, 0],
            "z": [0.0, -7.0, 10_000.0, 99_999_999.0, np.nan],
        }
    )
    with connection.cursor() as cursor:
        pgcopy.copy_frame(cursor, table, frame, KINDS)
    rows = _rows(table)
    assert [str(r[2]) if r[2] is not None else None for r in rows] == [
        "1234567.89",
        "-0.01",
        None,
        "0.00",
        "12345678901234.50",
    ]
    assert [r[1] for r in rows] == [1.5, None, -2.25, 0.0, 1e-300]
    assert [r[3] for r in rows] == ["A", "", None, 'héllo, "world"\t\\n', "cm,clv"]
    assert [r[4] for r in rows] == [1, 2, 3, 2**31 - 1, 0]
    assert [None if r[5] is None else int(r[5]) for r in rows] == [0, -7, 10_000, 99_999_999, None]


def test_many_rows_in_several_batches_and_layouts(table):
    rng = np.random.default_rng(7)
    n = 25_000
    frame = pd.DataFrame(
        {
            "a": np.arange(n),
            "f": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
            "n": np.round(rng.uniform(-1e6, 1e6, n), 2),
            "t": rng.choice(["", "cm", "cm,clv", "image,partnership,strategic"], n),
            "i": rng.integers(0, 1000, n),
            "z": np.round(rng.uniform(0, 1e6, n)),
        }
    )
    with connection.cursor() as cursor:
        pgcopy.copy_frame(cursor, table, frame, KINDS)
        # Small batches: every batch brings its own layouts, all in one stream.
        chunks = list(pgcopy.encode(frame.head(10), KINDS, batch_rows=3))
        assert chunks[0] == pgcopy.HEADER
        assert chunks[-1] == pgcopy.TRAILER
        cursor.execute(f"SELECT count(*), count(f), sum(n), sum(length(t)), sum(i), sum(z) FROM {table}")
        count, floats, money, text, ints, whole = cursor.fetchone()
    assert count == n
    assert floats == frame["f"].count()
    assert float(money) == pytest.approx(frame["n"].sum(), abs=0.01)
    assert text == frame["t"].str.len().sum()
    assert ints == frame["i"].sum()
    assert float(whole) == frame["z"].sum()


def test_bad_columns_are_refused_before_anything_is_sent():
    with pytest.raises(ValueError, match="cannot hold NULL"):
        list(pgcopy.encode(pd.DataFrame({"i": [1.0, np.nan]}), {"i": "int4"}))
    with pytest.raises(ValueError, match="infinite"):
        list(pgcopy.encode(pd.DataFrame({"f": [np.inf]}), {"f": "float8"}))
    with pytest.raises(ValueError, match="below 1e16"):
        list(pgcopy.encode(pd.DataFrame({"n": [1.0, -1e16]}), {"n": "numeric:2"}))
    with pytest.raises(ValueError, match="unknown column kind"):
        list(pgcopy.encode(pd.DataFrame({"x": [1]}), {"x": "uuid"}))


def test_the_reader_hands_out_exact_sizes():
    reader = pgcopy.StreamReader([b"abc", b"", b"defgh"])
    assert reader.read(2) == b"ab"
    assert reader.read(4) == b"cdef"
    assert reader.read() == b"gh"
    assert reader.read(5) == b""
