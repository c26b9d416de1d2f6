"""Celery tasks for webhook delivery: thin, they take a delivery id and call integrations.webhooks."""

from celery import shared_task

from integrations import webhooks
from kam.jobs import forward_old_name


@shared_task(bind=True, acks_late=True, max_retries=None)
def webhook_deliver_task(self, delivery_id: int) -> str:
    """One attempt at a delivery; on failure, retried with exponential backoff until the attempts run out.

    The attempt count lives on the delivery row, not in Celery, so a re-enqueued delivery keeps its history.
    In-process (no REDIS_URL) the task runs inside the request that emitted the event: one attempt only,
    never a wait; the delivery stays `retrying` with its next_attempt_at for webhook_requeue_stale_task.
    """
    outcome = webhooks.webhook_attempt(delivery_id=delivery_id)
    if outcome.retry_in is None or self.request.is_eager:
        return outcome.status
    raise self.retry(countdown=outcome.retry_in)


@shared_task
def webhook_requeue_stale_task() -> int:
    """Re-enqueue deliveries whose task was lost. Schedule every few minutes in CELERY_BEAT_SCHEDULE."""
    return webhooks.webhooks_requeue_stale()


# Queued before the tasks moved out of the accounts app (December 2026); remove after the next release.
forward_old_name("accounts.webhook_deliver_task", "integrations.tasks.webhook_deliver_task")
forward_old_name("accounts.webhook_requeue_stale_task", "integrations.tasks.webhook_requeue_stale_task")
