"""Visits: account reference, date, kind, summary, logged by (username or email), cost to serve (optional).

A visit has no reference, so it is identified by its values: (account, date, kind, summary); its cost is
written when the visit is created (a re-import does not change the cost of a visit already logged). A file with k
identical visits ensures k exist, creating only the missing ones, so importing a file twice changes
nothing. After writing, each touched account's last contact and next due date are rolled up (as logging a
visit does, explicitly, in bulk) and the cadence alerts that no longer apply are resolved.
"""

from collections import Counter
from decimal import Decimal

import pandas as pd
from django.utils import timezone

from accounts.alerts import alerts_resolve
from accounts.models import Account, Visit, VisitKind
from accounts.services import accounts_refresh_contact
from dataio.imports.base import Field, Importer, Plan, chunks
from dataio.models import ImportKind


class VisitImporter(Importer):
    kind = ImportKind.VISITS
    fields = (
        Field("account_reference", required=True, max_length=64),
        Field("date", required=True),
        Field("kind", help=", ".join(VisitKind.values) + " (on_site when empty)"),
        Field("summary", required=True),
        Field("logged_by", help="username or email"),
        Field("cost", help="what the contact cost, 0 or more; empty when not known"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.frames: list[pd.DataFrame] = []

    def setup(self) -> None:
        visible = Account.objects.visible_to(self.user) if self.user else Account.objects.all()
        self.accounts = dict(visible.exclude(reference="").values_list("reference", "id"))
        self.users = self.users_by_login()

    def check(self, frame: pd.DataFrame) -> None:
        account = self.text(frame, "account_reference")
        account_id = account.map(self.accounts)
        unknown = (account != "") & account_id.isna()
        self.problems.add_mask(
            frame, unknown, "account_reference", "No account with reference {value}.", account
        )
        date, date_ok = self.date(frame, "date")
        kind, kind_ok = self.choice(frame, "kind", VisitKind)
        summary = self.text(frame, "summary")
        logged_by, user_ok = self.user_column(frame, "logged_by", self.users)
        cost, cost_ok = self.money(
            frame, "cost", optional=True, limit=1e10
        )  # Visit.cost: 12 digits, 2 decimals
        ok = (
            account_id.notna().to_numpy() & date_ok & kind_ok & user_ok & cost_ok & (summary != "").to_numpy()
        )
        self.frames.append(
            pd.DataFrame(
                {
                    "account_id": account_id[ok].astype("int64"),
                    "date": date[ok],
                    "kind": kind[ok].fillna(VisitKind.ON_SITE),
                    "summary": summary[ok],
                    "logged_by_id": logged_by[ok],
                    "cost": cost[ok],
                }
            )
        )

    def finish(self) -> None:
        self.rows = pd.concat(self.frames) if self.frames else pd.DataFrame()

    def _missing(self) -> list[tuple]:
        if self.rows.empty:
            return []
        wanted = Counter(
            zip(
                self.rows["account_id"],
                self.rows["date"],
                self.rows["kind"],
                self.rows["summary"],
                strict=True,
            )
        )
        have: Counter = Counter()
        for part in chunks(sorted(set(self.rows["account_id"]))):
            visits = Visit.objects.filter(account_id__in=part).values_list(
                "account_id", "date", "kind", "summary"
            )
            have.update((a, d.isoformat(), k, s) for a, d, k, s in visits)
        missing = []
        for key, count in wanted.items():
            missing += [key] * max(count - have[key], 0)
        return missing

    def plan(self) -> Plan:
        missing = self._missing()
        return Plan(created=len(missing), unchanged=len(self.rows) - len(missing))

    def write(self) -> Plan:
        missing = self._missing()
        logged_by, costs = {}, {}
        for row in self.rows.itertuples(index=False):
            key = (row.account_id, row.date, row.kind, row.summary)
            logged_by.setdefault(key, row.logged_by_id)
            costs.setdefault(key, []).append(row.cost)
        # k identical visits in the file, j already logged: the k - j created take the costs of the file's
        # last k - j rows of that visit.
        cost_of = []
        for key in missing:
            cost_of.append(costs[key].pop())
        Visit.objects.bulk_create(
            [
                Visit(
                    account_id=account_id,
                    date=date,
                    kind=kind,
                    summary=summary,
                    logged_by_id=None if pd.isna(logged_by[key]) else int(logged_by[key]),
                    cost=None if pd.isna(cost) else Decimal(cost),
                )
                for key, cost in zip(missing, cost_of, strict=True)
                for account_id, date, kind, summary in [key]
            ],
            batch_size=1000,
        )
        if missing:
            self._roll_up(sorted({int(key[0]) for key in missing}))
        return Plan(created=len(missing), unchanged=len(self.rows) - len(missing))

    def _roll_up(self, account_ids: list[int]) -> None:
        today = timezone.localdate()
        accounts_refresh_contact(account_ids=account_ids)
        # Visits end lapsed-cadence and coverage alerts: resolve those of the accounts this file touched.
        alerts_resolve(account_ids=account_ids, today=today)
