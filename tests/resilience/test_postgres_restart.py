"""PostgreSQL stopped or restarted under a running app: a temporary error, then recovery with no half-writes."""

import datetime
import threading
import uuid

import pytest

from tests.resilience.conftest import poll

pytestmark = [pytest.mark.postgres]

TEMPORARY = "temporarily unavailable"


def _visit(stack, browser, summary: str):
    return browser.post(
        f"/accounts/{stack.account}/visits/new/",
        {"date": datetime.date.today().isoformat(), "kind": "meeting", "summary": summary},
    )


def test_with_postgres_down_people_and_integrations_get_a_temporary_error_then_it_recovers(stack):
    rep = stack.browser("rep")
    assert rep.get("/").status_code == 200
    assert stack.api("GET", "/api/v1/accounts/", key="erp_key").status_code == 200

    stack.postgres.stop()
    for path in ("/", "/accounts/", f"/accounts/{stack.account}/"):
        page = rep.get(path)
        assert page.status_code == 503, (path, page.status_code, page.text[:500])
        assert TEMPORARY in page.text
        assert "Traceback" not in page.text
        assert page.headers["Retry-After"] == "30"
    saved = _visit(stack, rep, "Logged while the database was down")
    assert saved.status_code == 503
    assert TEMPORARY in saved.text

    api = stack.api("GET", "/api/v1/accounts/", key="erp_key")
    assert api.status_code == 503
    assert api.headers["Content-Type"] == "application/problem+json"
    problem = api.json()
    assert (problem["status"], problem["type"]) == (503, "urn:kam:problem:database-unavailable")
    assert TEMPORARY in problem["detail"]
    assert api.headers["Retry-After"] == "30"

    stack.postgres.start()
    # No restart of the app: its next requests reconnect (CONN_HEALTH_CHECKS drops the dead connections).
    poll(lambda: rep.get("/").status_code == 200, timeout=30, message="My day to load again")
    assert "My day" in rep.get("/").text
    assert stack.api("GET", "/api/v1/accounts/", key="erp_key").status_code == 200
    assert _visit(stack, rep, "Logged after the restart").status_code == 302
    assert stack.visits("Logged while the database was down") == []
    assert len(stack.visits("Logged after the restart")) == 1


def test_visits_posted_while_postgres_restarts_are_saved_whole_or_not_at_all(stack):
    rep = stack.browser("rep")
    marker = uuid.uuid4().hex[:8]
    outcomes: list[tuple[str, int]] = []
    stop = threading.Event()

    def post_visits(worker: int) -> None:
        browser = stack.browser("rep") if worker else rep
        for n in range(400):  # bounded: a few seconds of visits either side of the restart
            if stop.is_set():
                return
            summary = f"restart {marker} {worker}-{n}"
            try:
                outcomes.append((summary, _visit(stack, browser, summary).status_code))
            except Exception as exc:  # a dropped connection is an outcome too, and must not stop the loop
                outcomes.append((summary, repr(exc)))

    threads = [threading.Thread(target=post_visits, args=(worker,)) for worker in range(3)]
    for thread in threads:
        thread.start()
    poll(lambda: len(outcomes) >= 6, timeout=60, message="visits to be logged before the restart")
    stack.postgres.restart()
    during = len(outcomes)
    poll(lambda: len(outcomes) >= during + 6, timeout=60, message="visits to be logged after the restart")
    stop.set()
    for thread in threads:
        thread.join(timeout=60)

    statuses = {status for _, status in outcomes}
    assert statuses <= {302, 503}, statuses  # saved, or a clear temporary error: never a 500
    assert 503 in statuses or len(outcomes) > during  # (the restart fell between requests at worst)
    saved = {
        summary: (date, last_contact) for _, date, summary, last_contact in stack.visits(f"restart {marker}%")
    }
    confirmed = [summary for summary, status in outcomes if status == 302]
    assert set(confirmed) <= set(saved)  # every visit the rep was told is logged, is there
    assert len(saved) == len(set(saved))
    # No half-written visit: each one that exists was rolled up onto its account in the same transaction.
    assert all(last_contact is not None and last_contact >= date for date, last_contact in saved.values())
    assert rep.get("/").status_code == 200
