import django_filters

from kam.api.fields import IdFilter
from plans.models import (
    AccountPlan,
    ActionStatus,
    Approach,
    Objective,
    ObjectiveStatus,
    PlanAction,
    PlanStatus,
)


class PlanFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=PlanStatus.choices)

    class Meta:
        model = AccountPlan
        fields = []


class ObjectiveFilter(django_filters.FilterSet):
    plan = IdFilter(field_name="plan_id", help_text="The plan's id.")
    status = django_filters.ChoiceFilter(choices=ObjectiveStatus.choices)

    class Meta:
        model = Objective
        fields = []


class ActionFilter(django_filters.FilterSet):
    plan = IdFilter(field_name="plan_id", help_text="The plan's id.")
    status = django_filters.ChoiceFilter(choices=ActionStatus.choices)
    approach = django_filters.ChoiceFilter(choices=Approach.choices)
    owner = IdFilter(field_name="owner_id", help_text="The owner's user id.")

    class Meta:
        model = PlanAction
        fields = []
