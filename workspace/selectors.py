"""Reads for My day: the user's due accounts, open alerts and score changes, each a bounded query."""

import datetime

from django.db.models import Count, F, Q, QuerySet, Window
from django.db.models.functions import Abs, RowNumber

from accounts.models import Account, CadenceAlert


def my_due_accounts(*, user, until: datetime.date, limit: int = 10) -> QuerySet[Account]:
    """The user's own accounts due for a visit by `until`, most overdue first, at most `limit`; each row
    carries `total`, how many are due in all (a window count: no second query)."""
    return (
        Account.objects.visible_to(user)
        .filter(owner=user)
        .due_by(until)
        .annotate(total=Window(Count("pk")))
        .order_by("next_contact_due", "id")[:limit]
    )


_PERSON = ("first_name", "last_name", "username")
# What templates/accounts/includes/alert_item.html reads of an alert, its account and the people named.
ALERT_ITEM_FIELDS = (
    "kind",
    "status",
    "due_since",
    "escalated_at",
    "account__name",
    *(f"account__owner__{name}" for name in _PERSON),
    *(f"escalated_to__{name}" for name in _PERSON),
)


def my_open_alerts(*, user, limit: int = 10) -> list:
    """Open alerts on accounts the user owns, or escalated to them (a manager): the oldest `limit` of each
    kind, each row carrying `total`, how many of its kind are open in all (window functions, one query)."""
    oldest_first = [F("due_since").asc(), F("id").asc()]
    return list(
        CadenceAlert.objects.open()
        .filter(Q(account__owner=user) | Q(escalated_to=user))
        .filter(account__in=Account.objects.visible_to(user).values("pk"))
        .select_related("account", "account__owner", "escalated_to")
        # Only what My day shows: filtering on a window makes Django compile the query twice over, and every
        # column of three models in it cost ~10 ms of CPU a request.
        .only(*ALERT_ITEM_FIELDS)
        .annotate(
            row=Window(RowNumber(), partition_by=F("kind"), order_by=oldest_first),
            total=Window(Count("pk"), partition_by=F("kind")),
        )
        .filter(row__lte=limit)
        .order_by("kind", "due_since", "id")
    )


def my_score_changes(*, user, limit: int = 10) -> QuerySet[Account]:
    """The user's accounts whose score moved at the latest run, biggest moves first."""
    return (
        Account.objects.filter(owner=user)
        .exclude(score_change__isnull=True)
        .exclude(score_change=0)
        .order_by(F("scored_at").desc(nulls_last=True), Abs("score_change").desc(), "id")[:limit]
    )
