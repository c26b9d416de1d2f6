import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from workspace.cadence_check import cadence_check
from workspace.digest import DigestNotSent, digest_send


class Command(BaseCommand):
    help = (
        "Open, resolve and escalate visit-cadence and coverage-gap alerts, then email each owner their "
        "digest (the same work as the nightly job), for cron users."
    )

    def add_arguments(self, parser):
        parser.add_argument("--today", type=datetime.date.fromisoformat, help="YYYY-MM-DD (default: today)")
        parser.add_argument("--no-digest", action="store_true", help="Check only; send no emails")

    def handle(self, *args, today=None, no_digest=False, **options):
        today = today or timezone.localdate()
        result = cadence_check(today=today)
        self.stdout.write(
            f"Cadence check for {today}: lapsed alerts {result.lapsed_opened} opened, "
            f"{result.lapsed_resolved} resolved, {result.escalated} escalated; "
            f"coverage gaps {result.coverage_opened} opened, {result.coverage_resolved} resolved."
        )
        if not no_digest:
            try:
                sent = digest_send(today=today)
            except DigestNotSent as exc:  # the others went out; without claims, rerunning would resend them
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"Digest: {sent} email{'s' if sent != 1 else ''} sent.")
