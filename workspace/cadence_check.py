"""The nightly cadence check: open, resolve and escalate alerts (DOMAIN.md sections 3 and 5), then tell the
integrations that subscribed to `alert.opened`.

Every step is one set-based statement, so the check costs the same handful of queries for ten accounts or a
hundred thousand, and running it twice (or on two workers at once) changes nothing: alerts are inserted under
the partial unique constraint with ON CONFLICT DO NOTHING, resolving and escalating are conditional UPDATEs.
Which accounts need an alert, and resolving, are the core's rules (accounts.alerts).
"""

import datetime
from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import DateField, DateTimeField, F, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from accounts.alerts import _resolve, coverage_gap_accounts, lapsed_accounts
from accounts.models import Account, AlertKind, AlertStatus, CadenceAlert
from integrations.webhooks import webhooks_emit_alerts_opened


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
