import json
import multiprocessing
import os
import resource
import tempfile
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from accounts.models import Account, Order, Role, User
from dataio.imports.service import import_run, import_start
from dataio.models import ImportKind
from demo.management.commands.bench_scoring import Command as ScoringBench

# One account per this many orders (at least 100 accounts): an ERP extract spread over a customer base.
ORDERS_PER_ACCOUNT = 100


def _cpu_seconds(pid: int | None = None) -> float | None:
    """CPU time (user + system) of this process, or of a local PostgreSQL backend by pid (Linux /proc).

    On a shared machine wall time depends on the neighbours; CPU time says what the import itself cost."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None  # the database runs elsewhere
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


class Command(BaseCommand):
    help = (
        "Benchmark the order import on a generated CSV of N orders for synthetic accounts, in a scratch "
        "database (<name>_bench on PostgreSQL), through the real import code path."
    )

    def add_arguments(self, parser):
        parser.add_argument("--orders", type=int, default=1_000_000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--reimport", action="store_true", help="Also time importing the same file again")
        parser.add_argument("--json", action="store_true", help="Print one JSON object")
        parser.add_argument("--keep", action="store_true", help="Keep the scratch database afterwards")

    def handle(self, *args, **opts):
        if opts["orders"] < 1:
            raise CommandError("--orders must be at least 1.")
        # The scoring benchmark's scratch-database handling, shared rather than copied.
        scratch = ScoringBench._switch_to_scratch(self)
        path = os.path.join(tempfile.gettempdir(), f"kam_bench_orders_{os.getpid()}.csv")
        try:
            call_command("migrate", verbosity=0)
            accounts = max(100, opts["orders"] // ORDERS_PER_ACCOUNT)
            setup_started = time.perf_counter()
            self._generate_in_child(path, accounts, opts)
            setup_seconds = time.perf_counter() - setup_started
            report = self._run(path, accounts, opts, setup_seconds)
        finally:
            connection.close()
            if os.path.exists(path):
                os.remove(path)
            if not opts["keep"]:
                ScoringBench._drop(self, scratch)
        if opts["json"]:
            self.stdout.write(json.dumps(report))
        else:
            for key, value in report.items():
                self.stdout.write(f"{key:>20}: {value}")

    def _run(self, path: str, accounts: int, opts, setup_seconds: float) -> dict:

        user = User.objects.create_user("bench-manager", role=Role.MANAGER)
        with open(path, "rb") as handle:
            content = handle.read()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()" if connection.vendor == "postgresql" else "SELECT NULL")
            backend = cursor.fetchone()[0]
        cpu_client, cpu_database = _cpu_seconds(), _cpu_seconds(backend) if backend else None
        started = time.perf_counter()
        record, _ = import_start(
            kind=ImportKind.ORDERS, user=user, file_name="bench.csv", content=content, keep_upload=False
        )
        result = import_run(record=record, content=content)
        seconds = time.perf_counter() - started
        cpu_client = _cpu_seconds() - cpu_client
        if cpu_database is not None:
            cpu_database = _cpu_seconds(backend) - cpu_database
        if not result.ok:
            raise CommandError(f"The benchmark file was refused: {result.problems[:5]}")
        report = {
            "database": connection.vendor,
            "rows": result.rows_total,
            "accounts": accounts,
            "file_mb": round(len(content) / 1e6, 1),
            "seconds": round(seconds, 3),
            "rows_per_second": round(result.rows_total / seconds),
            "created": result.plan.created,
            "orders_in_database": Order.objects.count(),
            "peak_rss_mb": round(_peak_rss_mb(), 1),
            "phases": result.phase_seconds,
            "cpu_seconds_client": round(cpu_client, 1),
            "cpu_seconds_database": None if cpu_database is None else round(cpu_database, 1),
            "load_average": round(os.getloadavg()[0], 1),
            "setup_seconds": round(setup_seconds, 1),
        }
        if opts["reimport"]:
            started = time.perf_counter()
            again, _ = import_start(
                kind=ImportKind.ORDERS, user=user, file_name="bench.csv", content=content, keep_upload=False
            )
            second = import_run(record=again, content=content)
            report["reimport_seconds"] = round(time.perf_counter() - started, 3)
            report["reimport_unchanged"] = second.plan.unchanged
            report["peak_rss_mb"] = round(_peak_rss_mb(), 1)
        return report

    def _generate_in_child(self, path: str, accounts: int, opts) -> None:
        """Generate in a forked child so the generator's memory does not count in the import's peak RSS."""
        connection.close()
        context = multiprocessing.get_context("fork")
        queue = context.Queue()
        child = context.Process(target=_generate, args=(queue, path, accounts, opts))
        child.start()
        result = queue.get()
        child.join()
        if result is not None:
            raise CommandError(f"Generating the synthetic data failed: {result}")


def _generate(queue, path: str, accounts: int, opts) -> None:
    """`accounts` accounts in the database and a CSV of orders for them: 95% with an ERP reference, the rest
    without; amounts written with a thousands separator now and then, as spreadsheets export them."""
    import datetime

    import numpy as np
    import pandas as pd
    from django.db import connection as child_connection
    from django.utils import timezone

    try:
        rng = np.random.default_rng(opts["seed"])
        Account.objects.bulk_create(
            [Account(name=f"Bench account {i:07d}", reference=f"B{i:07d}") for i in range(accounts)],
            batch_size=5000,
        )
        n = opts["orders"]
        today = timezone.localdate()
        days = rng.integers(1, 3 * 365, size=n)
        dates = pd.to_datetime(today - datetime.timedelta(days=0)) - pd.to_timedelta(days, unit="D")
        revenue = np.round(rng.gamma(2.0, 800.0, size=n), 2)
        cost = np.round(revenue * rng.uniform(0.4, 0.9, size=n), 2)
        references = np.char.add("SO-", np.arange(n).astype(str))
        references[rng.random(n) < 0.05] = ""
        frame = pd.DataFrame(
            {
                "account_reference": np.char.add(
                    "B", np.char.zfill(rng.integers(0, accounts, size=n).astype(str), 7)
                ),
                "date": dates.strftime("%Y-%m-%d"),
                "revenue": revenue,
                "variable_cost": cost,
                "reference": references,
            }
        )
        frame.to_csv(path, index=False, float_format="%.2f")
        queue.put(None)
    except Exception as exc:
        queue.put(f"{type(exc).__name__}: {exc}")
    finally:
        child_connection.close()
