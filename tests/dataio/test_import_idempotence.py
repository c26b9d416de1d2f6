"""Re-importing the same file changes nothing; a changed row updates by reference; rows without one are
identified by their values. Every kind, and the query count does not grow with the rows."""

import datetime
from decimal import Decimal

import pytest

from accounts.models import Account, Order, Visit
from profiles.models import BuyingInfluencer
from tests.factories import AccountFactory
from tests.fixtures.imports import run

pytestmark = pytest.mark.django_db

HEADER = "account_reference,date,revenue,variable_cost,reference\n"


@pytest.fixture
def acme(world):
    return AccountFactory(reference="C-1", name="Acme", owner=world.rep)


def plan(record):
    return record.rows_created, record.rows_updated, record.rows_unchanged


def test_reimporting_orders_changes_nothing_and_a_changed_row_updates(world, acme):
    text = (
        HEADER
        + "C-1,2025-01-01,100,60,SO-1\nC-1,2025-01-02,200,,SO-2\nC-1,2025-01-03,50,10,\nC-1,2025-01-03,50,10,\n"
    )
    first, _ = run("orders", text, user=world.manager)
    assert plan(first) == (4, 0, 0)
    stamps = dict(Order.objects.values_list("id", "updated_at"))
    again, _ = run("orders", text, user=world.manager)
    assert plan(again) == (0, 0, 4)
    assert dict(Order.objects.values_list("id", "updated_at")) == stamps  # not even touched
    changed, _ = run(
        "orders", text.replace("C-1,2025-01-02,200,,SO-2", "C-1,2025-01-02,250,,SO-2"), user=world.manager
    )
    assert plan(changed) == (0, 1, 3)
    assert Order.objects.get(reference="SO-2").revenue == Decimal("250.00")
    assert Order.objects.filter(reference="").count() == 2  # identical lines without reference: two orders


def test_orders_without_reference_add_only_what_is_missing(world, acme):
    run("orders", HEADER + "C-1,2025-01-03,50,10,\n", user=world.manager)
    record, _ = run("orders", HEADER + "C-1,2025-01-03,50,10,\nC-1,2025-01-03,50,10,\n", user=world.manager)
    assert plan(record) == (1, 0, 1)
    assert Order.objects.filter(account=acme, reference="").count() == 2


def test_dry_run_counts_and_writes_nothing(world, acme):
    record, _ = run("orders", HEADER + "C-1,2025-01-01,100,60,SO-1\n", user=world.manager, dry_run=True)
    assert (record.status, plan(record)) == ("checked", (1, 0, 0))
    assert Order.objects.count() == 0


def test_reimporting_accounts_changes_nothing(world):
    text = (
        "reference,name,parent_reference,owner,industry,region,image_rating,partnership_rating\n"
        "G-1,Group,,rep,Food,North,4,5\n"
        "G-2,Daughter,G-1,other_rep@example.com,Food,South,,2\n"
    )
    first, _ = run("accounts", text, user=world.manager)
    assert plan(first) == (2, 0, 0)
    daughter = Account.objects.select_related("parent", "owner").get(reference="G-2")
    assert (daughter.parent.reference, daughter.owner, daughter.partnership_rating) == (
        "G-1",
        world.other_rep,
        2,
    )
    assert Account.objects.get(reference="G-1").ratings_by == world.manager
    history = Account.history.count()
    again, _ = run("accounts", text, user=world.manager)
    assert plan(again) == (0, 0, 2)
    assert Account.history.count() == history
    moved, _ = run("accounts", text.replace("G-2,Daughter,G-1", "G-2,Daughter,"), user=world.manager)
    assert plan(moved) == (0, 1, 1)
    assert Account.objects.get(reference="G-2").parent is None


def test_unmapped_account_columns_are_left_alone(world):
    AccountFactory(reference="K-1", name="Old name", region="West", owner=world.rep)
    record, _ = run("accounts", "reference,name\nK-1,New name\n", user=world.manager)
    account = Account.objects.get(reference="K-1")
    assert (account.name, account.region, account.owner) == ("New name", "West", world.rep)
    assert plan(record) == (0, 1, 0)


def test_influencers_import_with_reporting_lines_and_reimport(world, acme):
    text = (
        "account_reference,reference,name,title,function,buying_role,influence,stance,reports_to_reference\n"
        "C-1,P-1,Ann Boss,CEO,Management,decision_maker,5,champion,\n"
        "C-1,,Bob Buyer,Buyer,Purchasing,Gatekeeper / purchaser,3,-1,Ann Boss\n"
    )
    first, result = run("influencers", text, user=world.manager)
    assert result.ok, result.problems
    assert plan(first) == (2, 0, 0)
    bob = BuyingInfluencer.objects.select_related("reports_to").get(name="Bob Buyer")
    assert (bob.reports_to.name, bob.buying_role, bob.stance) == ("Ann Boss", "gatekeeper", -1)
    again, _ = run("influencers", text, user=world.manager)
    assert plan(again) == (0, 0, 2)


def test_influencer_reporting_loop_is_refused(world, acme):
    text = "account_reference,reference,name,reports_to_reference\nC-1,P-1,Ann,P-2\nC-1,P-2,Bob,P-1\n"
    _, result = run("influencers", text, user=world.manager)
    assert {p["column"] for p in result.problems} == {"reports_to_reference"}
    assert not BuyingInfluencer.objects.exists()


def test_visits_import_rolls_up_last_contact_and_reimport_changes_nothing(world, acme):
    text = (
        "account_reference,date,kind,summary,logged_by\n"
        "C-1,2025-05-01,on_site,Quarterly review,rep\n"
        "C-1,2025-06-01,Phone call,Follow-up,\n"
    )
    first, result = run("visits", text, user=world.manager)
    assert result.ok, result.problems
    assert plan(first) == (2, 0, 0)
    acme.refresh_from_db()
    assert acme.last_contact_date == datetime.date(2025, 6, 1)
    assert Visit.objects.get(summary="Quarterly review").logged_by == world.rep
    again, _ = run("visits", text, user=world.manager)
    assert plan(again) == (0, 0, 2)
    assert Visit.objects.count() == 2


def _orders_file(n: int) -> str:
    return HEADER + "".join(f"C-1,2025-01-{1 + i % 28:02d},{i},0,SO-{i}\n" for i in range(n))


@pytest.mark.parametrize("kind", ["orders", "accounts", "visits"])
def test_the_number_of_queries_does_not_grow_with_the_rows(world, acme, django_assert_num_queries, kind):
    def file(n):
        if kind == "orders":
            return _orders_file(n)
        if kind == "accounts":
            return "reference,name,owner\n" + "".join(f"N-{i},Name {i},rep\n" for i in range(n))
        return "account_reference,date,summary\n" + "".join(
            f"C-1,2025-01-{1 + i % 28:02d},Visit {i}\n" for i in range(n)
        )

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for n in (3, 20):  # both within one batch of the bulk writes, even on SQLite (999 parameters)
        Order.objects.all().delete()
        with CaptureQueriesContext(connection) as captured:
            _, result = run(kind, file(n), user=world.manager)
        assert result.ok, result.problems
        counts.append(len(captured))
        Account.objects.filter(reference__startswith="N-").delete()
        Visit.objects.all().delete()
    assert counts[0] == counts[1]


def test_visit_costs_import_as_written_and_empty_means_not_known(world, acme):
    text = (
        "account_reference,date,kind,summary,cost\n"
        'C-1,2025-05-01,on_site,Plant tour,"1,250.50"\n'
        "C-1,2025-05-02,phone_call,Call,\n"
    )
    first, result = run("visits", text, user=world.manager)
    assert result.ok, result.problems
    assert plan(first) == (2, 0, 0)
    assert dict(Visit.objects.values_list("summary", "cost")) == {
        "Plant tour": Decimal("1250.50"),
        "Call": None,
    }
    again, _ = run("visits", text, user=world.manager)
    assert plan(again) == (0, 0, 2)


def test_a_negative_visit_cost_names_its_row_and_writes_nothing(world, acme):
    text = "account_reference,date,summary,cost\nC-1,2025-05-01,Fine,10\nC-1,2025-05-02,Refund?,-5\n"
    _, result = run("visits", text, user=world.manager)
    assert not result.ok
    assert [(p["row"], p["column"]) for p in result.problems] == [(3, "cost")]
    assert "negative" in result.problems[0]["message"]
    assert not Visit.objects.exists()


def test_identical_visits_keep_each_their_own_cost(world, acme):
    text = "account_reference,date,summary,cost\nC-1,2025-05-01,Call,10\nC-1,2025-05-01,Call,20\n"
    _, result = run("visits", text, user=world.manager)
    assert result.ok, result.problems
    assert sorted(Visit.objects.values_list("cost", flat=True)) == [Decimal("10"), Decimal("20")]


def test_a_visit_cost_too_large_for_the_database_is_a_problem_of_its_row(world, acme):
    text = "account_reference,date,summary,cost\nC-1,2025-05-01,Call,10000000000\n"
    _, result = run("visits", text, user=world.manager)
    assert [(p["row"], p["column"]) for p in result.problems] == [(2, "cost")]
    assert "too large" in result.problems[0]["message"]
    assert not Visit.objects.exists()
