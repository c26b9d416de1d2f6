"""Fixtures for the background-job tests: Celery eager or not, Redis, and a real worker process.

The worker runs `celery -A tests.jobs.worker_app worker --pool=solo` against the real Redis and the test
database itself (the tests that use it are transactional, so what they write is committed and visible to it),
on a queue of its own so it never meets another test run's messages.
"""

import ast
import json
import os
import signal
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from kam.celery import app as celery_app
from scoring import selectors
from scoring.services import scoring_model_create_version
from tests.conftest import need

BASE_DIR = Path(settings.BASE_DIR)
WORKER_START_SECONDS = 60


def redis_available() -> bool:
    if not settings.REDIS_URL:
        return False
    try:
        return bool(redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def wait_for(condition, *, timeout: float = 30, interval: float = 0.2, message: str = "condition"):
    """Poll until `condition()` is truthy (and return it) or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


@pytest.fixture
def eager_celery():
    """Tasks run in-process, as without REDIS_URL, whatever the environment says."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def queued_celery():
    """Tasks are sent to the broker (which a test may replace with a mock that fails)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def redis_client():
    need(redis_available(), "needs Redis: set REDIS_URL=redis://...")
    return redis.Redis.from_url(settings.REDIS_URL)


@pytest.fixture
def clean_digest_claims():
    """Forget which days' digests were sent, before and after (the claims live in Redis)."""

    def forget():
        if redis_available():
            client = redis.Redis.from_url(settings.REDIS_URL)
            for key in client.scan_iter("kam:digest-sent:*"):
                client.delete(key)

    forget()
    yield
    forget()


@pytest.fixture
def active_scoring_model(db):
    """Transactional tests empty every table afterwards, the default model of the data migration included."""
    model = selectors.active_model()
    if model is None:
        model = scoring_model_create_version(
            data={
                "weight_cm": Decimal("0.30"),
                "weight_cm_pct": Decimal("0.15"),
                "weight_clv": Decimal("0.25"),
                "weight_growth": Decimal("0.10"),
                "weight_image": Decimal("0.10"),
                "weight_partnership": Decimal("0.10"),
            },
            created_by=None,
        )
    return model


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Worker:
    """One `celery worker --pool=solo` process; restartable, so a test may SIGKILL it."""

    def __init__(self, *, queue: str, env: dict, log_path: Path, fault_file: Path):
        self.queue = queue
        self.env = env
        self.log_path = log_path
        self.fault_file = fault_file
        self.nodename = f"{queue}@localhost"
        self.process: subprocess.Popen | None = None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> None:
        self.log_path.write_text("")
        command = [
            str(BASE_DIR / ".venv" / "bin" / "celery"),
            "-A",
            "tests.jobs.worker_app",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "-Q",
            self.queue,
            "-n",
            self.nodename,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=INFO",
        ]
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own argv, no shell
                command, cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + WORKER_START_SECONDS
        while " ready." not in self.log():
            if not self.alive or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"The Celery worker did not start:\n{self.log()[-4000:]}")
            time.sleep(0.1)

    def ensure(self) -> "Worker":
        if not self.alive:
            self.start()
        return self

    def result(self, sent, *, timeout: float = 60):
        """What the task `sent` returned, read from the worker's log (tasks keep no results in Redis)."""
        done = f"[{sent.id}] succeeded in "
        raised = f"[{sent.id}] raised "

        def logged():
            for line in self.log().splitlines():
                if done in line:
                    return line
                if raised in line:
                    pytest.fail(f"The task failed on the worker:\n{self.log()[-4000:]}")
            return None

        line = wait_for(logged, timeout=timeout, message=f"task {sent.id} on the worker")
        return ast.literal_eval(line.split(done, 1)[1].split(": ", 1)[1])

    def fault(self, mode: str | None) -> None:
        inside = self.fault_file.with_name(self.fault_file.name + ".inside")
        inside.unlink(missing_ok=True)
        if mode:
            self.fault_file.write_text(mode)
        else:
            self.fault_file.unlink(missing_ok=True)

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, no chance to mark anything, the message is never acknowledged."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.alive:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


@pytest.fixture(scope="session")
def _celery_worker_session(django_db_setup, django_db_blocker, tmp_path_factory):
    """The session's worker (started lazily, stopped before the test database is dropped)."""
    if connection.vendor != "postgresql" or not redis_available():
        yield None
        return
    queue = f"kam-jobs-test-{os.getpid()}"
    workdir = tmp_path_factory.mktemp("celery-worker")
    fault_file = workdir / "fault"
    env = {
        **os.environ,
        "DJANGO_ENV": "test",
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "KAM_TEST_FAULT_FILE": str(fault_file),
        "KAM_TEST_QUEUE": queue,
        "PYTHONPATH": str(BASE_DIR),
    }
    worker = Worker(queue=queue, env=env, log_path=workdir / "worker.log", fault_file=fault_file)
    previous_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    try:
        yield worker
    finally:
        celery_app.conf.task_default_queue = previous_queue
        worker.stop()
        _forget_queue(queue)


def _forget_queue(queue: str) -> None:
    """Drop our queue and any message a killed worker left unacknowledged on it (nobody else's)."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    for tag, raw in client.hscan_iter("unacked"):
        try:
            routing_key = json.loads(raw)[2]
        except (ValueError, IndexError, TypeError):
            continue
        if routing_key == queue:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)


@pytest.fixture
def celery_worker(_celery_worker_session, queued_celery, clean_digest_claims):
    """A running worker on the real Redis and the test database, with no fault switched on."""
    need(connection.vendor == "postgresql", "needs PostgreSQL (the worker shares the test database)")
    need(_celery_worker_session is not None, "needs Redis: set REDIS_URL=redis://...")
    worker = _celery_worker_session
    worker.fault(None)
    worker.ensure()
    yield worker
    worker.fault(None)
