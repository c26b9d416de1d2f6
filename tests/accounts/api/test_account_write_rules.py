"""The rules of account writes through the REST API: hidden parents, defaults on create only, manager ratings,
order dates and the visit cadence range (with the form's messages)."""

import datetime

import pytest
from django.utils import timezone

from accounts.models import Account, AccountStatus, Order
from kam.api.scopes import ApiScope
from tests.factories import AccountFactory
from tests.fixtures.api import assert_problem

pytestmark = pytest.mark.django_db

LIST = "/api/v1/accounts/"
BULK = "/api/v1/orders/bulk/"


def detail(account) -> str:
    return f"{LIST}{account.pk}/"


@pytest.fixture
def group(world):
    """The rep's account is a subsidiary of a group account the rep cannot see."""
    holding = AccountFactory(name="Hidden Holding Group", owner=world.other_rep)
    Account.objects.filter(pk=world.rep_account.pk).update(parent=holding)
    return holding


@pytest.fixture
def rep_writer(world, key_for):
    return key_for(world.rep, [ApiScope.READ, ApiScope.WRITE_ACCOUNTS])


def editable(body: dict) -> dict:
    """What a client echoes back in a PUT: the writable fields as GET showed them."""
    fields = [
        "name",
        "reference",
        "industry",
        "country",
        "region",
        "status",
        "parent",
        "owner",
        "cadence_days",
    ]
    ratings = ["image_rating", "partnership_rating", "strategic_rating"]
    return {field: body[field] for field in [*fields, *ratings]}


# --- 1. A parent the rep cannot see -------------------------------------------------------------------------


def test_a_rep_does_not_see_the_id_of_a_parent_they_cannot_see(
    world, rep_writer, key_for, group, match_schema
):
    response = rep_writer.get(detail(world.rep_account))
    assert response.status_code == 200
    assert response.json()["parent"] is None
    match_schema(response, "/api/v1/accounts/{id}/")
    listed = {row["id"]: row for row in rep_writer.get(LIST).json()["results"]}
    assert listed[world.rep_account.pk]["parent"] is None
    assert key_for(world.manager).get(detail(world.rep_account)).json()["parent"] == group.pk


def test_a_rep_sees_a_visible_parent_as_before(world, rep_writer):
    Account.objects.filter(pk=world.rep_account.pk).update(parent=world.team_account)
    assert rep_writer.get(detail(world.rep_account)).json()["parent"] == world.team_account.pk


def test_a_put_echoing_what_get_showed_keeps_the_hidden_parent(world, rep_writer, group):
    body = editable(rep_writer.get(detail(world.rep_account)).json())
    response = rep_writer.put(detail(world.rep_account), {**body, "region": "Nordics"}, format="json")
    assert response.status_code == 200, response.content
    world.rep_account.refresh_from_db()
    assert (world.rep_account.parent_id, world.rep_account.region) == (group.pk, "Nordics")


@pytest.mark.parametrize("how", ["omitted", "null", "the stored id"])
def test_a_patch_that_omits_or_echoes_the_hidden_parent_keeps_it(world, rep_writer, group, how):
    payload = {"region": "Iberia"}
    if how != "omitted":
        payload["parent"] = None if how == "null" else group.pk
    response = rep_writer.patch(detail(world.rep_account), payload, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["parent"] is None
    world.rep_account.refresh_from_db()
    assert world.rep_account.parent_id == group.pk


def test_a_rep_cannot_move_an_account_out_of_a_group_they_cannot_see(world, rep_writer, group):
    response = rep_writer.patch(detail(world.rep_account), {"parent": world.team_account.pk}, format="json")
    assert "group you cannot see" in assert_problem(response, 400, field="parent")["errors"]["parent"][0]
    world.rep_account.refresh_from_db()
    assert world.rep_account.parent_id == group.pk


def test_another_hidden_account_is_still_not_a_valid_parent(world, rep_writer):
    response = rep_writer.patch(detail(world.rep_account), {"parent": world.other_account.pk}, format="json")
    assert_problem(response, 400, field="parent")


# --- 2. Defaults apply on create only -----------------------------------------------------------------------


def test_a_put_without_status_keeps_a_lost_account_lost(world, rep_writer):
    Account.objects.filter(pk=world.rep_account.pk).update(status=AccountStatus.LOST)
    response = rep_writer.put(detail(world.rep_account), {"name": "Renamed"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "lost"
    world.rep_account.refresh_from_db()
    assert (world.rep_account.name, world.rep_account.status) == ("Renamed", AccountStatus.LOST)


def test_a_new_account_without_status_is_active(world, rep_writer):
    response = rep_writer.post(LIST, {"name": "Fresh Customer"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "active"


# --- 4. Ratings are the manager's ---------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["image_rating", "partnership_rating", "strategic_rating"])
def test_a_reps_key_cannot_change_a_manager_rating(world, rep_writer, field):
    Account.objects.filter(pk=world.rep_account.pk).update(**{field: 3})
    response = rep_writer.patch(detail(world.rep_account), {field: 5}, format="json")
    message = assert_problem(response, 400, field=field)["errors"][field][0]
    assert "manager's judgement" in message
    response = rep_writer.patch(detail(world.rep_account), {field: None}, format="json")
    assert_problem(response, 400, field=field)
    world.rep_account.refresh_from_db()
    assert getattr(world.rep_account, field) == 3
    assert world.rep_account.ratings_by is None


def test_a_reps_key_may_echo_the_current_ratings(world, rep_writer):
    Account.objects.filter(pk=world.rep_account.pk).update(image_rating=4, partnership_rating=2)
    body = editable(rep_writer.get(detail(world.rep_account)).json())
    response = rep_writer.put(detail(world.rep_account), {**body, "region": "DACH"}, format="json")
    assert response.status_code == 200, response.content
    world.rep_account.refresh_from_db()
    assert (world.rep_account.image_rating, world.rep_account.region) == (4, "DACH")


def test_a_reps_key_cannot_rate_a_new_account(world, rep_writer):
    response = rep_writer.post(LIST, {"name": "Self-rated", "image_rating": 5}, format="json")
    assert_problem(response, 400, field="image_rating")
    assert not Account.objects.filter(name="Self-rated").exists()


def test_managers_and_integration_keys_still_rate(world, key_for):
    for user, value in ((world.manager, 5), (world.integration, 2)):
        client = key_for(user, [ApiScope.READ, ApiScope.WRITE_ACCOUNTS])
        response = client.patch(detail(world.rep_account), {"image_rating": value}, format="json")
        assert response.status_code == 200, response.content
        world.rep_account.refresh_from_db()
        assert (world.rep_account.image_rating, world.rep_account.ratings_by) == (value, user)


def test_the_schema_says_ratings_are_the_managers(openapi):
    schema = openapi["components"]["schemas"]
    properties = schema["AccountWriteRequest"]["properties"]
    for field in ("image_rating", "partnership_rating", "strategic_rating"):
        assert "only managers and integration keys may set it" in properties[field]["description"]


# --- 8. Order dates and cadence range -----------------------------------------------------------------------


@pytest.fixture
def erp(world, key_for):
    return key_for(world.integration, [ApiScope.READ, ApiScope.WRITE_ORDERS])


def order(account, reference, date):
    return {"account": account.pk, "reference": reference, "date": date, "revenue": "100.00"}


@pytest.mark.parametrize(
    ("date", "message"),
    [
        ("0001-01-01", "Orders dated before 1990-01-01 are refused"),
        ("1989-12-31", "Orders dated before 1990-01-01 are refused"),
        ("2099-11-01", "An order cannot be dated in the future"),
        ("tomorrow", "An order cannot be dated in the future"),
    ],
)
def test_orders_dated_in_the_future_or_before_1990_are_refused(world, erp, date, message):
    if date == "tomorrow":
        date = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    batch = {
        "orders": [order(world.rep_account, "SO-1", "2026-01-05"), order(world.rep_account, "SO-2", date)]
    }
    body = assert_problem(erp.post(BULK, batch, format="json"), 400, field="orders[1].date")
    assert message in body["errors"]["orders[1].date"][0]
    assert not Order.objects.exists()


def test_orders_dated_today_and_on_the_first_of_1990_are_accepted(world, erp):
    today = timezone.localdate().isoformat()
    batch = {
        "orders": [order(world.rep_account, "SO-1", today), order(world.rep_account, "SO-2", "1990-01-01")]
    }
    response = erp.post(BULK, batch, format="json")
    assert response.status_code == 200, response.content
    assert Order.objects.count() == 2


@pytest.mark.parametrize("days", [0, 3651])
def test_cadence_outside_one_to_3650_days_has_the_same_message_as_the_form(world, rep_writer, days):
    response = rep_writer.patch(detail(world.rep_account), {"cadence_days": days}, format="json")
    body = assert_problem(response, 400, field="cadence_days")
    assert body["errors"]["cadence_days"] == ["Visit every 1 to 3,650 days (ten years at most)."]
