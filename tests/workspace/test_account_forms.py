"""Bad input gets a clear message and changes nothing; good input does what the user expects."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, KeyDesignation, ServiceIssue, Visit
from profiles.models import AccountProfile, BuyingInfluencer
from tests.factories import AccountFactory, InfluencerFactory, VisitFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


def test_visit_in_the_future_is_refused_and_nothing_saved(world, client):
    client.force_login(world.rep)
    tomorrow = TODAY() + datetime.timedelta(days=1)
    response = client.post(
        reverse("accounts:visit_create", args=[world.rep_account.pk]),
        {"date": tomorrow.isoformat(), "kind": "meeting", "summary": "Plan"},
    )
    assert response.status_code == 200
    assert "cannot be in the future" in response.content.decode()
    assert not Visit.objects.exists()


def test_visit_without_summary_is_refused(world, client):
    client.force_login(world.rep)
    response = client.post(
        reverse("accounts:visit_create", args=[world.rep_account.pk]),
        {"date": TODAY().isoformat(), "kind": "meeting", "summary": ""},
    )
    assert "This field is required" in response.content.decode()
    assert not Visit.objects.exists()


def test_follow_up_before_visit_is_refused(world, client):
    client.force_login(world.rep)
    response = client.post(
        reverse("accounts:visit_create", args=[world.rep_account.pk]),
        {
            "date": TODAY().isoformat(),
            "kind": "meeting",
            "summary": "Talked",
            "follow_up_date": (TODAY() - datetime.timedelta(days=3)).isoformat(),
        },
    )
    assert "on or after the visit" in response.content.decode()
    assert not Visit.objects.exists()


def test_logging_a_visit_updates_last_contact_and_influencers(world, client):
    person = InfluencerFactory(account=world.rep_account)
    world.rep_account.cadence_days = 30
    world.rep_account.save()
    client.force_login(world.rep)
    response = client.post(
        reverse("accounts:visit_create", args=[world.rep_account.pk]),
        {"date": TODAY().isoformat(), "kind": "on_site", "summary": "Plant tour", "influencers": [person.pk]},
    )
    assert response.status_code == 302
    account = Account.objects.get(pk=world.rep_account.pk)
    assert account.last_contact_date == TODAY()
    assert account.next_contact_due == TODAY() + datetime.timedelta(days=30)
    person.refresh_from_db()
    assert person.last_contact_date == TODAY()
    assert list(Visit.objects.get().influencers.all()) == [person]


def test_social_event_does_not_reset_cadence(world):
    from accounts.services import visit_log

    visit_log(
        account=world.rep_account, logged_by=world.rep, date=TODAY(), kind="social_event", summary="Gala"
    )
    world.rep_account.refresh_from_db()
    assert world.rep_account.last_contact_date is None


def test_last_contact_rolls_up_visits_by_anyone(world):
    from accounts.services import account_refresh_contact

    VisitFactory(account=world.team_account, logged_by=world.rep, date=TODAY() - datetime.timedelta(days=2))
    VisitFactory(
        account=world.team_account, logged_by=world.other_rep, date=TODAY() - datetime.timedelta(days=9)
    )
    account_refresh_contact(account=world.team_account)
    assert world.team_account.last_contact_date == TODAY() - datetime.timedelta(days=2)


def test_influencer_of_another_account_cannot_be_chosen(world, client):
    stranger = InfluencerFactory(account=world.other_account)
    client.force_login(world.rep)
    response = client.post(
        reverse("accounts:visit_create", args=[world.rep_account.pk]),
        {"date": TODAY().isoformat(), "kind": "meeting", "summary": "x", "influencers": [stranger.pk]},
    )
    assert "Select a valid choice" in response.content.decode()
    assert not Visit.objects.exists()


def test_account_reference_must_be_unique(world, client):
    client.force_login(world.manager)
    response = client.post(
        reverse("accounts:create"), {"name": "Dup", "reference": world.rep_account.reference}
    )
    assert "already has this reference" in response.content.decode()
    assert not Account.objects.filter(name="Dup").exists()


def test_rating_out_of_range_is_refused(world, client):
    client.force_login(world.manager)  # ratings are the manager's (reps see them disabled)
    response = client.post(
        reverse("accounts:edit", args=[world.rep_account.pk]),
        {"name": "Renamed", "status": "active", "image_rating": "9"},
    )
    assert "less than or equal to 5" in response.content.decode()
    world.rep_account.refresh_from_db()
    assert world.rep_account.name == "Rep's Own Account"


def test_parent_loop_is_refused(world, client):
    child = AccountFactory(owner=world.rep, parent=world.rep_account)
    client.force_login(world.rep)
    response = client.post(
        reverse("accounts:edit", args=[world.rep_account.pk]),
        {"name": world.rep_account.name, "status": "active", "parent": child.pk},
    )
    assert "loop" in response.content.decode()
    world.rep_account.refresh_from_db()
    assert world.rep_account.parent_id is None


def test_rating_change_records_who_and_when(world, client):
    client.force_login(world.manager)
    response = client.post(
        reverse("accounts:edit", args=[world.rep_account.pk]),
        {
            "name": "Rep's Own Account",
            "status": "active",
            "owner": world.rep.pk,
            "image_rating": "4",
            "partnership_rating": "2",
        },
    )
    assert response.status_code == 302
    world.rep_account.refresh_from_db()
    assert (world.rep_account.image_rating, world.rep_account.ratings_by) == (4, world.manager)


def test_rep_cannot_reassign_owner(world, client):
    client.force_login(world.rep)
    client.post(
        reverse("accounts:edit", args=[world.rep_account.pk]),
        {"name": "Rep's Own Account", "status": "active", "owner": world.other_rep.pk},
    )
    world.rep_account.refresh_from_db()
    assert world.rep_account.owner == world.rep


def test_designation_needs_a_reason(world, client):
    client.force_login(world.manager)
    response = client.post(
        reverse("accounts:designation", args=[world.rep_account.pk]), {"is_key": "1", "reason": ""}
    )
    assert "This field is required" in response.content.decode()
    world.rep_account.refresh_from_db()
    assert not world.rep_account.is_key
    assert not KeyDesignation.objects.exists()


def test_designation_is_recorded_with_reason(world, client):
    client.force_login(world.manager)
    client.post(
        reverse("accounts:designation", args=[world.rep_account.pk]),
        {"is_key": "1", "reason": "Top CM and a reference customer in our target market."},
    )
    world.rep_account.refresh_from_db()
    assert world.rep_account.is_key
    assert world.rep_account.key_since == TODAY()
    decision = KeyDesignation.objects.get()
    assert (decision.decided_by, decision.is_key) == (world.manager, True)


def test_service_issue_resolved_before_opened_is_refused(world, client):
    client.force_login(world.rep)
    response = client.post(
        reverse("accounts:issue_create", args=[world.rep_account.pk]),
        {
            "kind": "billing",
            "severity": "low",
            "opened_on": TODAY().isoformat(),
            "resolved_on": (TODAY() - datetime.timedelta(days=1)).isoformat(),
            "description": "Wrong invoice",
        },
    )
    assert "before it was opened" in response.content.decode()
    assert not ServiceIssue.objects.exists()


def test_influencer_cannot_report_to_someone_at_another_account(world, client):
    stranger = InfluencerFactory(account=world.team_account)
    client.force_login(world.rep)
    response = client.post(
        reverse("profiles:influencer_create", args=[world.rep_account.pk]),
        {
            "name": "New Person",
            "buying_role": "user",
            "influence": 3,
            "stance": 0,
            "relationship_strength": 3,
            "reports_to": stranger.pk,
        },
    )
    assert "Select a valid choice" in response.content.decode()
    assert not BuyingInfluencer.objects.filter(name="New Person").exists()


def test_influencer_influence_out_of_range_is_refused(world, client):
    client.force_login(world.rep)
    response = client.post(
        reverse("profiles:influencer_create", args=[world.rep_account.pk]),
        {"name": "Big Shot", "buying_role": "user", "influence": 7, "stance": 0, "relationship_strength": 3},
    )
    assert "less than or equal to 5" in response.content.decode()
    assert not BuyingInfluencer.objects.filter(name="Big Shot").exists()


def test_profile_edit_keeps_history_with_author(world, client):
    client.force_login(world.rep)
    url = reverse("profiles:edit", args=[world.rep_account.pk])
    client.post(url, {"mission": "Feed Europe"})
    client.post(url, {"mission": "Feed Europe sustainably", "competitors": "Acme"})
    profile = AccountProfile.objects.get(account=world.rep_account)
    assert profile.mission == "Feed Europe sustainably"
    assert profile.answered == 2
    assert profile.history.count() == 2
    assert profile.history.first().history_user == world.rep
    body = client.get(reverse("profiles:history", args=[world.rep_account.pk])).content.decode()
    assert "Feed Europe sustainably" in body
