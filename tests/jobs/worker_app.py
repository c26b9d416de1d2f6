"""The Celery app the jobs integration tests run a worker with: the real one, plus faults a test switches on.

It works on the test run's own queue (KAM_TEST_QUEUE). The test writes a mode into the file named by
KAM_TEST_FAULT_FILE before it enqueues; the worker reads it as each task starts. "fail" makes the publish step
raise after the results are written (inside the transaction); "hang" makes it touch `<file>.inside` and sleep
there, so the test can SIGKILL the worker mid-transaction. Anything else (or no file) runs the real code.
"""

import os
import time
from pathlib import Path

from celery.signals import task_prerun

from kam.celery import app

__all__ = ["app"]

FAULT_FILE = Path(os.environ["KAM_TEST_FAULT_FILE"]) if os.environ.get("KAM_TEST_FAULT_FILE") else None

# The test run's own queue, also for the jobs a task enqueues (the nightly entry queues the run it starts).
if os.environ.get("KAM_TEST_QUEUE"):
    app.conf.task_default_queue = os.environ["KAM_TEST_QUEUE"]


@task_prerun.connect
def _inject_fault(**kwargs):
    from scoring import services

    real = services.__dict__.setdefault("_real_update_accounts", services._update_accounts)
    mode = FAULT_FILE.read_text().strip() if FAULT_FILE and FAULT_FILE.exists() else ""

    def fail(run):
        raise RuntimeError("injected failure: disk full")

    def hang(run):
        FAULT_FILE.with_name(FAULT_FILE.name + ".inside").touch()
        time.sleep(120)
        real(run)

    services._update_accounts = {"fail": fail, "hang": hang}.get(mode, real)
