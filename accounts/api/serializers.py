"""Serializers for accounts, orders, visits, service issues, cadence alerts and webhooks.

Output serializers only read what the viewset's queryset loaded; input serializers validate and hand plain
data to a service. None of them writes across models.
"""

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import cached_property
from rest_framework import serializers

from accounts import access
from accounts.cadence import CADENCE_DAYS_MESSAGE, MAX_CADENCE_DAYS
from accounts.models import (
    Account,
    CadenceAlert,
    Order,
    Role,
    ServiceIssue,
    Tier,
    User,
    Visit,
    VisitKind,
)
from accounts.orders import order_date_error
from accounts.validators import no_bidi_controls
from kam.api.fields import MAX_ID, IdRelatedField

MONEY = {"max_digits": 14, "decimal_places": 2}


class BlankAsNullChoiceField(serializers.ChoiceField):
    """A choice stored as "" when unset, shown as null."""

    def to_representation(self, value):
        return value or None


class AccountSerializer(serializers.ModelSerializer):
    parent = serializers.SerializerMethodField(
        help_text="The parent company's id; null when there is none or it is an account you cannot see."
    )
    children = serializers.SerializerMethodField(help_text="Ids of the subsidiaries you can see.")
    tier = BlankAsNullChoiceField(
        choices=Tier.choices, allow_null=True, read_only=True, help_text="null until the account is scored."
    )
    owner_name = serializers.SerializerMethodField()

    class Meta:
        model = Account
        fields = [
            "id",
            "name",
            "reference",
            "industry",
            "country",
            "region",
            "status",
            "parent",
            "children",
            "owner",
            "owner_name",
            "is_key",
            "key_since",
            "key_reason",
            "tier",
            "rank",
            "score",
            "score_change",
            "scored_at",
            "image_rating",
            "partnership_rating",
            "strategic_rating",
            "cadence_days",
            "target_cadence_days",
            "last_contact_date",
            "next_contact_due",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_parent(self, account) -> int | None:
        # `parent_visible` is annotated by accounts.selectors.with_parent_visibility; without it, say nothing.
        return account.parent_id if account.parent_id and getattr(account, "parent_visible", False) else None

    def get_children(self, account) -> list[int]:
        return [child.pk for child in getattr(account, "visible_children", [])]

    def get_owner_name(self, account) -> str | None:
        return str(account.owner) if account.owner_id else None


RATING_HELP = (
    " A manager's rating: only managers and integration keys may set it. A rep's key may leave it out or "
    "send the current value; any other value is a 400 problem with this field's message."
)
MANAGER_RATING_MESSAGE = "Ratings are a manager's judgement: leave this out or send the current value."


class AccountWriteSerializer(serializers.ModelSerializer):
    """What a client may set. Key designation, scores and cadence roll-ups are decided elsewhere.

    Defaults apply on create only: a PUT or PATCH that leaves a field out keeps its stored value.
    """

    parent = IdRelatedField(
        queryset=Account.objects.none(),
        allow_null=True,
        required=False,
        help_text="An account you can see. When the account belongs to a group you cannot see (GET shows "
        "parent null), leaving parent out or sending null keeps it; only a manager can change it.",
    )
    owner = IdRelatedField(
        queryset=User.objects.filter(is_active=True, role__in=[Role.REP, Role.MANAGER]),
        allow_null=True,
        required=False,
        help_text="Only managers and integration keys assign owners; a rep's new account is their own.",
    )

    class Meta:
        model = Account
        fields = [
            "name",
            "reference",
            "industry",
            "country",
            "region",
            "status",
            "parent",
            "owner",
            "image_rating",
            "partnership_rating",
            "strategic_rating",
            "cadence_days",
        ]
        extra_kwargs = {
            # Uniqueness is the service's to check (with a clearer message); the text rule stays.
            "reference": {"validators": [no_bidi_controls]},
            # No serializer default: a default would overwrite the stored status on every PUT without it.
            "status": {"help_text": "New accounts are active unless you say otherwise; left out, kept."},
            # A bound the database column leaves to the backend (SQLite has none): at most ten years.
            "cadence_days": {
                "min_value": 1,
                "max_value": MAX_CADENCE_DAYS,
                "error_messages": {"min_value": CADENCE_DAYS_MESSAGE, "max_value": CADENCE_DAYS_MESSAGE},
            },
            "image_rating": {"help_text": "Image / prestige, 1 (low) to 5 (high)." + RATING_HELP},
            "partnership_rating": {"help_text": "Willingness to partner, 1 to 5." + RATING_HELP},
            "strategic_rating": {"help_text": "Optional strategic importance, 0 to 5." + RATING_HELP},
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            visible = Account.objects.visible_to(request.user)
            choices = Account.objects.filter(pk__in=visible.values("pk"))
            if self.instance is not None:
                if self.parent_hidden:
                    # A client that stored the id before it was hidden may echo it back: that keeps it too.
                    choices = Account.objects.filter(
                        Q(pk__in=visible.values("pk")) | Q(pk=self.instance.parent_id)
                    )
                choices = choices.exclude(pk=self.instance.pk)
            self.fields["parent"].queryset = choices

    @cached_property
    def parent_hidden(self) -> bool:
        """The account belongs to a group the requesting user cannot see."""
        account, request = self.instance, self.context.get("request")
        if account is None or not account.parent_id or request is None:
            return False
        return not Account.objects.visible_to(request.user).filter(pk=account.parent_id).exists()

    def _rating(self, field: str, value):
        current = getattr(self.instance, field) if self.instance is not None else None
        if value != current and not access.may_rate(self.context["request"].user):
            raise serializers.ValidationError(MANAGER_RATING_MESSAGE)
        return value

    def validate_image_rating(self, value):
        return self._rating("image_rating", value)

    def validate_partnership_rating(self, value):
        return self._rating("partnership_rating", value)

    def validate_strategic_rating(self, value):
        return self._rating("strategic_rating", value)

    def validate(self, attrs):
        if self.parent_hidden and "parent" in attrs:
            parent = attrs.pop("parent")  # null (what GET shows) or the stored id: the parent is kept
            if parent is not None and parent.pk != self.instance.parent_id:
                raise serializers.ValidationError(
                    {"parent": "This account belongs to a group you cannot see; only a manager can move it."}
                )
        return attrs

    def validate_reference(self, value):
        value = value.strip()
        clash = Account.objects.filter(reference=value)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if value and clash.exists():
            raise serializers.ValidationError("Another account already has this reference.")
        return value

    def validate_country(self, value):
        value = value.strip().upper()
        if value and (len(value) != 2 or not value.isalpha()):
            raise serializers.ValidationError("Use the two-letter ISO country code, e.g. NL or DE.")
        return value

    def validate_owner(self, owner):
        user = self.context["request"].user
        current = self.instance.owner if self.instance is not None else None
        if owner != current and not access.may_reassign(user):
            raise serializers.ValidationError(access.REASSIGN_REFUSED)
        return owner


class OrderSerializer(serializers.ModelSerializer):
    account_reference = serializers.CharField(source="account.reference", read_only=True)
    contribution_margin = serializers.DecimalField(**MONEY, read_only=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "account",
            "account_reference",
            "reference",
            "date",
            "revenue",
            "variable_cost",
            "contribution_margin",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class OrderRowSerializer(serializers.Serializer):
    """One order of a bulk upsert, identified by (account, reference)."""

    account = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="The account's id in KAM ..."
    )
    account_reference = serializers.CharField(
        required=False, max_length=64, help_text="... or its reference (the customer number in your ERP)."
    )
    reference = serializers.CharField(
        max_length=64, validators=[no_bidi_controls], help_text="Your order number; unique per account."
    )
    date = serializers.DateField(help_text="From 1990-01-01 to today (in the installation's time zone).")
    revenue = serializers.DecimalField(**MONEY, min_value=0)
    variable_cost = serializers.DecimalField(**MONEY, min_value=0, required=False, default=0)

    def validate_reference(self, value):
        value = value.strip()
        if not value:
            raise serializers.ValidationError("Every order needs its reference: resending it updates it.")
        return value

    def validate_date(self, value):
        # The installation's time zone, as every date in the app; the window is the order upsert's.
        problem = order_date_error(value, today=timezone.localdate())
        if problem:
            raise serializers.ValidationError(problem)
        return value

    def validate(self, attrs):
        if ("account" in attrs) == bool(attrs.get("account_reference", "").strip()):
            raise serializers.ValidationError("Give either account (the KAM id) or account_reference.")
        return attrs


class OrderBulkSerializer(serializers.Serializer):
    orders = OrderRowSerializer(
        many=True,
        allow_empty=False,
        max_length=settings.KAM_API_BULK_MAX_ROWS,
        help_text=f"At most {settings.KAM_API_BULK_MAX_ROWS:,} rows.",
    )


class OrderBulkResultSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()


class VisitSerializer(serializers.ModelSerializer):
    influencers = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Visit
        fields = [
            "id",
            "account",
            "date",
            "kind",
            "summary",
            "next_steps",
            "follow_up_date",
            "influencers",
            "cost",
            "logged_by",
            "created_at",
        ]
        read_only_fields = fields


class VisitCreateSerializer(serializers.Serializer):
    date = serializers.DateField()
    kind = serializers.ChoiceField(choices=VisitKind.choices, default=VisitKind.ON_SITE)
    summary = serializers.CharField(max_length=10_000)
    next_steps = serializers.CharField(max_length=10_000, required=False, allow_blank=True, default="")
    follow_up_date = serializers.DateField(required=False, allow_null=True, default=None)
    influencers = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        default=list,
        max_length=100,
        help_text="Ids of the account's buying influencers who were there.",
    )
    cost = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=0,
        required=False,
        allow_null=True,
        default=None,
        help_text="What this contact cost (travel, time, hospitality), in the installation's currency; "
        "feeds the account's return on customer investment (ROCI).",
    )

    def validate_date(self, value):
        if value > timezone.localdate():
            raise serializers.ValidationError("A visit cannot be in the future; plan a follow-up instead.")
        return value

    def validate_influencers(self, ids):
        account = self.context["account"]
        people = list(account.influencers.active().filter(pk__in=ids))
        unknown = sorted(set(ids) - {person.pk for person in people})
        if unknown:
            raise serializers.ValidationError(f"Not active influencers at this account: {unknown}.")
        return people

    def validate(self, attrs):
        if attrs.get("follow_up_date") and attrs["follow_up_date"] < attrs["date"]:
            raise serializers.ValidationError({"follow_up_date": "Follow up on or after the visit."})
        return attrs


class ServiceIssueSerializer(serializers.ModelSerializer):
    is_open = serializers.BooleanField(read_only=True)

    class Meta:
        model = ServiceIssue
        fields = [
            "id",
            "account",
            "kind",
            "severity",
            "opened_on",
            "resolved_on",
            "is_open",
            "description",
            "reported_by",
            "created_at",
        ]
        read_only_fields = fields


class CadenceAlertSerializer(serializers.ModelSerializer):
    account_name = serializers.CharField(source="account.name", read_only=True)
    is_open = serializers.BooleanField(read_only=True)

    class Meta:
        model = CadenceAlert
        fields = [
            "id",
            "account",
            "account_name",
            "kind",
            "status",
            "is_open",
            "opened_on",
            "due_since",
            "resolved_on",
            "acknowledged_by",
            "acknowledged_at",
            "escalated_to",
            "escalated_at",
        ]
        read_only_fields = fields
