"""A temporary staging table for a bulk write: COPY on PostgreSQL, executemany elsewhere (SQLite, for the demo).

The table belongs to the writer's connection and its rows to the writer's transaction; set-based SQL then
finds duplicates, counts what would change and upserts in one statement. Used by the order upsert
(`accounts/orders.py`, behind the order import and the API's bulk endpoint) and the benchmarks' data
builders (`load_frame`).
"""

import io

import pandas as pd
from django.db import connection


class Staging:
    """A temporary table used between open() and close(), inside the caller's transaction (atomic block)."""

    def __init__(self, name: str, columns: dict[str, str]):
        self.name = name
        self.columns = columns  # column -> SQL type

    def open(self) -> None:
        """The table, empty."""
        definition = ", ".join(f"{column} {sql_type}" for column, sql_type in self.columns.items())
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # Kept for the connection's next bulk write and emptied at each commit: creating and dropping
                # a temporary table writes the system catalogues each time (about a millisecond per small API
                # batch, and catalogue bloat under steady API traffic). The DELETE empties it for a second use
                # in the same transaction and finds nothing otherwise.
                create = (
                    f"CREATE TEMPORARY TABLE IF NOT EXISTS {self.name} ({definition}) ON COMMIT DELETE ROWS"
                )
                cursor.execute(f"{create}; DELETE FROM {self.name}")  # noqa: S608 - names are ours
            else:
                cursor.execute(f"DROP TABLE IF EXISTS {self.name}")
                cursor.execute(f"CREATE TEMPORARY TABLE {self.name} ({definition})")

    def close(self) -> None:
        """Done with the rows (also after an error); on PostgreSQL the commit empties the table."""
        if connection.vendor == "postgresql":
            return
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {self.name}")
        except Exception:  # noqa: S110 - the transaction is already broken: it took the table with it
            pass

    def load(self, frame: pd.DataFrame) -> None:
        load_frame(self.name, frame[list(self.columns)])

    def analyze(self) -> None:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {self.name}")


def load_frame(table: str, frame: pd.DataFrame) -> None:
    """Append `frame`'s rows to `table` (columns by name): COPY on PostgreSQL, executemany elsewhere."""
    if frame.empty:
        return
    columns = ", ".join(frame.columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            text = _copy_text(frame)
            if text is not None:
                cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN", io.StringIO(text))
                return
            buffer = io.StringIO()
            frame.to_csv(buffer, index=False, header=False, na_rep="\\N")
            buffer.seek(0)
            cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv, NULL '\\N')", buffer)
        else:
            placeholders = ", ".join(["%s"] * len(frame.columns))
            rows = frame.astype(object).where(frame.notna(), None).itertuples(index=False, name=None)
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", list(rows))  # noqa: S608


_COPY_SPECIALS = ("\\", "\t", "\n", "\r")


def _copy_text(frame: pd.DataFrame) -> str | None:
    """COPY's text format built column-wise (several times faster than DataFrame.to_csv), or None when a
    value would need escaping (a tab, line break or backslash) or is missing: then CSV does it properly."""
    if frame.isna().to_numpy().any():
        return None
    columns = []
    for name in frame.columns:
        values = frame[name].to_numpy()
        if values.dtype == object:
            joined = "\x00".join(values)  # one scan in C instead of a test per value
            if any(special in joined for special in _COPY_SPECIALS):
                return None
        else:
            values = values.astype(str).astype(object)
        columns.append(values)
    lines = columns[0].astype(object)
    for values in columns[1:]:
        lines = lines + "\t" + values
    return "\n".join(lines) + "\n"


def fetch(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def execute(sql: str, params=()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
