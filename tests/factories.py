import datetime
from decimal import Decimal

import factory
from django.utils import timezone

from accounts.models import Account, AccountTeamMember, Order, Role, ServiceIssue, User, Visit
from plans.models import AccountPlan, Approach, Objective, PlanAction
from profiles.models import AccountProfile, BuyingInfluencer, BuyingRole


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    role = Role.REP
    password = factory.django.Password("correct-horse-battery")


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Account {n:04d}")
    reference = factory.Sequence(lambda n: f"C-{n:05d}")
    industry = "Food"
    country = "NL"
    region = "Benelux"
    owner = factory.SubFactory(UserFactory)


class TeamMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccountTeamMember

    account = factory.SubFactory(AccountFactory)
    user = factory.SubFactory(UserFactory)


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    account = factory.SubFactory(AccountFactory)
    reference = factory.Sequence(lambda n: f"SO-{n:06d}")
    date = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=30))
    revenue = Decimal("1000.00")
    variable_cost = Decimal("700.00")


class InfluencerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BuyingInfluencer

    account = factory.SubFactory(AccountFactory)
    name = factory.Faker("name")
    title = "Head of Purchasing"
    buying_role = BuyingRole.DECISION_MAKER


class ProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccountProfile

    account = factory.SubFactory(AccountFactory)
    mission = "Feed the region with fresh food."


class VisitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Visit

    account = factory.SubFactory(AccountFactory)
    logged_by = factory.LazyAttribute(lambda v: v.account.owner)
    date = factory.LazyFunction(timezone.localdate)
    summary = "Reviewed the quarter."


class ServiceIssueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceIssue

    account = factory.SubFactory(AccountFactory)
    opened_on = factory.LazyFunction(timezone.localdate)
    description = "Truck arrived two days late."


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccountPlan

    account = factory.SubFactory(AccountFactory)
    title = "Grow the partnership"
    period_start = factory.LazyFunction(lambda: timezone.localdate().replace(month=1, day=1))
    period_end = factory.LazyFunction(lambda: timezone.localdate().replace(month=12, day=31))
    status = "active"


class ObjectiveFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Objective

    plan = factory.SubFactory(PlanFactory)
    title = "Raise annual revenue"
    metric = "revenue"
    baseline = Decimal("100000")
    target = Decimal("150000")
    due_date = factory.LazyFunction(lambda: timezone.localdate() + datetime.timedelta(days=90))


class ActionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlanAction

    plan = factory.SubFactory(PlanFactory)
    title = "Invite to the plant tour"
    approach = Approach.PERSONAL_TRUST
    owner = factory.LazyAttribute(lambda a: a.plan.account.owner)
    due_date = factory.LazyFunction(lambda: timezone.localdate() + datetime.timedelta(days=3))
