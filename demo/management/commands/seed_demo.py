"""`manage.py seed_demo`: a realistic, deterministic demo portfolio and the demo logins (demo.company)."""

import datetime
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import Account, User
from demo.company import DEMO_PASSWORD, PREVIOUS_RUN_DAYS, demo_logins, demo_score, demo_seed
from workspace.cadence_check import cadence_check

PREVIOUS_DAYS = datetime.timedelta(days=PREVIOUS_RUN_DAYS)


class Command(BaseCommand):
    help = (
        "Seed demo users and a realistic key-account portfolio (orders, ratings, key accounts, influencers, "
        f"profiles, visits, issues, plans). Every demo login uses the password {DEMO_PASSWORD!r}."
    )

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=int, default=300, help="How many accounts (default 300).")
        parser.add_argument(
            "--seed", type=int, default=7, help="Random seed; the same seed gives the same data."
        )
        parser.add_argument(
            "--months", type=int, default=24, help="Months of order history (12-60, default 24)."
        )
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing (but print the logins) if any account exists."
        )
        parser.add_argument(
            "--no-score",
            action="store_true",
            help="Leave the portfolio unscored (quicker tests and benchmarks).",
        )

    def handle(self, *args, accounts: int, seed: int, months: int, if_empty: bool, no_score: bool, **options):
        if accounts < 10:
            raise CommandError("--accounts must be at least 10.")
        if not 12 <= months <= 60:
            raise CommandError("--months must be between 12 and 60.")
        existing = Account.objects.count()
        if existing and if_empty:
            self.stdout.write(f"The database already holds {existing} accounts: nothing seeded.")
            self._print_logins()
            return
        if existing:
            # Account and order references would collide; a demo is seeded into an empty database.
            raise CommandError(
                f"The database already holds {existing} accounts. Use an empty database "
                "(`manage.py flush`), or pass --if-empty to skip seeding."
            )

        started = time.monotonic()
        today = timezone.localdate()
        with transaction.atomic():
            summary = demo_seed(accounts=accounts, seed=seed, months=months, today=today)
            # Hook: score the demo portfolio once the scoring service exists (it is written separately).
            manager = User.objects.get(username="manager")
            scored = "not scored: --no-score" if no_score else demo_score(as_of=today, triggered_by=manager)
            # After scoring (it sets the tier cadences), as the nightly job does: the demo shows open alerts.
            alerts = cadence_check(today=today)
        elapsed = time.monotonic() - started

        self.stdout.write(self.style.SUCCESS(f"Seeded the demo portfolio (seed {seed}) in {elapsed:.1f} s:"))
        for label, count in summary.counts.items():
            self.stdout.write(f"  {label:<22}{count:>10,}")
        self.stdout.write(f"  {'revenue, 12 months':<22}{summary.revenue_12m:>14,.0f} EUR")
        self.stdout.write(f"  {'top 20% of accounts':<22}{summary.top20_share:>13.1%} of it")
        self.stdout.write(
            f"  {'CM %':<22}{summary.cm_pct_top10:>13.1%} at the 10 biggest accounts, "
            f"{summary.cm_pct_rest:.1%} at the rest"
        )
        if scored == "scored":
            self.stdout.write(
                f"  scored by scoring.services.portfolio_recompute as of {today - PREVIOUS_DAYS:%Y-%m-%d} "
                f"and {today:%Y-%m-%d}"
            )
        else:
            self.stdout.write(self.style.WARNING(f"  {scored}"))
        self.stdout.write(
            f"  cadence check: {alerts.lapsed_opened} lapsed-cadence alerts and "
            f"{alerts.coverage_opened} coverage gaps open, {alerts.escalated} escalated"
        )
        self._print_logins()

    def _print_logins(self) -> None:
        self.stdout.write("\nDemo logins (demo data only):")
        self.stdout.write(f"  {'username':<13}{'role':<19}{'password':<16}sees")
        for username, role, password, sees in demo_logins():
            self.stdout.write(f"  {username:<13}{role:<19}{password:<16}{sees}")
