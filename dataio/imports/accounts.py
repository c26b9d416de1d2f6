"""Accounts: reference, name, parent reference, owner (username or email), industry, region, ratings.

Upserted by reference. A column that is not mapped leaves that field alone; a mapped column's empty cell
clears it (the file states the value). The parent may be an account already in the database or one in the
same file; a parent chain that loops back is refused. Writes go through django-simple-history's bulk
helpers, so the account history shows the import like any other change.
"""

import pandas as pd
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from accounts.models import Account
from dataio.imports.base import Field, Importer, Plan, chunks
from dataio.models import ImportKind

TEXT_FIELDS = ("name", "industry", "region")
RATINGS = ("image_rating", "partnership_rating")


class AccountImporter(Importer):
    kind = ImportKind.ACCOUNTS
    fields = (
        Field("reference", required=True, max_length=64),
        Field("name", required=True, max_length=200),
        Field("parent_reference", max_length=64),
        Field("owner", help="username or email"),
        Field("industry", max_length=100),
        Field("region", max_length=100),
        Field("image_rating", help="1 to 5"),
        Field("partnership_rating", help="1 to 5"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.frames: list[pd.DataFrame] = []

    def setup(self) -> None:
        self.users = self.users_by_login()
        self.existing = {
            ref: (pk, parent_id)
            for pk, ref, parent_id in Account.objects.exclude(reference="").values_list(
                "id", "reference", "parent_id"
            )
        }
        self.reference_of = {pk: ref for ref, (pk, _) in self.existing.items()}

    def check(self, frame: pd.DataFrame) -> None:
        out = pd.DataFrame({"_row": frame["_row"]})
        ok = pd.Series(True, index=frame.index)
        for name in ("reference", "name", "parent_reference", "industry", "region"):
            out[name] = self.text(frame, name)
            spec = next(f for f in self.fields if f.name == name)
            ok &= out[name].str.len() <= (spec.max_length or 10**6)
        ok &= (out["reference"] != "") & (out["name"] != "")
        owner, owner_ok = self.user_column(frame, "owner", self.users)
        out["owner_id"] = owner
        ok &= owner_ok
        for name in RATINGS:
            out[name], rating_ok = self.rating(frame, name, 1, 5)
            ok &= rating_ok
        self.frames.append(out[ok.to_numpy()])

    def finish(self) -> None:
        columns = [
            "_row",
            "reference",
            "name",
            "parent_reference",
            "industry",
            "region",
            "owner_id",
            *RATINGS,
        ]
        rows = pd.concat(self.frames) if self.frames else pd.DataFrame(columns=columns)
        repeated = rows["reference"].duplicated(keep="first")
        first_row = rows.drop_duplicates("reference").set_index("reference")["_row"]
        for row, reference in rows.loc[repeated, ["_row", "reference"]].itertuples(index=False):
            self.problems.add(
                row, "reference", f"Account {reference} is already on row {first_row[reference]}.", reference
            )
        rows = rows[~repeated]
        in_file = set(rows["reference"])
        parents = dict(zip(rows["reference"], rows["parent_reference"], strict=True))
        for row, reference, parent in rows[["_row", "reference", "parent_reference"]].itertuples(index=False):
            if not parent:
                continue
            if parent == reference:
                self.problems.add(row, "parent_reference", "An account cannot be its own parent.", parent)
            elif parent not in in_file and parent not in self.existing:
                self.problems.add(row, "parent_reference", f"No account with reference {parent}.", parent)
            elif self._loops(reference, parents):
                self.problems.add(
                    row, "parent_reference", f"Parent {parent} would make the hierarchy a loop.", parent
                )
        self.rows = rows

    def _loops(self, start: str, parents: dict[str, str]) -> bool:
        seen, node = {start}, parents.get(start)
        while node:
            if node in seen:
                return True
            seen.add(node)
            if node in parents:
                node = parents[node]
            else:
                parent_id = self.existing.get(node, (None, None))[1]
                node = self.reference_of.get(parent_id) if parent_id else None
        return False

    def _mapped(self, name: str) -> bool:
        return self.mapped is None or name in self.mapped

    def _compare(self, write: bool) -> Plan:
        plan = Plan()
        now = timezone.now()
        by_reference = {}
        for part in chunks(list(self.rows["reference"])):
            by_reference.update({a.reference: a for a in Account.objects.filter(reference__in=part)})
        to_create, to_update, changed_fields = [], [], set()
        for row in self.rows.itertuples(index=False):
            account = by_reference.get(row.reference)
            new = account is None
            if new:
                account = Account(reference=row.reference)
            changes = set()
            for name in TEXT_FIELDS:
                if self._mapped(name) and getattr(account, name) != getattr(row, name):
                    setattr(account, name, getattr(row, name))
                    changes.add(name)
            if self._mapped("owner"):
                owner_id = None if pd.isna(row.owner_id) else int(row.owner_id)
                if account.owner_id != owner_id:
                    account.owner_id = owner_id
                    changes.add("owner")
            rated = False
            for name in RATINGS:
                value = None if pd.isna(getattr(row, name)) else int(getattr(row, name))
                if self._mapped(name) and getattr(account, name) != value:
                    setattr(account, name, value)
                    changes.add(name)
                    rated = True
            if rated:
                account.ratings_by, account.ratings_at = self.user, now
                changes |= {"ratings_by", "ratings_at"}
            if self._mapped("parent_reference"):
                parent_ref = row.parent_reference
                current = self.reference_of.get(account.parent_id, "") if account.parent_id else ""
                if parent_ref != current:
                    changes.add("parent")
            if new:
                to_create.append(account)
                plan.created += 1
            elif changes:
                account.updated_at = now
                to_update.append(account)
                changed_fields |= changes
                plan.updated += 1
            else:
                plan.unchanged += 1
        if write:
            self._save(to_create, to_update, changed_fields - {"parent"})
        return plan

    def plan(self) -> Plan:
        return self._compare(write=False)

    def write(self) -> Plan:
        return self._compare(write=True)

    def _save(self, to_create: list[Account], to_update: list[Account], fields: set[str]) -> None:
        if to_create:
            bulk_create_with_history(to_create, Account, batch_size=1000, default_user=self.user)
        if to_update and fields:
            fields = sorted(fields | {"updated_at"})
            bulk_update_with_history(to_update, Account, fields, batch_size=1000, default_user=self.user)
        if not self._mapped("parent_reference"):
            return
        # Parents last: they may be accounts created just above.
        ids = {}
        for part in chunks(list(self.rows["reference"]) + [p for p in self.rows["parent_reference"] if p]):
            ids.update(Account.objects.filter(reference__in=part).values_list("reference", "id"))
        reparent = []
        accounts = {a.reference: a for a in to_create + to_update}
        for reference, parent_ref in zip(self.rows["reference"], self.rows["parent_reference"], strict=True):
            account = accounts.get(reference)
            parent_id = ids.get(parent_ref) if parent_ref else None
            if account is not None and account.parent_id != parent_id:
                account.parent_id = parent_id
                reparent.append(account)
        if reparent:
            bulk_update_with_history(reparent, Account, ["parent"], batch_size=1000, default_user=self.user)
