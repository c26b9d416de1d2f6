"""Orders over REST: the idempotent, all-or-nothing bulk upsert, and listing by account and date."""

import datetime
import json
import time

import pytest
from django.test import override_settings

from accounts.models import Order
from kam.api.scopes import ApiScope
from tests.factories import AccountFactory, OrderFactory
from tests.fixtures.api import assert_problem

pytestmark = pytest.mark.django_db

BULK = "/api/v1/orders/bulk/"


def row(account, reference, revenue="100.00", *, by="id", date="2026-10-01", cost="60.00"):
    target = {"account": account.pk} if by == "id" else {"account_reference": account.reference}
    return {**target, "reference": reference, "date": date, "revenue": revenue, "variable_cost": cost}


@pytest.fixture
def erp(world, key_for):
    """The ERP's key: an integration user, allowed to read and push orders."""
    return key_for(world.integration, [ApiScope.READ, ApiScope.WRITE_ORDERS])


def test_sending_the_same_batch_twice_creates_no_duplicates(world, erp, match_schema):
    batch = {"orders": [row(world.rep_account, f"SO-{n}") for n in range(50)]}
    first = erp.post(BULK, batch, format="json")
    assert first.json() == {"received": 50, "created": 50, "updated": 0, "unchanged": 0}
    match_schema(first, BULK, "post")
    second = erp.post(BULK, batch, format="json")
    assert second.json() == {"received": 50, "created": 0, "updated": 0, "unchanged": 50}
    assert Order.objects.filter(account=world.rep_account).count() == 50


def test_a_changed_row_is_updated_in_place(world, erp):
    erp.post(
        BULK, {"orders": [row(world.rep_account, "SO-1"), row(world.rep_account, "SO-2")]}, format="json"
    )
    response = erp.post(
        BULK,
        {"orders": [row(world.rep_account, "SO-1", "150.00"), row(world.rep_account, "SO-2")]},
        format="json",
    )
    assert response.json() == {"received": 2, "created": 0, "updated": 1, "unchanged": 1}
    order = Order.objects.get(account=world.rep_account, reference="SO-1")
    assert (str(order.revenue), Order.objects.count()) == ("150.00", 2)


def test_an_account_can_be_named_by_its_erp_reference(world, erp):
    response = erp.post(BULK, {"orders": [row(world.team_account, "SO-9", by="reference")]}, format="json")
    assert response.json()["created"] == 1
    assert Order.objects.get(reference="SO-9").account == world.team_account


def test_one_bad_row_refuses_the_whole_batch_with_every_rows_errors(world, erp, match_schema):
    OrderFactory(account=world.rep_account, reference="SO-KEEP", revenue="10.00")
    batch = {
        "orders": [
            row(world.rep_account, "SO-KEEP", "999.00"),
            {"account": 987654, "reference": "SO-2", "date": "2026-10-01", "revenue": "1.00"},
            row(world.rep_account, "SO-3", "-5.00"),
            {"reference": "SO-4", "date": "not a date", "revenue": "1"},
            row(world.rep_account, "SO-3"),
        ]
    }
    response = erp.post(BULK, batch, format="json")
    body = assert_problem(response, 400)
    match_schema(response, BULK, "post")
    assert set(body["errors"]) == {"orders[2].revenue", "orders[3].date"}
    assert Order.objects.get(reference="SO-KEEP").revenue == 10  # nothing written
    # Field-level errors first; once the fields are right, accounts and duplicates are checked per row.
    batch["orders"][2]["revenue"], batch["orders"][3] = "5.00", row(world.rep_account, "SO-4")
    body = assert_problem(erp.post(BULK, batch, format="json"), 400)
    assert body["errors"] == {
        "orders[1].account": ["No such account, or not one you can see."],
        "orders[4].reference": ["Repeats row 2: each order may appear once per batch."],
    }
    assert Order.objects.count() == 1


def test_a_reps_key_cannot_push_orders_to_another_reps_account(world, key_for):
    rep = key_for(world.rep, [ApiScope.WRITE_ORDERS])
    body = assert_problem(rep.post(BULK, {"orders": [row(world.other_account, "SO-1")]}, format="json"), 400)
    assert body["errors"] == {"orders[0].account": ["No such account, or not one you can see."]}
    assert rep.post(BULK, {"orders": [row(world.team_account, "SO-1")]}, format="json").status_code == 200


def test_pushing_orders_needs_the_write_orders_scope(world, key_for):
    reader = key_for(world.integration, [ApiScope.READ])
    assert_problem(reader.post(BULK, {"orders": [row(world.rep_account, "SO-1")]}, format="json"), 403)
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    "payload",
    [{}, {"orders": []}, {"orders": "SO-1"}, {"orders": [1, 2]}, [], "text", {"orders": [{}]}],
)
def test_malformed_batches_are_400_problems(world, erp, payload):
    response = erp.post(BULK, json.dumps(payload), content_type="application/json")
    assert_problem(response, 400)


def test_ten_thousand_orders_are_accepted_in_one_request(world, erp):
    accounts = [world.rep_account, world.team_account, world.other_account, *AccountFactory.create_batch(7)]
    batch = {
        "orders": [
            row(accounts[n % 10], f"SO-{n:05d}", by="reference" if n % 2 else "id") for n in range(10_000)
        ]
    }
    started = time.monotonic()
    response = erp.post(BULK, batch, format="json")
    assert response.status_code == 200, response.content[:500]
    assert response.json() == {"received": 10_000, "created": 10_000, "updated": 0, "unchanged": 0}
    assert time.monotonic() - started < 30
    again = erp.post(BULK, batch, format="json")
    assert again.json() == {"received": 10_000, "created": 0, "updated": 0, "unchanged": 10_000}
    assert Order.objects.count() == 10_000


def test_ten_thousand_and_one_orders_are_refused(world, erp):
    batch = {"orders": [row(world.rep_account, f"SO-{n}") for n in range(10_001)]}
    body = assert_problem(erp.post(BULK, batch, format="json"), 400)
    assert body["errors"] == {"orders": ["Ensure this field has no more than 10000 elements."]}
    assert not Order.objects.exists()


@override_settings(KAM_API_MAX_REQUEST_BYTES=5 * 1024 * 1024)
def test_a_full_batch_fits_in_the_request_size_limit(world):
    batch = {
        "orders": [
            {
                "account_reference": "C-1234567890",
                "reference": f"SO-2026-{n:010d}",
                "date": "2026-10-01",
                "revenue": "1234567.89",
                "variable_cost": "1234567.89",
            }
            for n in range(10_000)
        ]
    }
    assert len(json.dumps(batch)) < 5 * 1024 * 1024 / 2


def test_orders_list_by_account_and_date(world, erp, key_for, match_schema, django_assert_max_num_queries):
    for day in (1, 10, 20):
        OrderFactory(account=world.rep_account, date=datetime.date(2026, 10, day))
    OrderFactory(account=world.other_account, date=datetime.date(2026, 10, 10))
    OrderFactory.create_batch(30, account=world.team_account)
    query = {"account": world.rep_account.pk, "date_from": "2026-10-05", "date_to": "2026-10-31"}
    with django_assert_max_num_queries(4):
        response = erp.get("/api/v1/orders/", query)
    assert [r["date"] for r in response.json()["results"]] == ["2026-10-20", "2026-10-10"]
    match_schema(response, "/api/v1/orders/")
    by_reference = erp.get("/api/v1/orders/", {"account_reference": world.other_account.reference})
    assert by_reference.json()["count"] == 1
    rep = key_for(world.rep, ["read"])
    assert rep.get("/api/v1/orders/", {"account": world.other_account.pk}).json()["count"] == 0
    assert rep.get("/api/v1/orders/").json()["count"] == 33
