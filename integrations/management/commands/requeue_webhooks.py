from django.core.management.base import BaseCommand

from integrations.webhooks import webhooks_requeue_stale


class Command(BaseCommand):
    help = (
        "Re-enqueue webhook deliveries whose task was lost or whose retry is overdue (the same work as the "
        "scheduled webhook_requeue_stale_task), for cron users; without REDIS_URL they are attempted now."
    )

    def handle(self, *args, **options):
        count = webhooks_requeue_stale()
        self.stdout.write(f"Re-enqueued {count} webhook deliver{'y' if count == 1 else 'ies'}.")
