"""Serializers for account plans, their objectives and actions."""

from rest_framework import serializers

from plans.models import AccountPlan, Objective, PlanAction


class PlanSerializer(serializers.ModelSerializer):
    class Meta:
        model = AccountPlan
        fields = [
            "id",
            "account",
            "title",
            "period_start",
            "period_end",
            "status",
            "ambition",
            "closed_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ObjectiveSerializer(serializers.ModelSerializer):
    progress = serializers.FloatField(read_only=True, help_text="From baseline to target, 0 to 1.")

    class Meta:
        model = Objective
        fields = [
            "id",
            "plan",
            "title",
            "metric",
            "baseline",
            "target",
            "current",
            "progress",
            "due_date",
            "status",
        ]
        read_only_fields = fields


class ActionSerializer(serializers.ModelSerializer):
    class Meta:
        model = PlanAction
        fields = [
            "id",
            "plan",
            "objective",
            "title",
            "approach",
            "owner",
            "due_date",
            "status",
            "cost",
            "completed_on",
        ]
        read_only_fields = fields
