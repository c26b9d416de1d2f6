"""Background jobs, stated once: what counts as a transient error, the retry policy, enqueueing after commit.

Services never import task modules (the tasks import the services, so the other way round is a cycle): they
enqueue by the task's registered name through `enqueue` / `enqueue_on_commit`. Without REDIS_URL Celery runs
every task in-process when it is enqueued (the embedded default), so the same code serves both.
"""

import kombu.exceptions
import redis.exceptions
from celery import current_app, shared_task
from django.db import InterfaceError, OperationalError, transaction

# Errors that say "try again in a moment": the broker is restarting or unreachable.
BROKER_ERRORS = (
    kombu.exceptions.OperationalError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    ConnectionError,
)
# ... or the database is.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, *BROKER_ERRORS)

# Every task retries transient errors the same way. Outcomes live in the database (a run's status, an
# import's record, a delivery's row), never in the result backend: a caller that waited on a result would
# hang, then break for good, while Redis is down.
RETRY = {
    "ignore_result": True,
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": 5,  # 5 s, 10 s, 20 s ... with jitter
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 5,
}


def task(name: str):
    """The registered task called `name` (`<app>.tasks.<entity>_<action>_task`).

    A web process imports no task module by itself: the first lookup loads them all (autodiscovered tasks.py
    of every app, plus CELERY_IMPORTS), as a worker does when it starts.
    """
    if name not in current_app.tasks:
        current_app.loader.import_default_modules()
    return current_app.tasks[name]


def runs_in_process() -> bool:
    """True without a broker (the embedded default): enqueued tasks run at once, in this process."""
    return bool(current_app.conf.task_always_eager)


def enqueue(name: str, *args, **kwargs):
    """Send the task now; raises one of BROKER_ERRORS if the broker refuses it."""
    return task(name).delay(*args, **kwargs)


def enqueue_on_commit(name: str, *args, robust: bool = True, **kwargs) -> None:
    """Send the task once the current transaction commits (at once outside one); never for a rollback.

    robust: a broker that is down must not fail the caller's request, which has already committed; the row
    the task works on stays pending for the job that re-enqueues lost work.
    """
    transaction.on_commit(lambda: enqueue(name, *args, **kwargs), robust=robust)


def forward_old_name(old_name: str, new_name: str):
    """Messages queued before a task moved carry its old name: run them under the new one.

    Kept for one release after a move, so a queue that was full at the upgrade still drains.
    """

    @shared_task(name=old_name, ignore_result=True)
    def forward(*args, **kwargs):
        task(new_name).apply_async(args=args, kwargs=kwargs)

    return forward
