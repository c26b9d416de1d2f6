"""CPU per request of each endpoint the load test hits, measured in-process on the load-test database.

The load test (run.sh) says how many requests per second the whole stack serves; this says where the app's own
time goes, one endpoint at a time, without locust, gunicorn or other requests competing for the two cores:

    make loadtest                      # once: seeds the kam_load database and collects the static files
    .venv/bin/python tests/load/page_cpu.py [--requests 20] [--json]

Each endpoint is requested as the load test requests it (production settings, X-Forwarded-Proto: https, a
rep's or the manager's session, an integration's API key), once to warm up, then --requests times; the report
is the process CPU time per request (what the two cores pay for), the part of it the garbage collector took,
the wall time and the database queries. The process freezes what it has loaded out of the collector's reach,
as gunicorn.conf.py has each gunicorn worker do; --no-gc-freeze measures without it.
The defaults below point at the load test's database and Redis; override them in the environment.
"""

import argparse
import datetime
import functools
import gc
import json
import os
import random
import re
import runpy
import sys
import time
import uuid
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(BASE_DIR))
os.chdir(BASE_DIR)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kam.settings")
os.environ.setdefault("DJANGO_ENV", "production")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kam_load")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("SECRET_KEY", "page-cpu-only-" + uuid.uuid4().hex + uuid.uuid4().hex)
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from accounts.models import User  # noqa: E402
from integrations.models import ApiKey  # noqa: E402

KEY_NAME = "page_cpu.py"


def _client(username: str) -> Client:
    client = Client(HTTP_X_FORWARDED_PROTO="https")
    client.force_login(User.objects.get(username=username))
    return client


def _api_client() -> Client:
    ApiKey.objects.filter(name=KEY_NAME).delete()
    _, key = ApiKey.issue(
        name=KEY_NAME,
        user=User.objects.get(username="integration"),
        scopes=["read", "write_orders"],
        created_by=User.objects.get(username="manager"),
    )
    return Client(
        HTTP_X_FORWARDED_PROTO="https", HTTP_AUTHORIZATION=f"Bearer {key}", HTTP_ACCEPT="application/json"
    )


def _endpoints():
    rep, manager, api = _client("rep1"), _client("manager"), _api_client()
    listing = rep.get("/accounts/?mine=1", secure=True).content.decode()
    account = int(re.search(r'href="/accounts/(\d+)/"', listing).group(1))
    etag = api.get("/api/v1/scores/?page_size=100", secure=True).headers["ETag"]
    batch = uuid.uuid4().hex[:8]
    counter = iter(range(10**9))

    def push_orders():
        today = datetime.date.today().isoformat()
        orders = [
            {
                "account": account,
                "reference": f"CPU-{batch}-{next(counter)}",
                "date": today,
                "revenue": "1000.00",
                "variable_cost": "700.00",
            }
            for _ in range(15)
        ]
        return api.post(
            "/api/v1/orders/bulk/",
            data=json.dumps({"orders": orders}),
            content_type="application/json",
            secure=True,
        )

    def log_visit():
        return rep.post(
            f"/accounts/{account}/visits/new/",
            {
                "date": datetime.date.today().isoformat(),
                "kind": "meeting",
                "summary": f"CPU test {uuid.uuid4().hex}",
            },
            secure=True,
        )

    htmx = {"HTTP_HX_REQUEST": "true"}
    return [
        ("rep: My day", lambda: rep.get("/", secure=True)),
        ("rep: account list", lambda: rep.get("/accounts/?sort=-score", secure=True)),
        (
            "rep: account list, htmx filter",
            lambda: rep.get("/accounts/?tier=A&sort=name", secure=True, **htmx),
        ),
        ("rep: account page", lambda: rep.get(f"/accounts/{account}/", secure=True)),
        ("rep: visit form", lambda: rep.get(f"/accounts/{account}/visits/new/", secure=True)),
        ("rep: log a visit (POST)", log_visit),
        ("manager: dashboard", lambda: manager.get("/scoring/", secure=True)),
        (
            "manager: dashboard, htmx filter",
            lambda: manager.get(
                f"/scoring/?region={random.choice(['DACH', 'Benelux', 'Nordics'])}",
                secure=True,
                HTTP_HX_TARGET="dashboard-body",
                **htmx,
            ),
        ),
        ("integration: scores, 100", lambda: api.get("/api/v1/scores/?page_size=100", secure=True)),
        (
            "integration: scores, 304",
            lambda: api.get("/api/v1/scores/?page_size=100", secure=True, HTTP_IF_NONE_MATCH=etag),
        ),
        ("integration: push 15 orders", push_orders),
    ]


class GcTimer:
    """Wall time spent in garbage collections (gc.callbacks), to divide by the requests made."""

    def __init__(self):
        self.seconds = 0.0
        self._started = 0.0
        gc.callbacks.append(self)

    def __call__(self, phase, info):
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started


def _freeze_like_gunicorn() -> None:
    runpy.run_path(str(BASE_DIR / "gunicorn.conf.py"))["post_worker_init"](None)


def _count(queries: list, execute, sql, *args):
    queries.append(sql)
    return execute(sql, *args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--no-gc-freeze", action="store_true", help="leave the loaded objects to the collector"
    )
    args = parser.parse_args()
    report = {}
    try:
        endpoints = _endpoints()
        if not args.no_gc_freeze:
            _freeze_like_gunicorn()
        collector = GcTimer()
        for name, request in endpoints:
            request()
            queries = []
            with connection.execute_wrapper(functools.partial(_count, queries)):
                status = request().status_code
            cpu, wall, collecting = time.process_time(), time.perf_counter(), collector.seconds
            for _ in range(args.requests):
                request()
            report[name] = {
                "status": status,
                "cpu_ms": round((time.process_time() - cpu) / args.requests * 1000, 1),
                "gc_ms": round((collector.seconds - collecting) / args.requests * 1000, 1),
                "wall_ms": round((time.perf_counter() - wall) / args.requests * 1000, 1),
                "queries": len(queries),
            }
    finally:
        ApiKey.objects.filter(name=KEY_NAME).delete()
    if args.json:
        print(json.dumps(report))
        return
    print(f"{'endpoint':34s} {'status':>6s} {'CPU ms':>7s} {'of it GC':>8s} {'wall ms':>8s} {'queries':>8s}")
    for name, row in report.items():
        print(
            f"{name:34s} {row['status']:6d} {row['cpu_ms']:7.1f} {row['gc_ms']:8.1f} {row['wall_ms']:8.1f}"
            f" {row['queries']:8d}"
        )


if __name__ == "__main__":
    main()
