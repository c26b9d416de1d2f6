"""Celery entry points for the portfolio recompute. Thin: they take a run id and call the scoring services.

Safe to run twice: a run is claimed queued -> running with a conditional UPDATE, so a second delivery of the
same message finds nothing to claim; a second nightly trigger is refused by the one-run-at-a-time lock.
"""

import logging

from celery import shared_task
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from kam.jobs import RETRY, TRANSIENT_ERRORS
from scoring.runs import (
    JobQueueUnavailable,
    scoring_run_requeue,
    scoring_run_start,
    scoring_runs_reap,
)
from scoring.services import NoActiveModel, RunInProgress, scoring_run_execute

log = logging.getLogger(__name__)

# The hard limit kills the task; the soft one, a little earlier, lets the run record why it stopped.
RUN_TIME_LIMIT = settings.KAM_RUN_TIME_LIMIT_SECONDS
RUN_SOFT_TIME_LIMIT = max(1, RUN_TIME_LIMIT - min(60, max(1, RUN_TIME_LIMIT // 10)))


@shared_task(
    bind=True, acks_late=True, time_limit=RUN_TIME_LIMIT, soft_time_limit=RUN_SOFT_TIME_LIMIT, **RETRY
)
def portfolio_recompute_task(self, run_id: int | None = None) -> dict:
    """Execute queued run `run_id`; without one (the nightly beat entry), start a run as of today."""
    if run_id is None:
        return _start_nightly_run()
    try:
        run = scoring_run_execute(run_id=run_id)
    except TRANSIENT_ERRORS:
        # The service marked the run failed; put it back in the queue so the automatic retry can claim it.
        if self.request.retries < self.max_retries:
            if not self.request.is_eager:
                close_old_connections()  # drop a broken connection; eager runs share the caller's
            scoring_run_requeue(run_id=run_id)
        raise
    except Exception:
        # The run is marked failed with the reason and the previous portfolio stays current: nothing to retry.
        return {"run_id": run_id, "status": "failed"}
    return {"run_id": run.pk, "status": str(run.status)}


def _start_nightly_run() -> dict:
    try:
        run = scoring_run_start(as_of=timezone.localdate(), trigger="nightly")
    except RunInProgress as exc:
        log.warning("Nightly recompute skipped: %s", exc)
        return {"run_id": None, "status": "skipped", "reason": str(exc)}
    except (NoActiveModel, JobQueueUnavailable) as exc:
        log.error("Nightly recompute not started: %s", exc)
        return {"run_id": getattr(exc, "run_id", None), "status": "failed", "reason": str(exc)}
    return {"run_id": run.pk, "status": str(run.status)}


@shared_task(acks_late=True, **RETRY)
def scoring_runs_reap_task() -> int:
    """Fail the runs whose worker died, so the lock is free again (beat runs this every few minutes)."""
    return scoring_runs_reap()
