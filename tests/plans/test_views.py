"""Account plans in the browser: who may do what, every form's validation, and the in-place action status."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from plans.models import AccountPlan, ActionStatus, Approach, Objective, PlanAction, PlanStatus
from plans.services import plan_save
from tests.factories import ActionFactory, ObjectiveFactory, PlanFactory, TeamMemberFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


def _plan_world(world):
    """An active plan with one objective and one action on other_rep's account."""
    plan = PlanFactory(account=world.other_account, title="Other plan")
    objective = ObjectiveFactory(plan=plan, title="Grow revenue")
    action = ActionFactory(plan=plan, title="Plant tour", owner=world.other_rep)
    return plan, objective, action


def _pages(plan, objective, action):
    account = plan.account
    return [
        ("plans:list", [account.pk], "read"),
        ("plans:detail", [plan.pk], "read"),
        ("plans:create", [account.pk], "write"),
        ("plans:edit", [plan.pk], "write"),
        ("plans:objective_create", [plan.pk], "write"),
        ("plans:objective_edit", [objective.pk], "write"),
        ("plans:action_create", [plan.pk], "write"),
        ("plans:action_edit", [action.pk], "write"),
    ]


EXPECTED = {
    "anonymous": {"read": 302, "write": 302},
    "rep": {"read": 404, "write": 404},
    "other_rep": {"read": 200, "write": 200},
    "manager": {"read": 200, "write": 200},
    "integration": {"read": 403, "write": 403},
}


@pytest.mark.parametrize("role", list(EXPECTED))
def test_every_plan_page_for_every_role(world, client, role):
    if role != "anonymous":
        client.force_login(getattr(world, role))
    for name, args, scope in _pages(*_plan_world(world)):
        response = client.get(reverse(name, args=args))
        expected = EXPECTED[role][scope]
        assert response.status_code == expected, f"{role} GET {name}: {response.status_code} != {expected}"
        if expected == 302:
            assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(
    ("role", "expected"),
    [("anonymous", 302), ("rep", 404), ("integration", 403), ("other_rep", 302), ("manager", 302)],
)
def test_status_change_and_close_for_every_role(world, client, role, expected):
    plan, _, action = _plan_world(world)
    if role != "anonymous":
        client.force_login(getattr(world, role))
    response = client.post(reverse("plans:action_status", args=[action.pk]), {"status": "done"})
    assert response.status_code == expected
    response = client.post(reverse("plans:close", args=[plan.pk]))
    assert response.status_code == expected
    action.refresh_from_db()
    plan.refresh_from_db()
    allowed = role in ("other_rep", "manager")
    assert (action.status == ActionStatus.DONE) is allowed
    assert (plan.status == PlanStatus.CLOSED) is allowed


def test_team_member_can_work_on_the_plan_of_a_shared_account(world, client):
    plan = PlanFactory(account=world.team_account)
    client.force_login(world.rep)
    assert client.get(reverse("plans:detail", args=[plan.pk])).status_code == 200
    assert client.get(reverse("plans:action_create", args=[plan.pk])).status_code == 200


def test_closing_and_status_change_need_post(world, client):
    plan, _, action = _plan_world(world)
    client.force_login(world.manager)
    assert client.get(reverse("plans:close", args=[plan.pk])).status_code == 405
    assert client.get(reverse("plans:action_status", args=[action.pk])).status_code == 405


# --- The plan form ------------------------------------------------------------------------------------------


def _plan_data(**overrides):
    year = TODAY().year
    return {
        "title": "Grow with Acme",
        "period_start": f"{year}-01-01",
        "period_end": f"{year}-12-31",
        "status": "active",
        "ambition": "Become their first supplier.",
    } | overrides


def test_rep_creates_a_plan(world, client):
    client.force_login(world.rep)
    response = client.post(reverse("plans:create", args=[world.rep_account.pk]), _plan_data())
    plan = AccountPlan.objects.get(account=world.rep_account)
    assert response.status_code == 302
    assert response["Location"] == reverse("plans:detail", args=[plan.pk])
    assert (plan.title, plan.status, plan.ambition) == (
        "Grow with Acme",
        "active",
        "Become their first supplier.",
    )


def test_new_plan_form_proposes_this_year(world, client):
    client.force_login(world.rep)
    body = client.get(reverse("plans:create", args=[world.rep_account.pk])).content.decode()
    year = TODAY().year
    assert f'value="{year}-01-01"' in body
    assert f'value="{year}-12-31"' in body
    assert f"Rep&#x27;s Own Account account plan {year}" in body


def test_second_active_plan_is_refused_with_a_clear_message(world, client):
    PlanFactory(account=world.rep_account, title="Plan A")
    client.force_login(world.rep)
    response = client.post(reverse("plans:create", args=[world.rep_account.pk]), _plan_data(title="Plan B"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "already has an active plan, “Plan A”" in body
    assert "Close that plan first, or save this one as a draft." in body
    assert not AccountPlan.objects.filter(title="Plan B").exists()


def test_a_draft_may_sit_beside_the_active_plan(world, client):
    PlanFactory(account=world.rep_account, title="Plan A")
    client.force_login(world.rep)
    client.post(
        reverse("plans:create", args=[world.rep_account.pk]), _plan_data(title="Plan B", status="draft")
    )
    assert AccountPlan.objects.get(title="Plan B").status == PlanStatus.DRAFT


def test_activating_a_draft_while_another_is_active_is_refused(world, client):
    PlanFactory(account=world.rep_account, title="Plan A")
    draft = PlanFactory(account=world.rep_account, title="Plan B", status="draft")
    client.force_login(world.rep)
    response = client.post(reverse("plans:edit", args=[draft.pk]), _plan_data(title="Plan B"))
    assert "already has an active plan, “Plan A”" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == PlanStatus.DRAFT


def test_the_database_race_comes_back_as_the_same_message(world):
    PlanFactory(account=world.rep_account, title="Plan A")
    sneaky = AccountPlan(
        account=world.rep_account, title="Plan B", period_start=TODAY(), period_end=TODAY(), status="active"
    )
    with pytest.raises(ValidationError) as caught:
        plan_save(plan=sneaky)
    assert "already has an active plan, “Plan A”" in caught.value.message_dict["status"][0]
    assert AccountPlan.objects.filter(account=world.rep_account).count() == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"period_end": "2000-01-01"}, "The period must end on or after the day it starts."),
        ({"title": ""}, "This field is required."),
        ({"status": "closed"}, "Select a valid choice."),
        ({"period_start": "not a date"}, "Enter a valid date."),
    ],
)
def test_invalid_plan_is_explained_and_not_saved(world, client, overrides, message):
    client.force_login(world.rep)
    response = client.post(reverse("plans:create", args=[world.rep_account.pk]), _plan_data(**overrides))
    body = response.content.decode()
    assert response.status_code == 200
    assert "There is a problem" in body
    assert message in body
    assert not AccountPlan.objects.exists()


def test_closing_a_plan_keeps_it_on_record_and_read_only(world, client):
    plan, _, action = _plan_world(world)
    client.force_login(world.other_rep)
    response = client.post(reverse("plans:close", args=[plan.pk]), follow=True)
    assert "closed. Its objectives and actions stay on record." in response.content.decode()
    plan.refresh_from_db()
    assert plan.status == PlanStatus.CLOSED
    assert plan.closed_at is not None

    body = client.get(reverse("plans:detail", args=[plan.pk])).content.decode()
    assert "This plan is closed" in body
    assert 'name="status"' not in body  # no status control on a closed plan
    for name, args in [
        ("plans:edit", [plan.pk]),
        ("plans:objective_create", [plan.pk]),
        ("plans:action_edit", [action.pk]),
    ]:
        response = client.get(reverse(name, args=args), follow=True)
        assert "This plan is closed" in response.content.decode(), name
    response = client.post(reverse("plans:action_status", args=[action.pk]), {"status": "done"}, follow=True)
    assert "This plan is closed" in response.content.decode()
    action.refresh_from_db()
    assert action.status == ActionStatus.PLANNED


def test_closing_twice_says_so(world, client):
    plan, _, _ = _plan_world(world)
    plan.close(when=timezone.now())
    client.force_login(world.other_rep)
    response = client.post(reverse("plans:close", args=[plan.pk]), follow=True)
    assert "This plan is already closed." in response.content.decode()


# --- Objectives --------------------------------------------------------------------------------------------


def _objective_data(**overrides):
    return {
        "title": "Lift CM",
        "metric": "CM %",
        "baseline": "12",
        "target": "18",
        "current": "14",
        "due_date": f"{TODAY().year}-12-31",
        "status": "open",
    } | overrides


def test_objective_is_added_and_shows_its_progress(world, client):
    plan = PlanFactory(account=world.rep_account)
    client.force_login(world.rep)
    response = client.post(reverse("plans:objective_create", args=[plan.pk]), _objective_data())
    assert response.status_code == 302
    objective = Objective.objects.get(plan=plan)
    assert (objective.metric, objective.target, objective.current) == ("CM %", Decimal("18"), Decimal("14"))
    body = client.get(reverse("plans:detail", args=[plan.pk])).content.decode()
    assert "Lift CM" in body
    assert '<progress value="0.33" max="1"' in body
    assert "33%" in body
    assert "CM %: 12 &rarr; <strong>18</strong>" in body


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"target": "12"}, "The target must differ from the baseline"),
        ({"metric": ""}, "This field is required."),
        ({"target": "lots"}, "Enter a number."),
        ({"due_date": ""}, "This field is required."),
    ],
)
def test_invalid_objective_is_explained_and_not_saved(world, client, overrides, message):
    plan = PlanFactory(account=world.rep_account)
    client.force_login(world.rep)
    response = client.post(reverse("plans:objective_create", args=[plan.pk]), _objective_data(**overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Objective.objects.exists()


def test_objective_is_edited(world, client):
    objective = ObjectiveFactory(plan=PlanFactory(account=world.rep_account))
    client.force_login(world.rep)
    client.post(reverse("plans:objective_edit", args=[objective.pk]), _objective_data(status="achieved"))
    objective.refresh_from_db()
    assert (objective.title, objective.status) == ("Lift CM", "achieved")


# --- Actions -----------------------------------------------------------------------------------------------


def _action_data(who, **overrides):
    return {
        "title": "Quarterly business review",
        "approach": Approach.PERSONAL_TRUST,
        "owner": who.pk,
        "due_date": (TODAY() + datetime.timedelta(days=10)).isoformat(),
        "objective": "",
        "cost": "",
    } | overrides


def test_action_owner_may_be_anyone_on_the_team(world, client):
    plan = PlanFactory(account=world.rep_account)
    TeamMemberFactory(account=world.rep_account, user=world.colleague, function="engineering")
    client.force_login(world.rep)
    response = client.post(
        reverse("plans:action_create", args=[plan.pk]), _action_data(world.colleague, cost="1200")
    )
    assert response.status_code == 302
    action = PlanAction.objects.get(plan=plan)
    assert (action.owner, action.cost, action.status) == (world.colleague, Decimal("1200"), "planned")


def test_action_form_offers_the_team_and_the_five_approaches_with_their_aims(world, client):
    plan = PlanFactory(account=world.rep_account)
    TeamMemberFactory(account=world.rep_account, user=world.colleague)
    client.force_login(world.rep)
    body = client.get(
        reverse("plans:action_create", args=[plan.pk]) + "?approach=risk_reduction"
    ).content.decode()
    assert str(world.colleague) in body
    assert str(world.other_rep) not in body
    assert "Personal trust: confidence and reassurance" in body
    assert "Resource support: lighten their financial burden" in body
    assert 'value="risk_reduction" required id="id_approach_4" checked' in body
    assert 'name="approach" value=""' not in body
    assert f'<option value="{world.rep.pk}" selected>' in body  # the owner defaults to whoever adds it


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("owner", "other_rep", "Choose someone on the account team: the owner or a team member."),
        ("owner", "", "Choose who owns this action."),
        ("cost", "-5", "A cost cannot be negative."),
        ("approach", "", "Choose which of the five approaches this serves."),
        ("approach", "bribery", "Select a valid choice."),
        ("due_date", "", "This field is required."),
    ],
)
def test_invalid_action_is_explained_and_not_saved(world, client, field, value, message):
    plan = PlanFactory(account=world.rep_account)
    client.force_login(world.rep)
    if value == "other_rep":
        value = world.other_rep.pk
    response = client.post(
        reverse("plans:action_create", args=[plan.pk]), _action_data(world.rep, **{field: value})
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not PlanAction.objects.exists()


def test_action_objective_must_belong_to_the_plan(world, client):
    plan = PlanFactory(account=world.rep_account)
    foreign = ObjectiveFactory(plan=PlanFactory(account=world.other_account))
    client.force_login(world.rep)
    response = client.post(
        reverse("plans:action_create", args=[plan.pk]), _action_data(world.rep, objective=foreign.pk)
    )
    assert "Select a valid choice." in response.content.decode()
    assert not PlanAction.objects.exists()


def test_action_edit_returns_to_where_it_started(world, client):
    action = ActionFactory(plan=PlanFactory(account=world.rep_account))
    client.force_login(world.rep)
    url = reverse("plans:action_edit", args=[action.pk]) + "?next=/accounts/1/"
    response = client.post(url, _action_data(world.rep, title="Renamed", next="/accounts/1/"))
    assert response["Location"] == "/accounts/1/"
    action.refresh_from_db()
    assert action.title == "Renamed"


def test_plan_page_groups_actions_under_the_five_approaches(world, client):
    plan = PlanFactory(account=world.rep_account)
    ActionFactory(plan=plan, title="Free trial of the new line", approach=Approach.RISK_REDUCTION)
    client.force_login(world.rep)
    body = client.get(reverse("plans:detail", args=[plan.pk])).content.decode()
    for label, aim in [
        ("Personal trust", "Confidence and reassurance"),
        ("Technical support", "Know-how and productivity"),
        ("Resource support", "Lighten their financial burden"),
        ("Service levels", "Better service"),
        ("Risk reduction", "Lower their uncertainty"),
    ]:
        assert label in body
        assert aim in body
    risk = body.index('id="approach-risk_reduction"')
    assert body.index("Free trial of the new line") > risk
    assert body.count("No action under this approach yet.") == 4


# --- The in-place status ------------------------------------------------------------------------------------


def test_htmx_status_change_returns_the_row_and_persists(world, client):
    action = ActionFactory(plan=PlanFactory(account=world.rep_account), title="Plant tour")
    client.force_login(world.rep)
    response = client.post(
        reverse("plans:action_status", args=[action.pk]),
        {"status": "done", "next": "/accounts/"},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith(f'<li class="action action--done" id="action-{action.pk}"')
    assert "<html" not in body
    assert '<option value="done" selected>Done</option>' in body
    assert 'data-saved="Plant tour: done"' in body
    assert 'name="next" value="/accounts/"' in body
    action.refresh_from_db()
    assert (action.status, action.completed_on) == ("done", TODAY())


def test_status_change_without_htmx_goes_back_with_a_message(world, client):
    action = ActionFactory(plan=PlanFactory(account=world.rep_account), title="Plant tour")
    client.force_login(world.rep)
    url = reverse("plans:action_status", args=[action.pk])
    response = client.post(url, {"status": "in_progress", "next": "/"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    page = client.get("/").content.decode()
    assert "“Plant tour” is now in progress." in page
    action.refresh_from_db()
    assert action.status == "in_progress"


def test_status_change_never_redirects_off_site(world, client):
    action = ActionFactory(plan=PlanFactory(account=world.rep_account))
    client.force_login(world.rep)
    response = client.post(
        reverse("plans:action_status", args=[action.pk]), {"status": "done", "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("plans:detail", args=[action.plan_id])


@pytest.mark.parametrize("htmx", [True, False])
def test_invalid_status_is_explained_and_not_saved(world, client, htmx):
    action = ActionFactory(plan=PlanFactory(account=world.rep_account))
    client.force_login(world.rep)
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = client.post(
        reverse("plans:action_status", args=[action.pk]), {"status": "finished"}, follow=not htmx, **headers
    )
    body = response.content.decode()
    assert "Choose one of: Planned, In progress, Done, Cancelled." in body
    action.refresh_from_db()
    assert action.status == "planned"


def test_rep_cannot_move_another_reps_action(world, client):
    _, _, action = _plan_world(world)
    client.force_login(world.rep)
    response = client.post(
        reverse("plans:action_status", args=[action.pk]), {"status": "cancelled"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 404
    action.refresh_from_db()
    assert action.status == "planned"


def test_plan_list_counts_what_is_in_each_plan(world, client):
    plan = PlanFactory(account=world.rep_account, title="This year")
    ObjectiveFactory(plan=plan)
    ActionFactory(plan=plan)
    ActionFactory(plan=plan, status="done")
    last_year = TODAY().year - 1
    PlanFactory(
        account=world.rep_account,
        title="Last year",
        status="closed",
        period_start=datetime.date(last_year, 1, 1),
        period_end=datetime.date(last_year, 12, 31),
    )
    client.force_login(world.rep)
    body = client.get(reverse("plans:list", args=[world.rep_account.pk])).content.decode()
    assert body.index("This year") < body.index("Last year")
    assert '1 <span class="muted">of 2</span>' in body


def test_my_day_lists_due_actions_with_their_status_control(world, client):
    mine = ActionFactory(plan=PlanFactory(account=world.rep_account), title="Call the CFO")
    ActionFactory(plan=PlanFactory(account=world.other_account), title="Secret action", owner=world.other_rep)
    ActionFactory(
        plan=PlanFactory(account=world.rep_account, status="draft"), title="Draft action", owner=world.rep
    )
    client.force_login(world.rep)
    body = client.get(reverse("home")).content.decode()
    assert "Call the CFO" in body
    assert f'id="action-status-{mine.pk}"' in body
    assert 'name="show_account" value="1"' in body
    assert "Secret action" not in body
    assert "Draft action" not in body
