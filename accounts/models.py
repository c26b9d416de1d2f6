"""Customers (accounts), the people who serve them, and the relationship record: orders, visits, problems."""

import datetime
from decimal import Decimal

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from accounts import cadence
from accounts.validators import no_bidi_controls
from kam.models import AuditHistory, TimeStampedModel

RATING_VALIDATORS = [MinValueValidator(1), MaxValueValidator(5)]
# The manager's judgement of an account (DOMAIN.md section 2): set by managers, remembered with who and when.
MANAGER_RATINGS = ("image_rating", "partnership_rating", "strategic_rating")


class Role(models.TextChoices):
    REP = "rep", "Sales rep / KAM"
    MANAGER = "manager", "Sales manager"
    INTEGRATION = "integration", "Integration (API only)"


class User(AbstractUser):
    """A person (or an integration) using the product; the user profile lives on the user itself."""

    role = models.CharField(max_length=20, choices=Role.choices, default=Role.REP)
    manager = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reports",
        help_text="Who alerts on this person's accounts escalate to (lapsed cadence, coverage gaps).",
    )
    monthly_visit_capacity = models.PositiveSmallIntegerField(
        default=20, help_text="How many account visits this person can make in a month."
    )

    objects = UserManager()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(manager=F("id")), name="user_not_own_manager"),
        ]

    def __str__(self):
        return self.get_full_name() or self.username

    @property
    def is_manager(self) -> bool:
        return self.is_superuser or self.role == Role.MANAGER

    @property
    def is_integration(self) -> bool:
        return self.role == Role.INTEGRATION and not self.is_superuser

    @property
    def sees_every_account(self) -> bool:
        """What the role grants: managers and integration users see the whole portfolio. Whether this user
        may use it now (signed in, active) is the rest of the question: sees_everything below."""
        return self.is_manager or self.is_integration


# The part of the access rule that needs no query: who acts at all, who sees everything (in Python and as a
# condition on related rows), who may edit in the app. It is defined here, not in accounts/access.py, because
# the account queryset's visible_to / editable_by must take their decisions from it and models sit below
# access (access fetches through those querysets). accounts.access re-exports it, so every other caller asks
# access. Functions rather than User properties, because they must answer for AnonymousUser too.


def signed_in(user) -> bool:
    """An authenticated, active user; anyone else (anonymous, deactivated) may see and do nothing."""
    return bool(user is not None and user.is_authenticated and user.is_active)


def sees_everything(user) -> bool:
    """Managers and integration users see every account; everyone else sees what they own or serve on."""
    return signed_in(user) and user.sees_every_account


def sees_everything_q(user_path: str) -> Q:
    """User.sees_every_account for the user at `user_path` (e.g. "owner"), as a condition on related rows, so
    a query decides per row (the digest, per action owner). Callers keep to active users themselves."""
    return Q(**{f"{user_path}__is_superuser": True}) | Q(
        **{f"{user_path}__role__in": [Role.MANAGER, Role.INTEGRATION]}
    )


def edits_in_app(user) -> bool:
    """May this user edit anything in the app at all? Integration users never do: their key's scopes are their
    right to write (accounts.access.may_write). Which accounts a rep may edit is then decided per account."""
    return signed_in(user) and not user.is_integration


class AccountStatus(models.TextChoices):
    PROSPECT = "prospect", "Prospect"
    ACTIVE = "active", "Active"
    DORMANT = "dormant", "Dormant"
    LOST = "lost", "Lost"


class Tier(models.TextChoices):
    A = "A", "A (key)"
    B = "B", "B"
    C = "C", "C"
    D = "D", "D"


class AccountQuerySet(models.QuerySet):
    def visible_to(self, user) -> "AccountQuerySet":
        """The accounts `user` may see: everything for managers and integrations, else owned or on the team."""
        if not signed_in(user):
            return self.none()
        if sees_everything(user):
            return self
        # A subquery, not a join: joining the team repeats an account per member and needed DISTINCT over
        # every column, which made each of a rep's list pages, counts and filter menus sort all their rows.
        # any_of, not in: on PostgreSQL the OR then uses the owner index and the primary key (kam.models.AnyOf).
        on_team = AccountTeamMember.objects.filter(user=user).values("account_id")
        return self.filter(Q(owner=user) | Q(pk__any_of=on_team))

    def editable_by(self, user) -> "AccountQuerySet":
        """The accounts `user` may edit in the app (accounts.access.can_edit, for a whole queryset): what they
        see, for anyone who edits in the app at all. Managers see, and so edit, everything."""
        if not edits_in_app(user):
            return self.none()
        return self.visible_to(user)

    def key_accounts(self) -> "AccountQuerySet":
        return self.filter(is_key=True)

    def cadence_lapsed(self, today: datetime.date) -> "AccountQuerySet":
        return self.filter(cadence.lapsed_q(today))

    def due_by(self, day: datetime.date) -> "AccountQuerySet":
        return self.filter(next_contact_due__lte=day)


class Account(TimeStampedModel):
    name = models.CharField(max_length=200, validators=[no_bidi_controls])
    reference = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text="The customer's number in the ERP, if any.",
        validators=[no_bidi_controls],
    )
    industry = models.CharField(max_length=100, blank=True, validators=[no_bidi_controls])
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 two-letter country code.")
    region = models.CharField(max_length=100, blank=True, validators=[no_bidi_controls])
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    owner = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_index=False,  # covered by account_owner_due_idx, which starts with owner
        related_name="owned_accounts",
        help_text="The key account manager responsible for this account.",
    )
    status = models.CharField(max_length=20, choices=AccountStatus.choices, default=AccountStatus.ACTIVE)

    # Key designation is a management decision with a reason and a date (see KeyDesignation for the log).
    is_key = models.BooleanField(default=False)
    key_since = models.DateField(null=True, blank=True)
    key_reason = models.TextField(blank=True)
    # No index on the audit FKs: nothing filters by them, and every index slows the nightly score update.
    key_decided_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )

    image_rating = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=RATING_VALIDATORS,
        help_text="Image / prestige, 1 (low) to 5 (high).",
    )
    partnership_rating = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=RATING_VALIDATORS, help_text="Willingness to partner, 1 to 5."
    )
    strategic_rating = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(5)],
        help_text="Optional strategic importance, 0 to 5 (e.g. a competitor's account we decided to attack).",
    )
    ratings_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    ratings_at = models.DateTimeField(null=True, blank=True)

    cadence_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Target days between visits; leave empty to use the tier's default.",
    )
    # Denormalised: kept current by visit logging and scoring so lists filter on an index, not a join.
    target_cadence_days = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    last_contact_date = models.DateField(null=True, blank=True, editable=False)
    next_contact_due = models.DateField(null=True, blank=True, editable=False)
    score = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True, editable=False)
    score_change = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True, editable=False)
    tier = models.CharField(max_length=1, choices=Tier.choices, blank=True, editable=False)
    rank = models.PositiveIntegerField(null=True, blank=True, editable=False)
    scored_at = models.DateTimeField(null=True, blank=True, editable=False)

    history = AuditHistory(
        excluded_fields=[
            "created_at",
            "updated_at",
            "target_cadence_days",
            "last_contact_date",
            "next_contact_due",
            "score",
            "score_change",
            "tier",
            "rank",
            "scored_at",
        ]
    )
    objects = AccountQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["reference"], condition=~Q(reference=""), name="account_reference_unique"
            ),
            models.CheckConstraint(condition=~Q(parent=F("id")), name="account_not_own_parent"),
            models.CheckConstraint(
                condition=Q(image_rating__isnull=True) | Q(image_rating__gte=1, image_rating__lte=5),
                name="account_image_rating_1_5",
            ),
            models.CheckConstraint(
                condition=Q(partnership_rating__isnull=True)
                | Q(partnership_rating__gte=1, partnership_rating__lte=5),
                name="account_partnership_rating_1_5",
            ),
            models.CheckConstraint(
                condition=Q(strategic_rating__isnull=True) | Q(strategic_rating__lte=5),
                name="account_strategic_rating_0_5",
            ),
            models.CheckConstraint(
                condition=Q(cadence_days__isnull=True) | Q(cadence_days__gte=1),
                name="account_cadence_positive",
            ),
            models.CheckConstraint(
                condition=Q(is_key=False) | (Q(key_since__isnull=False) & ~Q(key_reason="")),
                name="account_key_has_date_and_reason",
            ),
            # The cadence rule (accounts.cadence): a lost account has no cadence, so "lapsed" means one thing
            # on the list filter, the nightly check, My day and the dashboard. Every write goes through
            # Account.refresh_cadence or the publication's SQL form of the rule; this catches one that does not.
            models.CheckConstraint(
                condition=~Q(status=cadence.LOST)
                | (Q(target_cadence_days__isnull=True) & Q(next_contact_due__isnull=True)),
                name="account_lost_has_no_cadence",
            ),
        ]
        indexes = [
            # The rep's list and My day: "my accounts, lapsed first".
            models.Index(fields=["owner", "next_contact_due"], name="account_owner_due_idx"),
            # No index on (tier, rank): a tier is a quarter of the portfolio, which PostgreSQL reads by a scan
            # anyway, while every recompute rewrites tier and rank of every account, so the index cost ~0.5 s
            # per 100,000 accounts at each publication and saved no read (README, Benchmarks).
            # The cadence check: every account whose next contact is overdue.
            models.Index(fields=["next_contact_due"], name="account_due_idx"),
            models.Index(fields=["updated_at"], name="account_updated_idx"),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("accounts:detail", args=[self.pk])

    def clean(self):
        if self.parent_id and self.pk:
            seen = {self.pk}
            node = self.parent
            while node is not None:
                if node.pk in seen:
                    raise ValidationError({"parent": "This parent would make the hierarchy a loop."})
                seen.add(node.pk)
                node = node.parent
        if self.is_key and not self.key_reason.strip():
            raise ValidationError({"key_reason": "Say why this is a key account."})

    def effective_cadence_days(self, tier_default: int | None) -> int | None:
        """The account's target cadence given its tier's default (accounts.cadence.target_days)."""
        return cadence.target_days(
            override=self.cadence_days, is_key=self.is_key, status=self.status, tier_default=tier_default
        )

    def refresh_cadence(self, tier_default: int | None) -> None:
        """Recompute the denormalised target and due date (not saved)."""
        self.target_cadence_days = self.effective_cadence_days(tier_default)
        created = self.created_at.date() if self.created_at else datetime.date.today()
        self.next_contact_due = cadence.next_due(
            target=self.target_cadence_days, last_contact=self.last_contact_date, created=created
        )

    def cadence_status(self, today: datetime.date) -> str:
        return cadence.status(self.next_contact_due, today)

    def days_overdue(self, today: datetime.date) -> int:
        return cadence.days_overdue(self.next_contact_due, today)


class KeyDesignation(models.Model):
    """The audit log of key-account decisions: who made or unmade a key account, when and why."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="designations")
    is_key = models.BooleanField()
    reason = models.TextField()
    decided_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-decided_at", "-id"]
        constraints = [models.CheckConstraint(condition=~Q(reason=""), name="designation_has_reason")]

    def __str__(self):
        verdict = "made key" if self.is_key else "no longer key"
        return f"{self.account} {verdict} on {self.decided_at:%Y-%m-%d}"


class TeamFunction(models.TextChoices):
    SALES = "sales", "Sales"
    ENGINEERING = "engineering", "Engineering"
    MARKETING = "marketing", "Marketing"
    FINANCE = "finance", "Finance"
    IT = "it", "IT"
    RND = "rnd", "R&D"
    LOGISTICS = "logistics", "Logistics"
    SERVICE = "service", "Service"


class AccountTeamMember(TimeStampedModel):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="team_members")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="team_memberships")
    function = models.CharField(max_length=20, choices=TeamFunction.choices, default=TeamFunction.SALES)

    class Meta:
        ordering = ["function", "user__username"]
        constraints = [models.UniqueConstraint(fields=["account", "user"], name="team_member_unique")]
        indexes = [
            # visible_to(): "accounts where I am on the team".
            models.Index(fields=["user", "account"], name="team_user_account_idx"),
        ]

    def __str__(self):
        return f"{self.user} ({self.get_function_display()}) on {self.account}"


class Order(TimeStampedModel):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="orders")
    reference = models.CharField(max_length=64, blank=True, default="", validators=[no_bidi_controls])
    date = models.DateField()
    revenue = models.DecimalField(max_digits=14, decimal_places=2)
    variable_cost = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))

    class Meta:
        ordering = ["-date", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "reference"], condition=~Q(reference=""), name="order_reference_unique"
            ),
            models.CheckConstraint(condition=Q(revenue__gte=0), name="order_revenue_non_negative"),
            models.CheckConstraint(condition=Q(variable_cost__gte=0), name="order_cost_non_negative"),
        ]
        indexes = [
            # Trailing-12-month sums per account and the account page's monthly chart.
            models.Index(fields=["account", "date"], name="order_account_date_idx"),
            # Scoring reads every order in a date window.
            models.Index(fields=["date"], name="order_date_idx"),
        ]

    def __str__(self):
        return f"{self.account} {self.date} {self.revenue}"

    @property
    def contribution_margin(self) -> Decimal:
        return self.revenue - self.variable_cost

    @property
    def cm_pct(self) -> Decimal | None:
        return self.contribution_margin / self.revenue if self.revenue else None


class VisitKind(models.TextChoices):
    ON_SITE = "on_site", "On-site visit"
    SITE_TOUR = "site_tour", "Site tour"
    MEETING = "meeting", "Meeting"
    VIDEO = "video_call", "Video call"
    PHONE = "phone_call", "Phone call"
    REVIEW = "business_review", "Business review"
    SOCIAL = "social_event", "Social event"


# The roles people play in the customer's buying decisions (DOMAIN.md section 4). The people themselves live in
# the profiles app; the roles are here because the core's rules read them: meeting a decision maker is what
# keeps a key account's coverage (the coverage-gap alert).
class BuyingRole(models.TextChoices):
    DECISION_MAKER = "decision_maker", "Decision maker / economic buyer"
    TECHNICAL = "technical", "Technical evaluator"
    USER = "user", "User"
    GATEKEEPER = "gatekeeper", "Gatekeeper / purchaser"
    COACH = "coach", "Coach / champion"


# A social event builds trust but is not a working contact, so it does not reset the visit cadence.
QUALIFYING_VISIT_KINDS = tuple(kind for kind in VisitKind.values if kind != VisitKind.SOCIAL)


class Visit(TimeStampedModel):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="visits")
    logged_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="visits_logged")
    date = models.DateField()
    kind = models.CharField(max_length=20, choices=VisitKind.choices, default=VisitKind.ON_SITE)
    influencers = models.ManyToManyField("profiles.BuyingInfluencer", blank=True, related_name="visits")
    summary = models.TextField()
    next_steps = models.TextField(blank=True)
    follow_up_date = models.DateField(null=True, blank=True)
    # What serving the account cost on this contact; the denominator of ROCI (DOMAIN.md section 2).
    cost = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="What this contact cost us: travel, time, hospitality, samples. Leave empty if not known.",
    )

    class Meta:
        ordering = ["-date", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(follow_up_date__isnull=True) | Q(follow_up_date__gte=F("date")),
                name="visit_follow_up_after_visit",
            ),
            models.CheckConstraint(
                condition=Q(cost__isnull=True) | Q(cost__gte=0), name="visit_cost_non_negative"
            ),
        ]
        indexes = [
            # The account timeline and the last-contact roll-up.
            models.Index(fields=["account", "-date"], name="visit_account_date_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} at {self.account} on {self.date}"

    @property
    def qualifies(self) -> bool:
        return self.kind in QUALIFYING_VISIT_KINDS


class IssueKind(models.TextChoices):
    LATE_DELIVERY = "late_delivery", "Late delivery"
    QUALITY = "quality", "Quality defect"
    SERVICE_DELAY = "service_delay", "Service delay"
    BILLING = "billing", "Billing error"
    OTHER = "other", "Other"


class Severity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class ServiceIssueQuerySet(models.QuerySet):
    def open(self):
        return self.filter(resolved_on__isnull=True)


class ServiceIssue(TimeStampedModel):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="service_issues")
    kind = models.CharField(max_length=20, choices=IssueKind.choices, default=IssueKind.OTHER)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MEDIUM)
    opened_on = models.DateField()
    resolved_on = models.DateField(null=True, blank=True)
    description = models.TextField()
    reported_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = ServiceIssueQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(resolved_on__isnull=True) | Q(resolved_on__gte=F("opened_on")),
                name="issue_resolved_after_opened",
            )
        ]
        indexes = [models.Index(fields=["account", "-opened_on"], name="issue_account_opened_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} at {self.account}"

    @property
    def is_open(self) -> bool:
        return self.resolved_on is None


class AlertKind(models.TextChoices):
    LAPSED_CADENCE = "lapsed_cadence", "Lapsed visit cadence"
    COVERAGE_GAP = "coverage_gap", "No decision maker met"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


# An acknowledged alert is still open: the owner has seen it, but only a visit (or a meeting) ends it.
OPEN_ALERT_STATUSES = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED)


class CadenceAlertQuerySet(models.QuerySet):
    def open(self) -> "CadenceAlertQuerySet":
        return self.filter(status__in=OPEN_ALERT_STATUSES)

    def visible_to(self, user) -> "CadenceAlertQuerySet":
        """The alerts on accounts `user` may see: the account's access rule is the only one."""
        return self.filter(account__in=Account.objects.visible_to(user).values("pk"))


class CadenceAlert(TimeStampedModel):
    """A flag on an account that needs its owner's attention, opened and resolved by the cadence check.

    lapsed_cadence: the last qualifying visit is older than the account's target cadence.
    coverage_gap: a key account where no decision maker / economic buyer has been met recently.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="cadence_alerts")
    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    status = models.CharField(max_length=20, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    opened_on = models.DateField()
    due_since = models.DateField(
        null=True,
        blank=True,
        help_text="Since when the account has been in this state: the missed due date, or the day the "
        "decision-maker coverage ran out (empty if one was never met).",
    )
    resolved_on = models.DateField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalated_to = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="escalated_alerts",
        db_index=False,  # the partial index below serves the only query on it
    )

    objects = CadenceAlertQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_on", "-id"]
        constraints = [
            # At most one open alert per account and kind, however often (or concurrently) the check runs.
            # Its partial index serves "the open alert of this account" (visit logging, the account page).
            models.UniqueConstraint(
                fields=["account", "kind"],
                condition=Q(status__in=OPEN_ALERT_STATUSES),
                name="alert_one_open_per_account_kind",
            ),
            models.CheckConstraint(
                condition=(Q(status=AlertStatus.RESOLVED) & Q(resolved_on__isnull=False))
                | (~Q(status=AlertStatus.RESOLVED) & Q(resolved_on__isnull=True)),
                name="alert_resolved_has_date",
            ),
            models.CheckConstraint(
                condition=~Q(status=AlertStatus.ACKNOWLEDGED) | Q(acknowledged_at__isnull=False),
                name="alert_acknowledged_has_time",
            ),
            models.CheckConstraint(
                condition=Q(escalated_to__isnull=True) | Q(escalated_at__isnull=False),
                name="alert_escalation_has_time",
            ),
        ]
        indexes = [
            # The escalation sweep: open alerts not yet escalated, opened before the grace cut-off.
            models.Index(
                fields=["opened_on"],
                condition=Q(status__in=OPEN_ALERT_STATUSES, escalated_at__isnull=True),
                name="alert_escalation_due_idx",
            ),
            # A manager's "escalated to me" list and digest section.
            models.Index(
                fields=["escalated_to", "status"],
                condition=Q(escalated_to__isnull=False),
                name="alert_escalated_to_idx",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} at {self.account} ({self.get_status_display().lower()})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_ALERT_STATUSES
