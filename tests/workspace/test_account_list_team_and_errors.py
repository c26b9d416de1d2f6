"""The account list as a rep uses it (search, filters, sorting, pagination, the htmx fragment), the account
team and service problems on the account page, and the friendly error pages."""

import datetime
import re

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountTeamMember, Role, ServiceIssue
from tests.factories import AccountFactory, UserFactory

pytestmark = pytest.mark.django_db


def _names(response) -> list[str]:
    """The account names in the list, in the order shown."""
    return [account.name for account in response.context["page"].object_list]


@pytest.fixture
def rep_list(world, client):
    """The rep's own account plus five more of theirs, varied in tier, key, region and industry."""
    today = timezone.localdate()
    specs = [
        ("Alpha Foods", "A", True, "North", "Food"),
        ("Bravo Chemicals", "B", False, "South", "Chemicals"),
        ("Charlie Retail", "C", False, "North", "Retail"),
        ("Delta Foods", "D", False, "South", "Food"),
        ("Echo Labs", "B", True, "North", "Chemicals"),
    ]
    for i, (name, tier, key, region, industry) in enumerate(specs):
        AccountFactory(
            name=name,
            owner=world.rep,
            tier=tier,
            score=90 - 10 * i,
            rank=i + 1,
            is_key=key,
            key_since=today if key else None,
            key_reason="Partner" if key else "",
            region=region,
            industry=industry,
        )
    client.force_login(world.rep)
    return client


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "foods"}, ["Alpha Foods", "Delta Foods"]),
        ({"tier": "B"}, ["Bravo Chemicals", "Echo Labs"]),
        ({"key": "yes"}, ["Alpha Foods", "Echo Labs"]),
        ({"region": "South"}, ["Bravo Chemicals", "Delta Foods"]),
        ({"industry": "Retail"}, ["Charlie Retail"]),
        ({"tier": "A", "region": "South"}, []),
    ],
)
def test_account_list_filters(rep_list, query, expected):
    response = rep_list.get(reverse("accounts:list"), query)
    assert _names(response) == expected
    assert f"{len(expected)} account" in response.content.decode()


def test_account_list_sorts_by_score_and_ignores_an_unknown_sort(rep_list, world):
    by_score = _names(rep_list.get(reverse("accounts:list"), {"sort": "-score", "key": "yes"}))
    assert by_score == ["Alpha Foods", "Echo Labs"]
    by_name = _names(rep_list.get(reverse("accounts:list"), {"sort": "drop table", "tier": "B"}))
    assert by_name == ["Bravo Chemicals", "Echo Labs"]


def test_account_list_shows_lapsed_cadence_only_when_asked(rep_list, world):
    lapsed = AccountFactory(name="Foxtrot Lapsed", owner=world.rep)
    type(lapsed).objects.filter(pk=lapsed.pk).update(
        target_cadence_days=30, next_contact_due=timezone.localdate() - datetime.timedelta(days=3)
    )
    assert _names(rep_list.get(reverse("accounts:list"), {"lapsed": "1"})) == ["Foxtrot Lapsed"]
    html = rep_list.get(reverse("accounts:list")).content.decode()
    assert "Foxtrot Lapsed" in html
    assert "Lapsed" in html


def test_account_list_pages_by_25_and_keeps_the_filters_in_the_links(world, client):
    for i in range(30):
        AccountFactory(name=f"Paged {i:02d}", owner=world.rep, region="West")
    client.force_login(world.rep)
    first = client.get(reverse("accounts:list"), {"region": "West"})
    assert len(_names(first)) == 25
    next_link = re.search(r'rel="next" href="([^"]+)"', first.content.decode()).group(1)
    assert "region=West" in next_link
    assert "page=2" in next_link
    second = client.get(reverse("accounts:list"), {"region": "West", "page": 2})
    assert _names(second) == [f"Paged {i:02d}" for i in range(25, 30)]
    assert client.get(reverse("accounts:list"), {"page": "999"}).status_code == 200  # the last page, not 404


def test_account_list_answers_htmx_with_the_results_fragment_only(rep_list):
    response = rep_list.get(reverse("accounts:list"), {"q": "Echo"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "<html" not in html
    assert 'id="results-title"' in html
    assert "Echo Labs" in html
    assert "Alpha Foods" not in html
    assert "HX-Request" in response.get("Vary", "")


def test_account_list_without_matches_offers_to_clear_the_filters(rep_list):
    html = rep_list.get(reverse("accounts:list"), {"q": "nothing like this"}).content.decode()
    assert "No accounts match these filters" in html
    assert "Clear all filters" in html


def test_account_list_for_a_new_rep_explains_the_empty_list(client):
    client.force_login(UserFactory(username="newbie", role=Role.REP))
    html = client.get(reverse("accounts:list")).content.decode()
    assert "No accounts yet" in html
    assert "Add the first account" in html


def test_team_member_is_added_and_removed_with_a_message(world, client):
    client.force_login(world.rep)
    account = world.rep_account
    response = client.post(
        reverse("accounts:team_add", args=[account.pk]),
        {"user": world.colleague.pk, "function": "engineering"},
    )
    assert response.status_code == 302
    member = AccountTeamMember.objects.get(account=account, user=world.colleague)
    page = client.get(account.get_absolute_url()).content.decode()
    assert "joined the account team" in page
    assert str(world.colleague) in page

    duplicate = client.post(
        reverse("accounts:team_add", args=[account.pk]), {"user": world.colleague.pk, "function": "sales"}
    )
    assert duplicate.status_code == 200
    assert 'aria-invalid="true"' in duplicate.content.decode()

    removed = client.post(reverse("accounts:team_remove", args=[account.pk, member.pk]), follow=True)
    assert "Removed from the account team." in removed.content.decode()
    assert not AccountTeamMember.objects.filter(pk=member.pk).exists()


def test_team_member_cannot_be_removed_with_a_get(world, client):
    member = AccountTeamMember.objects.get(account=world.team_account, user=world.rep)
    client.force_login(world.other_rep)
    response = client.get(reverse("accounts:team_remove", args=[world.team_account.pk, member.pk]))
    assert response.status_code == 405
    assert AccountTeamMember.objects.filter(pk=member.pk).exists()


def test_service_problem_is_recorded_and_shown_on_the_account_page(world, client):
    client.force_login(world.rep)
    account = world.rep_account
    form = client.get(reverse("accounts:issue_create", args=[account.pk])).content.decode()
    assert 'for="id_description"' in form  # every field has its label
    response = client.post(
        reverse("accounts:issue_create", args=[account.pk]),
        {
            "kind": ServiceIssue._meta.get_field("kind").choices[0][0],
            "severity": "high",
            "opened_on": timezone.localdate().isoformat(),
            "description": "Pallets arrived crushed.",
        },
        follow=True,
    )
    html = response.content.decode()
    assert "Service problem recorded." in html
    assert "Pallets arrived crushed." in html
    assert ServiceIssue.objects.get(account=account).reported_by == world.rep


def test_unknown_page_is_the_friendly_404_with_the_layout(world, client):
    client.force_login(world.rep)
    response = client.get("/no/such/page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "We can't find that page" in html
    assert 'aria-label="Main"' in html  # the navigation stays
    assert reverse("accounts:list") in html


def test_another_reps_account_is_the_same_friendly_404(world, client):
    client.force_login(world.rep)
    response = client.get(world.other_account.get_absolute_url())
    assert response.status_code == 404
    html = response.content.decode()
    assert "We can't find that page" in html
    assert world.other_account.name not in html


def test_manager_page_for_a_rep_is_the_friendly_403_with_the_reason(world, client):
    client.force_login(world.rep)
    response = client.get(reverse("scoring:dashboard"))
    assert response.status_code == 403
    html = response.content.decode()
    assert "You can't do that here" in html
    assert "Only managers can do this." in html


@override_settings(DEBUG=False)
def test_server_error_page_needs_nothing_from_the_request(rf):
    from kam.errors import server_error

    response = server_error(rf.get("/"))
    html = response.content.decode()
    assert response.status_code in (500, 503)
    assert "Something went wrong on our side" in html or "temporarily unavailable" in html
    assert "{%" not in html
