"""Scores, score history, scoring runs and the active model over REST."""

import hashlib
import json

from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.http import parse_etags
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status
from rest_framework.filters import OrderingFilter
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import access
from accounts.api.base import AccountChildViewSet
from accounts.cadence import DEFAULT_TIER_CADENCE
from accounts.models import Account
from kam.api.filters import FilterBackend
from kam.api.pagination import RankCursorPagination
from kam.api.permissions import ScopePermission
from kam.api.problems import Conflict, ServiceUnavailable
from kam.api.scopes import ApiScope
from kam.api.viewsets import ApiViewSet
from scoring import selectors
from scoring.api import serializers as s
from scoring.api.filters import ScoreFilter
from scoring.models import RunStatus, ScoreResult, ScoringRun
from scoring.runs import JobQueueUnavailable, scoring_run_start
from scoring.services import NoActiveModel, RunInProgress

CRITERIA_EXAMPLE = [
    {"key": "cm", "label": "Contribution margin (12 months)", "raw": 182400.0, "norm": 0.97, "weight": 0.3,
     "points": 29.1, "missing": False},
    {"key": "cm_pct", "label": "Contribution margin % (12 months)", "raw": 0.31, "norm": 0.82, "weight": 0.15,
     "points": 12.3, "missing": False},
    {"key": "clv", "label": "Customer lifetime value", "raw": 402000.0, "norm": 0.95, "weight": 0.25,
     "points": 23.75, "missing": False},
    {"key": "growth", "label": "Revenue growth (12 months vs previous 12)", "raw": 0.12, "norm": 0.7,
     "weight": 0.1, "points": 7.0, "missing": False},
    {"key": "image", "label": "Image / prestige", "raw": 4.0, "norm": 0.75, "weight": 0.1, "points": 7.5,
     "missing": False},
    {"key": "partnership", "label": "Willingness to partner", "raw": 5.0, "norm": 0.95, "weight": 0.1,
     "points": 9.5, "missing": False},
    {"key": "strategic", "label": "Strategic importance", "raw": None, "norm": 0.5, "weight": 0.0,
     "points": 0.0, "missing": True},
]  # fmt: skip
SCORE_EXAMPLE = {
    "account": 42,
    "account_name": "Noordzee Foods B.V.",
    "account_reference": "C-10042",
    "owner": 7,
    "is_key": True,
    "rank": 3,
    "tier": "A",
    "score": 89.15,
    "criteria": CRITERIA_EXAMPLE,
}
RUN_EXAMPLE = {
    "id": 311,
    "status": "succeeded",
    "phase": "done",
    "as_of": "2026-11-23",
    "model_version": 4,
    "trigger": "nightly",
    "triggered_by": None,
    "created_at": "2026-11-23T02:00:00Z",
    "started_at": "2026-11-23T02:00:01Z",
    "finished_at": "2026-11-23T02:04:11Z",
    "duration_seconds": 250.2,
    "accounts_scored": 18250,
    "orders_read": 2431877,
    "clv_method": "bgnbd_gamma_gamma",
    "clv_params": {"r": 0.24, "alpha": 4.41, "a": 0.79, "b": 2.43},
    "error": "",
}


QUEUED_EXAMPLE = {
    **RUN_EXAMPLE,
    "status": "queued",
    "phase": "",
    "trigger": "api",
    "triggered_by": 3,
    "started_at": None,
    "finished_at": None,
    "duration_seconds": None,
    "accounts_scored": 0,
    "orders_read": 0,
    "clv_method": "",
    "clv_params": {},
}
MODEL_EXAMPLE = {
    "version": 4,
    "name": "Key-account selection",
    "note": "More weight on margin after the Q3 review.",
    "weights": {
        "cm": 3.0,
        "cm_pct": 1.5,
        "clv": 2.5,
        "growth": 1.0,
        "image": 1.0,
        "partnership": 1.0,
        "strategic": 0.0,
    },
    "normalised_weights": {
        "cm": 0.3,
        "cm_pct": 0.15,
        "clv": 0.25,
        "growth": 0.1,
        "image": 0.1,
        "partnership": 0.1,
        "strategic": 0.0,
    },
    "tier_method": "share",
    "tier_rules": {"A": 0.1, "B": 0.2, "C": 0.3},
    "tier_cadence_days": DEFAULT_TIER_CADENCE,
    "clv_horizon_months": 36,
    "discount_rate": "0.1000",
    "created_at": "2026-10-02T10:00:00Z",
}


class ScorePagination(RankCursorPagination):
    """Cursor pages of the portfolio, with the run they belong to."""

    run = None

    def get_paginated_response(self, data):
        run = s.RunSummarySerializer(self.run).data if self.run is not None else None
        return Response(
            {"run": run, "next": self.get_next_link(), "previous": self.get_previous_link(), "results": data}
        )

    def get_paginated_response_schema(self, schema):
        paginated = super().get_paginated_response_schema(schema)
        paginated["properties"] = {
            "run": {
                "type": ["object", "null"],
                "description": "The run these scores come from (null before the first successful run).",
                "properties": {
                    "id": {"type": "integer", "example": 311},
                    "as_of": {"type": "string", "format": "date", "example": "2026-11-23"},
                    "model_version": {"type": "integer", "example": 4},
                    "finished_at": {
                        "type": "string",
                        "format": "date-time",
                        "example": "2026-11-23T02:04:11Z",
                    },
                },
                "required": ["id", "as_of", "model_version", "finished_at"],
            },
            **paginated["properties"],
        }
        paginated["required"] = ["run", "results"]
        return paginated


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [tag.removeprefix("W/") for tag in parse_etags(if_none_match)]
    return "*" in tags or etag in tags


@extend_schema_view(
    list=extend_schema(
        summary="Current scores",
        description="The portfolio of the latest successful scoring run: each visible account's rank, tier, "
        "score and per-criterion breakdown, with the run's as-of date and model version. Cursor pages "
        "(follow `next`); order by `rank` (default) or `score`, `-score`.\n\n"
        "Conditional GET: the answer carries an `ETag` tied to the current run, you and the query. Send it "
        "back as `If-None-Match` and you get `304 Not Modified` with no body until a new run succeeds, so a "
        "nightly pull that finds nothing new costs almost nothing. Account names and key flags shown here "
        "are today's; for master-data changes between runs, use /accounts/?updated_since=.",
        parameters=[
            OpenApiParameter(
                "If-None-Match",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="The ETag of your last answer to the same query.",
            ),
            OpenApiParameter(
                "ETag",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                response=[200, 304],
                description="Changes when a new run succeeds.",
            ),
        ],
        responses={200: s.ScoreSerializer(many=True), 304: OpenApiResponse(description="Nothing new.")},
        examples=[OpenApiExample("A page of the portfolio", value=SCORE_EXAMPLE, response_only=True)],
    )
)
class ScoreViewSet(mixins.ListModelMixin, ApiViewSet):
    serializer_class = s.ScoreSerializer
    pagination_class = ScorePagination
    filter_backends = [FilterBackend, OrderingFilter]
    filterset_class = ScoreFilter
    ordering_fields = ["rank", "score"]
    ordering = ["rank"]
    queryset = ScoreResult.objects.none()

    def get_queryset(self):
        run = getattr(self, "run", None)
        if self.schema_only or run is None:
            return ScoreResult.objects.none()
        visible = Account.objects.visible_to(self.request.user).values("pk")
        return ScoreResult.objects.filter(run=run, account__in=visible).select_related("account")

    def etag(self) -> str:
        run = self.run
        query = sorted((key, value) for key, values in self.request.query_params.lists() for value in values)
        identity = [
            run.pk if run else None,
            run.finished_at.isoformat() if run else None,
            self.request.user.pk,
        ]
        digest = hashlib.sha256(json.dumps([*identity, query]).encode()).hexdigest()[:40]
        return f'"{digest}"'

    def list(self, request):
        self.run = selectors.current_run()
        etag = self.etag()
        headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
        # An invalid query is its 400 whatever If-None-Match says: a 304 would tell the client it was fine.
        queryset = self.filter_queryset(self.get_queryset())
        self.paginator.get_page_size(request)
        if _matches(request.headers.get("If-None-Match"), etag):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
        page = self.paginate_queryset(queryset)
        self.paginator.run = self.run
        weights = self.run.model.normalised_weights if self.run else {}
        data = s.ScoreSerializer(page, many=True, context={"weights": weights}).data
        response = self.get_paginated_response(data)
        for name, value in headers.items():
            response[name] = value
        return response


HISTORY_EXAMPLE = {
    "run": 311,
    "as_of": "2026-11-23",
    "model_version": 4,
    "finished_at": "2026-11-23T02:04:11Z",
    "rank": 3,
    "tier": "A",
    "score": 89.15,
    "criteria": CRITERIA_EXAMPLE,
}


@extend_schema_view(
    list=extend_schema(
        summary="An account's score history",
        description="The account's result in every successful run, newest first: watch it rise or fade.",
        examples=[OpenApiExample("One run", value=HISTORY_EXAMPLE, response_only=True)],
    )
)
class AccountScoreHistoryViewSet(mixins.ListModelMixin, AccountChildViewSet):
    serializer_class = s.ScoreHistorySerializer
    queryset = ScoreResult.objects.all()

    def get_children(self, account):
        return (
            ScoreResult.objects.filter(account=account, run__status=RunStatus.SUCCEEDED)
            .select_related("run__model")
            .order_by("-run__as_of", "-run_id")
        )


class MayRunScoring(BasePermission):
    """accounts.access.may_run_scoring, which the key forms also ask before granting the run_scoring scope."""

    message = "Only managers can do this."

    def has_permission(self, request, view):
        return access.may_run_scoring(request.user)


@extend_schema_view(
    list=extend_schema(
        summary="Scoring runs",
        description="Every recompute, newest first, with its status and phase; filter by `status`.",
        examples=[OpenApiExample("A finished run", value=RUN_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One scoring run",
        description="Poll this address (a started run's Location) until `status` is succeeded or failed.",
        examples=[OpenApiExample("A finished run", value=RUN_EXAMPLE, response_only=True)],
    ),
)
class ScoringRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    serializer_class = s.RunSerializer
    write_scope = ApiScope.RUN_SCORING
    queryset = ScoringRun.objects.select_related("model").order_by("-created_at", "-id")
    filterset_fields = ["status"]

    def get_permissions(self):
        if self.request is not None and self.request.method == "POST":
            return [IsAuthenticated(), ScopePermission(), MayRunScoring()]
        return super().get_permissions()

    @extend_schema(
        summary="Start a scoring run",
        description="Managers only (a manager's session, or a manager's key with the `run_scoring` scope). "
        "Answers 202 at once with the queued run and its address in `Location`; poll it. 409 when a run is "
        "already queued or running (the problem names it), 503 when the job queue is down (try again later).",
        request=s.RunStartSerializer,
        responses={
            202: s.RunSerializer,
            409: OpenApiResponse(description="A run is in progress, or no scoring model is active."),
            503: OpenApiResponse(description="The job queue is unavailable."),
        },
        parameters=[
            OpenApiParameter(
                "Location", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[202], description="The run."
            )
        ],
        examples=[
            OpenApiExample("Score as of today", value={}, request_only=True),
            OpenApiExample("Score as of a month end", value={"as_of": "2026-10-31"}, request_only=True),
            OpenApiExample(
                "Queued",
                value=QUEUED_EXAMPLE,
                response_only=True,
                status_codes=["202"],
            ),
            OpenApiExample(
                "Another run is in progress",
                value={
                    "type": "urn:kam:problem:run-in-progress",
                    "title": "Conflict",
                    "status": 409,
                    "detail": "Scoring run 312 is already running.",
                    "errors": {},
                },
                response_only=True,
                status_codes=["409"],
                media_type="application/problem+json",
            ),
        ],
    )
    def create(self, request):

        serializer = s.RunStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        as_of = serializer.validated_data.get("as_of") or timezone.localdate()
        try:
            run = scoring_run_start(as_of=as_of, triggered_by=request.user, trigger="api")
        except RunInProgress as exc:
            raise Conflict(str(exc), code="run_in_progress") from None
        except NoActiveModel as exc:
            raise Conflict(str(exc), code="no_active_model") from None
        except JobQueueUnavailable as exc:
            raise ServiceUnavailable(str(exc), code="job_queue_unavailable", retry_after=60) from None
        run = self.get_queryset().get(pk=run.pk)
        location = reverse("v1:run-detail", args=[run.pk])
        return Response(
            s.RunSerializer(run).data, status=status.HTTP_202_ACCEPTED, headers={"Location": location}
        )


class ActiveModelView(APIView):
    """The scoring model in force: the weights and tier rules the next run will use."""

    def get_required_scope(self):
        return ApiScope.READ

    @extend_schema(
        summary="The active scoring model",
        description="The weights per criterion (as entered and normalised), the tier rule and the visit "
        "cadence per tier that the next run will use. 404 before a manager saves the first model.",
        responses={200: s.ScoringModelSerializer},
        examples=[
            OpenApiExample(
                "Version 4",
                value=MODEL_EXAMPLE,
                response_only=True,
            )
        ],
    )
    def get(self, request):
        model = selectors.active_model()
        if model is None:
            raise Http404("No scoring model is active yet.")
        return Response(s.ScoringModelSerializer(model).data)
