from django.core.management.base import BaseCommand

from scoring.runs import scoring_runs_reap


class Command(BaseCommand):
    help = (
        "Mark failed the scoring runs whose worker died (queued or running past KAM_RUN_TIME_LIMIT_SECONDS), "
        "freeing the run lock: what beat's scoring_runs_reap_task does, for cron deployments."
    )

    def handle(self, *args, **options):
        reaped = scoring_runs_reap()
        self.stdout.write(f"Reaped {reaped} stuck scoring run{'s' if reaped != 1 else ''}.")
