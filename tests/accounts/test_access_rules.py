"""Every access question has one answer, in accounts/access.py: a table of actors against the questions, then
the callers that used to write the rule out themselves (the account form, the API, the rating service).

The rule for ratings (and owners): managers, and integration users through their keys. The account form, the
API serializer and accounts.services.account_update all ask accounts.access.may_rate, so what one refuses no
other lets through."""

from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from rest_framework.test import APIClient

from accounts import access
from accounts.models import Account, Role
from accounts.services import account_update
from integrations.models import ApiKey
from kam.api.scopes import ApiScope
from scoring.api.views import MayRunScoring
from tests.factories import AccountFactory, UserFactory

ACTORS = (
    "superuser",
    "manager",
    "owner",
    "team member",
    "other rep",
    "integration",
    "inactive manager",
    "anonymous",
)
# fmt: off
#                     sees all  edits acct  rates  reassigns  runs scoring  key writes (integration)
EXPECTED = {
    "superuser":        (True,   True,       True,  True,      True,         False),
    "manager":          (True,   True,       True,  True,      True,         False),
    "owner":            (False,  True,       False, False,     False,        False),
    "team member":      (False,  True,       False, False,     False,        False),
    "other rep":        (False,  False,      False, False,     False,        False),
    "integration":      (True,   False,      True,  True,      False,        True),
    "inactive manager": (False,  False,      False, False,     False,        False),
    "anonymous":        (False,  False,      False, False,     False,        False),
}
# fmt: on


@pytest.fixture
def actors(world):
    world.team_account.owner = world.other_rep
    return {
        "superuser": UserFactory(username="root", role=Role.REP, is_superuser=True),
        "manager": world.manager,
        "owner": world.other_rep,
        "team member": world.rep,
        "other rep": world.colleague,
        "integration": world.integration,
        "inactive manager": UserFactory(username="gone", role=Role.MANAGER, is_active=False),
        "anonymous": AnonymousUser(),
    }


@pytest.mark.parametrize("name", ACTORS)
def test_each_actor_gets_one_answer_to_each_question(world, actors, name):
    user, account = actors[name], world.team_account
    key = object()  # any key: the rule asks whether one is present
    answers = (
        access.sees_everything(user),
        access.can_edit(user, account),
        access.may_rate(user),
        access.may_reassign(user),
        access.may_run_scoring(user),
        access.acts_as_integration(user, key),
    )
    assert answers == EXPECTED[name]
    # What the queryset shows agrees with sees_everything and with edit rights.
    visible = set(Account.objects.visible_to(user).values_list("pk", flat=True))
    everything = set(Account.objects.values_list("pk", flat=True))
    assert (visible == everything) == EXPECTED[name][0]
    if EXPECTED[name][1]:
        assert account.pk in visible
    # An integration key writes wherever it sees; without a key, nobody writes more than they can edit.
    assert access.may_write(user, account, key=key) == (EXPECTED[name][1] or EXPECTED[name][5])
    assert access.may_write(user, account) == EXPECTED[name][1]
    # The queryset forms give the same answers for this account as the one-row forms.
    assert Account.objects.editable_by(user).filter(pk=account.pk).exists() == EXPECTED[name][1]
    for with_key in (key, None):
        writable = access.writable_accounts(user, key=with_key).filter(pk=account.pk).exists()
        assert writable == access.may_write(user, account, key=with_key)
    # The API's run-scoring permission asks the same question.
    assert MayRunScoring().has_permission(SimpleNamespace(user=user), None) == EXPECTED[name][4]


def test_the_related_user_form_agrees_with_the_python_form(world, actors):
    """sees_everything_q decides for a related user inside one query (the digest, per action owner)."""
    owned = {}
    for name, user in actors.items():
        if user.is_authenticated:
            owned[name] = AccountFactory(name=f"owned by {name}", owner=user).pk
    matched = set(Account.objects.filter(access.sees_everything_q("owner")).values_list("pk", flat=True))
    # The role is what the query form carries; an inactive user is refused before any query is asked.
    assert matched == {owned[n] for n in owned if actors[n].sees_every_account}
    assert {n for n in owned if actors[n].sees_every_account} == {
        "superuser",
        "manager",
        "integration",
        "inactive manager",
    }


def test_the_rating_service_refuses_a_rep_and_changes_nothing(world):
    account = world.rep_account
    with pytest.raises(PermissionDenied, match="manager"):
        account_update(account=account, data={"image_rating": 5}, by=world.rep)
    account.refresh_from_db()
    assert (account.image_rating, account.ratings_by) == (None, None)


def test_the_service_refuses_a_rep_reassigning_and_changes_nothing(world):
    account = world.rep_account
    with pytest.raises(PermissionDenied, match="manager"):
        account_update(account=account, data={"owner": world.other_rep}, by=world.rep)
    assert Account.objects.get(pk=account.pk).owner == world.rep


def test_the_service_lets_a_rep_create_an_account_they_own_and_a_manager_rate_it(world):
    account = account_update(account=Account(), data={"name": "New", "owner": world.rep}, by=world.rep)
    assert account.owner == world.rep
    account = account_update(account=account, data={"image_rating": 4}, by=world.manager)
    assert (account.image_rating, account.ratings_by) == (4, world.manager)
    # The integration user may sync ratings too (the same rule the API applied before).
    account = account_update(account=account, data={"image_rating": 3}, by=world.integration)
    assert (account.image_rating, account.ratings_by) == (3, world.integration)


def test_the_account_form_offers_ratings_and_owner_exactly_to_who_may_set_them(world, client):
    for user, may in ((world.rep, False), (world.manager, True)):
        client.force_login(user)
        page = client.get(reverse("accounts:edit", args=[world.rep_account.pk])).content.decode()
        for field in ("image_rating", "owner"):
            tag = page[page.index(f'name="{field}"') - 200 : page.index(f'name="{field}"') + 200]
            assert ("disabled" not in tag) == may, (user, field)


def test_a_rep_key_rating_through_the_api_gets_a_clear_400_and_nothing_changes(world):
    _, raw = ApiKey.issue(
        name="rep", user=world.rep, scopes=[ApiScope.READ, ApiScope.WRITE_ACCOUNTS], created_by=world.rep
    )
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = api.patch(f"/api/v1/accounts/{world.rep_account.pk}/", {"image_rating": 5}, format="json")
    assert response.status_code == 400
    assert "manager" in response.content.decode()
    world.rep_account.refresh_from_db()
    assert world.rep_account.image_rating is None


def test_a_rep_sending_a_rating_through_the_account_form_changes_no_rating(world, client):
    """The form shows the ratings disabled ("A manager's rating."); a forged value is not taken."""
    client.force_login(world.rep)
    url = reverse("accounts:edit", args=[world.rep_account.pk])
    assert "A manager&#x27;s rating." in client.get(url).content.decode()
    response = client.post(
        url, {"name": "Rep's Own Account", "status": "active", "image_rating": "5", "strategic_rating": "1"}
    )
    assert response.status_code == 302
    world.rep_account.refresh_from_db()
    assert (world.rep_account.image_rating, world.rep_account.strategic_rating) == (None, None)
    assert world.rep_account.ratings_by is None


def test_a_manager_rates_through_the_same_form(world, client):
    client.force_login(world.manager)
    response = client.post(
        reverse("accounts:edit", args=[world.rep_account.pk]),
        {"name": "Rep's Own Account", "status": "active", "owner": world.rep.pk, "image_rating": "5"},
    )
    assert response.status_code == 302
    world.rep_account.refresh_from_db()
    assert (world.rep_account.image_rating, world.rep_account.ratings_by) == (5, world.manager)


def _key_client(world, user, scopes):
    _, raw = ApiKey.issue(name="test key", user=user, scopes=scopes, created_by=world.manager)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return api


def test_a_rep_reassigning_through_the_api_gets_a_clear_400_and_nothing_changes(world):
    api = _key_client(world, world.rep, [ApiScope.READ, ApiScope.WRITE_ACCOUNTS])
    url = f"/api/v1/accounts/{world.rep_account.pk}/"
    response = api.patch(url, {"owner": world.other_rep.pk, "name": "Renamed"}, format="json")
    assert response.status_code == 400
    assert access.REASSIGN_REFUSED in response.content.decode()
    account = Account.objects.get(pk=world.rep_account.pk)
    assert (account.owner, account.name) == (world.rep, "Rep's Own Account")


def test_a_reps_new_account_with_a_rating_is_refused_and_not_created(world):
    api = _key_client(world, world.rep, [ApiScope.READ, ApiScope.WRITE_ACCOUNTS])
    response = api.post("/api/v1/accounts/", {"name": "Rated by a rep", "image_rating": 4}, format="json")
    assert response.status_code == 400
    assert "manager" in response.content.decode()
    assert not Account.objects.filter(name="Rated by a rep").exists()


def test_an_integration_key_syncs_ratings_as_the_service_allows(world):
    api = _key_client(world, world.integration, [ApiScope.READ, ApiScope.WRITE_ACCOUNTS])
    response = api.patch(f"/api/v1/accounts/{world.other_account.pk}/", {"image_rating": 2}, format="json")
    assert response.status_code == 200
    world.other_account.refresh_from_db()
    assert (world.other_account.image_rating, world.other_account.ratings_by) == (2, world.integration)
