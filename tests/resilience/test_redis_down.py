"""Redis stopped under a running app: people keep working; a recompute or an import says the job queue is
unavailable.

A worker killed mid-run is covered end to end, with a real worker SIGKILLed inside the publishing transaction,
by tests/kam/test_worker.py::test_a_worker_killed_mid_run_is_reaped_and_the_previous_portfolio_stays_current.
"""

import datetime
import re

import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

UNAVAILABLE = "job queue is unavailable"


def test_with_redis_stopped_pages_and_visit_logging_keep_working(stack):
    rep = stack.browser("rep")
    stack.redis.stop()

    assert "My day" in rep.get("/").text
    assert rep.get("/accounts/").status_code == 200
    assert rep.get(f"/accounts/{stack.account}/").status_code == 200
    saved = rep.post(
        f"/accounts/{stack.account}/visits/new/",
        {"date": datetime.date.today().isoformat(), "kind": "on_site", "summary": "Visited with Redis down"},
    )
    assert saved.status_code == 302
    assert len(stack.visits("Visited with Redis down")) == 1
    assert stack.api("GET", "/api/v1/accounts/", key="erp_key").status_code == 200


def test_with_redis_stopped_a_recompute_says_the_job_queue_is_unavailable(stack):
    manager = stack.browser("manager")
    stack.redis.stop()
    assert "Portfolio" in manager.get("/scoring/").text  # the dashboard's snapshot cache is Redis too

    started = manager.post("/scoring/runs/start/", {})
    assert started.status_code == 302
    page = manager.get(started.headers["Location"])
    assert page.status_code == 200
    assert UNAVAILABLE in re.sub(r"\s+", " ", page.text)

    partial = manager.post("/scoring/runs/start/", {}, headers={"HX-Request": "true"})
    assert partial.status_code == 200
    assert UNAVAILABLE in re.sub(r"\s+", " ", partial.text)

    api = stack.api("POST", "/api/v1/scoring/runs/", key="manager_key", json={})
    assert api.status_code == 503
    assert api.headers["Content-Type"] == "application/problem+json"
    assert UNAVAILABLE in api.json()["detail"]
    assert api.headers["Retry-After"] == "60"

    # Each refused run was marked failed and let go of the lock, so the next request is not "in progress".
    runs = stack.postgres.sql("SELECT status, error, holds_lock FROM scoring_scoringrun ORDER BY id")
    assert runs[-3:] == [("failed", "job queue unavailable", False)] * 3

    stack.redis.start()
    queued = stack.api("POST", "/api/v1/scoring/runs/", key="manager_key", json={})
    assert queued.status_code == 202
    assert queued.json()["status"] == "queued"


def test_with_redis_stopped_importing_says_the_job_queue_is_unavailable_and_keeps_the_file(stack):
    manager = stack.browser("manager")
    uploaded = manager.post(
        "/imports/",
        {"kind": "accounts", "delimiter": "", "encoding": ""},
        files={"file": ("redis-down.csv", b"reference,name\nRD-1,Redis Down Co\n")},
    )
    assert uploaded.status_code == 302
    record = int(re.search(r"/imports/(\d+)/", uploaded.headers["Location"]).group(1))
    stack.redis.stop()

    refused = manager.post(f"/imports/{record}/commit/", {})
    assert refused.status_code == 302
    assert refused.headers["Location"] == f"/imports/{record}/preview/"
    page = manager.get(refused.headers["Location"])
    assert page.status_code == 200
    assert UNAVAILABLE in re.sub(r"\s+", " ", page.text)
    assert stack.postgres.sql(f"SELECT status FROM accounts_importrecord WHERE id = {record}") == [
        ("uploaded",)
    ]

    stack.redis.start()
    queued = manager.post(f"/imports/{record}/commit/", {})
    assert queued.headers["Location"] == f"/imports/{record}/"
