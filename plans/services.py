"""Writes for account plans that need more than a form's save. Keyword-only, typed, atomic."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from plans.models import AccountPlan, PlanStatus, one_active_plan_message


@transaction.atomic
def plan_save(*, plan: AccountPlan) -> AccountPlan:
    """Save a new or edited plan.

    PlanForm already refuses a second active plan; this closes the race where two people activate a plan of
    the same account at once: the database constraint `plan_one_active_per_account` stops the second, and it
    comes back as the same clear message on `status` instead of a server error.
    """
    try:
        with transaction.atomic():
            plan.save()
    except IntegrityError:
        other = (
            AccountPlan.objects.filter(account_id=plan.account_id, status=PlanStatus.ACTIVE)
            .exclude(pk=plan.pk)
            .first()
        )
        if plan.status != PlanStatus.ACTIVE or other is None:
            raise
        raise ValidationError({"status": one_active_plan_message(plan.account, other)}) from None
    return plan
