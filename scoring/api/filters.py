"""Query filters for the scores portfolio."""

import django_filters
from django.db.models import F, FloatField, OuterRef, Q, Subquery
from django.db.models.functions import Abs
from drf_spectacular.utils import extend_schema_field

from accounts.models import Tier
from kam.api.fields import ID_SCHEMA, IdFilter
from scoring.models import ScoreResult, ScoringRun


class ScoreFilter(django_filters.FilterSet):
    tier = django_filters.ChoiceFilter(choices=Tier.choices)
    key = django_filters.BooleanFilter(field_name="account__is_key", help_text="Key accounts only (true).")
    owner = IdFilter(field_name="account__owner_id", help_text="The owner's user id.")
    min_score = django_filters.NumberFilter(field_name="score", lookup_expr="gte", help_text="At least.")
    changed_since_run = django_filters.ModelChoiceFilter(
        queryset=ScoringRun.objects.succeeded(),
        method="filter_changed_since",
        help_text="The id of an earlier successful scoring run (any other id is a 400): only accounts whose "
        "tier or score (to 0.01) differs from their result in that run, or that were not in it: an "
        "incremental pull.",
    )

    class Meta:
        model = ScoreResult
        fields = []

    # An id, like every id: a run id from 1 (which one is valid depends on the runs, hence the 400 above).
    @extend_schema_field(ID_SCHEMA)
    def filter_changed_since(self, queryset, name, run):
        before = ScoreResult.objects.filter(run=run, account_id=OuterRef("account_id"))
        return (
            queryset.annotate(
                previous_tier=Subquery(before.values("tier")[:1]),
                previous_score=Subquery(before.values("score")[:1], output_field=FloatField()),
            )
            .annotate(score_gap=Abs(F("score") - F("previous_score")))
            .filter(Q(previous_tier__isnull=True) | ~Q(tier=F("previous_tier")) | Q(score_gap__gte=0.005))
        )
