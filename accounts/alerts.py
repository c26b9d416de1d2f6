"""Cadence alerts: opened, resolved and escalated by the nightly cadence check (DOMAIN.md sections 3 and 5).

Every step is one set-based statement, so the check costs the same handful of queries for ten accounts or a
hundred thousand, and running it twice (or on two workers at once) changes nothing: alerts are inserted under
the partial unique constraint with ON CONFLICT DO NOTHING, resolving and escalating are conditional UPDATEs.

The check reads the denormalised `Account.next_contact_due`, which visit logging, account edits and the
nightly recompute keep current (the recompute is scheduled before the check for that reason).
"""

import datetime
from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import DateField, DateTimeField, Exists, F, Max, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from accounts.models import (
    Account,
    AccountStatus,
    AlertKind,
    AlertStatus,
    CadenceAlert,
    User,
    Visit,
)
from accounts.webhooks import webhooks_emit_alerts_opened
from profiles.models import BuyingRole


@dataclass(frozen=True)
class CadenceCheckResult:
    today: datetime.date
    lapsed_opened: int
    lapsed_resolved: int
    escalated: int
    coverage_opened: int
    coverage_resolved: int

    def as_dict(self) -> dict:
        """JSON-safe, for a task result."""
        return {**asdict(self), "today": self.today.isoformat()}


def lapsed_accounts(today: datetime.date) -> QuerySet[Account]:
    """Accounts whose next contact was due before `today` (lost customers are out of the portfolio)."""
    return Account.objects.cadence_lapsed(today).exclude(status=AccountStatus.LOST)


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
def cadence_check(*, today: datetime.date) -> CadenceCheckResult:
    """Bring the alerts in line with the accounts as of `today`. Safe to run twice; a fixed number of queries.

    1. resolve open alerts whose account is no longer lapsed (or no longer has a coverage gap);
    2. open one alert per lapsed account and per key account with a coverage gap (the constraint: one only);
    3. escalate alerts (lapsed cadence and coverage gaps alike) open longer than KAM_ALERT_GRACE_DAYS to the
       owner's manager, once. Acknowledging an alert does not stop the escalation: only a visit ends it.
    """
    now = timezone.now()
    lapsed = lapsed_accounts(today)
    gaps = coverage_gap_accounts(today)
    lapsed_resolved = _resolve(AlertKind.LAPSED_CADENCE, still=lapsed, today=today, now=now)
    coverage_resolved = _resolve(AlertKind.COVERAGE_GAP, still=gaps, today=today, now=now)
    lapsed_opened = _open(
        AlertKind.LAPSED_CADENCE, lapsed, due_since=F("next_contact_due"), today=today, now=now
    )
    coverage_ran_out = Cast(
        F("last_dm_met") + datetime.timedelta(days=settings.KAM_COVERAGE_GAP_DAYS), output_field=DateField()
    )
    coverage_opened = _open(
        AlertKind.COVERAGE_GAP,
        gaps,
        due_since=Coalesce(coverage_ran_out, F("key_since")),
        today=today,
        now=now,
    )
    opened = lapsed_opened + coverage_opened
    if opened:
        # Recorded in this transaction, delivered by Celery after commit; no subscriber, no cost.
        webhooks_emit_alerts_opened(alert_ids=opened)
    return CadenceCheckResult(
        today=today,
        lapsed_opened=len(lapsed_opened),
        lapsed_resolved=lapsed_resolved,
        escalated=_escalate(today=today, now=now),
        coverage_opened=len(coverage_opened),
        coverage_resolved=coverage_resolved,
    )


@transaction.atomic
def alerts_resolve_for_account(*, account_id: int, today: datetime.date) -> int:
    """Resolve the open alerts of one account that no longer apply (visit logging calls this); how many."""
    now = timezone.now()
    checks = (
        (AlertKind.LAPSED_CADENCE, lapsed_accounts(today)),
        (AlertKind.COVERAGE_GAP, coverage_gap_accounts(today)),
    )
    return sum(
        _resolve(kind, still=still.filter(pk=account_id), today=today, now=now, account_id=account_id)
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
    kind: str, *, still: QuerySet[Account], today: datetime.date, now: datetime.datetime, account_id=None
) -> int:
    alerts = CadenceAlert.objects.open().filter(kind=kind)
    if account_id is not None:
        alerts = alerts.filter(account_id=account_id)
    return alerts.exclude(account__in=still.values("pk")).update(
        status=AlertStatus.RESOLVED, resolved_on=today, updated_at=now
    )


def _open(kind: str, accounts: QuerySet[Account], *, due_since, today: datetime.date, now) -> list[int]:
    """INSERT .. SELECT one alert per account; the partial unique constraint skips accounts that have one.

    Returns the ids of the alerts it opened (RETURNING: PostgreSQL, and SQLite since 3.35).
    """
    rows = (
        accounts.order_by()
        .annotate(
            alert_kind=Value(kind),
            alert_status=Value(AlertStatus.OPEN.value),
            alert_opened_on=Value(today, output_field=DateField()),
            alert_due_since=due_since,
            alert_stamp=Value(now, output_field=DateTimeField()),
        )
        .values_list(
            "pk",
            "alert_kind",
            "alert_status",
            "alert_opened_on",
            "alert_due_since",
            "alert_stamp",
            "alert_stamp",
        )
    )
    select_sql, params = rows.query.sql_with_params()
    qn = connection.ops.quote_name
    columns = ", ".join(
        qn(c) for c in ("account_id", "kind", "status", "opened_on", "due_since", "created_at", "updated_at")
    )
    # The SELECT always has a WHERE clause, which SQLite needs to parse INSERT .. SELECT .. ON CONFLICT.
    table = qn(CadenceAlert._meta.db_table)
    sql = f"INSERT INTO {table} ({columns}) {select_sql} ON CONFLICT DO NOTHING RETURNING {qn('id')}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def _escalate(*, today: datetime.date, now: datetime.datetime) -> int:
    """Hand alerts open longer than the grace period to the owner's manager, if the owner has one."""
    opened_before = today - datetime.timedelta(days=settings.KAM_ALERT_GRACE_DAYS)
    owners_manager = Account.objects.filter(pk=OuterRef("account_id")).order_by().values("owner__manager")[:1]
    return (
        CadenceAlert.objects.open()
        .filter(
            escalated_at__isnull=True,
            opened_on__lt=opened_before,
            account__owner__manager__isnull=False,
            account__owner__manager__is_active=True,
        )
        .update(escalated_at=now, escalated_to=Subquery(owners_manager), updated_at=now)
    )
