"""A webhook delivered by a real Celery worker on Redis: a 500, then a retry after the backoff, then a 200."""

import datetime
import os
import time

import pytest
from django.conf import settings
from django.db import connection

from integrations import webhooks
from integrations.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent
from kam.celery import app as celery_app
from tests.conftest import need
from tests.fixtures.worker import BASE_DIR, Worker, _forget_queue, database_url, redis_available, wait_for
from tests.integrations.test_webhooks import Receiver

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.celery_worker,
]


@pytest.fixture(scope="module")
def webhook_worker(django_db_setup, django_db_blocker, tmp_path_factory):
    """A worker of our own, allowed to call 127.0.0.1 and backing off for one second."""
    if connection.vendor != "postgresql" or not redis_available():
        yield None
        return
    queue = f"kam-api-webhooks-test-{os.getpid()}"
    workdir = tmp_path_factory.mktemp("webhook-worker")
    env = {
        **os.environ,
        "DJANGO_ENV": "test",
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "KAM_TEST_QUEUE": queue,
        "KAM_API_WEBHOOK_ALLOW_PRIVATE_URLS": "true",
        "KAM_API_WEBHOOK_BACKOFF_SECONDS": "1",
        "PYTHONPATH": str(BASE_DIR),
    }
    worker = Worker(queue=queue, env=env, log_path=workdir / "worker.log", fault_file=workdir / "fault")
    previous = celery_app.conf.task_default_queue, celery_app.conf.task_always_eager
    celery_app.conf.task_default_queue, celery_app.conf.task_always_eager = queue, False
    try:
        yield worker
    finally:
        celery_app.conf.task_default_queue, celery_app.conf.task_always_eager = previous
        worker.stop()
        _forget_queue(queue)


def test_a_failed_delivery_is_retried_by_the_worker_after_its_backoff(world, webhook_worker):
    need(connection.vendor == "postgresql", "needs PostgreSQL (the worker shares the test database)")
    need(webhook_worker is not None, "needs Redis: set REDIS_URL=redis://...")
    webhook_worker.ensure()
    with Receiver(script=[500, 200]) as receiver:
        hook = WebhookEndpoint.objects.create(
            owner=world.integration,
            url=receiver.url,
            events=[WebhookEvent.RUN_SUCCEEDED],
            secret=WebhookEndpoint.new_secret(),
        )
        (delivery,) = webhooks.webhooks_emit(WebhookEvent.RUN_SUCCEEDED, {"run": {"id": 1}})
        done = wait_for(
            lambda: WebhookDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SUCCEEDED).first(),
            timeout=60,
            message=f"webhook delivery {delivery.pk}\n{webhook_worker.log()[-3000:]}",
        )
        time.sleep(0.2)
    assert done.attempts == 2
    first, second = (a["at"] for a in done.attempt_log)
    assert second > first
    assert done.last_attempt_at - done.created_at >= datetime.timedelta(seconds=1)
    assert len(receiver.requests) == 2
    for request in receiver.requests:
        assert webhooks.verify_signature(hook.secret, request["body"], request["headers"]["X-KAM-Signature"])
    assert "Retry in 1s" in webhook_worker.log()
