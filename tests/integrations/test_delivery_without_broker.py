"""Webhook delivery without a broker: one attempt in process, the retry left to the scheduled sweeper, and a
command for cron deployments."""

import datetime
from io import StringIO
from unittest import mock

from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from integrations import webhooks
from integrations.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from integrations.tasks import webhook_deliver_task, webhook_requeue_stale_task


def test_the_stale_delivery_sweeper_is_scheduled():
    entries = [
        e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == webhook_requeue_stale_task.name
    ]
    assert len(entries) == 1
    assert 0 < entries[0]["schedule"] <= 15 * 60


@override_settings(KAM_API_WEBHOOK_ALLOW_PRIVATE_URLS=True, KAM_API_WEBHOOK_BACKOFF_SECONDS=30)
def test_in_process_delivery_makes_one_attempt_and_leaves_the_retry_to_the_sweeper(world, eager_tasks):
    hook = WebhookEndpoint.objects.create(
        owner=world.integration,
        url="http://127.0.0.1:9/nothing-listens-here",
        events=["run.succeeded"],
        secret=WebhookEndpoint.new_secret(),
    )
    delivery = WebhookDelivery.objects.create(endpoint=hook, event="run.succeeded", payload={"id": "evt_1"})
    # Inside the request that emitted the event: one attempt, no second one back to back.
    assert webhook_deliver_task.delay(delivery.pk).get() == DeliveryStatus.RETRYING
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.RETRYING, 1)
    assert delivery.next_attempt_at > delivery.last_attempt_at
    # Later the sweeper picks it up again (here: once its retry is well overdue).
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - datetime.timedelta(hours=1)
    )
    assert webhooks.webhooks_requeue_stale() == 1
    delivery.refresh_from_db()
    assert delivery.attempts == 2


def test_cron_users_requeue_deliveries_with_a_command(world):
    hook = WebhookEndpoint.objects.create(
        owner=world.integration, url="http://127.0.0.1:9/", events=["run.succeeded"], secret="whsec_x"
    )
    stale = WebhookDelivery.objects.create(endpoint=hook, event="run.succeeded", payload={})
    WebhookDelivery.objects.filter(pk=stale.pk).update(created_at=stale.created_at.replace(year=2020))
    out = StringIO()
    with mock.patch.object(webhook_deliver_task, "delay") as delay:
        call_command("requeue_webhooks", stdout=out)
    delay.assert_called_once_with(stale.pk)
    assert "Re-enqueued 1 webhook delivery." in out.getvalue()
