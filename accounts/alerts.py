"""Cadence alerts: which accounts need one, and resolving them when a visit ends them (DOMAIN.md sections 3, 5).

The nightly check that opens and escalates them is workspace.cadence_check.

Every step is one set-based statement, so the check costs the same handful of queries for ten accounts or a
hundred thousand, and running it twice (or on two workers at once) changes nothing: alerts are inserted under
the partial unique constraint with ON CONFLICT DO NOTHING, resolving and escalating are conditional UPDATEs.

The check reads the denormalised `Account.next_contact_due`, which visit logging, account edits and the
nightly recompute keep current (the recompute is scheduled before the check for that reason).
"""

import datetime
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, Max, OuterRef, QuerySet, Subquery
from django.utils import timezone

from accounts.models import (
    Account,
    AccountStatus,
    AlertKind,
    AlertStatus,
    BuyingRole,
    CadenceAlert,
    User,
    Visit,
)


def lapsed_accounts(today: datetime.date) -> QuerySet[Account]:
    """Accounts whose next contact was due before `today` (a lost account has no cadence: accounts.cadence)."""
    return Account.objects.cadence_lapsed(today)


def coverage_gap_accounts(today: datetime.date) -> QuerySet[Account]:
    """Key accounts where no active decision maker / economic buyer was met in the last KAM_COVERAGE_GAP_DAYS.

    "Met" means present at a logged visit of any kind (a dinner with the CFO counts), whoever logged it.
    Annotated with `last_dm_met`, the date a decision maker was last met (None if never).
    """
    met_since = today - datetime.timedelta(days=settings.KAM_COVERAGE_GAP_DAYS)
    decision_maker_visits = Visit.objects.filter(
        account=OuterRef("pk"),
        date__lte=today,
        influencers__buying_role=BuyingRole.DECISION_MAKER,
        influencers__is_active=True,
    )
    last_met = decision_maker_visits.order_by().values("account").annotate(last=Max("date")).values("last")
    return (
        Account.objects.key_accounts()
        .exclude(status=AccountStatus.LOST)
        .exclude(Exists(decision_maker_visits.filter(date__gte=met_since)))
        .annotate(last_dm_met=Subquery(last_met))
    )


@transaction.atomic
def alerts_resolve(*, account_ids: Iterable[int], today: datetime.date) -> int:
    """Resolve the open alerts of these accounts that no longer apply; how many.

    Whatever logs visits calls it for the accounts it touched (a visit in the browser or the API: one; a
    visits import: every account in the file), so a visit never resolves another account's alert.
    """
    ids = list(account_ids)
    now = timezone.now()
    checks = (
        (AlertKind.LAPSED_CADENCE, lapsed_accounts(today)),
        (AlertKind.COVERAGE_GAP, coverage_gap_accounts(today)),
    )
    return sum(
        _resolve(kind, still=still.filter(pk__in=ids), today=today, now=now, account_ids=ids)
        for kind, still in checks
    )


def alert_acknowledge(*, alert: CadenceAlert, by: User) -> int:
    """The owner has seen the alert. Only an open alert can be acknowledged; returns 1 if this call did it."""
    now = timezone.now()
    count = CadenceAlert.objects.filter(pk=alert.pk, status=AlertStatus.OPEN).update(
        status=AlertStatus.ACKNOWLEDGED, acknowledged_by=by, acknowledged_at=now, updated_at=now
    )
    if count:
        alert.status, alert.acknowledged_by, alert.acknowledged_at = AlertStatus.ACKNOWLEDGED, by, now
    return count


def _resolve(
    kind: str,
    *,
    still: QuerySet[Account],
    today: datetime.date,
    now: datetime.datetime,
    account_ids: list[int] | None = None,
) -> int:
    alerts = CadenceAlert.objects.open().filter(kind=kind)
    if account_ids is not None:
        alerts = alerts.filter(account_id__in=account_ids)
    return alerts.exclude(account__in=still.values("pk")).update(
        status=AlertStatus.RESOLVED, resolved_on=today, updated_at=now
    )
