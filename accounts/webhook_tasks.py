"""Celery tasks for webhook delivery (listed in CELERY_IMPORTS: autodiscovery only finds tasks.py)."""

from celery import shared_task

from accounts import webhooks


@shared_task(bind=True, name="accounts.webhook_deliver_task", acks_late=True, max_retries=None)
def webhook_deliver_task(self, delivery_id: int) -> str:
    """One attempt at a delivery; on failure, retried with exponential backoff until the attempts run out.

    The attempt count lives on the delivery row, not in Celery, so a re-enqueued delivery keeps its history.
    """
    while True:
        outcome = webhooks.webhook_attempt(delivery_id=delivery_id)
        if outcome.retry_in is None:
            return outcome.status
        if not self.request.is_eager:
            raise self.retry(countdown=outcome.retry_in)
        # In-process mode (no broker, the embedded default): nothing can wait for later, so retry now.


@shared_task(name="accounts.webhook_requeue_stale_task")
def webhook_requeue_stale_task() -> int:
    """Re-enqueue deliveries whose task was lost. Schedule every few minutes in CELERY_BEAT_SCHEDULE."""
    return webhooks.webhooks_requeue_stale()
