"""Accounts over REST: who sees what (sessions and keys, every role), filters, hierarchy, writes."""

import datetime

import pytest
from django.utils import timezone

from accounts.models import Account
from kam.api.scopes import ApiScope
from tests.factories import AccountFactory, TeamMemberFactory
from tests.fixtures.api import assert_problem

pytestmark = pytest.mark.django_db

LIST = "/api/v1/accounts/"


def names(response):
    assert response.status_code == 200, response.content
    return sorted(row["name"] for row in response.json()["results"])


MINE = ["Rep's Own Account", "Team Account"]
EVERYTHING = ["Other Rep's Account", "Rep's Own Account", "Team Account"]


def test_a_rep_sees_their_own_and_team_accounts_by_session(world, session_as, match_schema):
    response = session_as(world.rep).get(LIST)
    assert names(response) == MINE
    match_schema(response, LIST)


def test_a_reps_key_sees_exactly_what_the_rep_sees(world, key_for):
    assert names(key_for(world.rep, ["read"]).get(LIST)) == MINE


@pytest.mark.parametrize("how", ["session", "key"])
def test_another_reps_account_does_not_exist_for_a_rep(world, session_as, key_for, how):
    client = session_as(world.rep) if how == "session" else key_for(world.rep, ["read"])
    response = client.get(f"{LIST}{world.other_account.pk}/")
    assert_problem(response, 404)
    assert_problem(client.get(f"{LIST}{world.other_account.pk}/visits/"), 404)


def test_the_other_rep_sees_only_theirs(world, session_as):
    assert names(session_as(world.other_rep).get(LIST)) == ["Other Rep's Account", "Team Account"]


def test_managers_and_integration_keys_see_every_account(world, session_as, key_for):
    assert names(session_as(world.manager).get(LIST)) == EVERYTHING
    assert names(key_for(world.integration, ["read"]).get(LIST)) == EVERYTHING


def test_an_account_shows_its_parent_and_only_the_children_you_can_see(world, key_for, match_schema):
    parent = world.rep_account
    hidden_child = AccountFactory(name="Hidden Sub", parent=parent, owner=world.other_rep)
    own_child = AccountFactory(name="Own Sub", parent=parent, owner=world.rep)
    url = f"{LIST}{parent.pk}/"
    response = key_for(world.rep, ["read"]).get(url)
    assert response.json()["children"] == [own_child.pk]
    assert key_for(world.manager).get(url).json()["children"] == sorted([own_child.pk, hidden_child.pk])
    child = key_for(world.rep, ["read"]).get(f"{LIST}{own_child.pk}/").json()
    assert child["parent"] == parent.pk
    match_schema(response, "/api/v1/accounts/{id}/")


def test_filters(world, key_for):
    Account.objects.filter(pk=world.rep_account.pk).update(tier="A", region="DACH", industry="Steel")
    world.other_account.is_key, world.other_account.key_since = True, datetime.date(2025, 1, 1)
    world.other_account.key_reason = "Strategic"
    world.other_account.save()
    client = key_for(world.manager)
    assert names(client.get(LIST, {"tier": "A"})) == ["Rep's Own Account"]
    assert names(client.get(LIST, {"is_key": "true"})) == ["Other Rep's Account"]
    assert names(client.get(LIST, {"owner": world.other_rep.pk})) == ["Other Rep's Account", "Team Account"]
    assert names(client.get(LIST, {"region": "DACH"})) == ["Rep's Own Account"]
    assert names(client.get(LIST, {"industry": "Steel"})) == ["Rep's Own Account"]
    assert names(client.get(LIST, {"reference": world.team_account.reference})) == ["Team Account"]
    later = timezone.now() + datetime.timedelta(seconds=1)
    Account.objects.filter(pk=world.team_account.pk).update(updated_at=later + datetime.timedelta(hours=1))
    assert names(client.get(LIST, {"updated_since": later.isoformat()})) == ["Team Account"]
    ordered = client.get(LIST, {"ordering": "-updated_at"}).json()["results"]
    assert ordered[0]["name"] == "Team Account"


def test_listing_accounts_costs_a_fixed_number_of_queries(world, key_for, django_assert_max_num_queries):
    for _n in range(30):
        parent = AccountFactory(owner=world.rep)
        AccountFactory(owner=world.rep, parent=parent)
        TeamMemberFactory(account=AccountFactory(owner=world.other_rep), user=world.rep)
    client = key_for(world.rep, ["read"])
    client.get(LIST)  # warm the key's last_used_at write
    # key lookup, count, page, visible children
    with django_assert_max_num_queries(4):
        response = client.get(LIST, {"page_size": 200})
    assert response.json()["count"] == 92


def test_page_size_is_capped(world, key_for):
    for _ in range(5):
        AccountFactory(owner=world.rep)
    with pytest.MonkeyPatch.context() as patch:
        from kam.api.pagination import PagePagination

        patch.setattr(PagePagination, "max_page_size", 3)
        body = key_for(world.manager).get(LIST, {"page_size": 1000}).json()
    assert len(body["results"]) == 3
    assert body["next"]


def test_a_reps_key_creates_an_account_that_the_rep_owns(world, key_for, match_schema):
    client = key_for(world.rep, [ApiScope.READ, ApiScope.WRITE_ACCOUNTS])
    response = client.post(
        LIST, {"name": "Fresh Prospect", "reference": "C-NEW-1", "country": "de"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["owner"], body["country"], body["status"]) == (world.rep.pk, "DE", "active")
    assert response["Location"] == f"{LIST}{body['id']}/"
    match_schema(response, LIST, "post")
    assert names(client.get(LIST)) == ["Fresh Prospect", *MINE]


def test_a_rep_cannot_assign_an_owner(world, key_for):
    client = key_for(world.rep, [ApiScope.WRITE_ACCOUNTS])
    response = client.post(LIST, {"name": "X", "owner": world.other_rep.pk}, format="json")
    assert assert_problem(response, 400, field="owner")["errors"]["owner"] == [
        "Reassigning accounts is a manager's decision."
    ]


def test_an_integration_key_with_write_accounts_assigns_the_owner(world, key_for):
    client = key_for(world.integration, [ApiScope.WRITE_ACCOUNTS, ApiScope.READ])
    response = client.post(LIST, {"name": "From ERP", "owner": world.other_rep.pk}, format="json")
    assert response.status_code == 201
    assert response.json()["owner"] == world.other_rep.pk


def test_a_parent_must_be_visible(world, key_for):
    client = key_for(world.rep, [ApiScope.WRITE_ACCOUNTS])
    response = client.post(LIST, {"name": "Sub", "parent": world.other_account.pk}, format="json")
    assert_problem(response, 400, field="parent")


def test_updates_respect_the_access_rules(world, key_for, session_as, match_schema):
    rep = key_for(world.rep, [ApiScope.READ, ApiScope.WRITE_ACCOUNTS])
    assert_problem(rep.patch(f"{LIST}{world.other_account.pk}/", {"region": "X"}, format="json"), 404)
    response = rep.patch(f"{LIST}{world.team_account.pk}/", {"region": "Nordics"}, format="json")
    assert response.status_code == 200
    assert response.json()["region"] == "Nordics"
    match_schema(response, "/api/v1/accounts/{id}/", "patch")
    read_only = key_for(world.rep, [ApiScope.READ])
    assert_problem(read_only.patch(f"{LIST}{world.team_account.pk}/", {"region": "Y"}, format="json"), 403)


def test_a_manager_rating_records_who_rated(world, session_as):
    client = session_as(world.manager)
    response = client.patch(f"{LIST}{world.rep_account.pk}/", {"image_rating": 4}, format="json")
    assert response.status_code == 200
    world.rep_account.refresh_from_db()
    assert (world.rep_account.image_rating, world.rep_account.ratings_by) == (4, world.manager)


def test_a_put_of_the_same_account_writes_no_history(world, key_for):
    """An integration syncing its CRM every night sends every account as it is: only changes are audited."""
    client = key_for(world.manager)
    url = f"{LIST}{world.rep_account.pk}/"
    same = {"name": world.rep_account.name, "reference": world.rep_account.reference, "region": "DACH"}
    client.patch(url, {"region": "DACH"}, format="json")
    versions = world.rep_account.history.count()
    for _ in range(3):
        response = client.put(url, same, format="json")
        assert response.status_code == 200
        assert response.json()["region"] == "DACH"
    assert world.rep_account.history.count() == versions
    client.put(url, {**same, "region": "Nordics"}, format="json")
    assert world.rep_account.history.count() == versions + 1


def test_a_put_needs_the_required_fields(world, key_for):
    client = key_for(world.manager)
    url = f"{LIST}{world.rep_account.pk}/"
    response = client.put(url, {"name": "Renamed", "reference": "C-RENAMED"}, format="json")
    assert (response.json()["name"], response.json()["reference"]) == ("Renamed", "C-RENAMED")
    assert_problem(client.put(url, {"reference": "no name"}, format="json"), 400, field="name")


def test_a_hierarchy_loop_is_a_400_problem(world, key_for):
    client = key_for(world.manager)
    child = AccountFactory(parent=world.rep_account, owner=world.rep)
    response = client.patch(f"{LIST}{world.rep_account.pk}/", {"parent": child.pk}, format="json")
    assert "loop" in assert_problem(response, 400, field="parent")["errors"]["parent"][0]
