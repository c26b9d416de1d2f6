"""gunicorn's settings file: gunicorn reads ./gunicorn.conf.py by default, so the Dockerfile, docker-compose and
`make loadtest` (tests/load/run.sh) all serve the app with it; their command-line flags set the rest.
"""

import gc


def post_worker_init(worker):
    """Take what the worker has loaded (Django, the URL configuration, DRF, pandas...) out of the garbage
    collector's reach: it lives as long as the worker, yet every full collection walked all of it again
    (~200,000 objects), a pause of ~0.12 s of CPU that landed on one request in every few dozen. Objects made after
    this point are collected as usual. Measured: the collector's share of a request fell from ~1.1 to
    ~0.7 ms on average (tests/load/page_cpu.py, with and without --no-gc-freeze); requests/s under
    `make loadtest` did not move beyond the machine's noise (README, Load test)."""
    gc.collect()
    gc.freeze()
