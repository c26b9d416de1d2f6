"""Account plans: objectives and actions under the five relationship approaches (DOMAIN.md section 7)."""

import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.formats import date_format

from accounts.models import Account, User
from accounts.validators import no_bidi_controls
from kam.models import AuditHistory, TimeStampedModel


class PlanStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    CLOSED = "closed", "Closed"


class AccountPlan(TimeStampedModel):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="plans")
    title = models.CharField(max_length=200, validators=[no_bidi_controls])
    period_start = models.DateField()
    period_end = models.DateField()
    status = models.CharField(max_length=10, choices=PlanStatus.choices, default=PlanStatus.DRAFT)
    ambition = models.TextField(blank=True, help_text="Where we want to be with this account by the end.")
    closed_at = models.DateTimeField(null=True, blank=True)

    history = AuditHistory(excluded_fields=["created_at", "updated_at"])

    class Meta:
        ordering = ["-period_start", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(period_end__gte=F("period_start")), name="plan_period_order"),
            # At most one active plan per account, so "the plan" on the account page is unambiguous.
            models.UniqueConstraint(
                fields=["account"], condition=Q(status="active"), name="plan_one_active_per_account"
            ),
        ]

    def __str__(self):
        return self.title

    def close(self, *, when: datetime.datetime) -> None:
        if self.status == PlanStatus.CLOSED:
            raise ValidationError("This plan is already closed.")
        self.status = PlanStatus.CLOSED
        self.closed_at = when
        self.save(update_fields=["status", "closed_at", "updated_at"])


class ObjectiveStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACHIEVED = "achieved", "Achieved"
    MISSED = "missed", "Missed"
    DROPPED = "dropped", "Dropped"


class Objective(TimeStampedModel):
    plan = models.ForeignKey(AccountPlan, on_delete=models.CASCADE, related_name="objectives")
    title = models.CharField(max_length=200, validators=[no_bidi_controls])
    metric = models.CharField(max_length=100, help_text="What is measured, e.g. 'annual revenue' or 'CM %'.")
    baseline = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    target = models.DecimalField(max_digits=14, decimal_places=2)
    current = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    due_date = models.DateField()
    status = models.CharField(max_length=10, choices=ObjectiveStatus.choices, default=ObjectiveStatus.OPEN)

    history = AuditHistory(excluded_fields=["created_at", "updated_at"])

    class Meta:
        ordering = ["due_date", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(target=F("baseline")), name="objective_target_differs"),
        ]

    def __str__(self):
        return self.title

    @property
    def progress(self) -> float:
        """How far from baseline towards target, clamped to 0..1 (works for targets below baseline too)."""
        if self.current is None:
            return 0.0
        share = float((self.current - self.baseline) / (self.target - self.baseline))
        return max(0.0, min(1.0, share))


class Approach(models.TextChoices):
    PERSONAL_TRUST = "personal_trust", "Personal trust"
    TECHNICAL_SUPPORT = "technical_support", "Technical support"
    RESOURCE_SUPPORT = "resource_support", "Resource support"
    SERVICE_LEVELS = "service_levels", "Service levels"
    RISK_REDUCTION = "risk_reduction", "Risk reduction"


APPROACH_AIMS = {
    Approach.PERSONAL_TRUST: "Confidence and reassurance",
    Approach.TECHNICAL_SUPPORT: "Know-how and productivity",
    Approach.RESOURCE_SUPPORT: "Lighten their financial burden",
    Approach.SERVICE_LEVELS: "Better service",
    Approach.RISK_REDUCTION: "Lower their uncertainty",
}


class ActionStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


OPEN_ACTION_STATUSES = (ActionStatus.PLANNED, ActionStatus.IN_PROGRESS)


class PlanActionQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=OPEN_ACTION_STATUSES)

    def due_by(self, day: datetime.date):
        return self.open().filter(due_date__lte=day)


class PlanAction(TimeStampedModel):
    plan = models.ForeignKey(AccountPlan, on_delete=models.CASCADE, related_name="actions")
    objective = models.ForeignKey(
        Objective, null=True, blank=True, on_delete=models.SET_NULL, related_name="actions"
    )
    title = models.CharField(max_length=200, validators=[no_bidi_controls])
    approach = models.CharField(max_length=20, choices=Approach.choices)
    owner = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="plan_actions",
        help_text="Anyone on the account team, in any function.",
    )
    due_date = models.DateField()
    status = models.CharField(max_length=12, choices=ActionStatus.choices, default=ActionStatus.PLANNED)
    cost = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    completed_on = models.DateField(null=True, blank=True)

    history = AuditHistory(excluded_fields=["created_at", "updated_at"])
    objects = PlanActionQuerySet.as_manager()

    class Meta:
        ordering = ["due_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(cost__isnull=True) | Q(cost__gte=0), name="action_cost_positive"
            ),
        ]
        indexes = [
            # My day: open actions due this week, by owner.
            models.Index(fields=["owner", "status", "due_date"], name="action_owner_due_idx"),
        ]

    def __str__(self):
        return self.title

    def clean(self):
        if self.objective_id and self.objective.plan_id != self.plan_id:
            raise ValidationError({"objective": "The objective must belong to the same plan."})

    def set_status(self, status: str, *, today: datetime.date) -> None:
        if status not in ActionStatus.values:
            raise ValidationError(f"Unknown status {status!r}.")
        self.status = status
        self.completed_on = today if status == ActionStatus.DONE else None
        self.save(update_fields=["status", "completed_on", "updated_at"])

    def is_overdue(self, today: datetime.date) -> bool:
        return self.status in OPEN_ACTION_STATUSES and self.due_date < today


def one_active_plan_message(account: Account, other: AccountPlan) -> str:
    period = f"{date_format(other.period_start, 'j M Y')} to {date_format(other.period_end, 'j M Y')}"
    return (
        f"{account} already has an active plan, “{other.title}” ({period}). "
        "Close that plan first, or save this one as a draft."
    )
