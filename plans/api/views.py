"""Account plans, objectives and actions over REST (read-only: plans are made in the app)."""

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins

from accounts.api.base import AccountChildViewSet
from plans.api.filters import ActionFilter, ObjectiveFilter, PlanFilter
from plans.api.serializers import ActionSerializer, ObjectiveSerializer, PlanSerializer
from plans.models import AccountPlan, Objective, PlanAction


@extend_schema_view(
    list=extend_schema(
        summary="An account's plans",
        description="One plan per period: its ambition and status (at most one is active).",
        examples=[
            OpenApiExample(
                "The active plan",
                value={
                    "id": 9,
                    "account": 42,
                    "title": "Grow the partnership 2026",
                    "period_start": "2026-01-01",
                    "period_end": "2026-12-31",
                    "status": "active",
                    "ambition": "Become their sole supplier for chilled logistics.",
                    "closed_at": None,
                    "created_at": "2025-12-10T10:00:00Z",
                    "updated_at": "2026-06-01T10:00:00Z",
                },
                response_only=True,
            )
        ],
    )
)
class AccountPlanViewSet(mixins.ListModelMixin, AccountChildViewSet):
    serializer_class = PlanSerializer
    queryset = AccountPlan.objects.all()
    filterset_class = PlanFilter

    def get_children(self, account):
        return account.plans.order_by("-period_start", "-id")


@extend_schema_view(
    list=extend_schema(
        summary="An account's plan objectives",
        description="Measurable objectives of the account's plans (filter by `plan`), with progress from "
        "baseline to target.",
        examples=[
            OpenApiExample(
                "Revenue objective",
                value={
                    "id": 31,
                    "plan": 9,
                    "title": "Raise annual revenue",
                    "metric": "revenue",
                    "baseline": "100000.00",
                    "target": "150000.00",
                    "current": "125000.00",
                    "progress": 0.5,
                    "due_date": "2026-12-31",
                    "status": "open",
                },
                response_only=True,
            )
        ],
    )
)
class AccountObjectiveViewSet(mixins.ListModelMixin, AccountChildViewSet):
    serializer_class = ObjectiveSerializer
    queryset = Objective.objects.all()
    filterset_class = ObjectiveFilter

    def get_children(self, account):
        return Objective.objects.filter(plan__account=account).order_by("due_date", "id")


@extend_schema_view(
    list=extend_schema(
        summary="An account's plan actions",
        description="Actions under the five relationship approaches, each with an owner, a due date and a "
        "status; filter by `plan`, `status`, `approach` or `owner`.",
        examples=[
            OpenApiExample(
                "A site visit",
                value={
                    "id": 204,
                    "plan": 9,
                    "objective": 31,
                    "title": "Invite their quality team to the plant",
                    "approach": "personal_trust",
                    "owner": 7,
                    "due_date": "2026-12-05",
                    "status": "planned",
                    "cost": "450.00",
                    "completed_on": None,
                },
                response_only=True,
            )
        ],
    )
)
class AccountActionViewSet(mixins.ListModelMixin, AccountChildViewSet):
    serializer_class = ActionSerializer
    queryset = PlanAction.objects.all()
    filterset_class = ActionFilter

    def get_children(self, account):
        return PlanAction.objects.filter(plan__account=account).order_by("due_date", "id")
