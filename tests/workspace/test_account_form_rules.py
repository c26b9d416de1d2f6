"""The account form's rules: hidden parents survive a rep's save, manager ratings stay the manager's, a
deactivated owner does not lock the form, and the visit cadence has a sane range."""

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from accounts.models import Account
from tests.factories import AccountFactory, UserFactory

pytestmark = pytest.mark.django_db


class _FormFields(HTMLParser):
    """What a browser submits for the first <form method="post">: enabled fields with their shown values."""

    def __init__(self):
        super().__init__()
        self.data: dict[str, str] = {}
        self.in_form = False
        self.select: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and attrs.get("method") == "post":
            self.in_form = True
        if not self.in_form or "disabled" in attrs:
            return
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("checkbox", "radio", "submit"):
            self.data[name] = attrs.get("value") or ""
        elif tag == "select" and name:
            self.select = name
            self.data[name] = ""
        elif tag == "option" and self.select and "selected" in attrs:
            self.data[self.select] = attrs.get("value") or ""
        elif tag == "textarea" and name:
            self.textarea = name
            self.data[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None
        elif tag == "form":
            self.in_form = False

    def handle_data(self, data):
        if self.textarea:
            self.data[self.textarea] += data


def submitted(response) -> dict[str, str]:
    parser = _FormFields()
    parser.feed(response.content.decode())
    return parser.data


def save_unchanged(client, account, **changes):
    """GET the edit form and POST back what the browser shows (plus `changes`), as a user clicking Save."""
    url = reverse("accounts:edit", args=[account.pk])
    page = client.get(url)
    assert page.status_code == 200
    data = {**submitted(page), **changes}
    return page, client.post(url, data)


@pytest.fixture
def group(world):
    """The rep's account is a subsidiary of a group account the rep cannot see."""
    holding = AccountFactory(name="Hidden Holding Group", owner=world.other_rep)
    Account.objects.filter(pk=world.rep_account.pk).update(parent=holding)
    world.rep_account.refresh_from_db()
    return holding


# --- 1. A parent the rep cannot see -------------------------------------------------------------------------


def test_rep_saving_an_account_keeps_a_parent_they_cannot_see(world, client, group):
    client.force_login(world.rep)
    page, response = save_unchanged(client, world.rep_account, region="Nordics")
    assert response.status_code == 302, response.content
    world.rep_account.refresh_from_db()
    assert world.rep_account.parent_id == group.pk
    assert world.rep_account.region == "Nordics"
    body = page.content.decode()
    assert "A group you cannot see" in body
    assert "Hidden Holding Group" not in body
    assert f'value="{group.pk}"' not in body


def test_rep_cannot_clear_a_hidden_parent_by_posting_it_empty(world, client, group):
    client.force_login(world.rep)
    _, response = save_unchanged(client, world.rep_account, parent="")
    assert response.status_code == 302
    world.rep_account.refresh_from_db()
    assert world.rep_account.parent_id == group.pk


def test_rep_still_chooses_among_visible_parents_when_there_is_none_yet(world, client):
    client.force_login(world.rep)
    _, response = save_unchanged(client, world.rep_account, parent=str(world.team_account.pk))
    assert response.status_code == 302
    world.rep_account.refresh_from_db()
    assert world.rep_account.parent_id == world.team_account.pk


def test_account_page_says_a_hidden_group_exists_without_naming_it(world, client, group):
    client.force_login(world.rep)
    body = client.get(world.rep_account.get_absolute_url()).content.decode()
    assert "A group you cannot see" in body
    assert "stand-alone" not in body
    assert "Hidden Holding Group" not in body
    client.force_login(world.manager)
    body = client.get(world.rep_account.get_absolute_url()).content.decode()
    assert "Hidden Holding Group" in body


def test_a_truly_stand_alone_account_still_says_so(world, client):
    client.force_login(world.rep)
    body = client.get(world.rep_account.get_absolute_url()).content.decode()
    assert "A stand-alone account" in body
    assert "A group you cannot see" not in body


# --- 4. Ratings are the manager's ---------------------------------------------------------------------------


def rated(account, image=4, partnership=3, strategic=2):
    Account.objects.filter(pk=account.pk).update(
        image_rating=image, partnership_rating=partnership, strategic_rating=strategic
    )
    account.refresh_from_db()
    return account


def test_rep_cannot_change_the_managers_ratings_in_the_form(world, client):
    account = rated(world.rep_account)
    client.force_login(world.rep)
    page, response = save_unchanged(
        client, account, image_rating="1", partnership_rating="1", strategic_rating="5", region="DACH"
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert (account.image_rating, account.partnership_rating, account.strategic_rating) == (4, 3, 2)
    assert account.region == "DACH"  # the rest of the form saved
    assert account.ratings_by is None
    form = page.context["form"]
    assert all(
        form.fields[name].disabled for name in ("image_rating", "partnership_rating", "strategic_rating")
    )


def test_manager_changes_ratings_and_is_remembered_as_the_rater(world, client):
    account = rated(world.rep_account)
    client.force_login(world.manager)
    _, response = save_unchanged(client, account, image_rating="5")
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.image_rating == 5
    assert account.ratings_by == world.manager


# --- 5. A deactivated owner ---------------------------------------------------------------------------------


def test_rep_can_save_an_account_whose_owner_was_deactivated(world, client):
    # The rep serves the account through the team; its owner has left the company.
    world.other_rep.is_active = False
    world.other_rep.save()
    client.force_login(world.rep)
    _, response = save_unchanged(client, world.team_account, region="Iberia")
    assert response.status_code == 302, response.context["form"].errors
    world.team_account.refresh_from_db()
    assert world.team_account.region == "Iberia"
    assert world.team_account.owner == world.other_rep


def test_manager_keeps_a_deactivated_owner_or_picks_an_active_one_but_not_another_inactive_one(world, client):
    world.other_rep.is_active = False
    world.other_rep.save()
    gone = UserFactory(username="gone", is_active=False)
    client.force_login(world.manager)
    _, response = save_unchanged(client, world.team_account, region="Iberia")
    assert response.status_code == 302
    world.team_account.refresh_from_db()
    assert world.team_account.owner == world.other_rep  # shown selected, so kept (not silently cleared)
    _, response = save_unchanged(client, world.team_account, owner=str(gone.pk))
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    _, response = save_unchanged(client, world.team_account, owner=str(world.rep.pk))
    assert response.status_code == 302
    world.team_account.refresh_from_db()
    assert world.team_account.owner == world.rep


# --- 8. Visit cadence range ---------------------------------------------------------------------------------


@pytest.mark.parametrize("days", ["0", "3651", "30000"])
def test_cadence_outside_one_to_3650_days_is_refused_with_a_clear_message(world, client, days):
    client.force_login(world.rep)
    _, response = save_unchanged(client, world.rep_account, cadence_days=days)
    assert response.status_code == 200
    assert "Visit every 1 to 3,650 days (ten years at most)." in response.content.decode()
    world.rep_account.refresh_from_db()
    assert world.rep_account.cadence_days is None


def test_cadence_of_ten_years_is_accepted(world, client):
    client.force_login(world.rep)
    _, response = save_unchanged(client, world.rep_account, cadence_days="3650")
    assert response.status_code == 302
    world.rep_account.refresh_from_db()
    assert world.rep_account.cadence_days == 3650
