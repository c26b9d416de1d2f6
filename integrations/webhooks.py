"""Webhooks: events POSTed to integrations' endpoints, signed, delivered by Celery with retries, logged.

Every delivery is a JSON body `{"id", "event", "created_at", "data"}` with these headers:

    X-KAM-Event: run.succeeded
    X-KAM-Delivery: 812
    X-KAM-Signature: t=1732350000,v1=5f2b...

where v1 is the hex HMAC-SHA256, keyed with the endpoint's secret, of "<t>.<raw body>". A receiver
recomputes it over the bytes it received, compares in constant time, and rejects an old t (replays).

Events carry only accounts the endpoint's owner can see, so a rep's integration never learns about other reps'
accounts. Deliveries are rows first and tasks second (enqueued after commit), so an event raised inside a
transaction that rolls back is never sent, and a lost task can be re-enqueued from its row.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import logging
import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from accounts import access
from accounts.models import Account, CadenceAlert
from integrations import outbound
from integrations.models import WEBHOOK_PING, DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent
from kam import jobs

log = logging.getLogger(__name__)

DELIVER_TASK = "integrations.tasks.webhook_deliver_task"

SIGNATURE_HEADER = "X-KAM-Signature"
OPEN_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)


# --- Signing ------------------------------------------------------------------------------------------------


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The X-KAM-Signature value for `body` sent at `timestamp` (unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(
    secret: str, body: bytes, header: str, *, tolerance: int = 300, now: float | None = None
) -> bool:
    """What a receiver does: True if `header` signs `body` with `secret` and is at most `tolerance` s old."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def encode_body(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str).encode()


# --- Emitting events ----------------------------------------------------------------------------------------


def _envelope(event: str, data: dict) -> dict:
    return {
        "id": f"evt_{uuid.uuid4().hex}",
        "event": event,
        "created_at": timezone.now().isoformat(),
        "data": data,
    }


def subscribers(event: str) -> list[WebhookEndpoint]:
    # Few endpoints exist; filtering the JSON list in Python works the same on SQLite and PostgreSQL.
    endpoints = WebhookEndpoint.objects.filter(active=True, owner__is_active=True).select_related("owner")
    return [endpoint for endpoint in endpoints if event in endpoint.events]


def _visible_ids(user) -> set[int]:
    return set(Account.objects.visible_to(user).values_list("id", flat=True))


def _record(endpoint: WebhookEndpoint, event: str, payload: dict) -> WebhookDelivery:
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event=event, payload=payload)
    # A broker that is down does not fail the caller's request: the row stays pending for the sweeper.
    jobs.enqueue_on_commit(DELIVER_TASK, delivery.pk)
    return delivery


def webhooks_emit(event: str, data: dict, *, account_id: int | None = None) -> list[WebhookDelivery]:
    """Send one event to every active endpoint subscribed to it (and, for account data, whose owner sees it).

    Call it inside the transaction that makes the event true: deliveries go out only after it commits.
    """
    if event not in WebhookEvent.values:
        raise ValueError(f"Unknown webhook event {event!r}; one of {', '.join(WebhookEvent.values)}.")
    payload = _envelope(event, data)
    deliveries = []
    for endpoint in subscribers(event):
        owner = endpoint.owner
        hidden = account_id is not None and not access.sees_everything(owner)
        if hidden and not Account.objects.visible_to(owner).filter(pk=account_id).exists():
            continue
        deliveries.append(_record(endpoint, event, payload))
    return deliveries


def webhooks_emit_batched(event: str, rows: list[dict], common: dict) -> int:
    """One event per endpoint in parts of KAM_API_WEBHOOK_BATCH_SIZE rows, each row filtered by visibility."""
    size = max(1, settings.KAM_API_WEBHOOK_BATCH_SIZE)
    sent = 0
    for endpoint in subscribers(event):
        if access.sees_everything(endpoint.owner):
            mine = rows
        else:
            visible = _visible_ids(endpoint.owner)
            mine = [row for row in rows if row["account_id"] in visible]
        parts = [mine[i : i + size] for i in range(0, len(mine), size)]
        for number, part in enumerate(parts, start=1):
            data = {**common, "part": number, "parts": len(parts), "items": part}
            _record(endpoint, event, _envelope(event, data))
            sent += 1
    return sent


def webhooks_emit_alerts_opened(*, alert_ids) -> int:
    """`alert.opened` for newly opened cadence alerts, batched per endpoint and filtered by visibility."""
    if not subscribers(WebhookEvent.ALERT_OPENED):
        return 0
    alerts = CadenceAlert.objects.filter(pk__in=list(alert_ids)).select_related("account").order_by("id")
    rows = [
        {
            "id": alert.pk,
            "account_id": alert.account_id,
            "account_name": alert.account.name,
            "account_reference": alert.account.reference,
            "kind": alert.kind,
            "status": alert.status,
            "opened_on": alert.opened_on.isoformat(),
            "due_since": alert.due_since.isoformat() if alert.due_since else None,
            "url": f"/api/v1/cadence-alerts/{alert.pk}/",
        }
        for alert in alerts
    ]
    return webhooks_emit_batched(WebhookEvent.ALERT_OPENED, rows, {}) if rows else 0


def webhook_ping(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A test event to one endpoint, whatever it subscribes to."""
    data = {"message": "Hello from KAM: this endpoint is set up.", "endpoint_id": endpoint.pk}
    return _record(endpoint, WEBHOOK_PING, _envelope(WEBHOOK_PING, data))


# --- Delivering ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttemptOutcome:
    status: str  # a DeliveryStatus value, or "skipped" when there was nothing (left) to do
    retry_in: int | None = None  # seconds until the next attempt, when one is due


def backoff_seconds(attempt: int) -> int:
    """Seconds before attempt `attempt + 1`: base x 2^(attempt - 1), e.g. 30 s, 1, 2, 4, 8 minutes."""
    return settings.KAM_API_WEBHOOK_BACKOFF_SECONDS * 2 ** max(0, attempt - 1)


def _post(url: str, body: bytes, headers: dict) -> tuple[int | None, str, bool]:
    """(status code, error, permanent): a refused address is permanent, anything else may be retried."""
    try:
        code, error = outbound.post(url, body, headers, timeout=settings.KAM_API_WEBHOOK_TIMEOUT_SECONDS)
    except outbound.Refused as refused:
        return None, str(refused), True
    return code, error, False


def webhook_attempt(*, delivery_id: int) -> AttemptOutcome:
    """Make the next attempt at a delivery and log it. Safe to run twice: each attempt is claimed once."""
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None or delivery.status not in OPEN_STATUSES:
        return AttemptOutcome("skipped")
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery.pk, attempts=delivery.attempts, status__in=OPEN_STATUSES
    ).update(attempts=F("attempts") + 1, last_attempt_at=now)
    if not claimed:
        return AttemptOutcome("skipped")
    attempt = delivery.attempts + 1
    endpoint = delivery.endpoint
    started = time.monotonic()
    code, error, permanent = None, "The endpoint was switched off.", True
    if endpoint.active:
        body = encode_body(delivery.payload)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "KAM-Webhooks/1",
            "X-KAM-Event": delivery.event,
            "X-KAM-Delivery": str(delivery.pk),
            SIGNATURE_HEADER: sign(endpoint.secret, body, int(time.time())),
        }
        code, error, permanent = _post(endpoint.url, body, headers)
    succeeded = code is not None and 200 <= code < 300
    entry = {
        "attempt": attempt,
        "at": now.isoformat(),
        "status_code": code,
        "error": "" if succeeded else error,
        "ms": round((time.monotonic() - started) * 1000),
    }
    updates = {"response_code": code, "error": entry["error"], "attempt_log": [*delivery.attempt_log, entry]}
    retry_in = None
    if succeeded:
        updates.update(status=DeliveryStatus.SUCCEEDED, delivered_at=timezone.now(), next_attempt_at=None)
    elif permanent or attempt >= settings.KAM_API_WEBHOOK_MAX_ATTEMPTS:
        updates.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    else:
        retry_in = backoff_seconds(attempt)
        updates.update(
            status=DeliveryStatus.RETRYING, next_attempt_at=now + datetime.timedelta(seconds=retry_in)
        )
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**updates)
    log.info(
        "Webhook delivery %s attempt %s to %s: %s %s",
        delivery.pk,
        attempt,
        endpoint.url,
        code,
        entry["error"],
    )
    return AttemptOutcome(updates["status"], retry_in)


def webhooks_requeue_stale(*, older_than: datetime.timedelta = datetime.timedelta(minutes=15)) -> int:
    """Re-enqueue deliveries whose task was lost (broker down at enqueue, worker killed). Returns how many."""
    cutoff = timezone.now() - older_than
    pending = WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, created_at__lt=cutoff)
    retrying = WebhookDelivery.objects.filter(status=DeliveryStatus.RETRYING, next_attempt_at__lt=cutoff)
    stale_ids = [*pending.values_list("id", flat=True), *retrying.values_list("id", flat=True)]
    for delivery_id in stale_ids:
        jobs.enqueue(DELIVER_TASK, delivery_id)
    return len(stale_ids)
