"""Orders: account reference, date, revenue, variable cost (0 when absent), external reference (optional).

This importer reads and words; the upsert itself, its identity rules (an order with a reference is
(account, reference); one without is its values) and which accounts the importing user may write orders to
are the order upsert's (`accounts/orders.py`), the same engine as the API's bulk endpoint.
"""

import numpy as np
import pandas as pd

from accounts.orders import BEFORE_EARLIEST, OrderCounts, OrderUpsert, order_dates_too_early
from dataio.imports.base import Field, Importer, Plan
from dataio.models import ImportKind

INTEGRATION_REFUSED = (
    "Integration users write orders through their API key (POST /api/v1/orders/bulk/), not by importing "
    "files: import as a manager, or from the shell without --user."
)


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
        self.upsert = OrderUpsert(user=self.user).open()
        # An integration user writes orders only through its API key (accounts.access.writable_accounts), so
        # from a file it may write nowhere; "no account with reference ..." on every row would misstate why.
        self.keyless_integration = self.user is not None and self.user.is_integration
        if self.keyless_integration:
            self.problems.add(0, "", INTEGRATION_REFUSED)

    def teardown(self) -> None:
        self.upsert.close()

    def check(self, frame: pd.DataFrame) -> None:
        if self.keyless_integration:
            return
        account = self.text(frame, "account_reference")
        named = (account != "").to_numpy()
        reference = self.text(frame, "reference")
        date, date_ok = self.date(frame, "date")
        too_early = date_ok & order_dates_too_early(date)
        self.problems.add_mask(frame, too_early, "date", BEFORE_EARLIEST, date)
        revenue, revenue_ok = self.money(frame, "revenue")
        cost, cost_ok = self.money(frame, "variable_cost", default="0")
        valid = (
            (np.fromiter(map(len, reference.to_numpy()), dtype=np.int64, count=len(reference)) <= 64)
            & date_ok
            & ~too_early
            & revenue_ok
            & cost_ok
        )
        rows = pd.DataFrame(
            {
                "row_no": frame["_row"].to_numpy(),
                "account_reference": account.to_numpy(),
                "reference": reference.to_numpy(),
                "date": date.to_numpy(),
                "revenue": revenue.to_numpy(),
                "variable_cost": cost.to_numpy(),
            }
        )
        # A row without an account reference was reported as such; the upsert would refuse it a second time.
        if named.all():
            refused = self.upsert.add(rows, valid=valid)
        else:
            refused = np.zeros(len(frame), dtype=bool)
            refused[named] = self.upsert.add(rows[named], valid=valid[named])
        self.problems.add_mask(
            frame, refused, "account_reference", "No account with reference {value}.", account
        )

    def finish(self) -> None:
        for repeat in self.upsert.repeats():
            self.problems.add(
                repeat.row,
                "reference",
                f"Order {repeat.reference} of account {repeat.account_reference} is already on row "
                f"{repeat.first_row}: each order may appear once.",
                repeat.reference,
            )

    def plan(self) -> Plan:
        return _plan(self.upsert.plan())

    def write(self) -> Plan:
        return _plan(self.upsert.write())


def _plan(counts: OrderCounts) -> Plan:
    return Plan(created=counts.created, updated=counts.updated, unchanged=counts.unchanged)
