"""Reads for account plans: querysets scoped to the user and joined for the pages that show them."""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Count, Prefetch, Q, QuerySet, Window

from accounts.models import Account, Role, User
from plans.models import (
    APPROACH_AIMS,
    OPEN_ACTION_STATUSES,
    AccountPlan,
    ActionStatus,
    Approach,
    Objective,
    PlanAction,
    PlanStatus,
)


@dataclass
class ApproachGroup:
    """One of the five relationship approaches (DOMAIN.md section 7) with its aim and the plan's actions."""

    approach: str
    label: str
    aim: str
    actions: list[PlanAction] = field(default_factory=list)


def group_by_approach(actions: Iterable[PlanAction], *, include_empty: bool = True) -> list[ApproachGroup]:
    """The actions under their approach, always in the order of DOMAIN.md; empty approaches kept if asked,
    so a plan that ignores a whole way of building the relationship shows it."""
    groups = {value: ApproachGroup(value, label, APPROACH_AIMS[value]) for value, label in Approach.choices}
    for action in actions:
        groups[action.approach].actions.append(action)
    return [group for group in groups.values() if include_empty or group.actions]


def _contents() -> tuple[Prefetch, Prefetch]:
    return (
        Prefetch("objectives", queryset=Objective.objects.order_by("due_date", "id")),
        Prefetch(
            "actions",
            queryset=PlanAction.objects.select_related("owner", "objective").order_by("due_date", "id"),
        ),
    )


def plan_with_contents(pk: int) -> AccountPlan:
    """A plan (already access-checked) with its account, objectives and actions: four queries in all."""
    return (
        AccountPlan.objects.select_related("account", "account__owner")
        .prefetch_related(*_contents())
        .get(pk=pk)
    )


def active_plan(account: Account) -> AccountPlan | None:
    """The account's one active plan (a database constraint) with its objectives and actions, or None."""
    return (
        AccountPlan.objects.filter(account=account, status=PlanStatus.ACTIVE)
        .prefetch_related(*_contents())
        .first()
    )


def account_plans(account: Account) -> QuerySet[AccountPlan]:
    """Every plan of the account, newest period first, with what is in it counted in the same query."""
    return account.plans.annotate(
        objective_count=Count("objectives", distinct=True),
        action_count=Count("actions", distinct=True),
        open_action_count=Count("actions", filter=Q(actions__status__in=OPEN_ACTION_STATUSES), distinct=True),
    ).order_by("-period_start", "-id")


def account_team_users(account: Account) -> QuerySet[User]:
    """Who may own a plan action: the account's owner and its team members, in any function."""
    return (
        User.objects.filter(Q(pk=account.owner_id) | Q(team_memberships__account=account), is_active=True)
        .exclude(role=Role.INTEGRATION)
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


def actions_due(*, user: User, until: datetime.date) -> QuerySet[PlanAction]:
    """Open actions of active plans due by `until` that are the user's to push: owned by them, or on an
    account they own. Scoped to the accounts they can see (a team member who left keeps no view). Each row
    carries `total`, how many match in all, so a slice of it still knows the full count."""
    return (
        PlanAction.objects.due_by(until)
        .filter(
            Q(owner=user) | Q(plan__account__owner=user),
            plan__status=PlanStatus.ACTIVE,
            plan__account__in=Account.objects.visible_to(user).values("pk"),
        )
        .select_related("plan__account", "owner", "objective")
        .annotate(total=Window(Count("pk")))
        .order_by("due_date", "id")
    )


def plan_totals(actions: list[PlanAction], *, today: datetime.date) -> dict:
    """Counts and planned cost of already loaded actions (no query); cancelled actions cost nothing."""
    open_actions = [a for a in actions if a.status in OPEN_ACTION_STATUSES]
    costs = [a.cost for a in actions if a.cost is not None and a.status != ActionStatus.CANCELLED]
    return {
        "actions": len(actions),
        "open": len(open_actions),
        "done": sum(1 for a in actions if a.status == ActionStatus.DONE),
        "overdue": sum(1 for a in open_actions if a.due_date < today),
        "cost": sum(costs) if costs else None,
    }
