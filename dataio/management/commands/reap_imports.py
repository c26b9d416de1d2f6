from django.core.management.base import BaseCommand

from dataio.imports.service import imports_reap


class Command(BaseCommand):
    help = (
        "Fail the imports stuck queued or running past KAM_IMPORT_TIME_LIMIT_SECONDS (their worker died), "
        "dropping their upload: the same work as the scheduled imports_reap_task, for cron deployments."
    )

    def handle(self, *args, **options):
        count = imports_reap()
        self.stdout.write(f"Reaped {count} stuck import{'' if count == 1 else 's'}.")
