"""Knowing the account by heart: the profile questions and the buying influencers (DOMAIN.md sections 4, 5)."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from accounts.models import Account, BuyingRole, User
from accounts.validators import no_bidi_controls
from kam.models import AuditHistory, TimeStampedModel

ONE_TO_FIVE = [MinValueValidator(1), MaxValueValidator(5)]

# The questions a KAM must be able to answer about the customer's business, in DOMAIN.md order.
PROFILE_QUESTIONS = {
    "mission": "What is the account's mission?",
    "customer_segments": "Who are its target customer segments, and what does it call them?",
    "value_proposition": "What is its value proposition to each segment, and is it really unique?",
    "competitors": "Who are its most dangerous competitors?",
    "supplier_segmentation": "How does it segment its suppliers, and in which segment are we?",
    "business_model": "How does it make money, and how does our product help it do so?",
    "plans": "Its plans: expanding? moving? its major problems? where does it see its industry going?",
    "needs": "Its business needs, medium- to long-term priorities, and what we need to address with it.",
    "competitive_developments": "Competitive developments at the account (our competitors there).",
}


class AccountProfile(TimeStampedModel):
    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="profile")
    mission = models.TextField(blank=True)
    customer_segments = models.TextField(blank=True)
    value_proposition = models.TextField(blank=True)
    competitors = models.TextField(blank=True)
    supplier_segmentation = models.TextField(blank=True)
    business_model = models.TextField(blank=True)
    plans = models.TextField(blank=True)
    needs = models.TextField(blank=True)
    competitive_developments = models.TextField(blank=True)
    updated_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    history = AuditHistory(excluded_fields=["created_at"])

    def __str__(self):
        return f"Profile of {self.account}"

    @property
    def answered(self) -> int:
        return sum(1 for field in PROFILE_QUESTIONS if getattr(self, field).strip())

    @property
    def completeness(self) -> float:
        """Share of the profile questions answered, 0.0 to 1.0."""
        return self.answered / len(PROFILE_QUESTIONS)

    def questions(self) -> list[tuple[str, str, str]]:
        return [(field, question, getattr(self, field)) for field, question in PROFILE_QUESTIONS.items()]


class Stance(models.IntegerChoices):
    OPPONENT = -2, "Opponent"
    SKEPTIC = -1, "Skeptic"
    NEUTRAL = 0, "Neutral"
    SUPPORTER = 1, "Supporter"
    CHAMPION = 2, "Champion"


class BuyingInfluencerQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True)

    def decision_makers(self):
        return self.filter(buying_role=BuyingRole.DECISION_MAKER)


class BuyingInfluencer(TimeStampedModel):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="influencers")
    reference = models.CharField(max_length=64, blank=True, default="", validators=[no_bidi_controls])
    name = models.CharField(max_length=200, validators=[no_bidi_controls])
    title = models.CharField(max_length=200, blank=True, validators=[no_bidi_controls])
    function = models.CharField(max_length=100, blank=True, validators=[no_bidi_controls])
    site = models.CharField(max_length=100, blank=True, validators=[no_bidi_controls])
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    buying_role = models.CharField(max_length=20, choices=BuyingRole.choices, default=BuyingRole.USER)
    influence = models.PositiveSmallIntegerField(default=3, validators=ONE_TO_FIVE)
    stance = models.SmallIntegerField(choices=Stance.choices, default=Stance.NEUTRAL)
    relationship_strength = models.PositiveSmallIntegerField(default=3, validators=ONE_TO_FIVE)
    reports_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="direct_reports"
    )
    is_active = models.BooleanField(default=True, help_text="Clear when the person has left the account.")
    last_contact_date = models.DateField(null=True, blank=True, editable=False)

    history = AuditHistory(excluded_fields=["created_at", "updated_at", "last_contact_date"])
    objects = BuyingInfluencerQuerySet.as_manager()

    class Meta:
        ordering = ["-influence", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "reference"],
                condition=~Q(reference=""),
                name="influencer_reference_unique",
            ),
            models.CheckConstraint(condition=Q(influence__gte=1, influence__lte=5), name="influence_1_5"),
            models.CheckConstraint(
                condition=Q(relationship_strength__gte=1, relationship_strength__lte=5),
                name="relationship_strength_1_5",
            ),
            models.CheckConstraint(condition=Q(stance__gte=-2, stance__lte=2), name="stance_range"),
            models.CheckConstraint(condition=~Q(reports_to=F("id")), name="influencer_not_own_boss"),
        ]
        indexes = [models.Index(fields=["account", "buying_role"], name="influencer_account_role_idx")]

    def __str__(self):
        return f"{self.name} ({self.title})" if self.title else self.name

    def clean(self):
        from django.core.exceptions import ValidationError

        if self.reports_to_id:
            if self.reports_to.account_id != self.account_id:
                raise ValidationError({"reports_to": "They must report to someone at the same account."})
            node, seen = self.reports_to, {self.pk}
            while node is not None:
                if node.pk in seen:
                    raise ValidationError({"reports_to": "This would make the reporting lines a loop."})
                seen.add(node.pk)
                node = node.reports_to
