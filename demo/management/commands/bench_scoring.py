import datetime
import json
import multiprocessing
import os
import resource
import tempfile
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from demo.benchmark import generate
from scoring.services import portfolio_recompute


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


class Command(BaseCommand):
    help = (
        "Benchmark a full portfolio recompute (CLV fit included) on synthetic data in a scratch database: "
        "prints phase timings, accounts per second and peak memory."
    )

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=int, default=100_000)
        parser.add_argument("--orders-per-account", type=int, default=20)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--json", action="store_true", help="Print one JSON object")
        parser.add_argument("--keep", action="store_true", help="Keep the scratch database afterwards")

    def handle(self, *args, **opts):
        if opts["accounts"] < 1 or opts["orders_per_account"] < 0:
            raise CommandError("--accounts must be at least 1 and --orders-per-account at least 0.")
        scratch = self._switch_to_scratch()
        try:
            call_command("migrate", verbosity=0)
            as_of = timezone.localdate()
            started = time.perf_counter()
            orders = self._generate_in_child(opts, as_of)
            setup_seconds = time.perf_counter() - started
            report = self._run(as_of, opts["accounts"], orders, setup_seconds)
        finally:
            connection.close()
            if not opts["keep"]:
                self._drop(scratch)
        if opts["json"]:
            self.stdout.write(json.dumps(report))
        else:
            for key, value in report.items():
                self.stdout.write(f"{key:>28}: {value}")

    def _run(self, as_of, accounts, orders, setup_seconds) -> dict:

        baseline_rss = _peak_rss_mb()
        started = time.perf_counter()
        run = portfolio_recompute(as_of=as_of, trigger="benchmark")
        total = time.perf_counter() - started
        return {
            "database": connection.vendor,
            "accounts": accounts,
            "orders": orders,
            "seconds_total": round(total, 3),
            "accounts_per_second": round(accounts / total),
            "peak_rss_mb": round(_peak_rss_mb(), 1),
            "rss_before_run_mb": round(baseline_rss, 1),
            "phases": run.phase_seconds,
            "clv_method": run.clv_method,
            "setup_seconds": round(setup_seconds, 1),
        }

    def _generate_in_child(self, opts, as_of) -> int:
        """Generate data in a forked child so its memory does not count in the recompute's peak RSS."""
        connection.close()
        context = multiprocessing.get_context("fork")
        queue = context.Queue()
        child = context.Process(target=_generate, args=(queue, opts, as_of))
        child.start()
        result = queue.get()
        child.join()
        if isinstance(result, str):
            raise CommandError(f"Generating the synthetic data failed: {result}")
        return result

    def _switch_to_scratch(self) -> str:
        settings_dict = connection.settings_dict
        if connection.vendor == "postgresql":
            scratch = f"{settings_dict['NAME']}_bench"
            # The maintenance connection works even when the configured database does not exist yet.
            with connection._nodb_cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{scratch}"')
                cursor.execute(f'CREATE DATABASE "{scratch}"')
        else:
            scratch = os.path.join(tempfile.gettempdir(), f"kam_bench_{os.getpid()}.sqlite3")
        connection.close()
        self._original = settings_dict["NAME"]
        settings_dict["NAME"] = scratch
        return scratch

    def _drop(self, scratch: str) -> None:
        connection.settings_dict["NAME"] = self._original
        if connection.vendor == "postgresql":
            connection.close()
            with connection._nodb_cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{scratch}"')
        elif os.path.exists(scratch):
            os.remove(scratch)


def _generate(queue, opts, as_of: datetime.date) -> None:
    from django.db import connection as child_connection
    from django.db import transaction

    try:
        with transaction.atomic():
            count = generate(
                accounts=opts["accounts"],
                orders_per_account=opts["orders_per_account"],
                as_of=as_of,
                seed=opts["seed"],
            )
        queue.put(count)
    except Exception as exc:
        queue.put(f"{type(exc).__name__}: {exc}")
    finally:
        child_connection.close()
