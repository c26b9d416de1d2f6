"""`manage.py bench_pages --accounts N [--json]`: median server time of the manager's busiest pages.

Builds N synthetic accounts with orders (demo.benchdata) in a SCRATCH database, never the configured one:
on PostgreSQL a new database named after it with a `_pages` suffix, on SQLite a temporary file. Scores the
portfolio twice (a previous and a current run, so movers and migration have work to do), then requests the
portfolio dashboard and the account list as a manager through the Django test client and reports the median
of --requests timed requests each (after two warm-up requests). The scratch database is dropped at the end
unless --keep.
"""

import datetime
import json
import os
import statistics
import time

from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test import Client
from django.test.utils import override_settings
from django.urls import reverse
from django.utils import timezone

from demo.benchdata import generate
from scoring.services import portfolio_recompute


class Command(BaseCommand):
    help = (
        "Benchmark the portfolio dashboard and the account list on N synthetic accounts in a scratch database: "
        "prints the median server time of each (JSON keys dashboard_ms, account_list_ms; *_cold_ms with an "
        "empty cache)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=int, default=10_000)
        parser.add_argument("--orders-per-account", type=int, default=8)
        parser.add_argument("--requests", type=int, default=15, help="Timed requests per page (default 15).")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--json", action="store_true", help="Print one JSON object")
        parser.add_argument("--keep", action="store_true", help="Keep the scratch database afterwards")

    def handle(self, *args, **opts):
        if opts["accounts"] < 1 or opts["orders_per_account"] < 0 or opts["requests"] < 1:
            raise CommandError(
                "--accounts and --requests must be at least 1, --orders-per-account at least 0."
            )
        scratch = self._switch_to_scratch()
        try:
            call_command("migrate", verbosity=0)
            report = self._run(opts)
        finally:
            connection.close()
            if opts["keep"]:
                self.stderr.write(f"Kept the scratch database {scratch}")
            else:
                self._drop(scratch)
        if opts["json"]:
            self.stdout.write(json.dumps(report))
        else:
            for key, value in report.items():
                self.stdout.write(f"{key:>22}: {value}")

    def _run(self, opts) -> dict:

        as_of = timezone.localdate()
        started = time.perf_counter()
        with transaction.atomic():
            data = generate(
                accounts=opts["accounts"],
                orders_per_account=opts["orders_per_account"],
                as_of=as_of,
                seed=opts["seed"],
            )
        setup = time.perf_counter() - started
        started = time.perf_counter()
        portfolio_recompute(as_of=as_of - datetime.timedelta(days=7), trigger="benchmark")
        portfolio_recompute(as_of=as_of, trigger="benchmark")
        recompute = time.perf_counter() - started

        client = Client()
        client.force_login(data["manager"])
        with override_settings(DEBUG=False):
            dashboard, dashboard_queries = self._measure(
                client, reverse("scoring:dashboard"), opts["requests"]
            )
            dashboard_cold, _ = self._measure(
                client, reverse("scoring:dashboard"), opts["requests"], cold=True
            )
            account_list, list_queries = self._measure(client, reverse("accounts:list"), opts["requests"])
            list_cold, _ = self._measure(client, reverse("accounts:list"), opts["requests"], cold=True)
        return {
            "database": connection.vendor,
            "accounts": data["accounts"],
            "orders": data["orders"],
            "kams": data["kams"],
            "requests": opts["requests"],
            "dashboard_ms": round(statistics.median(dashboard), 1),
            "dashboard_p90_ms": round(_p90(dashboard), 1),
            "dashboard_queries": dashboard_queries,
            "dashboard_cold_ms": round(statistics.median(dashboard_cold), 1),
            "account_list_ms": round(statistics.median(account_list), 1),
            "account_list_p90_ms": round(_p90(account_list), 1),
            "account_list_cold_ms": round(statistics.median(list_cold), 1),
            "account_list_queries": list_queries,
            "setup_seconds": round(setup, 1),
            "recompute_seconds": round(recompute, 1),
        }

    def _measure(
        self, client: Client, url: str, requests: int, *, cold: bool = False
    ) -> tuple[list[float], int]:
        """Server times of `requests` GETs. Warm (the default) is what a manager sees: the dashboard snapshot
        and the filter choices are reused until something changes. `cold` empties the cache before each
        request: the first view after a run or an account change."""
        for _ in range(2):  # warm up: template loading, first connection, caches
            self._get(client, url)
        queries = []
        with connection.execute_wrapper(
            lambda execute, sql, *args: queries.append(sql) or execute(sql, *args)
        ):
            self._get(client, url)
        timings = []
        for _ in range(requests):
            if cold:
                cache.clear()
            started = time.perf_counter()
            self._get(client, url)
            timings.append((time.perf_counter() - started) * 1000)
        return timings, len(queries)

    def _get(self, client: Client, url: str) -> None:
        response = client.get(url)
        if response.status_code != 200:
            raise CommandError(f"GET {url} answered {response.status_code}")

    def _switch_to_scratch(self) -> str:
        """Point the connection at an empty scratch database: real data is never read, written or counted."""
        settings_dict = connection.settings_dict
        if connection.vendor == "postgresql":
            scratch = f"{settings_dict['NAME']}_pages"
            with connection._nodb_cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{scratch}"')
                cursor.execute(f'CREATE DATABASE "{scratch}"')
        elif connection.vendor == "sqlite":
            scratch = f"/tmp/kam_bench_pages_{os.getpid()}.sqlite3"  # noqa: S108 - a throwaway scratch file
        else:
            raise CommandError(f"bench_pages supports PostgreSQL and SQLite, not {connection.vendor}.")
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


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
