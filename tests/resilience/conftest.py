"""A private PostgreSQL, a private Redis and the app served by gunicorn against them, for the failure tests.

The shared servers on 5432 and 6379 serve every other test run on this machine, so these tests never touch
them: the session starts its own throwaway PostgreSQL cluster (initdb + pg_ctl on a free port, in a temporary
directory, as the `postgres` user when run as root, since initdb refuses root) and its own Redis (no
persistence), migrates a fresh database, seeds a manager, a rep, an account and API keys, and serves the app
with gunicorn (production-like: several worker processes, persistent database connections with health checks).
A test may then restart or stop either server; the `stack` fixture puts both back up before the next test.
Every wait is a bounded poll.
"""

import glob
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection

from tests.conftest import need

BASE_DIR = Path(settings.BASE_DIR)
PASSWORD = "resilience-pass-2026"
START_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def poll(condition, *, timeout: float = 30, interval: float = 0.2, message: str = "condition"):
    """Call `condition()` until it returns something truthy (and return that), or fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def _postgres_bin() -> Path | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(re.findall(r"/(\d+)/bin/", p)[0])
    )
    return Path(found[-1]).parent if found else None


def _as_postgres() -> list[str] | None:
    """The prefix that runs a command as the `postgres` user when we are root ([] when we are not root)."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return None
    runuser = shutil.which("runuser")
    return [runuser, "-u", "postgres", "--"] if runuser else None


class PrivatePostgres:
    """A throwaway cluster: initdb into a temporary directory, pg_ctl start/stop/restart on a free port."""

    def __init__(self, bindir: Path, prefix: list[str]):
        self.bindir, self.prefix = bindir, prefix
        # In /tmp when run as root: the postgres user must be able to reach it (TMPDIR may be root's own).
        parent = "/tmp" if prefix else None  # noqa: S108 - mkdtemp below makes a unique, private directory
        self.root = Path(tempfile.mkdtemp(prefix="kam-resilience-pg-", dir=parent))
        self.data, self.log = self.root / "data", self.root / "postgres.log"
        self.port = free_port()
        if prefix:  # root: the cluster belongs to postgres
            entry = pwd.getpwnam("postgres")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")

    def _run(self, tool: str, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
        done = subprocess.run(  # noqa: S603 - our own argv
            [*self.prefix, str(self.bindir / tool), *args], capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            pytest.fail(f"{tool} {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}\n{self.tail()}")
        return done

    def tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}"

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start"
        )

    def stop(self) -> None:
        """A fast shutdown: open sessions are cut off and their transactions rolled back."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        done = subprocess.run(  # noqa: S603 - our own argv
            [*self.prefix, str(self.bindir / "pg_ctl"), "-D", str(self.data), "status"],
            capture_output=True,
            timeout=30,
        )
        return done.returncode == 0

    def sql(self, query: str, params=()) -> list[tuple]:
        import psycopg2

        connection = psycopg2.connect(f"{self.url}/kam", connect_timeout=5)
        try:
            with connection, connection.cursor() as cursor:
                cursor.execute(query, params)
                return cursor.fetchall() if cursor.description else []
        finally:
            connection.close()

    def destroy(self) -> None:
        if self.data.exists() and self.running:
            subprocess.run(  # noqa: S603 - our own argv
                [*self.prefix, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """redis-server on a free port with no persistence; stop() kills it, start() brings it back on the same port."""

    def __init__(self, binary: str):
        self.binary, self.port = binary, free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own argv
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        poll(self.ping, timeout=START_SECONDS, message=f"redis-server on port {self.port}")

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.running:
            self.process.terminate()
            self.process.wait(timeout=30)


class AppServer:
    """gunicorn serving kam against the private servers: two worker processes with two threads each."""

    def __init__(self, env: dict, log: Path):
        self.env, self.log = env, log
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [
            str(BASE_DIR / ".venv" / "bin" / "gunicorn"),
            "kam.wsgi:application",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            "2",
            "--worker-class",
            "gthread",
            "--threads",
            "2",
            "--timeout",
            "60",
        ]
        with self.log.open("a") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own argv
                command, cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

        def up() -> bool:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited:\n{self.log.read_text(errors='replace')[-4000:]}")
            try:
                return requests.get(f"{self.url}/healthz", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        poll(up, timeout=START_SECONDS, message="gunicorn to answer /healthz")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


SEED = """
import json
from accounts.models import Account, Role, User
from integrations.models import ApiKey
manager = User.objects.create_user("manager", password=PASSWORD, role=Role.MANAGER, first_name="Mia")
rep = User.objects.create_user("rep", password=PASSWORD, role=Role.REP, manager=manager, first_name="Rob")
integration = User.objects.create_user("erp", password=PASSWORD, role=Role.INTEGRATION)
account = Account.objects.create(name="Resilient Industries", reference="C-1", owner=rep)
_, manager_key = ApiKey.issue(name="ops", user=manager, scopes=["read", "run_scoring"], created_by=manager)
_, erp_key = ApiKey.issue(name="erp", user=integration, scopes=["read", "write_orders"], created_by=manager)
print("SEEDED=" + json.dumps({"account": account.pk, "manager_key": manager_key, "erp_key": erp_key}))
"""


@dataclass
class Stack:
    postgres: PrivatePostgres
    redis: PrivateRedis
    app: AppServer
    seeded: dict = field(default_factory=dict)

    @property
    def account(self) -> int:
        return self.seeded["account"]

    def browser(self, username: str) -> "Browser":
        return Browser(self.app.url, username)

    def api(self, method: str, path: str, *, key: str, **kwargs) -> requests.Response:
        """An API call with one of the seeded keys ("manager_key" or "erp_key")."""
        headers = {"Authorization": f"Bearer {self.seeded[key]}", **kwargs.pop("headers", {})}
        return requests.request(method, f"{self.app.url}{path}", headers=headers, timeout=30, **kwargs)

    def visits(self, summary_like: str = "%") -> list[tuple]:
        return self.postgres.sql(
            "SELECT v.id, v.date, v.summary, a.last_contact_date FROM accounts_visit v "
            "JOIN accounts_account a ON a.id = v.account_id WHERE v.summary LIKE %s ORDER BY v.id",
            [summary_like],
        )

    def heal(self) -> None:
        """Both servers up again and the app answering, whatever the last test did to them."""
        if not self.postgres.running:
            self.postgres.start()
        if not self.redis.running:
            self.redis.start()
        poll(lambda: _answers(self.app.url), timeout=START_SECONDS, message="the app to answer again")


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=5).status_code == 200
    except requests.RequestException:
        return False


class Browser:
    """A logged-in person: a requests session with the session and CSRF cookies, like a browser's."""

    def __init__(self, base: str, username: str):
        self.base = base
        self.session = requests.Session()
        page = self.session.get(f"{base}/login/", timeout=10)
        response = self.session.post(
            f"{base}/login/",
            data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": self.token(page.text)},
            headers={"Referer": f"{base}/login/"},
            allow_redirects=False,
            timeout=30,
        )
        assert response.status_code == 302, response.text[:2000]

    @staticmethod
    def token(html: str) -> str:
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.session.get(f"{self.base}{path}", timeout=30, **kwargs)

    def post(self, path: str, data: dict, **kwargs) -> requests.Response:
        token = self.session.cookies.get("csrftoken")
        return self.session.post(
            f"{self.base}{path}",
            data={"csrfmiddlewaretoken": token, **data},
            headers={"Referer": f"{self.base}{path}", **kwargs.pop("headers", {})},
            allow_redirects=False,
            timeout=30,
            **kwargs,
        )


@pytest.fixture(scope="session")
def _stack_session(tmp_path_factory):
    bindir, prefix = _postgres_bin(), _as_postgres()
    redis_server, gunicorn = shutil.which("redis-server"), BASE_DIR / ".venv" / "bin" / "gunicorn"
    missing = [
        reason
        for reason, ok in (
            ("PostgreSQL's initdb and pg_ctl (/usr/lib/postgresql/*/bin)", bindir is not None),
            ("a `postgres` user and runuser to run them as (initdb refuses root)", prefix is not None),
            ("redis-server", redis_server is not None),
            ("gunicorn in .venv", gunicorn.exists()),
        )
        if not ok
    ]
    if missing:
        yield "needs " + ", ".join(missing)
        return
    workdir = tmp_path_factory.mktemp("resilience")
    postgres = PrivatePostgres(bindir, prefix)
    redis_server = PrivateRedis(redis_server)
    app = None
    try:
        postgres.start()
        postgres_admin = subprocess.run(  # noqa: S603 - our own argv
            [
                *prefix,
                str(bindir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(postgres.port),
                "-U",
                "postgres",
                "kam",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert postgres_admin.returncode == 0, postgres_admin.stderr
        redis_server.start()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("KAM_", "DJANGO_", "PYTEST_"))},
            "DJANGO_ENV": "test",
            "DATABASE_URL": f"{postgres.url}/kam",
            "REDIS_URL": redis_server.url,
            "KAM_TEST_REDIS_CACHE": "1",  # sessions, throttles and snapshots on the Redis that gets stopped
            "PYTHONPATH": str(BASE_DIR),
            "LOG_LEVEL": "WARNING",
        }
        manage = [sys.executable, "manage.py"]
        migrated = subprocess.run(  # noqa: S603 - our own argv
            [*manage, "migrate", "--no-input", "-v", "0"],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
        )
        assert migrated.returncode == 0, migrated.stderr[-4000:]
        seeded = subprocess.run(  # noqa: S603 - our own argv
            [*manage, "shell", "--no-imports", "-c", f"PASSWORD = {PASSWORD!r}\n{SEED}"],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
        )
        assert seeded.returncode == 0, seeded.stderr[-4000:]
        [line] = [line for line in seeded.stdout.splitlines() if line.startswith("SEEDED=")]
        app = AppServer(env, workdir / "gunicorn.log")
        app.start()
        yield Stack(postgres, redis_server, app, json.loads(line.removeprefix("SEEDED=")))
    finally:
        if app is not None:
            app.stop()
        redis_server.stop()
        postgres.destroy()


@pytest.fixture
def stack(request):
    # With the PostgreSQL configuration, like every service test (on SQLite this is the quick local run).
    need(connection.vendor == "postgresql", "needs PostgreSQL: set DATABASE_URL=postgres://...")
    _stack_session = request.getfixturevalue("_stack_session")
    need(not isinstance(_stack_session, str), str(_stack_session))
    _stack_session.heal()
    yield _stack_session
    _stack_session.heal()
