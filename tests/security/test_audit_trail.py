"""The audit trail: who changed what and when, kept after deletes, and visible to managers at /audit/."""

import datetime
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account
from integrations.models import ApiKey
from kam.api.scopes import ApiScope
from plans.models import AccountPlan
from profiles.models import AccountProfile, BuyingInfluencer
from scoring.models import ScoringModel
from scoring.services import scoring_model_create_version
from tests.factories import ActionFactory, InfluencerFactory, ObjectiveFactory, PlanFactory, ProfileFactory


def influencer_form(person, **changes):
    data = {
        "name": person.name,
        "title": person.title,
        "function": "",
        "site": "",
        "email": "",
        "phone": "",
        "buying_role": person.buying_role,
        "influence": person.influence,
        "stance": person.stance,
        "relationship_strength": person.relationship_strength,
        "reports_to": "",
        "is_active": "on",
    }
    return {**data, **changes}


# --- Who, when, what ----------------------------------------------------------------------------------------


def test_a_key_designation_records_the_manager_the_decision_and_the_reason(client, world):
    client.force_login(world.manager)
    url = reverse("accounts:designation", args=[world.rep_account.pk])
    before = timezone.now()
    response = client.post(url, {"is_key": "1", "reason": "Top decile on margin and CLV."})
    assert response.status_code == 302

    latest = world.rep_account.history.latest()
    assert latest.history_user == world.manager
    assert latest.history_date >= before
    assert latest.is_key is True
    assert latest.key_reason == "Top decile on margin and CLV."
    assert latest.history_change_reason == "Made a key account"
    delta = latest.diff_against(latest.prev_record)
    assert {"is_key", "key_reason", "key_since", "key_decided_by"} <= set(delta.changed_fields)


def test_a_profile_edit_records_the_rep_and_the_answers(client, world):
    client.force_login(world.rep)
    response = client.post(reverse("profiles:edit", args=[world.rep_account.pk]), {"mission": "Feed Europe."})
    assert response.status_code == 302
    latest = AccountProfile.objects.get(account=world.rep_account).history.latest()
    assert latest.history_user == world.rep
    assert latest.mission == "Feed Europe."


def test_a_profile_edit_of_every_answer_at_once_is_recorded(world):
    """The change reason lists the answers changed; nine at once used to overflow its 100 characters."""
    from profiles.models import PROFILE_QUESTIONS
    from profiles.services import profile_update

    profile = profile_update(
        account=world.rep_account,
        data={field: f"Answer {field}" for field in PROFILE_QUESTIONS},
        by=world.rep,
    )
    latest = profile.history.latest()
    assert latest.history_user == world.rep
    assert len(latest.history_change_reason) <= 100
    assert latest.history_change_reason.startswith("Updated mission, ")


def test_an_influencer_edit_records_who_changed_the_stance(client, world):
    person = InfluencerFactory(account=world.rep_account, stance=0)
    client.force_login(world.rep)
    response = client.post(
        reverse("profiles:influencer_edit", args=[person.pk]), influencer_form(person, stance="2")
    )
    assert response.status_code == 302
    latest = person.history.latest()
    assert latest.history_user == world.rep
    assert latest.diff_against(latest.prev_record).changed_fields == ["stance"]


def test_logging_a_visit_adds_no_empty_change_to_the_trail(client, world):
    """A visit moves the account's and the people's contact dates, which the trail leaves out: no entry."""
    person = InfluencerFactory(account=world.rep_account)
    account_versions, person_versions = world.rep_account.history.count(), person.history.count()
    client.force_login(world.rep)
    response = client.post(
        reverse("accounts:visit_create", args=[world.rep_account.pk]),
        {"date": timezone.localdate().isoformat(), "kind": "meeting", "summary": "Quarterly review",
         "influencers": [person.pk]},
    )  # fmt: skip
    assert response.status_code == 302
    world.rep_account.refresh_from_db()
    person.refresh_from_db()
    assert world.rep_account.last_contact_date == person.last_contact_date == timezone.localdate()
    assert world.rep_account.history.count() == account_versions
    assert person.history.count() == person_versions
    client.force_login(world.manager)
    page = client.get(reverse("audit:list")).content.decode()
    assert '<span class="badge">Changed</span>' not in page  # the world was only created, then visited


def as_sent_back(form) -> dict:
    """What a browser posts for a form as it was shown: every field's initial value, untouched."""
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is None or value is False:
            continue
        if value is True:
            data[name] = "on"
        elif isinstance(value, list | tuple):
            data[name] = [str(v) for v in value]
        else:
            data[name] = str(value)
    return data


EDITS = {
    "account": lambda w: (reverse("accounts:edit", args=[w.rep_account.pk]), w.rep_account),
    "influencer": lambda w: (
        reverse("profiles:influencer_edit", args=[(p := InfluencerFactory(account=w.rep_account)).pk]),
        p,
    ),
    "plan": lambda w: (reverse("plans:edit", args=[(p := PlanFactory(account=w.rep_account)).pk]), p),
    "objective": lambda w: (
        reverse("plans:objective_edit", args=[(o := ObjectiveFactory(plan__account=w.rep_account)).pk]),
        o,
    ),
    "action": lambda w: (
        reverse("plans:action_edit", args=[(a := ActionFactory(plan__account=w.rep_account)).pk]),
        a,
    ),
}


@pytest.mark.parametrize("kind", EDITS)
def test_an_edit_sent_back_unchanged_saves_nothing_and_says_so(client, world, kind):
    url, record = EDITS[kind](world)
    client.force_login(world.rep)
    versions = record.history.count()
    data = as_sent_back(client.get(url).context["form"])
    response = client.post(url, data, follow=True)
    assert response.status_code == 200
    assert "Nothing changed, so nothing was saved." in response.content.decode()
    assert record.history.count() == versions
    # One changed field and the same form saves, with its history.
    title_field = "name" if kind in ("account", "influencer") else "title"
    client.post(url, {**data, title_field: data[title_field] + " (renamed)"})
    assert record.history.count() == versions + 1
    assert record.history.latest().history_user == world.rep


def test_the_scoring_model_sent_back_unchanged_makes_no_new_version(client, world):
    active = ScoringModel.objects.get(is_active=True)  # the data migration's default model
    client.force_login(world.manager)
    url = reverse("scoring:model")
    data = as_sent_back(client.get(url).context["form"])
    response = client.post(url, data, follow=True)
    assert f"Nothing changed: version {active.version} stays active." in response.content.decode()
    assert ScoringModel.objects.get() == active
    client.post(url, {**data, "weight_clv": str(float(data["weight_clv"]) + 5)})
    assert ScoringModel.objects.get(is_active=True).version == active.version + 1


def test_a_plan_edit_records_the_editor(client, world):
    plan = PlanFactory(account=world.rep_account, title="Grow")
    client.force_login(world.rep)
    response = client.post(
        reverse("plans:edit", args=[plan.pk]),
        {
            "title": "Grow the partnership",
            "period_start": plan.period_start.isoformat(),
            "period_end": plan.period_end.isoformat(),
            "status": "active",
            "ambition": "",
        },
    )
    assert response.status_code == 302
    latest = plan.history.latest()
    assert latest.history_user == world.rep
    assert latest.title == "Grow the partnership"


def test_a_new_scoring_model_version_records_who_saved_it_and_the_switch(world):
    previous = ScoringModel.objects.get(is_active=True)
    version = scoring_model_create_version(data={"weight_clv": 40}, created_by=world.manager)
    created = version.history.latest()
    assert created.history_user == world.manager
    assert created.history_type == "+"
    switched_off = previous.history.latest()
    assert switched_off.is_active is False
    assert switched_off.history_user == world.manager


def test_an_api_key_edit_records_the_keys_user(client, world):
    _, raw = ApiKey.issue(
        name="erp", user=world.integration, scopes=[ApiScope.WRITE_ACCOUNTS], created_by=world.manager
    )
    response = client.patch(
        f"/api/v1/accounts/{world.rep_account.pk}/",
        json.dumps({"industry": "Chemicals"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )
    assert response.status_code == 200
    latest = world.rep_account.history.latest()
    assert latest.history_user == world.integration
    assert latest.industry == "Chemicals"


# --- Kept after deletes -------------------------------------------------------------------------------------


def test_deleting_an_account_keeps_its_history_and_that_of_everything_under_it(world):
    account = world.rep_account
    ProfileFactory(account=account)
    person = InfluencerFactory(account=account)
    plan = PlanFactory(account=account)
    account_id, person_id, plan_id = account.pk, person.pk, plan.pk

    account.delete()

    assert not Account.objects.filter(pk=account_id).exists()
    assert [r.history_type for r in Account.history.filter(id=account_id).order_by("history_date")] == [
        "+",
        "-",
    ]
    assert Account.history.filter(id=account_id).latest().name == "Rep's Own Account"
    assert AccountProfile.history.filter(account_id=account_id).latest().history_type == "-"
    assert BuyingInfluencer.history.filter(id=person_id).latest().history_type == "-"
    assert AccountPlan.history.filter(id=plan_id).latest().history_type == "-"


# --- The Audit page -----------------------------------------------------------------------------------------


@pytest.fixture
def designated(client, world):
    client.force_login(world.manager)
    client.post(
        reverse("accounts:designation", args=[world.rep_account.pk]),
        {"is_key": "1", "reason": "Top decile on margin and CLV."},
    )
    return world.rep_account


def test_the_audit_page_lists_the_change_with_who_and_which_fields(client, world, designated):
    response = client.get(reverse("audit:list"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Rep&#x27;s Own Account" in page
    assert str(world.manager) in page
    assert "Key reason" in page
    assert reverse("audit:record", args=["account", designated.pk]) in page


def test_the_record_page_shows_before_and_after(client, world, designated):
    response = client.get(reverse("audit:record", args=["account", designated.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Top decile on margin and CLV." in page
    assert "Made a key account" in page
    assert "<del>no</del>" in page  # is_key before
    assert "<ins>yes</ins>" in page


def test_a_deleted_account_keeps_its_record_page(client, world, designated):
    account_id = designated.pk
    Account.objects.filter(pk=account_id).delete()
    response = client.get(reverse("audit:record", args=["account", account_id]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Deleted" in page
    assert "Rep&#x27;s Own Account" in page


def test_the_audit_list_filters_by_record_person_and_date(client, world, designated):
    client.force_login(world.rep)
    client.post(reverse("profiles:edit", args=[world.rep_account.pk]), {"mission": "Feed Europe."})
    client.force_login(world.manager)
    url = reverse("audit:list")

    by_rep = client.get(url, {"user": world.rep.pk}).content.decode()
    assert "Profile of Rep&#x27;s Own Account" in by_rep
    assert "Key reason" not in by_rep

    only_accounts = client.get(url, {"kind": "account"}).content.decode()
    assert "Profile of" not in only_accounts
    assert "Key reason" in only_accounts

    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    assert "No changes match" in client.get(url, {"date_from": tomorrow}).content.decode()
    today = timezone.localdate().isoformat()
    assert "Key reason" in client.get(url, {"date_from": today, "date_to": today}).content.decode()


def test_the_audit_list_reads_a_bounded_number_of_queries(client, world, django_assert_max_num_queries):
    client.force_login(world.manager)
    for index in range(30):
        person = InfluencerFactory(account=world.rep_account, name=f"Person {index}")
        person.stance = 1
        person.save()
    with django_assert_max_num_queries(30):
        response = client.get(reverse("audit:list"))
    assert response.content.decode().count("Person ") >= 30


def test_an_unknown_kind_or_record_is_a_404(client, world):
    client.force_login(world.manager)
    assert client.get(reverse("audit:record", args=["invoice", 1])).status_code == 404
    assert client.get(reverse("audit:record", args=["account", 999_999])).status_code == 404


def test_reps_cannot_see_the_audit_trail(client, world, designated):
    client.force_login(world.rep)
    assert client.get(reverse("audit:list")).status_code == 403
    assert client.get(reverse("audit:record", args=["account", designated.pk])).status_code == 403


def test_managers_find_the_audit_page_in_the_navigation(client, world):
    client.force_login(world.manager)
    assert f'href="{reverse("audit:list")}"' in client.get(reverse("home")).content.decode()
    client.force_login(world.rep)
    assert f'href="{reverse("audit:list")}"' not in client.get(reverse("home")).content.decode()
