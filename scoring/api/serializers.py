"""Serializers for scores, runs and the active scoring model."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from scoring.engine import CRITERIA
from scoring.models import ScoreResult, ScoringModel, ScoringRun


class CriterionSerializer(serializers.Serializer):
    """One criterion's part in a score: points = 100 x weight x norm (norm: percentile in the run, 0..1)."""

    key = serializers.ChoiceField(choices=CRITERIA)
    label = serializers.CharField()
    raw = serializers.FloatField(allow_null=True, help_text="The measured value (money in the currency).")
    norm = serializers.FloatField(allow_null=True, help_text="Percentile among the scored accounts, 0 to 1.")
    weight = serializers.FloatField(help_text="The criterion's share of the score (weights add up to 1).")
    points = serializers.FloatField()
    missing = serializers.BooleanField(help_text="No data: scored neutral.")


class _ResultMixin(serializers.Serializer):
    criteria = serializers.SerializerMethodField(help_text="The per-criterion breakdown of the score.")

    @extend_schema_field(CriterionSerializer(many=True))
    def get_criteria(self, result):
        # The portfolio passes its run's weights once; a history row reads them from its own run's model.
        weights = self.context.get("weights") or result.run.model.normalised_weights
        rows = result.explanation(weights)
        for row in rows:
            row["raw"] = None if row["raw"] is None else float(row["raw"])
            row["weight"] = round(row["weight"], 6)
        return rows


class ScoreSerializer(_ResultMixin, serializers.ModelSerializer):
    """An account's place in the current portfolio."""

    account_name = serializers.CharField(source="account.name")
    account_reference = serializers.CharField(source="account.reference")
    owner = serializers.IntegerField(source="account.owner_id", allow_null=True)
    is_key = serializers.BooleanField(source="account.is_key")

    class Meta:
        model = ScoreResult
        fields = [
            "account",
            "account_name",
            "account_reference",
            "owner",
            "is_key",
            "rank",
            "tier",
            "score",
            "criteria",
        ]
        read_only_fields = fields


class ScoreHistorySerializer(_ResultMixin, serializers.ModelSerializer):
    """An account's result in one past run."""

    as_of = serializers.DateField(source="run.as_of")
    model_version = serializers.IntegerField(source="run.model.version")
    finished_at = serializers.DateTimeField(source="run.finished_at")

    class Meta:
        model = ScoreResult
        fields = ["run", "as_of", "model_version", "finished_at", "rank", "tier", "score", "criteria"]
        read_only_fields = fields


class RunSummarySerializer(serializers.ModelSerializer):
    model_version = serializers.IntegerField(source="model.version")

    class Meta:
        model = ScoringRun
        fields = ["id", "as_of", "model_version", "finished_at"]
        read_only_fields = fields


class RunSerializer(serializers.ModelSerializer):
    model_version = serializers.IntegerField(source="model.version")
    duration_seconds = serializers.FloatField(allow_null=True)

    class Meta:
        model = ScoringRun
        fields = [
            "id",
            "status",
            "phase",
            "as_of",
            "model_version",
            "trigger",
            "triggered_by",
            "created_at",
            "started_at",
            "finished_at",
            "duration_seconds",
            "accounts_scored",
            "orders_read",
            "clv_method",
            "clv_params",
            "error",
        ]
        read_only_fields = fields


class RunStartSerializer(serializers.Serializer):
    as_of = serializers.DateField(
        required=False, help_text="Score the portfolio as of this day (default: today). Not in the future."
    )

    def validate_as_of(self, value):
        if value > timezone.localdate():
            raise serializers.ValidationError("A run cannot look at the future.")
        return value


class ScoringModelSerializer(serializers.ModelSerializer):
    weights = serializers.DictField(child=serializers.FloatField(), help_text="As entered, per criterion.")
    normalised_weights = serializers.SerializerMethodField(help_text="Adding up to 1.")
    tier_rules = serializers.DictField(
        source="tier_values",
        child=serializers.FloatField(),
        help_text="share: fraction of ranked accounts in A, B, C (rest D); cutoff: minimum score per tier.",
    )
    tier_cadence_days = serializers.DictField(
        source="tier_cadences",
        child=serializers.IntegerField(allow_null=True),
        help_text="Target days between visits per tier (null: no cadence).",
    )

    class Meta:
        model = ScoringModel
        fields = [
            "version",
            "name",
            "note",
            "weights",
            "normalised_weights",
            "tier_method",
            "tier_rules",
            "tier_cadence_days",
            "clv_horizon_months",
            "discount_rate",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.DictField(child=serializers.FloatField()))
    def get_normalised_weights(self, model) -> dict[str, float]:
        return {key: round(value, 6) for key, value in model.normalised_weights.items()}
