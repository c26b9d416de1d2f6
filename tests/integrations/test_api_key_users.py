"""API keys act as their maker, a rep or an integration user, and the audit trail names the key (issue 17)."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from integrations.models import ApiKey
from kam.api.scopes import ApiScope
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NEW_KEY = "/settings/integrations/keys/new/"


@pytest.fixture
def other_manager(world):
    return UserFactory(username="other_manager", role=Role.MANAGER)


@pytest.fixture
def superuser(world):
    return UserFactory(username="root", role=Role.REP, is_superuser=True, is_staff=True)


def manager_client(world):
    client = Client()
    client.force_login(world.manager)
    return client


@pytest.mark.parametrize("whom", ["other_manager", "superuser"])
def test_a_manager_cannot_make_a_key_acting_as_another_manager_or_the_superuser(world, request, whom):
    target = request.getfixturevalue(whom)
    response = manager_client(world).post(NEW_KEY, {"name": "as them", "user": target.pk, "scopes": ["read"]})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not ApiKey.objects.exists()


def test_the_key_form_offers_only_the_people_a_key_may_act_as(world, other_manager, superuser):
    choices = {
        str(user) for user in manager_client(world).get(NEW_KEY).context["form"].fields["user"].queryset
    }
    assert {str(world.manager), str(world.rep), str(world.integration)} <= choices
    assert str(other_manager) not in choices
    assert str(superuser) not in choices


def test_a_manager_still_makes_keys_for_themselves_a_rep_and_an_integration_user(world):
    client = manager_client(world)
    for user in (world.manager, world.rep, world.integration):
        response = client.post(NEW_KEY, {"name": f"for {user}", "user": user.pk, "scopes": ["read"]})
        assert "Your new API key" in response.content.decode()
    assert {key.user for key in ApiKey.objects.all()} == {world.manager, world.rep, world.integration}


def test_issuing_a_key_for_another_manager_is_refused_by_the_model_too(world, other_manager):
    with pytest.raises(ValidationError) as refused:
        ApiKey.issue(name="x", user=other_manager, scopes=[ApiScope.READ], created_by=world.manager)
    assert refused.value.message_dict["user"] == [
        "A key acts as the manager who makes it, a rep, or an integration user: never as another manager."
    ]
    assert not ApiKey.objects.exists()


def test_a_key_made_before_the_rule_acting_as_the_superuser_stops_working(world, superuser):
    key, raw = ApiKey.issue(name="old", user=superuser, scopes=[ApiScope.READ], created_by=superuser)
    ApiKey.objects.filter(pk=key.pk).update(created_by=world.manager)  # as the old form let a manager do
    response = Client().get("/api/v1/accounts/", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 401
    assert "its maker may not act as" in response.json()["detail"]


# --- The audit trail names the key --------------------------------------------------------------------------


@pytest.fixture
def changed_through_a_key(world):
    _, raw = ApiKey.issue(
        name="ERP sync", user=world.integration, scopes=[ApiScope.WRITE_ACCOUNTS], created_by=world.manager
    )
    response = Client().patch(
        f"/api/v1/accounts/{world.rep_account.pk}/",
        json.dumps({"industry": "Chemicals"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )
    assert response.status_code == 200
    return ApiKey.objects.get(name="ERP sync")


def test_a_change_through_a_key_records_the_key_as_well_as_its_user(world, changed_through_a_key):
    latest = world.rep_account.history.latest()
    assert latest.history_user == world.integration
    assert latest.history_api_key == f"ERP sync (kam_{changed_through_a_key.prefix}…)"


def test_the_audit_pages_show_the_key(world, changed_through_a_key):
    client = manager_client(world)
    label = f"through API key ERP sync (kam_{changed_through_a_key.prefix}…)"
    assert label in client.get(reverse("audit:list")).content.decode()
    record = client.get(reverse("audit:record", args=["account", world.rep_account.pk]))
    assert label in record.content.decode()


def test_a_change_in_the_browser_names_no_key(world):
    client = Client()
    client.force_login(world.rep)
    client.post(reverse("profiles:edit", args=[world.rep_account.pk]), {"mission": "Feed Europe."})
    latest = world.rep_account.profile.history.latest()
    assert (latest.history_user, latest.history_api_key) == (world.rep, "")
