"""Writes that span models or have side effects. Keyword-only, typed, atomic."""

import datetime
from collections.abc import Iterable
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts import access, cadence
from accounts.alerts import alerts_resolve
from accounts.models import MANAGER_RATINGS, QUALIFYING_VISIT_KINDS, Account, KeyDesignation, User, Visit


def tier_cadence_default(tier: str) -> int | None:
    return cadence.tier_defaults().get(tier) if tier else None


# Accounts per query of the roll-up: an IN list well inside every database's parameter limit.
ROLL_UP_CHUNK = 2000
CONTACT_FIELDS = ["last_contact_date", "target_cadence_days", "next_contact_due", "updated_at"]


def account_refresh_contact(*, account: Account) -> None:
    """Recompute last contact (every qualifying visit, whoever logged it) and the next due date."""
    _roll_up_contacts([account])


def accounts_refresh_contact(*, account_ids: Iterable[int]) -> None:
    """The same roll-up for many accounts (a visits import), in chunks so no query builds a giant IN list."""
    ids = sorted(set(account_ids))
    for start in range(0, len(ids), ROLL_UP_CHUNK):
        _roll_up_contacts(list(Account.objects.filter(pk__in=ids[start : start + ROLL_UP_CHUNK])))


def _roll_up_contacts(accounts: list[Account]) -> None:
    """The one last-contact roll-up: each account's latest working contact, then its cadence target and next
    due date (accounts.cadence), saved; two queries whatever the number of accounts."""
    defaults = cadence.tier_defaults()
    last = dict(
        Visit.objects.filter(account__in=accounts, kind__in=QUALIFYING_VISIT_KINDS)
        .values("account_id")
        .annotate(d=Max("date"))
        .values_list("account_id", "d")
    )
    now = timezone.now()
    for account in accounts:
        account.last_contact_date = last.get(account.pk)
        account.refresh_cadence(defaults.get(account.tier) if account.tier else None)
        account.updated_at = now
    # bulk_update writes no historical rows: this is bookkeeping, and a history row per visit logged would be
    # an empty "changed" entry in the managers' audit trail, burying the real changes.
    Account.objects.bulk_update(accounts, CONTACT_FIELDS)


@transaction.atomic
def visit_log(
    *,
    account: Account,
    logged_by: User,
    date: datetime.date,
    kind: str,
    summary: str,
    next_steps: str = "",
    follow_up_date: datetime.date | None = None,
    influencers=(),
    cost: Decimal | None = None,
    replay_window: datetime.timedelta | None = None,
) -> Visit:
    """Log a visit and roll it up: the account's last contact, its due date, each influencer's last contact.

    With `replay_window`, the same visit sent again by the same person within the window (a double-clicked
    Save, a resent form) returns the visit already logged instead of logging it twice. The account row lock
    taken first makes a concurrent second submission wait for the first and then find its visit.
    """
    if replay_window is not None:
        Account.objects.select_for_update().filter(pk=account.pk).exists()
        earlier = (
            Visit.objects.filter(
                account=account,
                logged_by=logged_by,
                date=date,
                kind=kind,
                summary=summary,
                next_steps=next_steps,
                follow_up_date=follow_up_date,
                cost=cost,
                created_at__gte=timezone.now() - replay_window,
            )
            .order_by("-id")
            .first()
        )
        if earlier is not None:
            return earlier
    visit = Visit.objects.create(
        account=account,
        logged_by=logged_by,
        date=date,
        kind=kind,
        summary=summary,
        next_steps=next_steps,
        follow_up_date=follow_up_date,
        cost=cost,
    )
    influencers = list(influencers)
    if influencers:
        visit.influencers.set(influencers)
        for person in influencers:
            if person.last_contact_date is None or person.last_contact_date < date:
                person.last_contact_date = date
                person.save_without_historical_record(update_fields=["last_contact_date"])  # not audited
    account_refresh_contact(account=Account.objects.select_for_update().get(pk=account.pk))
    alerts_resolve(account_ids=[account.pk], today=timezone.localdate())
    return visit


@transaction.atomic
def account_designate(*, account: Account, is_key: bool, reason: str, decided_by: User) -> Account:
    """Make or unmake a key account: a management decision with a reason, logged."""
    reason = reason.strip()
    if not reason:
        raise ValueError("A key-account decision needs a reason.")
    account = Account.objects.select_for_update().get(pk=account.pk)
    account.is_key = is_key
    account.key_reason = reason
    account.key_decided_by = decided_by
    account.key_since = timezone.localdate() if is_key else None
    # The history names who decided even when no request is around (a command, a task).
    account._history_user = decided_by
    account._change_reason = "Made a key account" if is_key else "No longer a key account"
    account.save()
    KeyDesignation.objects.create(account=account, is_key=is_key, reason=reason, decided_by=decided_by)
    return account


def _changes(instance, data: dict) -> bool:
    """Whether `data` (field name -> value) differs from the instance; foreign keys compared by id, unread."""
    for name, value in data.items():
        field = instance._meta.get_field(name)
        current = getattr(instance, field.attname)
        if (value.pk if field.is_relation and value is not None else value) != current:
            return True
    return False


@transaction.atomic
def account_update(*, account: Account, data: dict, by: User) -> Account:
    """Save edits to an account; ratings remember who rated and when, the cadence target follows overrides.

    Edits that change nothing (an integration's nightly PUT of the same account) save nothing: a save would be
    an empty "changed" entry in the audit trail."""
    if account.pk is not None and not _changes(account, data):
        return account
    ratings_changed = any(
        data.get(field) != getattr(account, field) for field in MANAGER_RATINGS if field in data
    )
    # The forms and the API refuse these with a message first; here they are enforced for every caller.
    if ratings_changed and not access.may_rate(by):
        raise PermissionDenied(access.RATING_REFUSED)
    owner_id = (data["owner"].pk if data["owner"] else None) if "owner" in data else account.owner_id
    # Whoever creates an account may own it; choosing anyone else, or changing the owner, is a reassignment.
    reassigned = owner_id not in (None, by.pk) if account.pk is None else owner_id != account.owner_id
    if reassigned and not access.may_reassign(by):
        raise PermissionDenied(access.REASSIGN_REFUSED)
    for field, value in data.items():
        setattr(account, field, value)
    if ratings_changed:
        account.ratings_by = by
        account.ratings_at = timezone.now()
    account.refresh_cadence(tier_cadence_default(account.tier))
    account.full_clean()
    account._history_user = by
    account.save()
    return account
