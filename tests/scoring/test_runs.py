"""Recompute jobs without a worker: start a run, a broker that is down, retries, the reaper, the schedule."""

import datetime
import importlib
from decimal import Decimal
from unittest import mock

import kombu.exceptions
import pytest
from django.db import OperationalError
from django.utils import timezone

from accounts.models import Account
from kam.celery import app as celery_app
from scoring import selectors
from scoring.models import RunStatus, ScoreResult, ScoringRun
from scoring.runs import JobQueueUnavailable, scoring_run_start, scoring_runs_reap
from scoring.services import RunInProgress, portfolio_recompute, scoring_run_request
from scoring.tasks import portfolio_recompute_task, scoring_runs_reap_task
from tests.factories import AccountFactory, OrderFactory

pytestmark = pytest.mark.django_db

AS_OF = datetime.date(2026, 6, 30)


@pytest.fixture
def portfolio(db):
    big = AccountFactory(name="Big", image_rating=4)
    small = AccountFactory(name="Small", image_rating=2)
    for i in range(12):
        date = datetime.date(2025, 7, 15) + datetime.timedelta(days=28 * i)
        OrderFactory(account=big, date=date, revenue=Decimal("50000"), variable_cost=Decimal("30000"))
        OrderFactory(account=small, date=date, revenue=Decimal("5000"), variable_cost=Decimal("4000"))
    return big, small


def scores() -> dict:
    return dict(Account.objects.values_list("name", "score"))


@pytest.mark.usefixtures("eager_celery")
def test_without_redis_a_started_run_completes_in_process(portfolio, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        run = scoring_run_start(as_of=AS_OF, trigger="manual")
        assert run.status == RunStatus.QUEUED  # the caller gets the id at once; the job waits for the commit
    assert len(callbacks) == 1
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert run.accounts_scored == 2
    assert Account.objects.get(name="Big").rank == 1


@pytest.mark.usefixtures("eager_celery")
def test_a_run_that_fails_in_process_reports_the_reason_instead_of_crashing_the_caller(
    portfolio, django_capture_on_commit_callbacks
):
    with (
        mock.patch("scoring.services._update_accounts", side_effect=RuntimeError("disk full")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        run = scoring_run_start(as_of=AS_OF)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "disk full" in run.error
    assert set(scores().values()) == {None}


@pytest.mark.usefixtures("queued_celery")
def test_the_job_is_enqueued_once_after_commit_and_a_second_start_is_refused(
    portfolio, django_capture_on_commit_callbacks
):
    with (
        mock.patch.object(portfolio_recompute_task, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        run = scoring_run_start(as_of=AS_OF)
        assert not delay.called  # not before the run row is committed
        with pytest.raises(RunInProgress) as refused:
            scoring_run_start(as_of=AS_OF)
    assert refused.value.run == run
    delay.assert_called_once_with(run_id=run.pk)
    assert ScoringRun.objects.count() == 1


@pytest.mark.usefixtures("queued_celery")
def test_a_broker_that_is_down_fails_the_run_releases_the_lock_and_says_so(
    portfolio, django_capture_on_commit_callbacks
):
    refused = kombu.exceptions.OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    with (
        mock.patch.object(portfolio_recompute_task, "delay", side_effect=refused),
        pytest.raises(JobQueueUnavailable, match="job queue is unavailable") as unavailable,
        django_capture_on_commit_callbacks(execute=True),
    ):
        scoring_run_start(as_of=AS_OF)
    run = ScoringRun.objects.get(pk=unavailable.value.run_id)
    assert (run.status, run.error, run.holds_lock) == (RunStatus.FAILED, "job queue unavailable", False)
    assert scoring_run_request(as_of=AS_OF).status == RunStatus.QUEUED  # the lock is free again


def test_running_the_task_twice_for_one_run_computes_it_once(portfolio):
    run = scoring_run_request(as_of=AS_OF)
    assert portfolio_recompute_task(run_id=run.pk) == {"run_id": run.pk, "status": RunStatus.SUCCEEDED}
    run.refresh_from_db()
    first = (run.started_at, run.finished_at, list(ScoreResult.objects.filter(run=run).values_list("id")))
    with mock.patch("scoring.services._publish") as publish:
        assert portfolio_recompute_task(run_id=run.pk) == {"run_id": run.pk, "status": RunStatus.SUCCEEDED}
    assert not publish.called
    run.refresh_from_db()
    assert (
        run.started_at,
        run.finished_at,
        list(ScoreResult.objects.filter(run=run).values_list("id")),
    ) == first


@pytest.mark.usefixtures("eager_celery")
def test_nightly_entry_starts_a_run_for_today_and_a_second_trigger_is_skipped(
    portfolio, django_capture_on_commit_callbacks
):
    queued = scoring_run_request(as_of=AS_OF)
    skipped = portfolio_recompute_task()
    assert skipped["status"] == "skipped"
    assert f"Scoring run {queued.pk} is already queued" in skipped["reason"]
    assert ScoringRun.objects.count() == 1
    queued.delete()
    with django_capture_on_commit_callbacks(execute=True):
        result = portfolio_recompute_task()
    run = ScoringRun.objects.get(pk=result["run_id"])
    assert (run.status, run.trigger, run.as_of) == (RunStatus.SUCCEEDED, "nightly", timezone.localdate())


@pytest.mark.usefixtures("eager_celery")
def test_a_transient_database_error_mid_run_is_retried_on_the_same_run(portfolio):
    real = selectors.order_totals
    calls = []

    def flaky(as_of):
        calls.append(as_of)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(as_of)

    run = scoring_run_request(as_of=AS_OF)
    with mock.patch("scoring.selectors.order_totals", side_effect=flaky):
        portfolio_recompute_task.apply(kwargs={"run_id": run.pk}, throw=False)
    run.refresh_from_db()
    assert len(calls) == 2
    assert (run.status, run.error, run.accounts_scored) == (RunStatus.SUCCEEDED, "", 2)


@pytest.mark.usefixtures("eager_celery")
def test_a_failing_run_returns_failed_and_leaves_the_previous_portfolio_current(portfolio):
    good = portfolio_recompute(as_of=AS_OF)
    before = scores()
    run = scoring_run_request(as_of=AS_OF + datetime.timedelta(days=1))
    with mock.patch("scoring.services._update_accounts", side_effect=RuntimeError("disk full")):
        assert portfolio_recompute_task(run_id=run.pk) == {"run_id": run.pk, "status": "failed"}
    run.refresh_from_db()
    assert (run.status, run.holds_lock) == (RunStatus.FAILED, False)
    assert selectors.current_run() == good
    assert scores() == before


def _claimed(run, *, started_ago: datetime.timedelta, now):
    ScoringRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, phase="score", started_at=now - started_ago
    )


def test_the_reaper_fails_a_run_stuck_past_the_time_limit_and_frees_the_lock(portfolio, settings):
    settings.KAM_RUN_TIME_LIMIT_SECONDS = 30 * 60
    good = portfolio_recompute(as_of=AS_OF)
    before = scores()
    now = timezone.now()
    stuck = scoring_run_request(as_of=AS_OF + datetime.timedelta(days=1))
    _claimed(stuck, started_ago=datetime.timedelta(minutes=29), now=now)
    assert scoring_runs_reap(now=now) == 0  # still within its time limit
    assert scoring_runs_reap(now=now + datetime.timedelta(minutes=2)) == 1
    stuck.refresh_from_db()
    assert (stuck.status, stuck.holds_lock, stuck.phase) == (RunStatus.FAILED, False, "score")
    assert "did not finish within 30 minutes" in stuck.error
    assert "previous portfolio stays current" in stuck.error
    assert scoring_runs_reap(now=now + datetime.timedelta(minutes=3)) == 0
    assert selectors.current_run() == good
    assert scores() == before
    # The lock is free, and a late delivery of the reaped run's message does nothing.
    assert portfolio_recompute_task(run_id=stuck.pk)["status"] == RunStatus.FAILED
    assert scoring_run_request(as_of=AS_OF).status == RunStatus.QUEUED


def test_the_reaper_fails_a_run_no_worker_picked_up(portfolio, settings):
    settings.KAM_RUN_TIME_LIMIT_SECONDS = 600
    queued = scoring_run_request(as_of=AS_OF)
    later = timezone.now() + datetime.timedelta(seconds=601)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert scoring_runs_reap_task() == 1
    queued.refresh_from_db()
    assert queued.status == RunStatus.FAILED
    assert "No worker picked the run up within 10 minutes" in queued.error


def test_the_recompute_task_is_late_acked_time_limited_and_retries_transient_errors(settings):
    assert portfolio_recompute_task.acks_late
    assert portfolio_recompute_task.time_limit == settings.KAM_RUN_TIME_LIMIT_SECONDS
    assert 0 < portfolio_recompute_task.soft_time_limit < portfolio_recompute_task.time_limit
    assert OperationalError in portfolio_recompute_task.autoretry_for
    assert kombu.exceptions.OperationalError in portfolio_recompute_task.autoretry_for
    assert portfolio_recompute_task.max_retries == 5
    assert portfolio_recompute_task.retry_backoff_max == 300


def test_every_scheduled_job_names_a_registered_task(settings):
    # As a worker or beat does at start: autodiscover tasks.py modules and import CELERY_IMPORTS.
    celery_app.autodiscover_tasks(force=True)
    for module in getattr(settings, "CELERY_IMPORTS", ()):
        importlib.import_module(module)
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert set(schedule) >= {"nightly-portfolio-recompute", "nightly-cadence-check", "scoring-runs-reaper"}
    for entry in schedule.values():
        assert entry["task"] in celery_app.tasks, entry["task"]
