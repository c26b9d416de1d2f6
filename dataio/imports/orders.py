"""Orders: account reference, date, revenue, variable cost (0 when absent), external reference (optional).

Identity, so that importing the same file twice changes nothing:
- an order with a reference is (account, reference): it is created, or updated when its date or amounts
  differ, with one INSERT ... ON CONFLICT (account, reference) DO UPDATE ... WHERE something changed;
- an order without a reference has no identity of its own, so it is its values: (account, date, revenue,
  variable cost). A file with k identical lines ensures k such orders exist, creating only the missing
  ones; nothing is ever deleted, and a corrected amount on such a line is a new order (give orders a
  reference to be able to correct them).
"""

import numpy as np
import pandas as pd
from django.db import connection
from django.utils import timezone

from accounts.models import Account, Order
from dataio.imports.base import Field, Importer, Plan
from dataio.imports.staging import Staging, execute, fetch
from dataio.models import ImportKind

ORDER_TABLE = Order._meta.db_table


class OrderImporter(Importer):
    kind = ImportKind.ORDERS
    fields = (
        Field("account_reference", required=True, max_length=64),
        Field("date", required=True),
        Field("revenue", required=True),
        Field("variable_cost", help="0 when absent"),
        Field("reference", max_length=64, help="the ERP's order number; re-imports update by it"),
    )

    def setup(self) -> None:
        visible = Account.objects.visible_to(self.user) if self.user else Account.objects.all()
        self.accounts = dict(visible.exclude(reference="").values_list("reference", "id"))
        self.staging = Staging(
            "kam_import_orders",
            {
                "file_row": "integer",
                "account_id": "bigint",
                "reference": "varchar(64)",
                "date": "date",
                "revenue": "numeric",
                "variable_cost": "numeric",
            },
        )
        self.staging.create()
        self.staged = 0

    def teardown(self) -> None:
        self.staging.drop()

    def check(self, frame: pd.DataFrame) -> None:
        account = self.text(frame, "account_reference")
        account_id = account.map(self.accounts)
        unknown = ((account != "") & account_id.isna()).to_numpy()
        self.problems.add_mask(
            frame, unknown, "account_reference", "No account with reference {value}.", account
        )
        reference = self.text(frame, "reference")
        date, date_ok = self.date(frame, "date")
        revenue, revenue_ok = self.money(frame, "revenue")
        cost, cost_ok = self.money(frame, "variable_cost", default="0")
        ok = (
            account_id.notna().to_numpy()
            & (np.fromiter(map(len, reference.to_numpy()), dtype=np.int64, count=len(reference)) <= 64)
            & date_ok
            & revenue_ok
            & cost_ok
        )
        good = pd.DataFrame(
            {
                "file_row": frame["_row"].to_numpy()[ok],
                "account_id": account_id.to_numpy()[ok].astype("int64"),
                "reference": reference.to_numpy()[ok],
                "date": date.to_numpy()[ok],
                "revenue": revenue.to_numpy()[ok],
                "variable_cost": cost.to_numpy()[ok],
            }
        )
        self.staging.load(good)
        self.staged += len(good)

    def finish(self) -> None:
        self.staging.analyze()
        stage = self.staging.name
        repeats = fetch(
            f"""
            SELECT s.file_row, s.reference, f.first_row, a.reference
            FROM {stage} s
            JOIN (SELECT account_id, reference, MIN(file_row) AS first_row FROM {stage}
                  WHERE reference <> '' GROUP BY account_id, reference HAVING COUNT(*) > 1) f
              ON f.account_id = s.account_id AND f.reference = s.reference
            JOIN {Account._meta.db_table} a ON a.id = s.account_id
            WHERE s.file_row > f.first_row
            ORDER BY s.file_row
            """  # noqa: S608 - table names are ours
        )
        for row, reference, first_row, account in repeats:
            self.problems.add(
                row,
                "reference",
                f"Order {reference} of account {account} is already on row {first_row}: "
                "each order may appear once.",
                reference,
            )

    def plan(self) -> Plan:
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
        (missing,) = fetch(f"SELECT COALESCE(SUM(n), 0) FROM ({self._missing_unreferenced()}) m")[0]  # noqa: S608
        unreferenced = self.staged - total
        return Plan(
            created=int(created) + int(missing),
            updated=int(updated),
            unchanged=int(total - created - updated) + int(unreferenced - missing),
        )

    def _missing_unreferenced(self) -> str:
        """Per (account, date, revenue, cost) without reference: how many more the file has than the database."""
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

    def write(self) -> Plan:
        if connection.vendor != "postgresql":
            plan = self.plan()
            self._upsert()
            if plan.created:
                self._insert_missing_unreferenced(timezone.now())
            return plan
        # On PostgreSQL the upsert counts for itself: xmax = 0 marks a row this statement inserted.
        created, updated = fetch(
            f"WITH up AS ({self._upsert_sql()} RETURNING (xmax = 0) AS inserted) "  # noqa: S608
            "SELECT COUNT(*) FILTER (WHERE inserted), COUNT(*) FILTER (WHERE NOT inserted) FROM up",
            self._now(),
        )[0]
        missing = self._insert_missing_unreferenced(timezone.now())
        return Plan(
            created=created + missing, updated=updated, unchanged=self.staged - created - updated - missing
        )

    def _now(self) -> list:
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

    def _upsert(self) -> None:
        execute(self._upsert_sql(), self._now())

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
