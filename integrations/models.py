"""Integrations: the API keys that ERP and BI systems authenticate with, and the webhooks they subscribe to."""

import datetime
import hashlib
import hmac
import secrets

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q

from accounts import access
from accounts.models import User
from accounts.validators import no_bidi_controls
from integrations.outbound import validate_webhook_url
from kam.api.scopes import ApiScope
from kam.models import TimeStampedModel

API_KEY_PREFIX = "kam_"


class ApiKeyQuerySet(models.QuerySet):
    def active(self) -> "ApiKeyQuerySet":
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    """A secret an integration sends as `Authorization: Bearer kam_<prefix>_<secret>`.

    The key acts as `user` and sees exactly what that user sees (a rep's key: the rep's accounts); its scopes
    narrow what it may do. Who may act as whom is access.may_issue_key_for, checked when the key is made and
    on every request (a key made before the rule, or whose user became a manager, stops working).
    Only the SHA-256 of the whole key is stored, so the key is shown once, when made.
    The secret carries 256 random bits, so a plain (fast) hash is enough: there is nothing to brute-force.
    """

    name = models.CharField(
        max_length=100,
        help_text="Which system uses this key, e.g. 'ERP nightly sync'.",
        validators=[no_bidi_controls],
    )
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="api_keys", help_text="The key sees what this user sees."
    )
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        db_table = "accounts_apikey"  # made in the accounts app, moved without copying (migration 0001)
        ordering = ["revoked_at", "-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=~Q(name=""), name="api_key_has_name")]

    def __str__(self):
        return f"{self.name} ({API_KEY_PREFIX}{self.prefix}…)"

    @staticmethod
    def hash_key(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()

    @staticmethod
    def split_key(raw: str) -> str | None:
        """The lookup prefix of a presented key, or None if it is not shaped like one of ours."""
        if not raw.startswith(API_KEY_PREFIX):
            return None
        prefix, sep, secret = raw[len(API_KEY_PREFIX) :].partition("_")
        return prefix if sep and prefix and secret else None

    @classmethod
    def issue(
        cls, *, name: str, user: User, scopes: list[str], created_by: User | None
    ) -> tuple["ApiKey", str]:
        """Make a key; returns it with the raw key, which is never stored and must be shown now."""
        prefix = secrets.token_hex(6)
        raw = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        key = cls(name=name, user=user, scopes=sorted(set(scopes)), created_by=created_by, prefix=prefix)
        key.secret_hash = cls.hash_key(raw)
        key.full_clean()
        key.save()
        return key, raw

    def matches(self, raw: str) -> bool:
        return hmac.compare_digest(self.secret_hash, self.hash_key(raw))

    def clean(self):
        unknown = set(self.scopes or []) - set(ApiScope.values)
        if not self.scopes or unknown:
            raise ValidationError({"scopes": "Choose one or more of: " + ", ".join(ApiScope.values) + "."})
        if ApiScope.RUN_SCORING in self.scopes and self.user_id and not access.may_run_scoring(self.user):
            raise ValidationError({"scopes": "Only a manager's key can start scoring runs."})
        if self.user_id and not self.maker_may_act_as_user():
            raise ValidationError({"user": access.KEY_USER_REFUSED})

    def maker_may_act_as_user(self) -> bool:
        """access.may_issue_key_for of the key's maker; a key made with no maker (a shell, a command run by
        the operator) is the operator's decision."""
        return self.created_by_id is None or access.may_issue_key_for(self.created_by, self.user)

    @property
    def audit_label(self) -> str:
        """How the audit trail names a change made through this key."""
        return str(self)[:150]

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def revoke(self, *, when: datetime.datetime) -> None:
        if self.revoked_at is None:
            self.revoked_at = when
            self.save(update_fields=["revoked_at"])


class WebhookEvent(models.TextChoices):
    RUN_SUCCEEDED = "run.succeeded", "A scoring run succeeded"
    TIER_CHANGED = "account.tier_changed", "Accounts changed tier in a run"
    ALERT_OPENED = "alert.opened", "Cadence alerts opened"


# Sent only when someone asks to test an endpoint; nobody subscribes to it.
WEBHOOK_PING = "ping"


class WebhookEndpoint(TimeStampedModel):
    """Where an integration wants events POSTed. Deliveries carry only accounts `owner` can see."""

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(
        max_length=500,
        validators=[validate_webhook_url],
        help_text="An http(s) address that accepts a JSON POST.",
    )
    description = models.CharField(max_length=200, blank=True, validators=[no_bidi_controls])
    # Kept in clear because every delivery is signed with it; shown to people only when made or rotated.
    secret = models.CharField(max_length=64, editable=False)
    events = models.JSONField(default=list)
    active = models.BooleanField(default=True)

    class Meta:
        db_table = (
            "accounts_webhookendpoint"  # made in the accounts app, moved without copying (migration 0001)
        )
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.url

    @staticmethod
    def new_secret() -> str:
        return "whsec_" + secrets.token_urlsafe(32)

    def clean(self):
        unknown = set(self.events or []) - set(WebhookEvent.values)
        if not self.events or unknown:
            choices = ", ".join(WebhookEvent.values)
            raise ValidationError({"events": f"Choose one or more of: {choices}."})

    def rotate_secret(self) -> str:
        self.secret = self.new_secret()
        self.save(update_fields=["secret", "updated_at"])
        return self.secret


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RETRYING = "retrying", "Retrying"
    SUCCEEDED = "succeeded", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event sent to one endpoint, with the outcome of every attempt (attempt_log)."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    attempt_log = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = (
            "accounts_webhookdelivery"  # made in the accounts app, moved without copying (migration 0001)
        )
        ordering = ["-created_at", "-id"]
        indexes = [
            # An endpoint's delivery log, newest first (the settings page and GET /webhooks/{id}/deliveries/).
            models.Index(fields=["endpoint", "-created_at"], name="delivery_endpoint_created_idx"),
        ]

    def __str__(self):
        return f"{self.event} to {self.endpoint_id} ({self.status})"


class IdempotencyRecord(models.Model):
    """A claimed Idempotency-Key and the answer it replays (kam.api.idempotency; KAM_IDEMPOTENCY_MODEL).

    Inserted in the same transaction as the write it guards: the unique constraint is what makes a second,
    concurrent request with the same key wait for the first and then replay it.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the method, address and body.")
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_once_per_user")]

    def __str__(self):
        return f"{self.key} ({self.user})"
