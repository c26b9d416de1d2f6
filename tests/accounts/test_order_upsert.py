"""One order upsert behind the API's bulk endpoint and the order import: the same rows give the same orders,
the same counts and the same refusals, whoever sends them and whichever way."""

import datetime
import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import Order
from accounts.orders import BEFORE_EARLIEST, OrdersRefused, orders_upsert
from dataio.imports.orders import INTEGRATION_REFUSED
from integrations.models import ApiKey
from kam.api.scopes import ApiScope
from tests.factories import AccountFactory, OrderFactory
from tests.fixtures.imports import run

pytestmark = pytest.mark.django_db

BULK = "/api/v1/orders/bulk/"
HEADER = "account_reference,date,revenue,variable_cost,reference\n"
FIRST_FILE_ROW = 2  # the header is row 1


def api_client(world, user) -> APIClient:
    _, raw = ApiKey.issue(
        name="erp", user=user, scopes=[ApiScope.READ, ApiScope.WRITE_ORDERS], created_by=world.manager
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def through_api(world, user, rows: list[tuple]) -> tuple[dict | None, set]:
    """(counts, refusals) of sending `rows` (account, reference, date, revenue, cost) to the bulk endpoint."""
    batch = [
        {"account_reference": a.reference, "reference": ref, "date": d, "revenue": rev, "variable_cost": cost}
        for a, ref, d, rev, cost in rows
    ]
    response = api_client(world, user).post(BULK, {"orders": batch}, format="json")
    if response.status_code == 200:
        body = response.json()
        assert body.pop("received") == len(rows)
        return body, set()
    assert response.status_code == 400, response.content
    refusals = set()
    for where, messages in response.json()["errors"].items():
        index, field = where.removeprefix("orders[").split("].")
        refusals.add((int(index), field, _reason(messages[0])))
    return None, refusals


def through_import(user, rows: list[tuple]) -> tuple[dict | None, set]:
    """The same for importing them as a file (row numbers turned back into the rows' indexes)."""
    text = HEADER + "".join(f"{a.reference},{d},{rev},{cost},{ref}\n" for a, ref, d, rev, cost in rows)
    record, result = run("orders", text, user=user)
    if result.ok:
        return {
            "created": record.rows_created,
            "updated": record.rows_updated,
            "unchanged": record.rows_unchanged,
        }, set()
    return None, {(p["row"] - FIRST_FILE_ROW, p["column"], _reason(p["message"])) for p in result.problems}


def _reason(message: str) -> str:
    """What a refusal is about, whatever the wording for its readers."""
    if message.startswith(("No such account", "No account with reference")):
        return "account"
    if "may appear once" in message:
        return "repeat"
    return message


def orders() -> list[tuple]:
    return sorted(Order.objects.values_list("account_id", "reference", "date", "revenue", "variable_cost"))


def both_ways(world, user, rows: list[tuple], *, importer=None) -> tuple:
    """Each way from the same starting orders (imported by `importer`, else `user`); returns what each
    answered and left behind."""
    before = list(Order.objects.values("account_id", "reference", "date", "revenue", "variable_cost"))
    api = through_api(world, user, rows)
    after_api = orders()
    Order.objects.all().delete()
    Order.objects.bulk_create(Order(**values) for values in before)
    imported = through_import(importer or user, rows)
    return api, after_api, imported, orders()


# Who sends the rows through the API, and who imports them in the same access situation: an integration
# user writes through its key only, so its file-side equal is a manager (both write to every account).
SITUATIONS = {
    "rep": ("rep", "rep"),
    "manager": ("manager", "manager"),
    "integration key": ("integration", "manager"),
}


@pytest.fixture(params=list(SITUATIONS))
def senders(request, world):
    api_user, importer = SITUATIONS[request.param]
    return getattr(world, api_user), getattr(world, importer)


def test_the_same_rows_make_the_same_orders_and_counts_either_way(world, senders):
    OrderFactory(account=world.rep_account, reference="SO-OLD", revenue="10.00", variable_cost="1.00")
    OrderFactory(account=world.team_account, reference="SO-SAME", date=datetime.date(2025, 3, 1))
    rows = [
        (world.rep_account, "SO-1", "2025-01-02", "100.00", "60.00"),
        (world.rep_account, "SO-OLD", "2025-01-03", "12.50", "1.00"),  # changed: updated
        (world.team_account, "SO-1", "2025-01-02", "7.00", "0"),  # the same reference at another account
        (world.team_account, "SO-SAME", "2025-03-01", "1000.00", "700.00"),  # as stored: unchanged
    ]
    (api_counts, api_refusals), after_api, (file_counts, file_refusals), after_import = both_ways(
        world, senders[0], rows, importer=senders[1]
    )
    assert api_counts == file_counts == {"created": 2, "updated": 1, "unchanged": 1}
    assert api_refusals == file_refusals == set()
    assert after_api == after_import
    assert len(after_api) == 4


def test_sending_the_rows_again_changes_nothing_either_way(world, senders):
    rows = [(world.rep_account, f"SO-{n}", "2025-01-02", f"{n}.00", "0") for n in range(1, 4)]
    through_api(world, senders[0], rows)
    stamps = dict(Order.objects.values_list("id", "updated_at"))
    assert through_api(world, senders[0], rows) == ({"created": 0, "updated": 0, "unchanged": 3}, set())
    assert through_import(senders[1], rows) == ({"created": 0, "updated": 0, "unchanged": 3}, set())
    assert dict(Order.objects.values_list("id", "updated_at")) == stamps  # not even touched


@pytest.mark.parametrize(
    ("situation", "refused"),
    [
        # A rep writes to their own and their team's accounts; another rep's is refused as if it did not exist.
        ("rep", {(1, "account_reference", "account"), (3, "reference", "repeat")}),
        # An integration key's write_orders scope is its right to write, on every account it can see.
        ("integration key", {(3, "reference", "repeat")}),
        ("manager", {(3, "reference", "repeat")}),
    ],
)
def test_the_same_rows_are_refused_for_the_same_reasons_either_way(world, situation, refused):
    OrderFactory(account=world.other_account, reference="SO-KEEP", revenue="5.00")
    before = orders()
    rows = [
        (world.rep_account, "SO-1", "2025-01-02", "100.00", "60.00"),
        (world.other_account, "SO-KEEP", "2025-01-02", "999.00", "0"),
        (world.team_account, "SO-2", "2025-01-02", "1.00", "0"),
        (world.rep_account, "SO-1", "2025-01-05", "101.00", "60.00"),  # repeats the first row
    ]
    api_user, importer = (getattr(world, name) for name in SITUATIONS[situation])
    (api_counts, api_refusals), after_api, (file_counts, file_refusals), after_import = both_ways(
        world, api_user, rows, importer=importer
    )
    assert api_refusals == file_refusals == refused
    assert api_counts is file_counts is None
    assert after_api == after_import == before  # all or nothing


def test_orders_before_1990_are_refused_either_way_with_one_message(world):
    rows = [
        (world.rep_account, "SO-1", "2025-01-02", "1.00", "0"),
        (world.rep_account, "SO-2", "1989-12-31", "1.00", "0"),
    ]
    (_, api_refusals), after_api, (_, file_refusals), after_import = both_ways(world, world.manager, rows)
    assert api_refusals == file_refusals == {(1, "date", BEFORE_EARLIEST)}
    assert after_api == after_import == []
    rows[1] = (world.rep_account, "SO-2", "1990-01-01", "1.00", "0")
    (api_counts, _), after_api, (file_counts, _), after_import = both_ways(world, world.manager, rows)
    assert api_counts == file_counts == {"created": 2, "updated": 0, "unchanged": 0}
    assert after_api == after_import


def test_only_the_import_takes_orders_without_a_reference(world):
    """The engine identifies such an order by its values; the API's contract requires a reference (resending
    an order updates it), so it refuses the row before the engine sees it."""
    rows = [
        (world.rep_account, "", "2025-01-02", "1.00", "0"),
        (world.rep_account, "", "2025-01-02", "1.00", "0"),
    ]
    (_, api_refusals), after_api, (file_counts, _), after_import = both_ways(world, world.manager, rows)
    assert api_refusals == {
        (0, "reference", "This field may not be blank."),
        (1, "reference", "This field may not be blank."),
    }
    assert after_api == []
    assert file_counts == {"created": 2, "updated": 0, "unchanged": 0}
    assert len(after_import) == 2


def test_an_integration_user_writes_orders_only_through_its_key(world):
    """accounts.access.writable_accounts: its key's write_orders scope is its right to write; without the key
    it may write nowhere, and the import says why instead of calling every account unknown."""
    rows = [(world.rep_account, "SO-1", "2025-01-02", "1.00", "0")]
    text = HEADER + f"{world.rep_account.reference},2025-01-02,1.00,0,SO-1\n"
    _, result = run("orders", text, user=world.integration)
    assert [(p["row"], p["message"]) for p in result.problems] == [(0, INTEGRATION_REFUSED)]
    row = {
        "account": world.rep_account.pk,
        "reference": "SO-1",
        "date": datetime.date(2025, 1, 2),
        "revenue": 1,
    }
    with pytest.raises(OrdersRefused):
        orders_upsert(user=world.integration, key=None, rows=[row])
    assert not Order.objects.exists()
    assert through_api(world, world.integration, rows) == (
        {"created": 1, "updated": 0, "unchanged": 0},
        set(),
    )


def test_the_service_names_the_field_that_named_the_account(world):
    row = {"reference": "SO-1", "date": datetime.date(2025, 1, 2), "revenue": 1, "variable_cost": 0}
    with pytest.raises(OrdersRefused) as refused:
        orders_upsert(
            user=world.rep,
            rows=[{**row, "account": world.other_account.pk}, {**row, "account_reference": "C-NOPE"}],
        )
    assert [(r.row, r.field) for r in refused.value.refusals] == [(0, "account"), (1, "account_reference")]
    assert not Order.objects.exists()


def test_the_bulk_endpoints_queries_do_not_grow_with_the_rows(world, django_assert_max_num_queries):
    accounts = [world.rep_account, world.team_account, *AccountFactory.create_batch(3)]
    client = api_client(world, world.integration)

    def batch(n: int, revenue: str) -> dict:
        return {
            "orders": [
                {
                    **(
                        {"account": accounts[i % 5].pk}
                        if i % 2
                        else {"account_reference": accounts[i % 5].reference}
                    ),
                    "reference": f"SO-{i}",
                    "date": "2025-01-02",
                    "revenue": revenue,
                }
                for i in range(n)
            ]
        }

    client.post(BULK, batch(1, "0.00"), format="json")  # records the key's use (then once a minute at most)
    counts = []
    for n in (5, 500):
        for revenue in ("1.00", "2.00"):  # creating, then updating
            with CaptureQueriesContext(connection) as captured:
                assert client.post(BULK, batch(n, revenue), format="json").status_code == 200
            counts.append(len(captured))
    assert counts[:2] == counts[2:]
    # Key and user, a savepoint, the staging table's life (drop, create, load, analyze where there is one,
    # drop), one lookup per way of naming accounts, the repeats, and the upsert with its counts.
    with django_assert_max_num_queries(12):
        response = client.post(BULK, batch(2000, "3.00"), format="json")
    assert response.json() == {"received": 2000, "created": 1500, "updated": 500, "unchanged": 0}


@pytest.mark.django_db(transaction=True)
def test_two_batches_creating_the_same_order_at_once_both_succeed(postgres, world):
    """The API's old engine (SELECT ... FOR UPDATE, then bulk_create) failed the second batch on the unique
    constraint; INSERT ... ON CONFLICT makes it wait for the first and then update the order."""
    row = {"account": world.rep_account.pk, "reference": "SO-1", "date": datetime.date(2025, 1, 2)}
    first_wrote, may_commit = threading.Event(), threading.Event()
    outcome = {}

    def first():
        try:
            with transaction.atomic():  # holds the new order uncommitted until the second batch waits for it
                outcome["first"] = orders_upsert(
                    user=world.manager, rows=[{**row, "revenue": 1, "variable_cost": 0}]
                )
                first_wrote.set()
                may_commit.wait(60)
        finally:
            connections.close_all()

    def second():
        try:
            outcome["second"] = orders_upsert(
                user=world.manager, rows=[{**row, "revenue": 2, "variable_cost": 0}]
            )
        except Exception as exc:  # reported below
            outcome["second"] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first)]
    threads[0].start()
    try:
        assert first_wrote.wait(60)
        threads.append(threading.Thread(target=second))
        threads[1].start()
        _wait_until_a_backend_waits_for_a_lock()
    finally:
        may_commit.set()  # whatever happened, the first batch must not hold its transaction open
        for thread in threads:
            thread.join(60)
    assert (outcome["first"].created, outcome["second"].updated) == (1, 1), outcome
    assert Order.objects.get(reference="SO-1").revenue == 2


def _wait_until_a_backend_waits_for_a_lock() -> None:
    with connection.cursor() as cursor:
        for _ in range(600):
            cursor.execute(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.1)
    raise AssertionError("the second batch never waited for the first")
