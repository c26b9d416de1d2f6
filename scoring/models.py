"""Scoring models (the manager's strategy as weights and tier rules), runs, and one result per account per run."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from accounts.cadence import DEFAULT_TIER_CADENCE
from accounts.models import Account, User
from kam.models import AuditHistory, TimeStampedModel
from scoring.engine import CRITERIA, CRITERION_LABELS


class TierMethod(models.TextChoices):
    SHARE = "share", "Share of ranked accounts"
    CUTOFF = "cutoff", "Score cut-offs"


def _weight(label):
    return models.DecimalField(max_digits=6, decimal_places=3, default=Decimal("0"), verbose_name=label)


class ScoringModelQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True)


class ScoringModel(TimeStampedModel):
    """One version of the selection criteria. Immutable once a run used it: editing saves a new version."""

    version = models.PositiveIntegerField(unique=True)
    name = models.CharField(max_length=100, default="Key-account selection")
    note = models.TextField(blank=True, help_text="What changed in this version and why.")
    is_active = models.BooleanField(default=False)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    weight_cm = _weight("Contribution margin")
    weight_cm_pct = _weight("CM %")
    weight_clv = _weight("Customer lifetime value")
    weight_growth = _weight("Growth")
    weight_image = _weight("Image")
    weight_partnership = _weight("Willingness to partner")
    weight_strategic = _weight("Strategic")

    tier_method = models.CharField(max_length=10, choices=TierMethod.choices, default=TierMethod.SHARE)
    # For the share method: fraction of ranked accounts in A, B and C (rest D). For cut-offs: minimum score.
    tier_a = models.DecimalField(max_digits=6, decimal_places=3, default=Decimal("0.10"))
    tier_b = models.DecimalField(max_digits=6, decimal_places=3, default=Decimal("0.20"))
    tier_c = models.DecimalField(max_digits=6, decimal_places=3, default=Decimal("0.30"))

    cadence_a_days = models.PositiveSmallIntegerField(
        null=True, blank=True, default=DEFAULT_TIER_CADENCE["A"]
    )
    cadence_b_days = models.PositiveSmallIntegerField(
        null=True, blank=True, default=DEFAULT_TIER_CADENCE["B"]
    )
    cadence_c_days = models.PositiveSmallIntegerField(
        null=True, blank=True, default=DEFAULT_TIER_CADENCE["C"]
    )
    cadence_d_days = models.PositiveSmallIntegerField(
        null=True, blank=True, default=DEFAULT_TIER_CADENCE["D"]
    )

    clv_horizon_months = models.PositiveSmallIntegerField(default=36)
    discount_rate = models.DecimalField(
        max_digits=5, decimal_places=4, default=Decimal("0.10"), help_text="Annual discount rate for CLV."
    )

    history = AuditHistory(excluded_fields=["created_at", "updated_at"])
    objects = ScoringModelQuerySet.as_manager()

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="one_active_model"
            ),
            models.CheckConstraint(
                condition=Q(
                    weight_cm__gte=0,
                    weight_cm_pct__gte=0,
                    weight_clv__gte=0,
                    weight_growth__gte=0,
                    weight_image__gte=0,
                    weight_partnership__gte=0,
                    weight_strategic__gte=0,
                ),
                name="weights_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(weight_cm__gt=0)
                | Q(weight_cm_pct__gt=0)
                | Q(weight_clv__gt=0)
                | Q(weight_growth__gt=0)
                | Q(weight_image__gt=0)
                | Q(weight_partnership__gt=0)
                | Q(weight_strategic__gt=0),
                name="weights_not_all_zero",
            ),
            models.CheckConstraint(
                condition=Q(discount_rate__gte=0, discount_rate__lt=1), name="discount_rate_range"
            ),
            models.CheckConstraint(
                condition=Q(clv_horizon_months__gte=1, clv_horizon_months__lte=120), name="clv_horizon_range"
            ),
        ]

    def __str__(self):
        return f"v{self.version} {self.name}"

    @property
    def weights(self) -> dict[str, float]:
        """Raw weights as entered; the engine normalises them to sum to 1."""
        return {c: float(getattr(self, f"weight_{c}")) for c in CRITERIA}

    @property
    def normalised_weights(self) -> dict[str, float]:
        total = sum(self.weights.values())
        return {c: (w / total if total else 0.0) for c, w in self.weights.items()}

    @property
    def tier_values(self) -> dict[str, float]:
        return {"A": float(self.tier_a), "B": float(self.tier_b), "C": float(self.tier_c)}

    @property
    def tier_cadences(self) -> dict[str, int | None]:
        return {
            "A": self.cadence_a_days,
            "B": self.cadence_b_days,
            "C": self.cadence_c_days,
            "D": self.cadence_d_days,
        }

    @property
    def is_locked(self) -> bool:
        return self.pk is not None and self.runs.exists()

    def clean(self):
        weights = self.weights
        if any(w < 0 for w in weights.values()):
            raise ValidationError("Weights cannot be negative.")
        if not any(w > 0 for w in weights.values()):
            raise ValidationError("At least one criterion needs a weight above zero.")
        a, b, c = (float(v) for v in (self.tier_a, self.tier_b, self.tier_c))
        if self.tier_method == TierMethod.SHARE:
            if min(a, b, c) < 0 or a + b + c > 1:
                raise ValidationError("Tier shares must be between 0 and 1 and add up to at most 100%.")
            if a <= 0:
                raise ValidationError("Tier A needs a share above zero.")
        elif not (100 >= a >= b >= c >= 0):
            raise ValidationError("Score cut-offs must run from A down to C, between 0 and 100.")


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


IN_PROGRESS = (RunStatus.QUEUED, RunStatus.RUNNING)


class ScoringRunQuerySet(models.QuerySet):
    def succeeded(self):
        return self.filter(status=RunStatus.SUCCEEDED)

    def latest_first(self):
        """Newest portfolio first: by as-of date, then (for two runs of one date) the one that finished last."""
        return self.order_by("-as_of", "-finished_at", "-id")

    def current(self):
        """The run behind the current portfolio: the successful one with the latest as-of date.

        A run for an earlier date (a backfill of history) is kept as history and never replaces it.
        """
        return self.current_candidates().first()

    def current_candidates(self):
        """current()'s ordering as a queryset: `.values("pk")[:1]` is the current run as a subquery."""
        return self.succeeded().latest_first()

    def in_progress(self):
        return self.filter(status__in=IN_PROGRESS)

    def previous_to(self, run: "ScoringRun | None") -> "ScoringRun | None":
        """THE previous run, for every comparison with "the run before" (the dashboard, webhooks, run pages).

        The latest successful run before ``run`` in latest_first() order: an earlier as-of date, or the same
        date and an earlier finish, or the same date and finish and a lower id. So a backfill (an older as-of
        date that finished later) is never "the previous run" of a newer portfolio. None for a run that has
        not finished.
        """
        if run is None or run.finished_at is None:
            return None
        return (
            self.succeeded()
            .filter(
                Q(as_of__lt=run.as_of)
                | Q(as_of=run.as_of, finished_at__lt=run.finished_at)
                | Q(as_of=run.as_of, finished_at=run.finished_at, pk__lt=run.pk)
            )
            .latest_first()
            .first()
        )


class ScoringRun(models.Model):
    model = models.ForeignKey(ScoringModel, on_delete=models.PROTECT, related_name="runs")
    as_of = models.DateField()
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    phase = models.CharField(max_length=40, blank=True)
    # True while queued or running; unique, so two recomputes can never run at once (the lock).
    holds_lock = models.BooleanField(default=True)
    triggered_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    trigger = models.CharField(max_length=20, default="manual")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    phase_seconds = models.JSONField(default=dict, blank=True)
    accounts_scored = models.PositiveIntegerField(default=0)
    orders_read = models.PositiveBigIntegerField(default=0)
    clv_method = models.CharField(max_length=40, blank=True)
    clv_params = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    objects = ScoringRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["holds_lock"], condition=Q(holds_lock=True), name="one_run_at_a_time"
            ),
            # Re-running the same model and date replaces the earlier result instead of duplicating it.
            models.UniqueConstraint(
                fields=["model", "as_of"], condition=Q(status="succeeded"), name="one_success_per_model_date"
            ),
        ]
        indexes = [
            # "The current portfolio": latest successful run.
            models.Index(fields=["status", "-finished_at"], name="run_status_finished_idx"),
        ]

    def __str__(self):
        return f"Run {self.pk} ({self.get_status_display()}) as of {self.as_of}"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


def _points():
    return models.FloatField(null=True)


class ScoreResult(models.Model):
    """One account's score in one run, with everything needed to explain it (weights live on the run's model)."""

    # No single-column FK indexes: the unique (run, account) and the (account, run) index cover both
    # lookups, and every index costs time when a run writes a million rows.
    # No database-level foreign keys either: PostgreSQL checks them row by row, locking every referenced
    # account (a quarter of the write time of a run), and this table is only ever written by a run, with
    # the ids it has just read. Django still cascades deletes of runs and accounts to their results, and
    # publishing a run removes the results of accounts deleted while it computed (services._publish).
    run = models.ForeignKey(
        ScoringRun, on_delete=models.CASCADE, related_name="results", db_index=False, db_constraint=False
    )
    account = models.ForeignKey(
        Account,
        on_delete=models.CASCADE,
        related_name="score_results",
        db_index=False,
        db_constraint=False,
    )
    score = models.FloatField()
    rank = models.PositiveIntegerField()
    tier = models.CharField(max_length=1)
    revenue = models.DecimalField(max_digits=16, decimal_places=2)
    revenue_prev = models.DecimalField(max_digits=16, decimal_places=2)
    cm = models.DecimalField(max_digits=16, decimal_places=2)
    cm_pct = models.FloatField(null=True)
    clv = models.DecimalField(max_digits=16, decimal_places=2, null=True)
    p_alive = models.FloatField(null=True)
    growth = models.FloatField(null=True)
    image = models.FloatField(null=True)
    partnership = models.FloatField(null=True)
    strategic = models.FloatField(null=True)
    # Percentile-normalised value (0..1) and points (100 x weight x norm) per criterion.
    cm_norm = _points()
    cm_pct_norm = _points()
    clv_norm = _points()
    growth_norm = _points()
    image_norm = _points()
    partnership_norm = _points()
    strategic_norm = _points()
    cm_points = _points()
    cm_pct_points = _points()
    clv_points = _points()
    growth_points = _points()
    image_points = _points()
    partnership_points = _points()
    strategic_points = _points()
    missing = models.CharField(max_length=100, blank=True, help_text="Criteria without data, scored neutral.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "account"], name="one_result_per_account_per_run")
        ]
        indexes = [
            # Score history of one account across runs.
            models.Index(fields=["account", "run"], name="result_account_run_idx"),
            # Portfolio pages read one run ordered by rank.
            models.Index(fields=["run", "rank"], name="result_run_rank_idx"),
        ]

    def __str__(self):
        return f"{self.account_id} in run {self.run_id}: {self.score:.1f}"

    def explanation(self, weights: dict[str, float]) -> list[dict]:
        missing = set(filter(None, self.missing.split(",")))
        raw = {
            "cm": self.cm,
            "cm_pct": self.cm_pct,
            "clv": self.clv,
            "growth": self.growth,
            "image": self.image,
            "partnership": self.partnership,
            "strategic": self.strategic,
        }
        return [
            {
                "key": c,
                "label": CRITERION_LABELS[c],
                "raw": raw[c],
                "norm": getattr(self, f"{c}_norm"),
                "weight": weights[c],
                "points": getattr(self, f"{c}_points") or 0.0,
                "missing": c in missing,
            }
            for c in CRITERIA
        ]
