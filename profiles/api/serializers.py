"""Serializers for the account profile and the buying influencers."""

from rest_framework import serializers

from profiles.models import PROFILE_QUESTIONS, AccountProfile, BuyingInfluencer


class OptionalEmailField(serializers.EmailField):
    """Stored as "" when unknown; shown as null, since "" is not an email address."""

    def to_representation(self, value):
        return value or None


class InfluencerSerializer(serializers.ModelSerializer):
    email = OptionalEmailField(allow_null=True, read_only=True)

    class Meta:
        model = BuyingInfluencer
        fields = [
            "id",
            "account",
            "reference",
            "name",
            "title",
            "function",
            "site",
            "email",
            "phone",
            "buying_role",
            "influence",
            "stance",
            "relationship_strength",
            "reports_to",
            "is_active",
            "last_contact_date",
        ]
        read_only_fields = fields


class ProfileSerializer(serializers.ModelSerializer):
    completeness = serializers.FloatField(
        read_only=True, help_text="Share of the questions answered, 0 to 1."
    )
    questions = serializers.SerializerMethodField(help_text="Each question's field name and wording.")
    updated_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="null: never filled in."
    )

    class Meta:
        model = AccountProfile
        fields = ["account", *PROFILE_QUESTIONS, "completeness", "questions", "updated_by", "updated_at"]
        read_only_fields = fields

    def get_questions(self, profile) -> dict[str, str]:
        return dict(PROFILE_QUESTIONS)
