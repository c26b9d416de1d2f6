"""Recomputes in the background: start one for the browser and the API, retry one after a transient error, and
reap the runs whose worker died.

The state machine itself (request, claim, publish, fail) lives in scoring/services.py; this module only adds
the job-queue side: enqueue after commit, say so when the queue is down, and clean up after dead workers.
"""

import datetime
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from kam import jobs
from scoring.models import RunStatus, ScoringRun
from scoring.services import scoring_run_fail, scoring_run_request

log = logging.getLogger(__name__)

QUEUE_UNAVAILABLE = "job queue unavailable"


class JobQueueUnavailable(Exception):
    """The broker refused the job; the run was marked failed and the lock released, so the user can retry."""

    def __init__(self, run_id: int):
        super().__init__(
            "The job queue is unavailable, so the recompute could not be started. "
            "Try again in a few minutes; if it persists, ask an administrator to check Redis and the workers."
        )
        self.run_id = run_id


def scoring_run_start(
    *, as_of: datetime.date, triggered_by: User | None = None, trigger: str = "manual"
) -> ScoringRun:
    """Queue a recompute and hand it to a worker once the request is committed; returns the run at once.

    Raises RunInProgress (another run holds the lock), NoActiveModel, or JobQueueUnavailable (the broker is
    down: the run is marked failed with "job queue unavailable"). Called outside a transaction, the job is
    enqueued before this returns; inside one, when the outermost block commits (and JobQueueUnavailable is
    raised from there). Without REDIS_URL (eager mode) the run executes here, and the returned run shows
    whether it succeeded or failed.
    """
    run = scoring_run_request(as_of=as_of, triggered_by=triggered_by, trigger=trigger)
    transaction.on_commit(lambda: _enqueue(run.pk))
    return ScoringRun.objects.select_related("model").get(pk=run.pk)


RECOMPUTE_TASK = "scoring.tasks.portfolio_recompute_task"


def _enqueue(run_id: int) -> None:
    if jobs.runs_in_process():
        # The embedded default: run now, in this process. A failed run records why; the caller reads it.
        jobs.task(RECOMPUTE_TASK).apply(kwargs={"run_id": run_id}, throw=False)
        return
    try:
        jobs.enqueue(RECOMPUTE_TASK, run_id=run_id)
    except jobs.BROKER_ERRORS as exc:
        log.error("Could not queue scoring run %s, marking it failed: %s", run_id, exc)
        scoring_run_fail(run_id=run_id, reason=QUEUE_UNAVAILABLE)
        raise JobQueueUnavailable(run_id) from exc


def scoring_run_requeue(*, run_id: int) -> bool:
    """Put a run that just failed on a transient error back in the queue, so the task's retry can claim it.

    Takes the lock again; if another run took it meanwhile, the run stays failed and this returns False.
    """
    try:
        with transaction.atomic():
            return bool(
                ScoringRun.objects.filter(pk=run_id, status=RunStatus.FAILED).update(
                    status=RunStatus.QUEUED,
                    holds_lock=True,
                    phase="waiting to retry",
                    started_at=None,
                    finished_at=None,
                    error="",
                )
            )
    except IntegrityError:
        return False


def scoring_runs_reap(*, now: datetime.datetime | None = None) -> int:
    """Fail the runs stuck queued or running longer than KAM_RUN_TIME_LIMIT_SECONDS and release their lock.

    A run can only be stuck that long if its worker died (killed, out of memory, machine lost) or no worker is
    listening: the task is stopped at the time limit. Its transaction never committed, so the previous
    portfolio is still the current one. Conditional UPDATEs: safe to run twice, and a run that finishes at the
    same moment keeps its result. Returns how many runs were reaped.
    """
    now = now or timezone.now()
    limit = settings.KAM_RUN_TIME_LIMIT_SECONDS
    cutoff = now - datetime.timedelta(seconds=limit)
    within = f"{limit // 60} minutes" if limit >= 120 else f"{limit} seconds"
    failed = {"status": RunStatus.FAILED, "holds_lock": False, "finished_at": now}
    running = ScoringRun.objects.filter(status=RunStatus.RUNNING, started_at__lt=cutoff).update(
        **failed,
        error=f"The run did not finish within {within}; its worker was probably stopped or killed. "
        "The previous portfolio stays current.",
    )
    queued = ScoringRun.objects.filter(status=RunStatus.QUEUED, created_at__lt=cutoff).update(
        **failed, error=f"No worker picked the run up within {within}. Is a Celery worker running?"
    )
    if running or queued:
        log.warning("Reaped %s stuck running and %s stuck queued scoring run(s)", running, queued)
    return running + queued
