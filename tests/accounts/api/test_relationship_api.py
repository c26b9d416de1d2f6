"""The relationship record under an account: visits, service problems, influencers, profile, plans, alerts."""

import datetime

import pytest
from django.utils import timezone

from accounts.models import AlertKind, AlertStatus, CadenceAlert, Visit
from kam.api.scopes import ApiScope
from tests.factories import (
    ActionFactory,
    InfluencerFactory,
    ObjectiveFactory,
    PlanFactory,
    ProfileFactory,
    ServiceIssueFactory,
    VisitFactory,
)
from tests.fixtures.api import assert_problem

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


def url(account, what):
    return f"/api/v1/accounts/{account.pk}/{what}/"


def test_logging_a_visit_rolls_it_up_like_the_app(world, key_for, match_schema):
    person = InfluencerFactory(account=world.rep_account)
    client = key_for(world.rep, [ApiScope.READ, ApiScope.WRITE_VISITS])
    day = TODAY() - datetime.timedelta(days=2)
    payload = {
        "date": day.isoformat(),
        "kind": "meeting",
        "summary": "Quarterly review",
        "influencers": [person.pk],
    }
    response = client.post(url(world.rep_account, "visits"), payload, format="json")
    assert response.status_code == 201, response.content
    match_schema(response, "/api/v1/accounts/{account_pk}/visits/", "post")
    body = response.json()
    assert (body["kind"], body["influencers"], body["logged_by"]) == ("meeting", [person.pk], world.rep.pk)
    world.rep_account.refresh_from_db()
    person.refresh_from_db()
    assert world.rep_account.last_contact_date == day
    assert person.last_contact_date == day


def test_a_visit_needs_the_write_visits_scope_and_a_visible_account(world, key_for):
    reader = key_for(world.rep, [ApiScope.READ])
    payload = {"date": TODAY().isoformat(), "summary": "Hello"}
    assert_problem(reader.post(url(world.rep_account, "visits"), payload, format="json"), 403)
    writer = key_for(world.rep, [ApiScope.WRITE_VISITS])
    assert_problem(writer.post(url(world.other_account, "visits"), payload, format="json"), 404)
    assert not Visit.objects.exists()


def test_an_integration_key_logs_a_visit_on_any_account(world, key_for):
    client = key_for(world.integration, [ApiScope.WRITE_VISITS])
    payload = {"date": TODAY().isoformat(), "kind": "phone_call", "summary": "Logged by the call centre"}
    assert client.post(url(world.other_account, "visits"), payload, format="json").status_code == 201


def test_visit_validation(world, key_for):
    stranger = InfluencerFactory(account=world.other_account)
    client = key_for(world.rep, [ApiScope.WRITE_VISITS])
    future = (TODAY() + datetime.timedelta(days=1)).isoformat()
    assert_problem(
        client.post(url(world.rep_account, "visits"), {"date": future, "summary": "x"}), 400, field="date"
    )
    body = {"date": TODAY().isoformat(), "summary": "x", "influencers": [stranger.pk]}
    assert_problem(
        client.post(url(world.rep_account, "visits"), body, format="json"), 400, field="influencers"
    )
    body = {"date": TODAY().isoformat(), "summary": "x", "follow_up_date": "2000-01-01"}
    assert_problem(
        client.post(url(world.rep_account, "visits"), body, format="json"), 400, field="follow_up_date"
    )
    body = {"date": TODAY().isoformat(), "summary": "x", "kind": "carrier pigeon"}
    assert_problem(client.post(url(world.rep_account, "visits"), body, format="json"), 400, field="kind")


def test_listing_visits(world, key_for, match_schema, django_assert_max_num_queries):
    for n in range(25):
        visit = VisitFactory(account=world.rep_account, date=TODAY() - datetime.timedelta(days=n))
        visit.influencers.set(InfluencerFactory.create_batch(2, account=world.rep_account))
    VisitFactory(account=world.other_account)
    client = key_for(world.rep, ["read"])
    client.get(url(world.rep_account, "visits"))
    # key, account (through the access helper), count, page, influencer ids
    with django_assert_max_num_queries(5):
        response = client.get(url(world.rep_account, "visits"))
    rows = response.json()["results"]
    assert len(rows) == 25
    assert rows[0]["date"] == TODAY().isoformat()
    assert all(len(row["influencers"]) == 2 for row in rows)
    match_schema(response, "/api/v1/accounts/{account_pk}/visits/")


def test_service_issues_with_the_open_filter(world, key_for, match_schema):
    ServiceIssueFactory(account=world.rep_account, description="Open one")
    ServiceIssueFactory(
        account=world.rep_account, description="Closed one", opened_on=TODAY() - datetime.timedelta(days=5),
        resolved_on=TODAY(),
    )  # fmt: skip
    client = key_for(world.rep, ["read"])
    response = client.get(url(world.rep_account, "service-issues"))
    assert [r["description"] for r in response.json()["results"]] == ["Open one", "Closed one"]
    match_schema(response, "/api/v1/accounts/{account_pk}/service-issues/")
    only_open = client.get(url(world.rep_account, "service-issues"), {"open": "true"}).json()["results"]
    assert [r["description"] for r in only_open] == ["Open one"]
    assert_problem(client.get(url(world.other_account, "service-issues")), 404)


def test_influencers_and_profile(world, key_for, match_schema, django_assert_max_num_queries):
    boss = InfluencerFactory(account=world.rep_account, name="Boss", influence=5)
    InfluencerFactory(
        account=world.rep_account, name="Buyer", influence=3, reports_to=boss, buying_role="gatekeeper"
    )
    InfluencerFactory(account=world.rep_account, name="Gone", influence=4, is_active=False)
    client = key_for(world.rep, ["read"])
    with django_assert_max_num_queries(5):
        response = client.get(url(world.rep_account, "influencers"))
    rows = response.json()["results"]
    assert [r["name"] for r in rows] == ["Boss", "Buyer", "Gone"]
    assert rows[1]["reports_to"] == boss.pk
    match_schema(response, "/api/v1/accounts/{account_pk}/influencers/")
    active = client.get(
        url(world.rep_account, "influencers"), {"is_active": "true", "buying_role": "gatekeeper"}
    )
    assert [r["name"] for r in active.json()["results"]] == ["Buyer"]

    empty = client.get(url(world.rep_account, "profile"))
    assert (empty.json()["mission"], empty.json()["completeness"]) == ("", 0.0)
    ProfileFactory(account=world.team_account, mission="Feed the region.")
    profile = client.get(url(world.team_account, "profile"))
    assert profile.json()["mission"] == "Feed the region."
    match_schema(profile, "/api/v1/accounts/{account_pk}/profile/")
    assert_problem(client.get(url(world.other_account, "profile")), 404)


def test_plans_objectives_and_actions(world, key_for, match_schema):
    plan = PlanFactory(account=world.rep_account)
    objective = ObjectiveFactory(plan=plan, current=125000)
    ActionFactory(plan=plan, objective=objective, title="Plant tour")
    ActionFactory(plan=plan, title="Done thing", status="done")
    ActionFactory(plan=PlanFactory(account=world.other_account))
    client = key_for(world.rep, ["read"])
    plans = client.get(url(world.rep_account, "plans"))
    assert [p["id"] for p in plans.json()["results"]] == [plan.pk]
    match_schema(plans, "/api/v1/accounts/{account_pk}/plans/")
    objectives = client.get(url(world.rep_account, "objectives"))
    assert objectives.json()["results"][0]["progress"] == 0.5
    match_schema(objectives, "/api/v1/accounts/{account_pk}/objectives/")
    actions = client.get(url(world.rep_account, "actions"), {"status": "planned"})
    assert [a["title"] for a in actions.json()["results"]] == ["Plant tour"]
    match_schema(actions, "/api/v1/accounts/{account_pk}/actions/")
    assert_problem(client.get(url(world.other_account, "actions")), 404)


def alert(account, status=AlertStatus.OPEN):
    return CadenceAlert.objects.create(
        account=account,
        kind=AlertKind.LAPSED_CADENCE,
        status=status,
        opened_on=TODAY(),
        due_since=TODAY() - datetime.timedelta(days=3),
        resolved_on=TODAY() if status == AlertStatus.RESOLVED else None,
        acknowledged_at=timezone.now() if status == AlertStatus.ACKNOWLEDGED else None,
    )


def test_cadence_alerts_are_scoped_and_filtered(world, key_for, match_schema, django_assert_max_num_queries):
    mine = alert(world.rep_account)
    alert(world.other_account)
    alert(world.team_account, AlertStatus.RESOLVED)
    client = key_for(world.rep, ["read"])
    with django_assert_max_num_queries(4):
        response = client.get("/api/v1/cadence-alerts/")
    assert sorted(r["account_name"] for r in response.json()["results"]) == [
        "Rep's Own Account",
        "Team Account",
    ]
    match_schema(response, "/api/v1/cadence-alerts/")
    open_only = client.get("/api/v1/cadence-alerts/", {"open": "true"}).json()["results"]
    assert [r["id"] for r in open_only] == [mine.pk]
    assert key_for(world.manager).get("/api/v1/cadence-alerts/").json()["count"] == 3


def test_acknowledging_an_alert(world, key_for, match_schema):
    mine, theirs = alert(world.rep_account), alert(world.other_account)
    client = key_for(world.rep, [ApiScope.WRITE_VISITS])
    ack = f"/api/v1/cadence-alerts/{mine.pk}/acknowledge/"
    response = client.post(ack)
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["acknowledged_by"]) == ("acknowledged", world.rep.pk)
    match_schema(response, "/api/v1/cadence-alerts/{id}/acknowledge/", "post")
    assert client.post(ack).json()["status"] == "acknowledged"  # twice is harmless
    assert_problem(client.post(f"/api/v1/cadence-alerts/{theirs.pk}/acknowledge/"), 404)
    assert_problem(key_for(world.rep, ["read"]).post(ack), 403)
    resolved = alert(world.team_account, AlertStatus.RESOLVED)
    assert_problem(client.post(f"/api/v1/cadence-alerts/{resolved.pk}/acknowledge/"), 409)


def test_a_rep_logs_a_visit_from_the_browser_session_too(world, session_as):
    payload = {"date": TODAY().isoformat(), "summary": "Dropped by"}
    client = session_as(world.rep)
    assert client.post(url(world.team_account, "visits"), payload, format="json").status_code == 201
    assert_problem(client.post(url(world.other_account, "visits"), payload, format="json"), 404)
    assert_problem(session_as(world.integration).post(url(world.rep_account, "visits"), payload), 403)


@pytest.mark.parametrize(
    ("what", "make"),
    [
        ("service-issues", lambda account: ServiceIssueFactory(account=account)),
        ("plans", lambda account: PlanFactory(account=account, status="draft")),
        ("objectives", lambda account: ObjectiveFactory(plan__account=account, plan__status="draft")),
        ("actions", lambda account: ActionFactory(plan__account=account, plan__status="draft")),
    ],
)
def test_account_lists_cost_a_fixed_number_of_queries(
    world, key_for, what, make, django_assert_max_num_queries
):
    for _ in range(20):
        make(world.rep_account)
    client = key_for(world.rep, ["read"])
    client.get(url(world.rep_account, what))
    # key, account (through the access helper), count, page
    with django_assert_max_num_queries(4):
        response = client.get(url(world.rep_account, what))
    assert response.json()["count"] == 20


def test_run_and_webhook_lists_cost_a_fixed_number_of_queries(
    world, key_for, make_run, django_assert_max_num_queries
):
    from integrations.models import WebhookDelivery, WebhookEndpoint

    for _ in range(15):
        make_run({})
    hook = WebhookEndpoint.objects.create(owner=world.manager, url="https://x.example.com", events=["ping"])
    for _ in range(15):
        WebhookEndpoint.objects.create(owner=world.manager, url="https://y.example.com", events=["ping"])
        WebhookDelivery.objects.create(endpoint=hook, event="ping", payload={})
    client = key_for(world.manager, ["read"])
    client.get("/api/v1/scoring/runs/")
    for path, count in [
        ("/api/v1/scoring/runs/", 15),
        ("/api/v1/webhooks/", 16),
        (f"/api/v1/webhooks/{hook.pk}/deliveries/", 15),
    ]:
        # key, (the endpoint,) count, page
        with django_assert_max_num_queries(4):
            response = client.get(path)
        assert response.json()["count"] == count


def test_an_integration_key_acknowledges_on_any_account_but_its_session_cannot(world, key_for, session_as):
    theirs = alert(world.other_account)
    ack = f"/api/v1/cadence-alerts/{theirs.pk}/acknowledge/"
    assert_problem(session_as(world.integration).post(ack), 403)
    response = key_for(world.integration, [ApiScope.WRITE_VISITS]).post(ack)
    assert response.json()["acknowledged_by"] == world.integration.pk


def test_the_api_takes_and_shows_the_cost(world, key_for, match_schema):
    client = key_for(world.rep, [ApiScope.READ, ApiScope.WRITE_VISITS])
    address = f"/api/v1/accounts/{world.rep_account.pk}/visits/"
    payload = {"date": TODAY().isoformat(), "kind": "meeting", "summary": "Review", "cost": "80.00"}
    response = client.post(address, payload, format="json")
    assert response.status_code == 201, response.content
    match_schema(response, "/api/v1/accounts/{account_pk}/visits/", "post")
    assert response.json()["cost"] == "80.00"
    body = assert_problem(client.post(address, payload | {"cost": "-1"}, format="json"), 400, field="cost")
    assert "greater than or equal to 0" in str(body["errors"]["cost"])
    assert Visit.objects.count() == 1
