"""Webhook endpoints over REST: each user manages their own; deliveries carry only what they can see."""

from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from integrations import webhooks
from integrations.api import serializers as s
from integrations.api.examples import DELIVERY_EXAMPLE, WEBHOOK_EXAMPLE
from integrations.models import WebhookEndpoint
from kam.api.scopes import ApiScope
from kam.api.viewsets import ApiViewSet

WEBHOOK_DESCRIPTION = (
    "Your endpoints (those of the user your key acts as). Each delivery is a JSON POST with "
    '`X-KAM-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the secret>`; failed '
    "deliveries are retried with exponential backoff. Events carry only accounts you can see. Managing your "
    "own endpoints needs only the `read` scope: a subscription sends nothing the key could not read."
)


@extend_schema_view(
    list=extend_schema(
        summary="Your webhook endpoints",
        description=WEBHOOK_DESCRIPTION,
        examples=[OpenApiExample("An endpoint", value=WEBHOOK_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One webhook endpoint",
        description=WEBHOOK_DESCRIPTION,
        examples=[OpenApiExample("An endpoint", value=WEBHOOK_EXAMPLE, response_only=True)],
    ),
    create=extend_schema(
        summary="Register a webhook endpoint",
        description="The answer includes the signing `secret`, shown this once. " + WEBHOOK_DESCRIPTION,
        request=s.WebhookEndpointSerializer,
        responses={201: s.WebhookEndpointCreatedSerializer},
        examples=[
            OpenApiExample(
                "Subscribe to finished runs and tier changes",
                value={
                    "url": "https://erp.example.com/kam/events",
                    "events": ["run.succeeded", "account.tier_changed"],
                },
                request_only=True,
            ),
            OpenApiExample(
                "Registered",
                value={**WEBHOOK_EXAMPLE, "secret": "whsec_4kq0V...shown-once"},
                response_only=True,
                status_codes=["201"],
            ),
        ],
    ),
    update=extend_schema(
        summary="Replace a webhook endpoint",
        description=WEBHOOK_DESCRIPTION,
        examples=[
            OpenApiExample(
                "Switch it off",
                value={
                    "url": "https://erp.example.com/kam/events",
                    "events": ["run.succeeded"],
                    "active": False,
                },
                request_only=True,
            ),
            OpenApiExample("Updated", value=WEBHOOK_EXAMPLE, response_only=True),
        ],
    ),
    partial_update=extend_schema(
        summary="Change a webhook endpoint",
        description=WEBHOOK_DESCRIPTION,
        examples=[
            OpenApiExample("Switch it off", value={"active": False}, request_only=True),
            OpenApiExample("Updated", value=WEBHOOK_EXAMPLE, response_only=True),
        ],
    ),
    destroy=extend_schema(summary="Delete a webhook endpoint", description="Its delivery log goes with it."),
)
class WebhookEndpointViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    ApiViewSet,
):
    serializer_class = s.WebhookEndpointSerializer
    queryset = WebhookEndpoint.objects.none()

    def get_required_scope(self):
        return ApiScope.READ

    def get_queryset(self):
        if self.schema_only:
            return WebhookEndpoint.objects.none()
        return WebhookEndpoint.objects.filter(owner=self.request.user).order_by("-created_at", "-id")

    def create(self, request):
        serializer = s.WebhookEndpointSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = serializer.save(owner=request.user, secret=WebhookEndpoint.new_secret())
        headers = {"Location": reverse("v1:webhook-detail", args=[endpoint.pk])}
        return Response(s.WebhookEndpointCreatedSerializer(endpoint).data, status=201, headers=headers)

    @extend_schema(
        summary="Replace the signing secret",
        description="The old secret stops working at once; the new one is shown this once.",
        request=None,
        responses={200: s.WebhookSecretSerializer},
        examples=[OpenApiExample("New secret", value={"secret": "whsec_8Hn2..."}, response_only=True)],
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        return Response({"secret": self.get_object().rotate_secret()})

    @extend_schema(
        summary="Send a test event",
        description="Sends a signed `ping` event to this endpoint now, whatever it subscribes to; the answer "
        "is the delivery, with its outcome if the attempt already finished.",
        request=None,
        responses={202: s.WebhookDeliverySerializer},
        examples=[
            OpenApiExample(
                "Delivered",
                value={**DELIVERY_EXAMPLE, "event": "ping", "attempts": 1, "attempt_log": []},
                response_only=True,
                status_codes=["202"],
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def ping(self, request, pk=None):
        delivery = webhooks.webhook_ping(endpoint=self.get_object())
        delivery.refresh_from_db()
        return Response(s.WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="An endpoint's delivery log",
        description="Every event sent to the endpoint, newest first, with each attempt's outcome.",
        responses={200: s.WebhookDeliverySerializer(many=True)},
        examples=[OpenApiExample("A delivery retried once", value=DELIVERY_EXAMPLE, response_only=True)],
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        endpoint = self.get_object()
        page = self.paginate_queryset(endpoint.deliveries.order_by("-created_at", "-id"))
        return self.get_paginated_response(s.WebhookDeliverySerializer(page, many=True).data)
