"""Buying influencers: account reference, reference, name, title, function, buying role, influence, stance,
reports-to (by reference or by name, at the same account).

Identity: (account, reference); a person without a reference is (account, name), matched against people of
that account who have no reference either. Unmapped columns leave fields alone; reporting lines that loop
are refused.
"""

import pandas as pd
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from accounts.models import Account
from dataio.imports.base import Field, Importer, Plan, chunks
from dataio.models import ImportKind
from profiles.models import BuyingInfluencer, BuyingRole, Stance

TEXT_FIELDS = ("name", "title", "function")


def _key(account_id: int, reference: str, name: str) -> tuple:
    return (account_id, "ref", reference) if reference else (account_id, "name", name.lower())


class InfluencerImporter(Importer):
    kind = ImportKind.INFLUENCERS
    fields = (
        Field("account_reference", required=True, max_length=64),
        Field("reference", max_length=64),
        Field("name", required=True, max_length=200),
        Field("title", max_length=200),
        Field("function", max_length=100),
        Field("buying_role", help=", ".join(BuyingRole.values)),
        Field("influence", help="1 to 5"),
        Field("stance", help="-2 (opponent) to 2 (champion), or its name"),
        Field("reports_to_reference", max_length=200, help="a reference or a name at the same account"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.frames: list[pd.DataFrame] = []
        self.rows: list = []
        self.existing: dict[tuple, BuyingInfluencer] = {}
        self.boss: dict[tuple, tuple | None] = {}

    def setup(self) -> None:
        visible = Account.objects.visible_to(self.user) if self.user else Account.objects.all()
        self.accounts = dict(visible.exclude(reference="").values_list("reference", "id"))

    def check(self, frame: pd.DataFrame) -> None:
        out = pd.DataFrame({"row_no": frame["_row"]})
        account = self.text(frame, "account_reference")
        out["account_id"] = account.map(self.accounts)
        unknown = (account != "") & out["account_id"].isna()
        self.problems.add_mask(
            frame, unknown, "account_reference", "No account with reference {value}.", account
        )
        ok = out["account_id"].notna()
        for name in ("reference", "name", "title", "function", "reports_to_reference"):
            out[name] = self.text(frame, name)
            spec = next(f for f in self.fields if f.name == name)
            ok &= out[name].str.len() <= (spec.max_length or 10**6)
        ok &= out["name"] != ""
        out["buying_role"], role_ok = self.choice(frame, "buying_role", BuyingRole)
        out["influence"], influence_ok = self.rating(frame, "influence", 1, 5)
        stance_text = frame["stance"].astype(str).str.strip()
        numeric = stance_text.str.match(r"^[+-]?\d+$")
        stance_labels = frame.assign(stance=stance_text.where(~numeric, ""))
        out["stance"], label_ok = self.choice(stance_labels, "stance", Stance)
        number = pd.to_numeric(stance_text.where(numeric, None), errors="coerce")
        bad_number = numeric & ~number.between(-2, 2)
        self.problems.add_mask(
            frame, bad_number, "stance", "{value} is not from -2 (opponent) to 2 (champion)."
        )
        out["stance"] = out["stance"].where(~numeric, number)
        ok &= role_ok & influence_ok & label_ok & ~bad_number.to_numpy()
        good = out[ok.to_numpy()].copy()
        good["account_id"] = good["account_id"].astype("int64")
        self.frames.append(good)

    def finish(self) -> None:
        rows = pd.concat(self.frames) if self.frames else None
        self.rows = []
        if rows is None or rows.empty:
            return
        self.existing = {}
        for part in chunks(sorted(set(rows["account_id"]))):
            for person in BuyingInfluencer.objects.filter(account_id__in=part).select_related("reports_to"):
                self.existing[_key(person.account_id, person.reference, person.name)] = person
        seen: dict[tuple, int] = {}
        for row in rows.itertuples(index=False):
            key = _key(row.account_id, row.reference, row.name)
            if key in seen:
                who = row.reference or row.name
                self.problems.add(
                    row.row_no,
                    "reference" if row.reference else "name",
                    f"{who} is already on row {seen[key]}.",
                    who,
                )
                continue
            seen[key] = row.row_no
            self.rows.append(row)
        # Reporting lines, resolved at the person's account: a reference first, then a name.
        by_ref, by_name = {}, {}
        for person in self.existing.values():
            if person.reference:
                by_ref[(person.account_id, person.reference)] = _key(
                    person.account_id, person.reference, person.name
                )
            by_name.setdefault(
                (person.account_id, person.name.lower()),
                _key(person.account_id, person.reference, person.name),
            )
        for row in self.rows:
            key = _key(row.account_id, row.reference, row.name)
            if row.reference:
                by_ref[(row.account_id, row.reference)] = key
            by_name[(row.account_id, row.name.lower())] = key
        self.boss: dict[tuple, tuple | None] = {}
        for person in self.existing.values():
            boss = person.reports_to
            key = _key(person.account_id, person.reference, person.name)
            self.boss[key] = _key(boss.account_id, boss.reference, boss.name) if boss else None
        for row in self.rows:
            key = _key(row.account_id, row.reference, row.name)
            if not self._mapped("reports_to_reference"):
                continue
            target = row.reports_to_reference
            boss = by_ref.get((row.account_id, target)) or by_name.get((row.account_id, target.lower()))
            if target and boss is None:
                self.problems.add(
                    row.row_no, "reports_to_reference", f"Nobody at this account is {target}.", target
                )
            self.boss[key] = boss
        for row in self.rows:
            key = _key(row.account_id, row.reference, row.name)
            if self._mapped("reports_to_reference") and row.reports_to_reference and self._loops(key):
                self.problems.add(
                    row.row_no,
                    "reports_to_reference",
                    "These reporting lines would make a loop.",
                    row.reports_to_reference,
                )

    def _mapped(self, name: str) -> bool:
        return self.mapped is None or name in self.mapped

    def _loops(self, start: tuple) -> bool:
        seen, node = {start}, self.boss.get(start)
        while node is not None:
            if node in seen:
                return True
            seen.add(node)
            node = self.boss.get(node)
        return False

    def _compare(self, write: bool) -> Plan:
        plan = Plan()
        now = timezone.now()
        to_create, to_update, fields, people = [], [], set(), {}
        for row in self.rows:
            key = _key(row.account_id, row.reference, row.name)
            person = self.existing.get(key)
            new = person is None
            if new:
                person = BuyingInfluencer(account_id=row.account_id, reference=row.reference)
            changes = set()
            for name in TEXT_FIELDS:
                if self._mapped(name) and getattr(person, name) != getattr(row, name):
                    setattr(person, name, getattr(row, name))
                    changes.add(name)
            for name, default in (
                ("buying_role", BuyingRole.USER),
                ("influence", 3),
                ("stance", Stance.NEUTRAL),
            ):
                value = getattr(row, name)
                value = default if pd.isna(value) else (value if name == "buying_role" else int(value))
                if self._mapped(name) and getattr(person, name) != value:
                    setattr(person, name, value)
                    changes.add(name)
            people[key] = person
            if new:
                to_create.append(person)
                plan.created += 1
            elif changes or self._boss_changed(key, person):
                person.updated_at = now
                to_update.append(person)
                fields |= changes
                plan.updated += 1
            else:
                plan.unchanged += 1
        if write:
            if to_create:
                bulk_create_with_history(to_create, BuyingInfluencer, batch_size=1000, default_user=self.user)
            if to_update and fields:
                bulk_update_with_history(
                    to_update,
                    BuyingInfluencer,
                    sorted(fields | {"updated_at"}),
                    batch_size=1000,
                    default_user=self.user,
                )
            self._save_bosses(people)
        return plan

    def _boss_changed(self, key, person) -> bool:
        if not self._mapped("reports_to_reference"):
            return False
        boss = person.reports_to
        current = _key(boss.account_id, boss.reference, boss.name) if boss else None
        return current != self.boss.get(key)

    def _save_bosses(self, people: dict) -> None:
        if not self._mapped("reports_to_reference"):
            return
        everyone = {**self.existing, **people}
        changed = []
        for key, person in people.items():
            boss_key = self.boss.get(key)
            boss_id = everyone[boss_key].pk if boss_key else None
            if person.reports_to_id != boss_id:
                person.reports_to_id = boss_id
                changed.append(person)
        if changed:
            bulk_update_with_history(
                changed, BuyingInfluencer, ["reports_to"], batch_size=1000, default_user=self.user
            )

    def plan(self) -> Plan:
        return self._compare(write=False)

    def write(self) -> Plan:
        return self._compare(write=True)
