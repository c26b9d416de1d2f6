"""Orders in bulk: the one upsert behind the order import (`dataio`) and the API's bulk endpoint.

    orders_upsert(user=..., key=..., rows=[...])   a list of rows, all or nothing (the API's bulk endpoint)

    with OrderUpsert(user=user) as upsert:     a temporary staging table in the caller's transaction (or
                                               .open() and .close(), as the import's steps do)
        refused = upsert.add(rows, valid=ok)   per chunk: accounts resolved under the access rule, rows staged
        repeats = upsert.repeats()             once every row is in: (account, reference) given twice
        counts = upsert.plan() or .write()     what writing would do, or doing it (the import)

The rules, for both callers:

- **Who may write orders where** (`order_accounts`): the access module's rule for bulk writes,
  `accounts.access.writable_accounts`: the accounts the user may edit; for an integration user's API key
  (whose `write_orders` scope is its right to write) every account it can see; an integration user without
  a key, nowhere. Without a user (the shell's import_orders without --user) every account. A row naming
  any other account is refused exactly like a row naming an account that does not exist, so a rep never
  learns that another rep's account exists.
- **Identity**: an order with a reference is (account, reference). It is created, or updated (date, revenue,
  variable cost and updated_at) when one of those three differs, else not touched at all. An order without a
  reference has no identity of its own, so it is its values (account, date, revenue, variable cost): k such
  rows ensure k such orders exist and create only the missing ones. Nothing is ever deleted. Sending the same
  rows twice changes nothing.
- **Refused rows**: a row whose account is not one of `order_accounts(user)` (reported on the field that
  named it: `account` for an id, `account_reference` for a customer number), and a row repeating an earlier
  row's (account, reference) (it names the first). A row refused for its account is not also a repeat.
  Each caller words these for its readers (a file row, an index in a JSON array) and checks a row's own
  fields before handing it over: amounts of 0 or more, below 10^12; references of at most 64 characters;
  dates in the window `order_date_error` / `order_dates_too_early` state.
- **Amounts** are rounded to cents by the database (ROUND(x, 2)).
- **All or nothing**: everything happens in the caller's transaction (`orders_upsert` is atomic and raises
  OrdersRefused before writing anything); nothing is written while any row is refused.
- **Concurrency**: one INSERT ... ON CONFLICT (account, reference) DO UPDATE: a batch that creates an order
  another transaction is creating waits for it and then updates it or leaves it alone, rather than failing.
- **Side effects**: none. No webhook event, no audit history (orders are not audited), no score or cache
  change: scores read orders at the next scoring run.

What this resolved (issue 16: the import and the API were two engines):

- The API used SELECT ... FOR UPDATE and bulk_create/bulk_update; a batch creating an order that a
  concurrent batch was creating too failed on the unique constraint once the other committed (a 500).
  Both now use the import's staging table and INSERT ... ON CONFLICT, with a number of queries that does
  not grow with the rows.
- Access: the import allowed `visible_to(user)`; the API allowed `editable_by` for people and `visible_to`
  for integration keys (lately through `accounts.access.writable_accounts`). The two gave the same accounts
  except for an integration user, whom the import let write everywhere without a key (the shell's
  `import_orders --user <integration user>`). Both now ask `writable_accounts`, so an integration user
  writes orders only through its key; the import refuses such a file as a whole, saying so.
- Dates: the API refused orders before 1990-01-01 (typos and placeholders such as 1900-01-01 stretch every
  history and CLV window); the import took any date pandas could read. Both refuse them now, with one wording.
- Repeated (account, reference) rows: both refused them; now one SQL statement finds them for both.
- Rows without a reference: the engine keeps the import's rule; the API still requires a reference (its
  documented contract: resending an order updates it), so it never sends one without.
"""

import datetime
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.utils import timezone

from accounts import access
from accounts.models import Account, AccountQuerySet, Order, User
from kam.staging import Staging, execute, fetch

ORDER_TABLE = Order._meta.db_table
ACCOUNT_TABLE = Account._meta.db_table

# Older dates are typos or placeholders (0001-01-01, 1900-01-01), and they would stretch every history and
# CLV window.
EARLIEST_ORDER_DATE = datetime.date(1990, 1, 1)
BEFORE_EARLIEST = f"Orders dated before {EARLIEST_ORDER_DATE.isoformat()} are refused: check the date."

# Account ids or references per lookup: a whole API batch (10,000 rows at most) in one query, within
# SQLite's 32,766 parameters; PostgreSQL has no such limit here (psycopg2 binds parameters client-side).
LOOKUP_CHUNK = 10_000

# Below this many rows PostgreSQL plans the staged statements well without statistics, and ANALYZE would be a
# round trip more for every small API batch.
ANALYZE_FROM_ROWS = 10_000

STAGING_COLUMNS = {
    "row_no": "integer",  # the caller's row: a file's row number, a batch's index
    "account_id": "bigint",
    "reference": "varchar(64)",
    "date": "date",
    "revenue": "numeric",
    "variable_cost": "numeric",
}


def order_accounts(user: User | None, *, key=None) -> AccountQuerySet:
    """The accounts `user` (through API key `key`, if any) may write orders to; every one without a user."""
    if user is None:
        return Account.objects.all()
    return access.writable_accounts(user, key=key)


def order_date_error(value: datetime.date, *, today: datetime.date) -> str | None:
    """Why an order cannot carry this date, or None: the date window for one row (the API)."""
    if value > today:
        return f"An order cannot be dated in the future (today is {today.isoformat()})."
    if value < EARLIEST_ORDER_DATE:
        return BEFORE_EARLIEST
    return None


def order_dates_too_early(dates: pd.Series) -> np.ndarray:
    """The window's lower bound over a column of ISO dates, "" where there is none (the import, whose date
    parser refuses future dates for every kind). ISO dates of four-digit years, the only ones pandas reads,
    sort as text, which spares parsing a million dates again."""
    return ((dates != "") & (dates < EARLIEST_ORDER_DATE.isoformat())).to_numpy()


@dataclass(frozen=True)
class OrderCounts:
    received: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(frozen=True)
class Repeat:
    """A row giving the (account, reference) of an earlier row."""

    row: int
    reference: str
    first_row: int
    account_reference: str


@dataclass(frozen=True, order=True)
class OrderRefusal:
    """Why `orders_upsert` refused a row: its account (`field` is the one that named it) or a repeat."""

    row: int
    field: str
    repeats: int | None = None  # the earlier row, for a repeat


class OrdersRefused(Exception):
    def __init__(self, refusals: list[OrderRefusal]):
        super().__init__(f"{len(refusals)} order row(s) refused")
        self.refusals = refusals


class OrderUpsert:
    """One bulk upsert of orders through a temporary staging table; see the module docstring for the rules.

    Rows are DataFrames with the columns row_no, account_reference (text, "" when the account is named by id),
    reference ("" for none), date (ISO text), revenue and variable_cost (decimal text), and optionally
    account (an id, missing where named by reference).
    """

    def __init__(self, *, user: User | None, key=None):
        self.accounts = order_accounts(user, key=key)
        self.staging = Staging("kam_orders_upsert", STAGING_COLUMNS)
        self.received = 0
        self.staged = 0
        self.unreferenced = 0  # staged rows without a reference (the API never sends one)
        # What each id or reference named so far resolved to (None: refused), so chunks ask only for new ones.
        self._by_id: dict[int, int | None] = {}
        self._by_reference: dict[str, int | None] = {}

    def open(self) -> "OrderUpsert":
        self.staging.open()
        return self

    def close(self) -> None:
        """Done with the staging table (also after an error)."""
        self.staging.close()

    def __enter__(self) -> "OrderUpsert":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def add(self, rows: pd.DataFrame, *, valid: np.ndarray | None = None) -> np.ndarray:
        """Stage the rows whose account the user may write orders to (and, with `valid`, that the caller
        found valid); return the mask of rows refused for their account."""
        account_id = self._resolve(rows)
        refused = np.isnan(account_id)
        keep = ~refused if valid is None else ~refused & np.asarray(valid, dtype=bool)
        self.received += len(rows)
        if keep.any():
            reference = rows["reference"].to_numpy()[keep]
            self.staging.load(
                pd.DataFrame(
                    {
                        "row_no": rows["row_no"].to_numpy()[keep],
                        "account_id": account_id[keep].astype(np.int64),
                        "reference": reference,
                        "date": rows["date"].to_numpy()[keep],
                        "revenue": rows["revenue"].to_numpy()[keep],
                        "variable_cost": rows["variable_cost"].to_numpy()[keep],
                    }
                )
            )
            self.staged += len(reference)
            self.unreferenced += int((reference == "").sum())
        return refused

    def _resolve(self, rows: pd.DataFrame) -> np.ndarray:
        """Each row's account id under the access rule, NaN where refused (or where no account is named).
        Floats, as pandas maps them: ids stay exact far beyond any sequence's reach (2**53)."""
        account_id = np.full(len(rows), np.nan)
        by_id = np.zeros(len(rows), dtype=bool)
        if "account" in rows:
            given = rows["account"]
            by_id = given.notna().to_numpy()
            if by_id.any():
                ids = [int(pk) for pk in given[by_id]]
                self._learn("pk", ids, self._by_id)
                account_id[by_id] = [np.nan if self._by_id[pk] is None else self._by_id[pk] for pk in ids]
        by_reference = ~by_id & (rows["account_reference"] != "").to_numpy()
        if by_reference.any():
            named = rows["account_reference"][by_reference]
            found = named.map(self._by_reference)
            unseen = named[found.isna().to_numpy()]
            if len(unseen):  # the first chunk, or names missing so far: look them up, then map again
                self._learn("reference", unseen.unique().tolist(), self._by_reference)
                found = named.map(self._by_reference)
            account_id[by_reference] = found.to_numpy(dtype=float, na_value=np.nan)
        return account_id

    def _learn(self, field: str, keys: list, known: dict) -> None:
        """Look up the keys not seen yet among the accounts the rule allows, remembering misses too."""
        new = sorted({key for key in keys if key not in known})
        for start in range(0, len(new), LOOKUP_CHUNK):
            part = new[start : start + LOOKUP_CHUNK]
            accounts = self.accounts.filter(**{f"{field}__in": part}).order_by()
            found = dict(accounts.values_list(field, "id"))
            known.update((key, found.get(key)) for key in part)

    def repeats(self) -> list[Repeat]:
        """Rows giving the (account, reference) of an earlier row, in row order. Call once every row is in."""
        if self.staged >= ANALYZE_FROM_ROWS:
            self.staging.analyze()  # a large file's statements below then plan on real figures, not guesses
        stage = self.staging.name
        rows = fetch(
            f"""
            SELECT s.row_no, s.reference, f.first_row, a.reference
            FROM {stage} s
            JOIN (SELECT account_id, reference, MIN(row_no) AS first_row FROM {stage}
                  WHERE reference <> '' GROUP BY account_id, reference HAVING COUNT(*) > 1) f
              ON f.account_id = s.account_id AND f.reference = s.reference
            JOIN {ACCOUNT_TABLE} a ON a.id = s.account_id
            WHERE s.row_no > f.first_row
            ORDER BY s.row_no
            """  # noqa: S608 - table names are ours
        )
        return [Repeat(*row) for row in rows]

    def plan(self) -> OrderCounts:
        """What write() would do, writing nothing."""
        stage = self.staging.name
        created, updated, total = fetch(
            f"""
            SELECT COALESCE(SUM(CASE WHEN o.id IS NULL THEN 1 ELSE 0 END), 0),
                   COALESCE(SUM(CASE WHEN o.id IS NOT NULL AND (o.date <> s.date
                       OR o.revenue <> ROUND(s.revenue, 2) OR o.variable_cost <> ROUND(s.variable_cost, 2))
                       THEN 1 ELSE 0 END), 0),
                   COUNT(*)
            FROM {stage} s
            LEFT JOIN {ORDER_TABLE} o ON o.account_id = s.account_id AND o.reference = s.reference
            WHERE s.reference <> ''
            """  # noqa: S608
        )[0]
        missing = 0
        if self.unreferenced:
            sql = f"SELECT COALESCE(SUM(n), 0) FROM ({self._missing_unreferenced()}) m"  # noqa: S608
            (missing,) = fetch(sql)[0]
        unreferenced = self.staged - total
        return OrderCounts(
            received=self.received,
            created=int(created) + int(missing),
            updated=int(updated),
            unchanged=int(total - created - updated) + int(unreferenced - missing),
        )

    def write(self) -> OrderCounts:
        """Create and update the staged orders; the counts as plan() would have given them."""
        if connection.vendor != "postgresql":
            plan = self.plan()
            execute(self._upsert_sql(), self._now())
            if plan.created and self.unreferenced:
                self._insert_missing_unreferenced(timezone.now())
            return plan
        # On PostgreSQL the upsert counts for itself: xmax = 0 marks a row this statement inserted.
        created, updated = fetch(
            f"WITH up AS ({self._upsert_sql()} RETURNING (xmax = 0) AS inserted) "  # noqa: S608
            "SELECT COUNT(*) FILTER (WHERE inserted), COUNT(*) FILTER (WHERE NOT inserted) FROM up",
            self._now(),
        )[0]
        missing = self._insert_missing_unreferenced(timezone.now()) if self.unreferenced else 0
        return OrderCounts(
            received=self.received,
            created=created + missing,
            updated=updated,
            unchanged=self.staged - created - updated - missing,
        )

    @staticmethod
    def _now() -> list:
        now = timezone.now()
        return [now, now]

    def _upsert_sql(self) -> str:
        return f"""
            INSERT INTO {ORDER_TABLE} (account_id, reference, date, revenue, variable_cost, created_at, updated_at)
            SELECT account_id, reference, date, ROUND(revenue, 2), ROUND(variable_cost, 2), %s, %s
            FROM {self.staging.name} WHERE reference <> ''
            ON CONFLICT (account_id, reference) WHERE NOT (reference = '')
            DO UPDATE SET date = EXCLUDED.date, revenue = EXCLUDED.revenue,
                          variable_cost = EXCLUDED.variable_cost, updated_at = EXCLUDED.updated_at
            WHERE {ORDER_TABLE}.date <> EXCLUDED.date OR {ORDER_TABLE}.revenue <> EXCLUDED.revenue
               OR {ORDER_TABLE}.variable_cost <> EXCLUDED.variable_cost
        """  # noqa: S608 - table names are ours

    def _missing_unreferenced(self) -> str:
        """Per (account, date, revenue, cost) without reference: how many more the rows have than the database."""
        stage = self.staging.name
        return f"""
            SELECT f.account_id, f.date, f.revenue, f.variable_cost, f.n - COALESCE(d.n, 0) AS n
            FROM (SELECT account_id, date, ROUND(revenue, 2) AS revenue, ROUND(variable_cost, 2) AS variable_cost,
                         COUNT(*) AS n
                  FROM {stage} WHERE reference = '' GROUP BY 1, 2, 3, 4) f
            LEFT JOIN (SELECT o.account_id, o.date, o.revenue, o.variable_cost, COUNT(*) AS n
                       FROM {ORDER_TABLE} o
                       WHERE o.reference = '' AND o.account_id IN (SELECT account_id FROM {stage} WHERE reference = '')
                       GROUP BY 1, 2, 3, 4) d
              ON d.account_id = f.account_id AND d.date = f.date AND d.revenue = f.revenue
             AND d.variable_cost = f.variable_cost
            WHERE f.n > COALESCE(d.n, 0)
        """  # noqa: S608

    def _insert_missing_unreferenced(self, now) -> int:
        sql = f"""
            INSERT INTO {ORDER_TABLE} (account_id, reference, date, revenue, variable_cost, created_at, updated_at)
            SELECT m.account_id, '', m.date, m.revenue, m.variable_cost, %s, %s
            FROM ({self._missing_unreferenced()}) m
        """  # noqa: S608
        if connection.vendor == "postgresql":
            # Each group expanded to its missing count.
            return execute(sql + " CROSS JOIN LATERAL generate_series(1, m.n)", [now, now])
        missing = self._missing_unreferenced()
        rows = fetch(f"SELECT account_id, date, revenue, variable_cost, n FROM ({missing}) m")  # noqa: S608
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {ORDER_TABLE} (account_id, reference, date, revenue, variable_cost, created_at, "  # noqa: S608
                "updated_at) VALUES (%s, '', %s, %s, %s, %s, %s)",
                [(a, d, r, c, now, now) for a, d, r, c, n in rows for _ in range(n)],
            )
        return sum(row[4] for row in rows)


@transaction.atomic
def orders_upsert(*, user: User | None, key=None, rows: list[dict]) -> OrderCounts:
    """Create or update orders from validated rows, all or nothing; raises OrdersRefused, writing nothing,
    when a row names an account the user (through `key`, the API key of the request) may not write orders to
    or repeats an earlier (account, reference).

    Each row: `account` (an id) or `account_reference`, `reference`, `date` (a date), `revenue` and
    `variable_cost` (Decimals, already checked by the caller)."""
    frame = pd.DataFrame(
        {
            "row_no": np.arange(len(rows)),
            "account": pd.array([row.get("account") for row in rows], dtype="Int64"),
            "account_reference": [row.get("account_reference", "").strip() for row in rows],
            "reference": [row.get("reference", "") for row in rows],
            "date": [row["date"].isoformat() for row in rows],
            "revenue": [format(row["revenue"], "f") for row in rows],
            "variable_cost": [format(row.get("variable_cost", 0), "f") for row in rows],
        }
    )
    with OrderUpsert(user=user, key=key) as upsert:
        refused = upsert.add(frame)
        refusals = [
            OrderRefusal(int(index), "account" if "account" in rows[index] else "account_reference")
            for index in np.flatnonzero(refused)
        ]
        refusals += [OrderRefusal(r.row, "reference", repeats=r.first_row) for r in upsert.repeats()]
        if refusals:
            raise OrdersRefused(sorted(refusals))
        return upsert.write()
