import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from scoring.runs import scoring_runs_reap
from scoring.services import NoActiveModel, RunInProgress, portfolio_recompute


class Command(BaseCommand):
    help = "Recompute the key-account portfolio now (the same work as the nightly job), for cron users."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", type=datetime.date.fromisoformat, help="YYYY-MM-DD (default: today)")

    def handle(self, *args, as_of=None, **options):
        as_of = as_of or timezone.localdate()
        # Without beat nothing else frees the lock of a run killed mid-way (a cron job stopped, a machine
        # lost): reap the runs past their time limit first, so only a run that may still be alive refuses.
        if reaped := scoring_runs_reap():
            self.stdout.write(
                f"Marked {reaped} stuck run{'s' if reaped != 1 else ''} failed (past the time limit)."
            )
        try:
            run = portfolio_recompute(as_of=as_of, trigger="command")
        except (RunInProgress, NoActiveModel) as exc:
            raise CommandError(str(exc)) from exc
        except Exception as exc:
            raise CommandError(
                f"The recompute failed and the previous portfolio stays current: {exc}"
            ) from exc
        timings = ", ".join(f"{k} {v:.2f}s" for k, v in run.phase_seconds.items())
        self.stdout.write(
            self.style.SUCCESS(
                f"Run {run.pk} succeeded as of {run.as_of} with model v{run.model.version}: "
                f"{run.accounts_scored} accounts, {run.orders_read} orders, CLV by {run.clv_method} ({timings})."
            )
        )
