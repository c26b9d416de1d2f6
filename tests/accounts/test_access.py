"""Who may see what: every role against every page that exists, through the one access helper."""

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import reverse

from accounts.access import get_account_for_user
from accounts.models import Account
from tests.factories import InfluencerFactory

pytestmark = pytest.mark.django_db


def names(qs):
    return sorted(qs.values_list("name", flat=True))


def test_rep_sees_owned_and_team_accounts_only(world):
    assert names(Account.objects.visible_to(world.rep)) == ["Rep's Own Account", "Team Account"]


def test_the_team_subquery_of_a_reps_accounts_is_not_sorted(world):
    # AccountTeamMember is ordered by function and username: kept in the subquery, that ordering would join the
    # users and sort the rep's team rows on every query a rep's page makes.
    sql = str(Account.objects.visible_to(world.rep).order_by().query)
    subquery = sql[sql.index("accounts_accountteammember") :]
    assert "ORDER BY" not in subquery
    assert "accounts_user" not in subquery


def test_manager_and_integration_see_everything(world):
    assert Account.objects.visible_to(world.manager).count() == 3
    assert Account.objects.visible_to(world.integration).count() == 3


def test_inactive_and_anonymous_users_see_nothing(world):
    from django.contrib.auth.models import AnonymousUser

    world.rep.is_active = False
    assert not Account.objects.visible_to(world.rep).exists()
    assert not Account.objects.visible_to(AnonymousUser()).exists()


def test_rep_cannot_open_another_reps_account(world):
    with pytest.raises(Http404):
        get_account_for_user(world.rep, world.other_account.pk)


def test_integration_user_reads_but_cannot_write(world):
    assert get_account_for_user(world.integration, world.rep_account.pk) == world.rep_account
    with pytest.raises(PermissionDenied):
        get_account_for_user(world.integration, world.rep_account.pk, write=True)


def test_team_member_can_write(world):
    assert get_account_for_user(world.rep, world.team_account.pk, write=True) == world.team_account


def test_garbage_id_is_404_not_500(world):
    with pytest.raises(Http404):
        get_account_for_user(world.manager, "not-a-number")


def _pages(world):
    """Every page that exists, with the account it belongs to (None: not account-scoped)."""
    acc = world.other_account
    person = InfluencerFactory(account=acc)
    return [
        ("home", None, None),
        ("accounts:list", None, None),
        ("accounts:create", None, None),
        ("accounts:detail", [acc.pk], "read"),
        ("accounts:edit", [acc.pk], "write"),
        ("accounts:visit_create", [acc.pk], "write"),
        ("accounts:issue_create", [acc.pk], "write"),
        ("accounts:team_add", [acc.pk], "write"),
        ("accounts:designation", [acc.pk], "manager"),
        ("profiles:edit", [acc.pk], "write"),
        ("profiles:history", [acc.pk], "read"),
        ("profiles:influencer_create", [acc.pk], "write"),
        ("profiles:influencer_edit", [person.pk], "write"),
    ]


# Expected status by role for the pages above, on an account owned by `other_rep`.
EXPECTED = {
    # role: {scope: status}
    "anonymous": {None: 302, "read": 302, "write": 302, "manager": 302},
    "rep": {None: 200, "read": 404, "write": 404, "manager": 403},
    "other_rep": {None: 200, "read": 200, "write": 200, "manager": 403},
    "manager": {None: 200, "read": 200, "write": 200, "manager": 200},
    "integration": {None: 403, "read": 403, "write": 403, "manager": 403},
}


@pytest.mark.parametrize("role", list(EXPECTED))
def test_every_page_for_every_role(world, client, role):
    if role != "anonymous":
        client.force_login(getattr(world, role))
    for name, args, scope in _pages(world):
        response = client.get(reverse(name, args=args))
        expected = EXPECTED[role][scope]
        assert response.status_code == expected, f"{role} GET {name}: {response.status_code} != {expected}"
        if expected == 302:
            assert response["Location"].startswith(reverse("login"))


def test_rep_list_shows_only_their_accounts(world, client):
    client.force_login(world.rep)
    body = client.get(reverse("accounts:list")).content.decode()
    assert "Rep&#x27;s Own Account" in body
    assert "Team Account" in body
    assert "Other Rep" not in body


def test_rep_cannot_post_a_visit_to_another_reps_account(world, client):
    client.force_login(world.rep)
    response = client.post(
        reverse("accounts:visit_create", args=[world.other_account.pk]),
        {"date": "2026-01-05", "kind": "meeting", "summary": "sneaky"},
    )
    assert response.status_code == 404
    assert not world.other_account.visits.exists()


def test_rep_cannot_edit_influencer_of_another_rep(world, client):
    person = InfluencerFactory(account=world.other_account, name="Hidden Person")
    client.force_login(world.rep)
    response = client.post(reverse("profiles:influencer_edit", args=[person.pk]), {"name": "Changed"})
    assert response.status_code == 404
    person.refresh_from_db()
    assert person.name == "Hidden Person"
