"""The audit trail in the browser: who changed what, and when, across the records that matter. Managers only.

The history itself is django-simple-history's: every save and delete of the tracked models writes a
historical row (the values after the change, `history_user`, `history_date`, `history_type` + ~ -). The
historical tables have no foreign-key constraints, so the rows outlive the records: a deleted account keeps
its whole history, including the last state before the delete. Key designations are the account's
is_key / key_since / key_reason / key_decided_by fields, so they show as changes of the account.

- /audit/ lists the recent changes across all tracked models, newest first, filtered by kind of record,
  person and date range; each row names the fields that changed.
- /audit/<kind>/<id>/ shows one record's whole history with before/after values per field.

The list reads a bounded number of queries whatever the page shows: per kind, one for the page's rows and
one for their previous versions (to compute the diffs), then one per kind of related object named in them.
"""

from __future__ import annotations

import datetime
import heapq
import itertools
from dataclasses import dataclass, field

from django.db.models import Model, Q
from django.utils import timezone

from accounts.models import Account
from plans.models import AccountPlan, Objective, PlanAction
from profiles.models import AccountProfile, BuyingInfluencer
from scoring.models import ScoringModel

PAGE_SIZE = 50
# Bookkeeping that changes on every save; showing it would bury the real changes.
IGNORED_FIELDS = {"created_at", "updated_at"}


@dataclass(frozen=True)
class Tracked:
    slug: str
    label: str
    model: type[Model]
    # How a historical row names its account: the attribute holding the account id, or via its plan.
    account_attr: str | None = None
    plan_attr: str | None = None


TRACKED = {
    t.slug: t
    for t in (
        Tracked("account", "Account", Account, account_attr="id"),
        Tracked("profile", "Profile", AccountProfile, account_attr="account_id"),
        Tracked("influencer", "Buying influencer", BuyingInfluencer, account_attr="account_id"),
        Tracked("plan", "Account plan", AccountPlan, account_attr="account_id"),
        Tracked("objective", "Plan objective", Objective, plan_attr="plan_id"),
        Tracked("action", "Plan action", PlanAction, plan_attr="plan_id"),
        Tracked("scoring-model", "Scoring model", ScoringModel),
    )
}
VERBS = {"+": "created", "~": "changed", "-": "deleted"}


@dataclass
class Change:
    field: str
    label: str
    old: str
    new: str


@dataclass
class Entry:
    """One historical row as the pages show it."""

    kind: Tracked
    record: object
    changes: list[Change] = field(default_factory=list)
    account_id: int | None = None
    account_name: str = ""
    # The oldest version kept of a record written in bulk (demo data, an import): nothing to compare with.
    baseline: bool = False

    @property
    def verb(self) -> str:
        if self.baseline:
            return "first recorded"
        return VERBS.get(self.record.history_type, "changed")

    @property
    def title(self) -> str:
        if self.kind.slug == "profile":
            return f"Profile of {self.account_name}" if self.account_name else "Profile"
        if self.kind.slug == "scoring-model":
            return f"v{self.record.version} {self.record.name}"
        for attr in ("name", "title"):
            if hasattr(self.record, attr):
                return getattr(self.record, attr)
        return f"#{self.record.id}"


# --- Reading the history ------------------------------------------------------------------------------------


def _tracked_fields(kind: Tracked) -> list:
    history_fields = {f.name for f in kind.model.history.model._meta.fields}
    return [
        f
        for f in kind.model._meta.concrete_fields
        if f.name in history_fields and f.name not in IGNORED_FIELDS and not f.primary_key
    ]


def _raw_changes(kind: Tracked, record, previous) -> list[tuple]:
    """(model field, old raw value, new raw value) for each field that differs from the previous version."""
    if record.history_type == "-":
        return []  # a delete changes nothing: the row holds the last state, shown by the version before it
    changes = []
    for model_field in _tracked_fields(kind):
        new = getattr(record, model_field.attname)
        old = getattr(previous, model_field.attname) if previous is not None else None
        if previous is None and new in (None, "", False):
            continue  # a new record: list what it was created with, not every empty field
        if old != new:
            changes.append((model_field, old, new))
    return changes


def _entries(kind: Tracked, records: list, previous: dict) -> list[Entry]:
    return [
        Entry(
            kind,
            record,
            changes=_raw_changes(kind, record, previous.get(record.history_id)),
            baseline=record.history_type == "~" and record.history_id not in previous,
        )
        for record in records
    ]


def _previous_versions(kind: Tracked, records: list) -> dict:
    """history_id -> the version before it, for all `records` in one query (their objects' full histories)."""
    if not records:
        return {}
    object_ids = {record.id for record in records}
    histories: dict[int, list] = {}
    for version in kind.model.history.filter(id__in=object_ids).order_by("id", "history_date", "history_id"):
        histories.setdefault(version.id, []).append(version)
    previous = {}
    for versions in histories.values():
        for before, after in itertools.pairwise(versions):
            previous[after.history_id] = before
    return previous


def _display(model_field, value, related: dict) -> str:
    if value is None or value == "":
        return "—"
    if model_field.is_relation:
        obj = related.get(model_field.related_model, {}).get(value)
        return str(obj) if obj is not None else f"#{value} (deleted)"
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).strftime("%-d %b %Y %H:%M")
    if isinstance(value, datetime.date):
        return value.strftime("%-d %b %Y")
    if isinstance(value, list | dict):
        return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return str(value)


def _resolve(entries: list[Entry]) -> None:
    """Turn raw values into what people read, loading every related object and account name in bulk."""
    wanted: dict[type[Model], set] = {}
    for entry in entries:
        for model_field, old, new in entry.changes:
            if model_field.is_relation:
                wanted.setdefault(model_field.related_model, set()).update(v for v in (old, new) if v)
    plan_ids = {getattr(e.record, e.kind.plan_attr) for e in entries if e.kind.plan_attr}
    plan_accounts = dict(
        AccountPlan.history.filter(id__in=plan_ids)
        .order_by("id", "history_date")
        .values_list("id", "account_id")
    )
    for entry in entries:
        if entry.kind.account_attr:
            entry.account_id = getattr(entry.record, entry.kind.account_attr)
        elif entry.kind.plan_attr:
            entry.account_id = plan_accounts.get(getattr(entry.record, entry.kind.plan_attr))
    account_ids = {e.account_id for e in entries if e.account_id}
    wanted.setdefault(Account, set()).update(account_ids)

    related = {model: model._default_manager.in_bulk(ids) for model, ids in wanted.items() if ids}
    # A deleted account is named by its last known version.
    missing = account_ids - set(related.get(Account, {}))
    names = {a.pk: a.name for a in related.get(Account, {}).values()}
    if missing:
        names.update(
            Account.history.filter(id__in=missing).order_by("id", "history_date").values_list("id", "name")
        )
    for entry in entries:
        entry.account_name = names.get(entry.account_id, "")
        entry.changes = [
            Change(
                f.name,
                str(f.verbose_name).capitalize(),
                _display(f, old, related),
                _display(f, new, related),
            )
            for f, old, new in entry.changes
        ]


def recent_changes(*, kinds: list[Tracked], condition: Q, page: int) -> tuple[list[Entry], bool]:
    """The page-th PAGE_SIZE most recent changes across `kinds`, and whether there are more."""
    upto = page * PAGE_SIZE + 1
    streams = [
        [
            (record.history_date, kind.slug, record)
            for record in kind.model.history.filter(condition)
            .select_related("history_user")
            .order_by("-history_date", "-history_id")[:upto]
        ]
        for kind in kinds
    ]
    merged = list(heapq.merge(*streams, key=lambda item: item[0], reverse=True))
    window = merged[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    entries = []
    for kind in kinds:
        records = [record for _, slug, record in window if slug == kind.slug]
        entries.extend(_entries(kind, records, _previous_versions(kind, records)))
    entries.sort(key=lambda e: (e.record.history_date, e.record.history_id), reverse=True)
    _resolve(entries)
    return entries, len(merged) > page * PAGE_SIZE


def record_history(kind: Tracked, object_id: int) -> list[Entry]:
    """Every version of one record, newest first, each with what changed from the one before."""
    versions = list(
        kind.model.history.filter(id=object_id)
        .select_related("history_user")
        .order_by("history_date", "history_id")
    )
    previous = {after.history_id: before for before, after in itertools.pairwise(versions)}
    entries = _entries(kind, versions, previous)
    _resolve(entries)
    entries.reverse()
    return entries
