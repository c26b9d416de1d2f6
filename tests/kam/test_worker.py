"""A real Celery worker on the real Redis and PostgreSQL: enqueue, let it work, observe the database.

Transactional tests: what they write is committed, so the worker process (pointed at the test database) sees
it, and what the worker writes, they see. Every wait is a bounded poll. The worker is SIGKILLed in the last
test; the fixture restarts it for any test that follows.
"""

import datetime
import os
import subprocess
import sys
import time
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.alerts import alert_acknowledge
from accounts.models import Account, AlertKind, AlertStatus, CadenceAlert, VisitKind
from accounts.services import visit_log
from scoring import selectors
from scoring.models import RunStatus, ScoreResult, ScoringRun
from scoring.runs import scoring_run_start, scoring_runs_reap
from scoring.services import RunInProgress, scoring_run_request
from scoring.tasks import portfolio_recompute_task
from tests.conftest import need
from tests.factories import AccountFactory, OrderFactory, UserFactory
from tests.fixtures.worker import database_url, wait_for
from workspace.tasks import cadence_check_task

pytestmark = [
    # The flush after each test empties every table; scoring's post_migrate receiver puts the default
    # scoring model back, so the tests that follow (and the next --reuse-db session) still have one.
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.celery_worker,
]

AS_OF = datetime.date(2026, 6, 30)
DONE = (RunStatus.SUCCEEDED, RunStatus.FAILED)


@pytest.fixture
def portfolio(active_scoring_model):
    """Three accounts with a year of orders; nothing scored yet."""
    owner = UserFactory(username="kam")
    specs = {"Big Thin": (100_000, 92_000), "Mid Fat": (30_000, 18_000), "Small": (2_000, 1_500)}
    for name, (revenue, cost) in specs.items():
        account = AccountFactory(name=name, owner=owner, image_rating=3)
        for i in range(12):
            OrderFactory(
                account=account,
                date=datetime.date(2025, 7, 10) + datetime.timedelta(days=29 * i),
                revenue=Decimal(revenue),
                variable_cost=Decimal(cost),
            )
    return owner


def finished(run_id: int, timeout: float = 60) -> ScoringRun:
    return wait_for(
        lambda: ScoringRun.objects.filter(pk=run_id, status__in=DONE).first(),
        timeout=timeout,
        message=f"scoring run {run_id} to finish",
    )


def portfolio_state() -> dict:
    return {
        name: (score, tier, rank)
        for name, score, tier, rank in Account.objects.values_list("name", "score", "tier", "rank")
    }


def test_a_recompute_started_like_the_browser_does_completes_on_the_worker(celery_worker, portfolio):
    before = portfolio_state()
    assert {score for score, _, _ in before.values()} == {None}
    run = scoring_run_start(as_of=AS_OF, triggered_by=portfolio, trigger="manual")
    assert run.status == RunStatus.QUEUED  # the caller has the id at once
    run = finished(run.pk)
    assert (run.status, run.error, run.accounts_scored) == (RunStatus.SUCCEEDED, "", 3)
    assert run.started_at < run.finished_at
    assert not run.holds_lock
    after = portfolio_state()
    assert after != before
    leader = min(after, key=lambda name: after[name][2])
    assert after[leader][1:] == ("A", 1)
    assert ScoreResult.objects.filter(run=run).count() == 3
    assert selectors.current_run() == run


def test_duplicate_enqueues_give_one_run(celery_worker, portfolio):
    run = scoring_run_start(as_of=AS_OF)
    with pytest.raises(RunInProgress):
        scoring_run_start(as_of=AS_OF)
    # The same message delivered twice (a redelivery after a lost ack): the second finds nothing to claim.
    again = portfolio_recompute_task.delay(run_id=run.pk)
    run = finished(run.pk)
    assert celery_worker.result(again) == {"run_id": run.pk, "status": RunStatus.SUCCEEDED}
    assert ScoringRun.objects.count() == 1
    assert ScoreResult.objects.filter(run=run).count() == 3
    # Two nightly triggers at once: the first queues a run, the second is refused by the lock.
    first, second = portfolio_recompute_task.delay(), portfolio_recompute_task.delay()
    started = celery_worker.result(first)
    assert started["status"] == RunStatus.QUEUED
    assert celery_worker.result(second)["status"] == "skipped"
    nightly = finished(started["run_id"])
    assert (nightly.status, nightly.trigger, nightly.as_of) == (
        RunStatus.SUCCEEDED,
        "nightly",
        timezone.localdate(),
    )
    assert ScoringRun.objects.filter(trigger="nightly").count() == 1


def test_a_failing_run_leaves_the_previous_portfolio_current(celery_worker, portfolio):
    good = finished(scoring_run_start(as_of=AS_OF).pk)
    assert good.status == RunStatus.SUCCEEDED
    before = portfolio_state()
    celery_worker.fault("fail")
    bad = finished(scoring_run_start(as_of=AS_OF + datetime.timedelta(days=1)).pk)
    assert bad.status == RunStatus.FAILED
    assert "injected failure: disk full" in bad.error
    assert not bad.holds_lock
    assert not ScoreResult.objects.filter(run=bad).exists()  # written inside the transaction, rolled back
    assert selectors.current_run() == good
    assert portfolio_state() == before


def test_cadence_alert_lifecycle_on_the_worker(celery_worker, world, settings):
    today = timezone.localdate()
    account = world.rep_account
    Account.objects.filter(pk=account.pk).update(
        cadence_days=30, next_contact_due=today - datetime.timedelta(days=3)
    )

    def check(day: datetime.date) -> dict:
        return celery_worker.result(cadence_check_task.delay(today=day.isoformat(), send_digest=False))

    assert check(today)["lapsed_opened"] == 1
    assert check(today)["lapsed_opened"] == 0  # delivered twice: still one alert
    alert = CadenceAlert.objects.open().get(account=account, kind=AlertKind.LAPSED_CADENCE)
    assert alert.opened_on == today
    assert alert_acknowledge(alert=alert, by=world.rep) == 1

    later = today + datetime.timedelta(days=settings.KAM_ALERT_GRACE_DAYS + 1)
    assert check(later)["escalated"] == 1
    alert.refresh_from_db()
    assert (alert.status, alert.escalated_to) == (AlertStatus.ACKNOWLEDGED, world.manager)

    visit_log(account=account, logged_by=world.rep, date=today, kind=VisitKind.ON_SITE, summary="Site visit.")
    alert.refresh_from_db()
    assert (alert.status, alert.resolved_on) == (AlertStatus.RESOLVED, today)
    assert check(today)["lapsed_resolved"] == 0  # the visit already resolved it


def test_a_broker_that_is_down_makes_the_start_fail_cleanly(active_scoring_model):
    """A real connection refused, from a separate process pointed at a port where no Redis listens."""
    need(connection.vendor == "postgresql", "needs PostgreSQL (the process shares the test database)")
    script = (
        "import datetime\n"
        "from scoring.runs import JobQueueUnavailable, scoring_run_start\n"
        "try:\n"
        "    scoring_run_start(as_of=datetime.date(2026, 6, 30))\n"
        "    print('STARTED')\n"
        "except JobQueueUnavailable as exc:\n"
        "    print('UNAVAILABLE', exc.run_id, exc)\n"
    )
    env = {
        **os.environ,
        "DJANGO_ENV": "test",
        "DATABASE_URL": database_url(),
        "REDIS_URL": "redis://127.0.0.1:1/0",
    }
    started = time.monotonic()
    done = subprocess.run(  # noqa: S603 - our own argv
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [outcome] = [line for line in done.stdout.splitlines() if line.startswith(("STARTED", "UNAVAILABLE"))]
    assert outcome.startswith("UNAVAILABLE"), done.stdout + done.stderr[-3000:]
    assert "job queue is unavailable" in outcome
    assert time.monotonic() - started < 30
    run = ScoringRun.objects.get(pk=int(outcome.split()[1]))
    assert (run.status, run.error, run.holds_lock) == (RunStatus.FAILED, "job queue unavailable", False)
    assert scoring_run_request(as_of=AS_OF).status == RunStatus.QUEUED


def test_a_worker_killed_mid_run_is_reaped_and_the_previous_portfolio_stays_current(celery_worker, portfolio):
    good = finished(scoring_run_start(as_of=AS_OF).pk)
    assert good.status == RunStatus.SUCCEEDED
    before = portfolio_state()

    celery_worker.fault("hang")
    run = scoring_run_start(as_of=AS_OF + datetime.timedelta(days=1))
    inside = celery_worker.fault_file.with_name(celery_worker.fault_file.name + ".inside")
    wait_for(inside.exists, timeout=60, message="the worker to be inside the publishing transaction")
    celery_worker.kill()

    run.refresh_from_db()
    assert (run.status, run.phase, run.holds_lock) == (RunStatus.RUNNING, "save", True)
    with pytest.raises(RunInProgress):  # the dead run still holds the lock ...
        scoring_run_request(as_of=AS_OF)
    assert scoring_runs_reap(now=timezone.now()) == 0  # ... until its time limit has passed
    past_limit = timezone.now() + datetime.timedelta(seconds=settings.KAM_RUN_TIME_LIMIT_SECONDS + 1)
    assert scoring_runs_reap(now=past_limit) == 1

    run.refresh_from_db()
    assert (run.status, run.holds_lock) == (RunStatus.FAILED, False)
    assert "did not finish" in run.error
    assert not ScoreResult.objects.filter(run=run).exists()
    assert selectors.current_run() == good
    assert portfolio_state() == before
    assert scoring_run_request(as_of=AS_OF).status == RunStatus.QUEUED  # the lock is free again


def test_an_import_committed_in_the_browser_is_written_by_the_worker_all_or_nothing(celery_worker, client):
    """The manager's upload, then commit; the worker reads the stored upload: a good file is written (and its
    bytes dropped), a broken one writes nothing and names its rows."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    from accounts.models import Order, Role
    from dataio.models import ImportRecord, ImportStatus, ImportUpload

    manager = UserFactory(username="boss", role=Role.MANAGER)
    AccountFactory(reference="C-1")
    client.force_login(manager)

    def commit(name: str, content: bytes) -> ImportRecord:
        client.post(
            reverse("imports:index"),
            {"kind": "orders", "file": SimpleUploadedFile(name, content), "delimiter": "", "encoding": ""},
        )
        record = ImportRecord.objects.latest("id")
        response = client.post(reverse("imports:commit", args=[record.pk]))
        assert response.status_code == 302
        return wait_for(
            lambda: ImportRecord.objects.filter(
                pk=record.pk, status__in=(ImportStatus.SUCCEEDED, ImportStatus.FAILED)
            ).first(),
            timeout=60,
            message=f"import {record.pk} on the worker",
        )

    good = commit(
        "good.csv",
        b"account_reference,date,revenue,reference\nC-1,2025-01-01,10,SO-1\nC-1,2025-02-01,20,SO-2\n",
    )
    assert (good.status, good.rows_created) == (ImportStatus.SUCCEEDED, 2)
    assert sorted(Order.objects.values_list("reference", flat=True)) == ["SO-1", "SO-2"]
    assert not ImportUpload.objects.filter(record=good).exists()

    broken = commit(
        "broken.csv",
        b"account_reference,date,revenue,reference\nC-1,2025-03-01,30,SO-3\nC-9,2025-03-02,-3,SO-4\n",
    )
    assert broken.status == ImportStatus.FAILED
    assert Order.objects.count() == 2  # SO-3 was fine, but the file is all or nothing
    assert {(e["row"], e["message"]) for e in broken.errors} >= {(3, "No account with reference C-9.")}
