"""Idempotency-Key on the API's creating writes: a retry replays the first answer and writes nothing."""

import datetime
import threading
import time
import uuid

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services
from accounts.models import Account, Order, Visit
from integrations.models import ApiKey, IdempotencyRecord
from kam.api.scopes import ApiScope
from tests.conftest import need
from tests.fixtures.api import assert_problem, key_for, openapi  # noqa: F401 (fixtures)

VISIT = {"date": "2026-01-05", "kind": "meeting", "summary": "Renewal talk"}


def visits_url(account) -> str:
    return f"/api/v1/accounts/{account.pk}/visits/"


@pytest.fixture
def rep_api(world, key_for):  # noqa: F811
    return key_for(world.rep, [ApiScope.READ, ApiScope.WRITE_VISITS, ApiScope.WRITE_ACCOUNTS])


@pytest.mark.django_db
def test_the_same_visit_sent_twice_with_a_key_is_logged_once_and_the_answer_replayed(world, rep_api):
    key = str(uuid.uuid4())
    first = rep_api.post(visits_url(world.rep_account), VISIT, format="json", HTTP_IDEMPOTENCY_KEY=key)
    again = rep_api.post(visits_url(world.rep_account), VISIT, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Visit.objects.filter(account=world.rep_account).count() == 1


@pytest.mark.django_db
def test_without_a_key_each_post_is_a_new_visit(world, rep_api):
    rep_api.post(visits_url(world.rep_account), VISIT, format="json")
    rep_api.post(visits_url(world.rep_account), VISIT, format="json")
    assert Visit.objects.filter(account=world.rep_account).count() == 2


@pytest.mark.django_db
def test_the_same_key_with_another_request_is_a_422_problem(world, rep_api):
    rep_api.post(visits_url(world.rep_account), VISIT, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    other = {**VISIT, "summary": "Something else"}
    response = rep_api.post(visits_url(world.rep_account), other, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    body = assert_problem(response, 422)
    assert body["type"] == "urn:kam:problem:idempotency-key-reused"
    elsewhere = rep_api.post(visits_url(world.team_account), VISIT, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert_problem(elsewhere, 422)
    assert Visit.objects.count() == 1


@pytest.mark.django_db
def test_a_refused_request_claims_nothing_so_its_corrected_retry_runs(world, rep_api):
    bad = rep_api.post(
        visits_url(world.rep_account),
        {**VISIT, "kind": "telepathy"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-2",
    )
    assert_problem(bad, 400, field="kind")
    good = rep_api.post(visits_url(world.rep_account), VISIT, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert good.status_code == 201
    assert Visit.objects.count() == 1


@pytest.mark.django_db
def test_keys_are_per_user_and_expire_after_the_window(world, rep_api, key_for, settings):  # noqa: F811
    other = key_for(world.other_rep, [ApiScope.WRITE_VISITS])
    rep_api.post(visits_url(world.rep_account), VISIT, format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    assert (
        other.post(
            visits_url(world.other_account), VISIT, format="json", HTTP_IDEMPOTENCY_KEY="k-3"
        ).status_code
        == 201
    )
    assert Visit.objects.count() == 2
    settings.KAM_IDEMPOTENCY_HOURS = 24
    IdempotencyRecord.objects.update(created_at=timezone.now() - datetime.timedelta(hours=25))
    later = rep_api.post(visits_url(world.rep_account), VISIT, format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    assert later.status_code == 201
    assert "Idempotent-Replayed" not in later
    assert Visit.objects.count() == 3


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "with space", "x" * 256, "caf\u00e9"])
def test_a_malformed_key_is_a_400_problem(world, rep_api, key):
    response = rep_api.post(visits_url(world.rep_account), VISIT, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert_problem(response, 400, field="Idempotency-Key")
    assert not Visit.objects.exists()


@pytest.mark.django_db
def test_account_creation_and_order_batches_replay_too(world, rep_api, key_for):  # noqa: F811
    first = rep_api.post("/api/v1/accounts/", {"name": "Once Co"}, format="json", HTTP_IDEMPOTENCY_KEY="a")
    again = rep_api.post("/api/v1/accounts/", {"name": "Once Co"}, format="json", HTTP_IDEMPOTENCY_KEY="a")
    assert (first.status_code, again.json()) == (201, first.json())
    assert Account.objects.filter(name="Once Co").count() == 1
    erp = key_for(world.integration, [ApiScope.WRITE_ORDERS])
    batch = {
        "orders": [
            {"account": world.rep_account.pk, "reference": "SO-1", "date": "2026-10-01", "revenue": "10"}
        ]
    }
    answers = [
        erp.post("/api/v1/orders/bulk/", batch, format="json", HTTP_IDEMPOTENCY_KEY="b").json()
        for _ in range(2)
    ]
    assert answers[1] == answers[0] == {"received": 1, "created": 1, "updated": 0, "unchanged": 0}
    assert Order.objects.count() == 1


def test_the_schema_documents_the_header_on_the_creating_writes(openapi):  # noqa: F811
    for path, method in [
        ("/api/v1/accounts/", "post"),
        ("/api/v1/orders/bulk/", "post"),
        ("/api/v1/accounts/{account_pk}/visits/", "post"),
    ]:
        parameters = openapi["paths"][path][method]["parameters"]
        assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in parameters), path


def _waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_three_identical_concurrent_posts_log_one_visit(world, monkeypatch):
    need(connection.vendor == "postgresql", "needs PostgreSQL: set DATABASE_URL=postgres://...")
    _, raw = ApiKey.issue(
        name="crm", user=world.rep, scopes=[ApiScope.WRITE_VISITS], created_by=world.manager
    )
    logging_visit = services.visit_log

    def slow_visit_log(**kwargs):
        # Hold the first claim open until the two others are blocked behind it (bounded: without the
        # mechanism nobody waits, and all three go through).
        deadline = time.monotonic() + 15
        while _waiting_on_a_lock() < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        return logging_visit(**kwargs)

    monkeypatch.setattr(services, "visit_log", slow_visit_log)
    start = threading.Barrier(3)
    answers = []

    def post():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        try:
            start.wait()
            response = client.post(
                visits_url(world.rep_account), VISIT, format="json", HTTP_IDEMPOTENCY_KEY="same-click"
            )
            answers.append((response.status_code, response.json()["id"]))
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == 3
    assert {status for status, _ in answers} == {201}
    assert len({visit for _, visit in answers}) == 1
    assert Visit.objects.filter(account=world.rep_account).count() == 1


def test_the_schema_documents_the_422_and_the_key_format(openapi):  # noqa: F811
    operation = openapi["paths"]["/api/v1/accounts/{account_pk}/visits/"]["post"]
    assert "422" in operation["responses"]
    header = next(p for p in operation["parameters"] if p["name"] == "Idempotency-Key")
    assert header["schema"]["pattern"] == "^[\\x21-\\x7e]{1,255}$"
    assert "422" not in openapi["paths"]["/api/v1/accounts/{id}/"]["patch"]["responses"]
