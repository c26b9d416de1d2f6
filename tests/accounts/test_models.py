"""Database constraints hold the invariants even when code forgets to validate."""

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Account
from plans.models import ActionStatus
from tests.factories import AccountFactory, ActionFactory, ObjectiveFactory, OrderFactory, PlanFactory

pytestmark = pytest.mark.django_db


def fails(fn):
    with pytest.raises(IntegrityError), transaction.atomic():
        fn()


def test_negative_revenue_or_cost_is_refused(world):
    fails(lambda: OrderFactory(account=world.rep_account, revenue=Decimal("-1")))
    fails(lambda: OrderFactory(account=world.rep_account, variable_cost=Decimal("-1")))


def test_order_reference_unique_per_account_but_not_across(world):
    OrderFactory(account=world.rep_account, reference="SO-1")
    OrderFactory(account=world.other_account, reference="SO-1")
    fails(lambda: OrderFactory(account=world.rep_account, reference="SO-1"))
    OrderFactory(account=world.rep_account, reference="")
    OrderFactory(account=world.rep_account, reference="")


def test_account_reference_unique_when_present(world):
    AccountFactory(reference="")
    AccountFactory(reference="")
    fails(lambda: AccountFactory(reference=world.rep_account.reference))


def test_key_account_needs_date_and_reason(world):
    world.rep_account.is_key = True
    fails(lambda: world.rep_account.save())


def test_rating_outside_one_to_five_is_refused(world):
    fails(lambda: Account.objects.filter(pk=world.rep_account.pk).update(image_rating=6))


def test_contribution_margin_is_derived():
    order = OrderFactory.build(revenue=Decimal("200"), variable_cost=Decimal("150"))
    assert order.contribution_margin == Decimal("50")
    assert order.cm_pct == Decimal("0.25")


def test_only_one_active_plan_per_account(world):
    PlanFactory(account=world.rep_account, status="active")
    fails(lambda: PlanFactory(account=world.rep_account, status="active"))


def test_objective_progress_is_clamped():
    objective = ObjectiveFactory.build(baseline=Decimal("100"), target=Decimal("200"), current=Decimal("150"))
    assert objective.progress == 0.5
    objective.current = Decimal("500")
    assert objective.progress == 1.0
    lower = ObjectiveFactory.build(baseline=Decimal("10"), target=Decimal("5"), current=Decimal("8"))
    assert lower.progress == pytest.approx(0.4)


def test_plan_close_and_action_status(world):
    plan = PlanFactory(account=world.rep_account)
    action = ActionFactory(plan=plan)
    action.set_status(ActionStatus.DONE, today=timezone.localdate())
    assert action.completed_on == timezone.localdate()
    plan.close(when=timezone.now())
    assert plan.status == "closed"


def test_cadence_status():
    today = datetime.date(2026, 6, 1)
    account = Account(next_contact_due=datetime.date(2026, 5, 20))
    assert account.cadence_status(today) == "lapsed"
    assert account.days_overdue(today) == 12
    account.next_contact_due = datetime.date(2026, 6, 5)
    assert account.cadence_status(today) == "due"
    account.next_contact_due = None
    assert account.cadence_status(today) == "none"
