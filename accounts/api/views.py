"""Accounts, orders, visits, service issues and cadence alerts over REST.

Reads: querysets scoped with `visible_to(user)`, single objects through the access helpers. Writes: an input
serializer validates, a service writes, an output serializer answers.
"""

from django.db.models import Prefetch
from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response

from accounts import access, selectors, services
from accounts.access import get_object_for_user
from accounts.alerts import alert_acknowledge
from accounts.api import serializers as s
from accounts.api.base import AccountChildViewSet, account_for_request
from accounts.api.examples import (
    ACCOUNT_EXAMPLE,
    ALERT_EXAMPLE,
    ORDER_EXAMPLE,
    VISIT_EXAMPLE,
)
from accounts.api.filters import AccountFilter, CadenceAlertFilter, OrderFilter, ServiceIssueFilter
from accounts.models import Account, AlertStatus, CadenceAlert, Order, ServiceIssue, Visit
from accounts.orders import OrderRefusal, OrdersRefused, orders_upsert
from kam.api import idempotency
from kam.api.filters import FilterBackend
from kam.api.permissions import api_key_of
from kam.api.problems import Conflict
from kam.api.scopes import ApiScope
from kam.api.viewsets import ApiViewSet


@extend_schema_view(
    list=extend_schema(
        summary="List accounts",
        description="The accounts you can see (a rep's key: the rep's own and team accounts), with the "
        "hierarchy as `parent` and visible `children` ids. For an incremental sync, filter with "
        "`updated_since` and order by `updated_at`.",
        examples=[OpenApiExample("A page of accounts", value=ACCOUNT_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One account",
        description="404 when the account does not exist or you cannot see it.",
        examples=[OpenApiExample("An account", value=ACCOUNT_EXAMPLE, response_only=True)],
    ),
    create=extend_schema(
        summary="Create an account",
        description="Needs the `write_accounts` scope. A rep's new account is their own; managers and "
        "integration keys may name the owner. Key designation is a manager's decision in the app.",
        request=s.AccountWriteSerializer,
        responses={201: s.AccountSerializer},
        parameters=[idempotency.PARAMETER],
        examples=[
            OpenApiExample(
                "A new customer from the ERP",
                value={"name": "Noordzee Foods B.V.", "reference": "C-10042", "country": "NL", "owner": 7},
                request_only=True,
            ),
            OpenApiExample("Created", value=ACCOUNT_EXAMPLE, response_only=True, status_codes=["201"]),
        ],
    ),
    update=extend_schema(
        summary="Replace an account's editable fields",
        description="Needs the `write_accounts` scope and an account you may change (403 otherwise). "
        "Fields left out keep their stored values (defaults such as status=active apply on create only).",
        request=s.AccountWriteSerializer,
        responses={200: s.AccountSerializer},
        examples=[
            OpenApiExample(
                "Full update",
                value={"name": "Noordzee Foods B.V.", "reference": "C-10042", "region": "Benelux"},
                request_only=True,
            ),
            OpenApiExample("Updated", value=ACCOUNT_EXAMPLE, response_only=True),
        ],
    ),
    partial_update=extend_schema(
        summary="Change some of an account's fields",
        description="Needs the `write_accounts` scope. Ratings are a manager's: only managers and "
        "integration keys may change them (a rep's key gets a 400 naming the field), and they remember "
        "who set them and when.",
        request=s.AccountWriteSerializer,
        responses={200: s.AccountSerializer},
        examples=[
            OpenApiExample(
                "Rate the account", value={"image_rating": 4, "partnership_rating": 5}, request_only=True
            ),
            OpenApiExample("Updated", value=ACCOUNT_EXAMPLE, response_only=True),
        ],
    ),
)
class AccountViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    serializer_class = s.AccountSerializer
    write_scope = ApiScope.WRITE_ACCOUNTS
    queryset = Account.objects.none()
    filter_backends = [FilterBackend, OrderingFilter]
    filterset_class = AccountFilter
    ordering_fields = ["name", "updated_at", "rank", "score", "id"]
    ordering = ["name", "id"]

    def get_queryset(self):
        if self.schema_only:
            return Account.objects.none()
        visible = Account.objects.visible_to(self.request.user)
        children = Prefetch(
            "children", queryset=visible.only("id", "parent_id").order_by("id"), to_attr="visible_children"
        )
        accounts = visible.select_related("owner").prefetch_related(children)
        return selectors.with_parent_visibility(accounts, user=self.request.user)

    def get_object(self):
        return account_for_request(self.request, self.kwargs["pk"], queryset=self.get_queryset())

    def _answer(self, account: Account, code=status.HTTP_200_OK) -> Response:
        account = account_for_request(self.request, account.pk, queryset=self.get_queryset())
        headers = {"Location": reverse("v1:account-detail", args=[account.pk])} if code == 201 else None
        return Response(s.AccountSerializer(account).data, status=code, headers=headers)

    @idempotency.idempotent
    def create(self, request):
        serializer = s.AccountWriteSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if not access.may_reassign(request.user):
            data["owner"] = request.user  # whoever else creates an account owns it
        account = services.account_update(account=Account(), data=data, by=request.user)
        return self._answer(account, status.HTTP_201_CREATED)

    def update(self, request, pk=None, partial=False):
        account = account_for_request(request, pk, write=True)
        serializer = s.AccountWriteSerializer(
            account, data=request.data, partial=partial, context={"request": request}
        )
        serializer.is_valid(raise_exception=True)
        account = services.account_update(
            account=account, data=dict(serializer.validated_data), by=request.user
        )
        return self._answer(account)

    def partial_update(self, request, pk=None):
        return self.update(request, pk, partial=True)


@extend_schema_view(
    list=extend_schema(
        summary="List orders",
        description="Orders of the accounts you can see, newest first; filter by account (id or reference) "
        "and date range.",
        examples=[OpenApiExample("An order", value=ORDER_EXAMPLE, response_only=True)],
    )
)
class OrderViewSet(mixins.ListModelMixin, ApiViewSet):
    serializer_class = s.OrderSerializer
    write_scope = ApiScope.WRITE_ORDERS
    queryset = Order.objects.none()
    filterset_class = OrderFilter

    def get_queryset(self):
        if self.schema_only:
            return Order.objects.none()
        visible = Account.objects.visible_to(self.request.user).values("pk")
        return Order.objects.filter(account__in=visible).select_related("account").order_by("-date", "-id")

    @extend_schema(
        summary="Create or update orders in bulk",
        description="Upsert up to 10,000 orders by (account, reference): a new reference is created, a known "
        "one updated, an identical one left alone, so sending the same batch twice changes nothing. "
        "All or nothing: if any row is invalid (an account you cannot see, a repeated reference, a bad "
        "amount), nothing is written and `errors` lists every problem as `orders[<row>].<field>`. "
        "Needs the `write_orders` scope.",
        request=s.OrderBulkSerializer,
        parameters=[idempotency.PARAMETER],
        responses={200: s.OrderBulkResultSerializer},
        examples=[
            OpenApiExample(
                "Two orders, one by KAM id and one by ERP customer number",
                value={
                    "orders": [
                        {
                            "account": 42,
                            "reference": "SO-2026-001234",
                            "date": "2026-11-20",
                            "revenue": "12500.00",
                            "variable_cost": "8300.00",
                        },
                        {
                            "account_reference": "C-10077",
                            "reference": "SO-2026-001235",
                            "date": "2026-11-20",
                            "revenue": "900.00",
                            "variable_cost": "610.50",
                        },
                    ]
                },
                request_only=True,
            ),
            OpenApiExample(
                "The same batch sent twice: the second time",
                value={"received": 2, "created": 0, "updated": 0, "unchanged": 2},
                response_only=True,
            ),
            OpenApiExample(
                "A refused batch",
                value={
                    "type": "urn:kam:problem:validation-error",
                    "title": "The request is not valid",
                    "status": 400,
                    "detail": "1 problem in the request: orders[1].account_reference. See errors.",
                    "errors": {"orders[1].account_reference": ["No such account, or not one you can see."]},
                },
                response_only=True,
                status_codes=["400"],
                media_type="application/problem+json",
            ),
        ],
    )
    @action(detail=False, methods=["post"], url_path="bulk")
    @idempotency.idempotent
    def bulk(self, request):
        serializer = s.OrderBulkSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rows = serializer.validated_data["orders"]
        try:
            result = orders_upsert(user=request.user, key=api_key_of(request), rows=rows)
        except OrdersRefused as refused:
            raise ValidationError({"orders": _bulk_errors(refused.refusals, len(rows))}) from None
        return Response(s.OrderBulkResultSerializer(result).data)


def _bulk_errors(refusals: list[OrderRefusal], count: int) -> list[dict]:
    """The upsert's refusals as the batch's per-row errors (the import words the same refusals for a file)."""
    errors: list[dict] = [{} for _ in range(count)]
    for refusal in refusals:
        if refusal.repeats is not None:
            message = f"Repeats row {refusal.repeats}: each order may appear once per batch."
        else:
            message = "No such account, or not one you can see."
        errors[refusal.row][refusal.field] = [message]
    return errors


@extend_schema_view(
    list=extend_schema(
        summary="An account's visits",
        description="Every logged contact with the account, newest first.",
        examples=[OpenApiExample("A visit", value=VISIT_EXAMPLE, response_only=True)],
    ),
    create=extend_schema(
        summary="Log a visit",
        description="Records the contact and rolls it up exactly as the app does: the account's last contact "
        "and next due date, each influencer's last meeting, and resolving a lapsed-cadence alert. Needs "
        "the `write_visits` scope and an account you may change.",
        request=s.VisitCreateSerializer,
        responses={201: s.VisitSerializer},
        parameters=[idempotency.PARAMETER],
        examples=[
            OpenApiExample(
                "An on-site visit",
                value={
                    "date": "2026-11-20",
                    "kind": "on_site",
                    "summary": "Quarterly review with purchasing; they want a joint forecast.",
                    "influencers": [118],
                    "follow_up_date": "2026-12-04",
                },
                request_only=True,
            ),
            OpenApiExample("Logged", value=VISIT_EXAMPLE, response_only=True, status_codes=["201"]),
        ],
    ),
)
class AccountVisitViewSet(mixins.ListModelMixin, AccountChildViewSet):
    serializer_class = s.VisitSerializer
    write_scope = ApiScope.WRITE_VISITS
    queryset = Visit.objects.all()

    def get_children(self, account):
        people = Prefetch("influencers", queryset=Visit.influencers.rel.model.objects.only("id"))
        return account.visits.prefetch_related(people).order_by("-date", "-id")

    @idempotency.idempotent
    def create(self, request, account_pk=None):
        account = self.get_account(write=True)
        serializer = s.VisitCreateSerializer(data=request.data, context={"account": account})
        serializer.is_valid(raise_exception=True)
        visit = services.visit_log(account=account, logged_by=request.user, **serializer.validated_data)
        return Response(s.VisitSerializer(visit).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(
        summary="An account's service problems",
        description="Missed deliveries, quality defects, service delays and billing errors, newest first.",
        examples=[
            OpenApiExample(
                "A late delivery",
                value={
                    "id": 77,
                    "account": 42,
                    "kind": "late_delivery",
                    "severity": "high",
                    "opened_on": "2026-11-10",
                    "resolved_on": None,
                    "is_open": True,
                    "description": "Truck arrived two days late.",
                    "reported_by": 7,
                    "created_at": "2026-11-10T08:00:00Z",
                },
                response_only=True,
            )
        ],
    )
)
class AccountServiceIssueViewSet(mixins.ListModelMixin, AccountChildViewSet):
    serializer_class = s.ServiceIssueSerializer
    queryset = ServiceIssue.objects.all()
    filterset_class = ServiceIssueFilter

    def get_children(self, account):
        return account.service_issues.order_by("-opened_on", "-id")


@extend_schema_view(
    list=extend_schema(
        summary="Cadence alerts",
        description="Alerts on the accounts you can see: a lapsed visit cadence, or a key account where no "
        "decision maker was met recently. A visit resolves them; acknowledging only says you saw it.",
        examples=[OpenApiExample("An open alert", value=ALERT_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One cadence alert",
        description="404 when it is on an account you cannot see.",
        examples=[OpenApiExample("An open alert", value=ALERT_EXAMPLE, response_only=True)],
    ),
)
class CadenceAlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    serializer_class = s.CadenceAlertSerializer
    write_scope = ApiScope.WRITE_VISITS
    queryset = CadenceAlert.objects.none()
    filterset_class = CadenceAlertFilter

    def get_queryset(self):
        if self.schema_only:
            return CadenceAlert.objects.none()
        return (
            CadenceAlert.objects.visible_to(self.request.user)
            .select_related("account")
            .order_by("-opened_on", "-id")
        )

    def get_object(self):
        return get_object_for_user(self.request.user, CadenceAlert, self.kwargs["pk"])

    @extend_schema(
        summary="Acknowledge a cadence alert",
        description="Says the owner has seen it (a visit still has to resolve it). Acknowledging twice is "
        "harmless; a resolved alert answers 409. Needs the `write_visits` scope.",
        request=None,
        responses={200: s.CadenceAlertSerializer, 409: OpenApiResponse(description="The alert is resolved.")},
        examples=[
            OpenApiExample(
                "Acknowledged",
                value={
                    **ALERT_EXAMPLE,
                    "status": "acknowledged",
                    "acknowledged_by": 7,
                    "acknowledged_at": "2026-11-23T09:12:00Z",
                },
                response_only=True,
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        # As for accounts (accounts.api.base.account_for_request): an integration key's scope is its right to write.
        by_integration_key = access.acts_as_integration(request.user, api_key_of(request))
        alert = get_object_for_user(request.user, CadenceAlert, pk, write=not by_integration_key)
        if alert.status == AlertStatus.RESOLVED:
            raise Conflict("This alert is resolved already; only open alerts can be acknowledged.")
        alert_acknowledge(alert=alert, by=request.user)
        alert = get_object_for_user(request.user, CadenceAlert, pk)
        return Response(s.CadenceAlertSerializer(alert).data)
