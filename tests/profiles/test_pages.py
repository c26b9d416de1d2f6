"""The profile edited in place on the account page (htmx) or on a page of its own, its change history, and
the buying-influencer forms."""

import pytest
from django.urls import reverse

from profiles.models import AccountProfile, BuyingInfluencer
from tests.factories import InfluencerFactory

pytestmark = pytest.mark.django_db


def test_profile_edit_with_htmx_returns_the_form_in_place_of_the_card(world, client):
    client.force_login(world.rep)
    response = client.get(reverse("profiles:edit", args=[world.rep_account.pk]), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "<html" not in html
    assert 'id="profile-card"' in html
    assert 'data-inplace="form"' in html
    assert 'for="id_mission"' in html  # each question is a labelled field
    assert "HX-Request" in response.get("Vary", "")


def test_profile_saved_in_place_returns_the_card_with_a_message(world, client):
    client.force_login(world.rep)
    response = client.post(
        reverse("profiles:edit", args=[world.rep_account.pk]),
        {"mission": "Feed the region with fresh food."},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'data-inplace="saved"' in html
    assert "Profile saved." in html
    assert "Feed the region with fresh food." in html
    assert "1 of 9 questions answered" in html
    assert AccountProfile.objects.get(account=world.rep_account).mission == "Feed the region with fresh food."


def test_profile_saved_without_htmx_goes_back_to_the_account_with_a_message(world, client):
    client.force_login(world.rep)
    response = client.post(
        reverse("profiles:edit", args=[world.rep_account.pk]), {"competitors": "Kessler & Lund"}, follow=True
    )
    assert response.redirect_chain[-1][0] == world.rep_account.get_absolute_url()
    assert "Profile saved." in response.content.decode()


def test_profile_history_shows_who_changed_what_before_and_after(world, client):
    client.force_login(world.rep)
    url = reverse("profiles:edit", args=[world.rep_account.pk])
    client.post(url, {"mission": "Feed the region."})
    client.post(url, {"mission": "Feed Europe.", "plans": "A second plant in 2027."})
    html = client.get(reverse("profiles:history", args=[world.rep_account.pk])).content.decode()
    assert html.index("changed 2 answers") < html.index("started the profile")  # newest first
    assert "<del>Feed the region.</del>" in html
    assert "<ins>Feed Europe.</ins>" in html
    assert "A second plant in 2027." in html
    assert str(world.rep) in html


def test_profile_history_without_a_profile_explains_itself(world, client):
    client.force_login(world.rep)
    html = client.get(reverse("profiles:history", args=[world.rep_account.pk])).content.decode()
    assert "No history yet" in html


def test_team_member_reads_the_history_of_a_shared_account_but_not_of_another(world, client):
    client.force_login(world.rep)
    assert client.get(reverse("profiles:history", args=[world.team_account.pk])).status_code == 200
    assert client.get(reverse("profiles:history", args=[world.other_account.pk])).status_code == 404


def test_influencer_is_added_with_a_message_and_shown_in_the_org_chart(world, client):
    boss = InfluencerFactory(account=world.rep_account, name="Florian Pichler", title="COO")
    client.force_login(world.rep)
    response = client.post(
        reverse("profiles:influencer_create", args=[world.rep_account.pk]),
        {
            "name": "Theresa Moser",
            "title": "Head of Procurement",
            "buying_role": "gatekeeper",
            "influence": 4,
            "stance": 0,
            "relationship_strength": 3,
            "reports_to": boss.pk,
            "is_active": "on",
        },
        follow=True,
    )
    html = response.content.decode()
    assert "Theresa Moser added to the buying centre." in html
    person = BuyingInfluencer.objects.get(name="Theresa Moser")
    assert person.reports_to == boss
    assert 'class="org-tree"' in html
    assert html.index("Florian Pichler", html.index('class="org-tree"')) < html.rindex("Theresa Moser")


def test_influencer_form_with_errors_marks_the_fields(world, client):
    client.force_login(world.rep)
    response = client.post(
        reverse("profiles:influencer_create", args=[world.rep_account.pk]), {"name": "", "influence": 9}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'role="alert"' in html
    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="id_name_error"' in html or "id_name_error" in html
    assert not BuyingInfluencer.objects.exists()
