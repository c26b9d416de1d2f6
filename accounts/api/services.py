"""Writes that only the API makes: the bulk order upsert of an integration (an ERP pushing its order book)."""

from dataclasses import asdict, dataclass

from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from accounts import access
from accounts.models import Order, User

# Keeps every IN (...) list well below SQLite's and PostgreSQL's parameter limits.
CHUNK = 2000


@dataclass(frozen=True)
class BulkUpsertResult:
    received: int
    created: int
    updated: int
    unchanged: int

    def as_dict(self) -> dict:
        return asdict(self)


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _resolve_accounts(user: User, key, rows: list[dict]) -> tuple[set[int], dict[str, int]]:
    """The ids and references the rows name, mapped to accounts the user (through `key`) may write orders to."""
    ids = sorted({row["account"] for row in rows if "account" in row})
    references = sorted({row["account_reference"].strip() for row in rows if row.get("account_reference")})
    visible = access.writable_accounts(user, key=key)
    found_ids: set[int] = set()
    by_reference: dict[str, int] = {}
    for part in _chunks(ids):
        found_ids.update(visible.filter(pk__in=part).values_list("id", flat=True))
    for part in _chunks(references):
        rows_found = visible.filter(reference__in=part).values_list("id", "reference")
        by_reference.update((reference, pk) for pk, reference in rows_found)
    return found_ids, by_reference


@transaction.atomic
def orders_bulk_upsert(*, user: User, rows: list[dict], key=None) -> BulkUpsertResult:
    """Create or update orders by (account, reference), all or nothing. The same rows twice change nothing.

    Rows arrive validated field by field; here each row's account must be one the user may write to (with
    `key`, the API key of the request: accounts.access.writable_accounts), and no (account, reference) may
    repeat. Any row error refuses the whole batch with every row's errors.
    """
    found_ids, by_reference = _resolve_accounts(user, key, rows)
    errors: list[dict] = [{} for _ in rows]
    keys: dict[tuple[int, str], int] = {}
    for index, row in enumerate(rows):
        if "account" in row:
            account_id = row["account"] if row["account"] in found_ids else None
            field = "account"
        else:
            account_id = by_reference.get(row["account_reference"].strip())
            field = "account_reference"
        if account_id is None:
            errors[index][field] = ["No such account, or not one you can see."]
            continue
        key = (account_id, row["reference"])
        if key in keys:
            errors[index]["reference"] = [f"Repeats row {keys[key]}: each order may appear once per batch."]
            continue
        keys[key] = index
    if any(errors):
        raise ValidationError({"orders": errors})

    existing: dict[tuple[int, str], Order] = {}
    pairs = list(keys)
    for part in _chunks(pairs):
        # A superset (every pairing of these accounts and references), narrowed to the batch's pairs below.
        candidates = Order.objects.select_for_update().filter(
            account_id__in={a for a, _ in part}, reference__in={r for _, r in part}
        )
        for order in candidates:
            if (order.account_id, order.reference) in keys:
                existing[(order.account_id, order.reference)] = order

    now = timezone.now()
    to_create, to_update, unchanged = [], [], 0
    for (account_id, reference), index in keys.items():
        row = rows[index]
        values = {"date": row["date"], "revenue": row["revenue"], "variable_cost": row["variable_cost"]}
        order = existing.get((account_id, reference))
        if order is None:
            to_create.append(Order(account_id=account_id, reference=reference, **values))
        elif any(getattr(order, field) != value for field, value in values.items()):
            for field, value in values.items():
                setattr(order, field, value)
            order.updated_at = now
            to_update.append(order)
        else:
            unchanged += 1
    Order.objects.bulk_create(to_create, batch_size=1000)
    Order.objects.bulk_update(to_update, ["date", "revenue", "variable_cost", "updated_at"], batch_size=1000)
    return BulkUpsertResult(
        received=len(rows), created=len(to_create), updated=len(to_update), unchanged=unchanged
    )
