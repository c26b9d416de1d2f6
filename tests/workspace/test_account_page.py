"""The rep's pages: the account page (trend, why this score, plan, orders chart, org chart, alerts), My day,
and logging a visit in under a minute. Query counts are pinned: they must not grow with the record."""

import datetime
import html
import json
import re
from decimal import Decimal
from urllib.parse import quote

import factory
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AlertKind, AlertStatus, CadenceAlert, Visit
from profiles.models import BuyingRole, Stance
from scoring.models import RunStatus, ScoreResult, ScoringModel, ScoringRun
from tests.factories import (
    AccountFactory,
    ActionFactory,
    InfluencerFactory,
    ObjectiveFactory,
    OrderFactory,
    PlanFactory,
    TeamMemberFactory,
    VisitFactory,
)

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


# --- Factories for scoring runs and results (local to these tests) ------------------------------------------


class RunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScoringRun
        django_get_or_create = ("model", "as_of", "status")

    model = factory.LazyFunction(lambda: ScoringModel.objects.get(is_active=True))
    as_of = factory.LazyFunction(TODAY)
    status = RunStatus.SUCCEEDED
    holds_lock = False
    started_at = factory.LazyFunction(timezone.now)
    finished_at = factory.LazyFunction(timezone.now)


class ResultFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScoreResult

    run = factory.SubFactory(RunFactory)
    account = factory.SubFactory(AccountFactory)
    score = 60.0
    rank = 3
    tier = "A"
    revenue = Decimal("120000")
    revenue_prev = Decimal("100000")
    cm = Decimal("36000")
    cm_pct = 0.3
    clv = Decimal("90000")
    growth = 0.2
    image = 4.0
    partnership = None
    strategic = None
    cm_norm, cm_pct_norm, clv_norm, growth_norm = 0.9, 0.6, 0.8, 0.7
    image_norm, partnership_norm, strategic_norm = 0.75, 0.5, 0.5
    cm_points, cm_pct_points, clv_points, growth_points = 27.0, 9.0, 20.0, 7.0
    image_points, partnership_points, strategic_points = 7.5, 5.0, 0.0
    missing = "partnership,strategic"


def scored(account, scores):
    """One successful run per score, a month apart, oldest first; the last is the current run."""
    results = []
    for i, score in enumerate(scores):
        days_ago = 30 * (len(scores) - 1 - i)
        when = timezone.now() - datetime.timedelta(days=days_ago)
        run = RunFactory(as_of=TODAY() - datetime.timedelta(days=days_ago), finished_at=when)
        results.append(ResultFactory(run=run, account=account, score=score))
    type(account).objects.filter(pk=account.pk).update(score=Decimal(str(scores[-1])), tier="A", rank=3)
    return results


def body_of(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


# --- The account page ---------------------------------------------------------------------------------------


def test_header_shows_the_score_trend_across_runs(world, client):
    scored(world.rep_account, [52.0, 57.5, 61.0])
    client.force_login(world.rep)
    body = body_of(client.get(world.rep_account.get_absolute_url()))
    assert '<svg class="sparkline"' in body
    assert "52.0 &rarr; 61.0 over 3 runs" in body
    points = re.search(r'<polyline points="([^"]+)"', body).group(1).split()
    assert len(points) == 3
    ys = [float(p.split(",")[1]) for p in points]
    assert ys[0] > ys[1] > ys[2]  # rising score: the line climbs (SVG y grows downwards)
    assert "Score history (3 runs)" in body


def test_why_this_score_lists_every_criterion_and_flags_missing_data(world, client):
    scored(world.rep_account, [61.0])
    client.force_login(world.rep)
    body = body_of(client.get(world.rep_account.get_absolute_url()))
    why = body[body.index('id="why-title"') :]
    why = why[: why.index("</section>")]
    for label in ("Contribution margin (12 months)", "Customer lifetime value", "Image / prestige"):
        assert label in why
    assert "EUR&nbsp;36,000" in why  # CM raw value, as money
    assert "4 of 5" in why  # image rating
    assert why.count("No data, scored neutral") == 2  # partnership and strategic
    assert "<strong>27.0</strong>" in why  # CM points
    assert "30%" in why  # CM weight of the default model, normalised
    assert "tier A" in why
    assert "Criteria without data score the neutral middle (0.5)" in why


def test_account_not_in_the_current_run_says_so(world, client):
    scored(world.other_account, [40.0])
    client.force_login(world.rep)
    body = body_of(client.get(world.rep_account.get_absolute_url()))
    assert "Not in the latest run" in body


def test_unscored_account_explains_when_scores_come(world, client):
    client.force_login(world.rep)
    body = body_of(client.get(world.rep_account.get_absolute_url()))
    assert "Not scored yet" in body
    assert '<svg class="sparkline"' not in body


def test_plan_summary_shows_objectives_and_actions_by_approach(world, client):
    plan = PlanFactory(account=world.rep_account, title="Win the second plant")
    ObjectiveFactory(plan=plan, title="Raise revenue", current=Decimal("125000"))
    action = ActionFactory(plan=plan, title="Free line trial", approach="risk_reduction")
    ActionFactory(plan=plan, title="Site dinner", approach="personal_trust")
    PlanFactory(account=world.rep_account, title="Old plan", status="closed")
    client.force_login(world.rep)
    body = body_of(client.get(world.rep_account.get_absolute_url()))
    card = body[body.index('id="plan-title"') : body.index('id="orders-title"')]
    assert "Win the second plant" in card
    assert "Old plan" not in card
    assert "Raise revenue" in card
    assert '<progress value="0.50" max="1"' in card
    assert card.index("Personal trust") < card.index("Site dinner") < card.index("Risk reduction")
    assert card.index("Risk reduction") < card.index("Free line trial")
    assert "Lower their uncertainty" in card
    assert "Technical support" not in card  # only the approaches the plan uses
    assert f'id="action-status-{action.pk}"' in card
    assert reverse("plans:detail", args=[plan.pk]) in card
    assert f'name="next" value="{world.rep_account.get_absolute_url()}"' in card


def test_team_member_moves_actions_on_a_shared_account(world, client):
    plan = PlanFactory(account=world.team_account)
    action = ActionFactory(plan=plan, title="Free line trial", owner=world.other_rep)
    client.force_login(world.rep)
    body = body_of(client.get(world.team_account.get_absolute_url()))
    assert f'id="action-status-{action.pk}"' in body


def test_no_active_plan_invites_to_start_one(world, client):
    client.force_login(world.rep)
    body = body_of(client.get(world.rep_account.get_absolute_url()))
    assert "No active plan" in body
    assert reverse("plans:create", args=[world.rep_account.pk]) in body


def test_orders_chart_is_monthly_revenue_and_cm_with_cm_pct_and_a_table(world, client):
    this_month = TODAY().replace(day=1)
    last_month = (this_month - datetime.timedelta(days=1)).replace(day=1)
    OrderFactory(
        account=world.rep_account, date=this_month, revenue=Decimal("1000"), variable_cost=Decimal("600")
    )
    OrderFactory(
        account=world.rep_account, date=this_month, revenue=Decimal("500"), variable_cost=Decimal("400")
    )
    OrderFactory(
        account=world.rep_account, date=last_month, revenue=Decimal("2000"), variable_cost=Decimal("1500")
    )
    OrderFactory(account=world.other_account, date=this_month, revenue=Decimal("99999"))
    client.force_login(world.rep)
    body = body_of(client.get(world.rep_account.get_absolute_url()))
    spec = json.loads(
        re.search(r'<script id="fig-orders" type="application/json">(.*?)</script>', body).group(1)
    )
    revenue, cm, cm_pct = spec["data"]
    assert (revenue["type"], cm["type"], cm_pct["type"]) == ("bar", "bar", "scatter")
    assert cm_pct["yaxis"] == "y2"
    assert spec["layout"]["yaxis2"]["overlaying"] == "y"
    assert len(revenue["x"]) == 24
    assert revenue["x"][-2:] == [last_month.isoformat(), this_month.isoformat()]
    assert revenue["y"][-2:] == [2000.0, 1500.0]
    assert cm["y"][-2:] == [500.0, 500.0]
    assert cm_pct["y"][-2:] == [0.25, 0.3333]
    assert cm_pct["y"][0] is None  # a month without orders has no CM %
    assert 'data-chart="fig-orders"' in body
    assert "vendor/plotly.min.js" in body
    table = body[body.index("The numbers, month by month") :]
    assert f'<th scope="row">{this_month:%b %Y}</th>' in table
    assert "33%" in table


def test_no_orders_no_chart_and_no_plotly(world, client):
    client.force_login(world.rep)
    body = body_of(client.get(world.rep_account.get_absolute_url()))
    assert "No orders yet" in body
    assert "fig-orders" not in body
    assert "plotly" not in body


def test_org_chart_nests_people_under_whom_they_report_to(world, client):
    boss = InfluencerFactory(
        account=world.rep_account, name="Bea Boss", title="CEO", influence=5, stance=Stance.SKEPTIC
    )
    cfo = InfluencerFactory(
        account=world.rep_account, name="Carl CFO", reports_to=boss, buying_role=BuyingRole.GATEKEEPER
    )
    InfluencerFactory(
        account=world.rep_account, name="Dana Buyer", reports_to=cfo, buying_role=BuyingRole.COACH, stance=2
    )
    InfluencerFactory(account=world.rep_account, name="Lone Ranger", buying_role=BuyingRole.USER)
    client.force_login(world.rep)
    body = body_of(client.get(world.rep_account.get_absolute_url()))
    tree = body[body.index('class="org-tree"') :]
    tree = tree[: tree.index("</section>")]
    flat = re.sub(r"\s+", " ", tree)
    # Bea's box, then a nested list with Carl, inside which Dana; Lone Ranger is a second root.
    assert re.search(r"Bea Boss.*?<ul> <li> .*?Carl CFO.*?<ul> <li> .*?Dana Buyer", flat)
    assert flat.index("Dana Buyer") < flat.index("Lone Ranger")
    assert "Decision maker / economic buyer" in tree
    assert "Gatekeeper / purchaser" in tree
    assert "Coach / champion" in tree
    assert "Skeptic" in tree
    assert "Champion" in tree
    assert 'aria-label="5 of 5"' in tree  # Bea's influence
    assert "org-node--decision_maker" in tree


def test_org_chart_survives_a_reporting_loop(world, client):
    a = InfluencerFactory(account=world.rep_account, name="Ann Loop")
    b = InfluencerFactory(account=world.rep_account, name="Ben Loop", reports_to=a)
    type(a).objects.filter(pk=a.pk).update(reports_to=b)  # imported data can hold what the form refuses
    client.force_login(world.rep)
    tree = body_of(client.get(world.rep_account.get_absolute_url())).split('class="org-tree"')[1]
    assert tree.count("<strong>Ann Loop</strong>") == 1
    assert tree.count("<strong>Ben Loop</strong>") == 1


def test_open_alerts_show_on_the_account_page(world, client):
    CadenceAlert.objects.create(
        account=world.rep_account,
        kind=AlertKind.LAPSED_CADENCE,
        opened_on=TODAY(),
        due_since=TODAY() - datetime.timedelta(days=9),
        escalated_at=timezone.now(),
        escalated_to=world.manager,
    )
    CadenceAlert.objects.create(
        account=world.rep_account,
        kind=AlertKind.COVERAGE_GAP,
        opened_on=TODAY() - datetime.timedelta(days=99),
        status=AlertStatus.RESOLVED,
        resolved_on=TODAY(),
    )
    client.force_login(world.rep)
    body = body_of(client.get(world.rep_account.get_absolute_url()))
    alerts = body[body.index('id="alerts-title"') : body.index('class="account-summary"')]
    assert "Lapsed visit cadence" in alerts
    assert f"escalated to {world.manager}" in alerts
    assert "No decision maker met" not in alerts  # resolved


def _rich_account(owner, *, n):
    """An account with n of everything the page shows: visits, influencers, orders, actions, runs."""
    account = AccountFactory(owner=owner, name=f"Rich {n}")
    TeamMemberFactory(account=account)
    people = []
    for i in range(n):
        people.append(
            InfluencerFactory(account=account, name=f"Person {i}", reports_to=people[i // 2] if i else None)
        )
    for i in range(n):
        visit = VisitFactory(account=account, date=TODAY() - datetime.timedelta(days=i))
        visit.influencers.set(people[:2])
    for i in range(n):
        OrderFactory(account=account, date=TODAY() - datetime.timedelta(days=20 * i))
    plan = PlanFactory(account=account)
    for i in range(n):
        objective = ObjectiveFactory(plan=plan, current=Decimal("110000"))
        ActionFactory(plan=plan, approach=["personal_trust", "service_levels"][i % 2], objective=objective)
    scored(account, [50.0 + i for i in range(n)])
    CadenceAlert.objects.create(account=account, kind=AlertKind.LAPSED_CADENCE, opened_on=TODAY())
    return account


def _count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        body_of(client.get(url))
    return len(ctx)


# The account page reads a fixed set of queries, whatever the size of the record: the user (the session comes
# from the cache), the account, its influencers (table and org chart), the active plan with its objectives and
# actions, the score history, the monthly orders, the 12-month sums, the 12-month cost to serve (ROCI), the
# group roll-up (its children, its parent if any; a group also one query per level below and its totals), open
# alerts, this account's result in the current run (with the run), the visit timeline and who was met, service
# issues, the team and key designations. The quick visit form is fetched only when it is opened.
ACCOUNT_PAGE_QUERIES = 18


def test_account_page_query_count_does_not_grow_with_the_record(world, client, django_assert_num_queries):
    few = _rich_account(world.rep, n=2)
    many = _rich_account(world.rep, n=25)
    client.force_login(world.rep)
    assert _count_queries(client, few.get_absolute_url()) == ACCOUNT_PAGE_QUERIES
    with django_assert_num_queries(ACCOUNT_PAGE_QUERIES):
        body = body_of(client.get(many.get_absolute_url()))
    assert body.count('class="org-node ') == 25
    assert body.count('class="status-select') == 25
    assert "over 24 runs" in body  # the trend shows the last 24 runs


def _group(world):
    """Holding (rep) > Plant (rep) > Line (rep), and Holding > Foreign Arm (the other rep's, not the rep's to see)."""
    holding = AccountFactory(name="Holding", owner=world.rep)
    plant = AccountFactory(name="Plant", owner=world.rep, parent=holding)
    line = AccountFactory(name="Line", owner=world.rep, parent=plant)
    foreign = AccountFactory(name="Foreign Arm", owner=world.other_rep, parent=holding)
    for account, revenue, cost in ((holding, "1000", "600"), (plant, "2000", "1500"), (line, "500", "100"),
                                   (foreign, "9000", "1000")):  # fmt: skip
        OrderFactory(account=account, revenue=Decimal(revenue), variable_cost=Decimal(cost))
        OrderFactory(account=account, date=TODAY() - datetime.timedelta(days=400), revenue=Decimal("77777"))
    return holding, plant, line


@pytest.mark.parametrize(
    ("who", "size", "revenue", "cm"), [("rep", 3, "3,500", "1,300"), ("manager", 4, "12,500", "9,300")]
)
def test_the_group_total_adds_up_the_visible_subsidiaries_at_every_level(
    world, client, who, size, revenue, cm
):
    holding, _, _ = _group(world)
    client.force_login(getattr(world, who))
    response = client.get(holding.get_absolute_url())
    rollup = response.context["hierarchy"]
    assert rollup["family_size"] == size
    body = body_of(response)
    group = body[body.index('id="hierarchy-title"') : body.index('id="designations-title"')]
    assert f"This account and {size - 1} subsidiaries at all levels." in group
    assert f'<span class="nowrap">{revenue}</span>' in group
    assert f'<span class="nowrap">{cm}</span>' in group
    assert ("Foreign Arm" in group) is (who == "manager")


def test_an_account_without_subsidiaries_reads_no_group_totals(world, client, django_assert_num_queries):
    _, plant, line = _group(world)
    client.force_login(world.rep)
    leaf = _count_queries(client, line.get_absolute_url())
    parent = _count_queries(client, plant.get_absolute_url())
    assert parent == leaf + 2  # one level further down, and the group's totals
    rollup = client.get(line.get_absolute_url()).context["hierarchy"]
    assert rollup["family_size"] == 1
    assert (rollup["revenue_12m"], rollup["cm_12m"]) == (Decimal("500"), Decimal("400"))


# --- My day ---------------------------------------------------------------------------------------------------


def _due(account, days_overdue):
    type(account).objects.filter(pk=account.pk).update(
        next_contact_due=TODAY() - datetime.timedelta(days=days_overdue), target_cadence_days=30
    )


def test_my_day_lists_my_due_accounts_with_a_quick_log_link(world, client):
    _due(world.rep_account, 12)
    _due(world.other_account, 40)
    client.force_login(world.rep)
    body = body_of(client.get(reverse("home")))
    due = body[body.index('id="due-title"') : body.index('id="alerts-title"')]
    assert "Rep&#x27;s Own Account" in due
    assert "Other Rep" not in due
    assert re.search(r"1\sweek, 5\sdays overdue", due)
    assert f"{reverse('accounts:visit_create', args=[world.rep_account.pk])}?next=/" in due


def test_my_day_shows_open_alerts_and_coverage_gaps_of_my_accounts_only(world, client):
    kw = {"opened_on": TODAY()}
    CadenceAlert.objects.create(account=world.rep_account, kind=AlertKind.LAPSED_CADENCE, **kw)
    CadenceAlert.objects.create(account=world.rep_account, kind=AlertKind.COVERAGE_GAP, **kw)
    CadenceAlert.objects.create(account=world.other_account, kind=AlertKind.LAPSED_CADENCE, **kw)
    client.force_login(world.rep)
    body = body_of(client.get(reverse("home")))
    alerts = body[body.index('id="alerts-title"') : body.index('id="actions-title"')]
    assert 'Open alerts <span class="count">(2)</span>' in alerts
    assert "Lapsed visit cadence" in alerts
    assert "Coverage gaps" in alerts
    assert "Never met" in alerts
    assert "Other Rep" not in alerts


def test_manager_sees_alerts_escalated_to_them(world, client):
    CadenceAlert.objects.create(
        account=world.other_account,
        kind=AlertKind.LAPSED_CADENCE,
        opened_on=TODAY() - datetime.timedelta(days=20),
        escalated_at=timezone.now(),
        escalated_to=world.manager,
    )
    client.force_login(world.manager)
    body = body_of(client.get(reverse("home")))
    assert "Other Rep&#x27;s Account" in body
    assert f"Escalated to {world.manager}" in body
    assert f"owner {world.other_rep}" in body


def test_my_day_shows_score_changes_of_my_accounts_biggest_first(world, client):
    now = timezone.now()
    type(world.rep_account).objects.filter(pk=world.rep_account.pk).update(
        score=Decimal("60"), score_change=Decimal("-2.5"), scored_at=now
    )
    mine = AccountFactory(owner=world.rep, name="Big Mover", score=Decimal("70"), score_change=Decimal("9"))
    type(mine).objects.filter(pk=mine.pk).update(scored_at=now)
    type(world.other_account).objects.filter(pk=world.other_account.pk).update(
        score=Decimal("50"), score_change=Decimal("20"), scored_at=now
    )
    client.force_login(world.rep)
    body = body_of(client.get(reverse("home")))
    changes = body[body.index('id="changes-title"') :]
    assert changes.index("Big Mover") < changes.index("Rep&#x27;s Own Account")
    assert "+9.0" in changes
    assert "-2.5" in changes
    assert "Other Rep" not in changes


def _my_day_world(rep, n):
    for i in range(n):
        account = AccountFactory(owner=rep, name=f"Mine {n}-{i}")
        _due(account, i)
        CadenceAlert.objects.create(account=account, kind=AlertKind.LAPSED_CADENCE, opened_on=TODAY())
        ActionFactory(plan=PlanFactory(account=account), owner=rep)
        type(account).objects.filter(pk=account.pk).update(
            score_change=Decimal("1.5"), scored_at=timezone.now()
        )


# user (the session comes from the cache), due accounts, alerts, actions due, score changes
MY_DAY_QUERIES = 5


@pytest.mark.parametrize(("n", "more", "shown"), [(2, "", 2), (20, "", 10), (20, "actions", 20)])
def test_my_day_query_count_is_fixed(world, client, django_assert_num_queries, n, more, shown):
    _my_day_world(world.rep, n)
    client.force_login(world.rep)
    with django_assert_num_queries(MY_DAY_QUERIES):
        body = body_of(client.get(reverse("home"), {"more": more} if more else {}))
    assert body.count('class="status-select') == shown


def test_my_day_reads_escalated_alerts_on_others_accounts_in_the_same_queries(
    world, client, django_assert_num_queries
):
    """My day's alert query loads only the columns its rows show: showing the owner, whom it was escalated
    to and its status must not fetch anything per row."""
    for i in range(4):
        account = AccountFactory(owner=world.other_rep, name=f"Escalated {i}")
        CadenceAlert.objects.create(
            account=account,
            kind=AlertKind.LAPSED_CADENCE if i % 2 else AlertKind.COVERAGE_GAP,
            opened_on=TODAY(),
            status=AlertStatus.ACKNOWLEDGED if i == 0 else AlertStatus.OPEN,
            acknowledged_at=timezone.now() if i == 0 else None,
            escalated_at=timezone.now(),
            escalated_to=world.manager,
        )
    client.force_login(world.manager)
    with django_assert_num_queries(MY_DAY_QUERIES):
        body = body_of(client.get(reverse("home")))
    alerts = _section(body, "alerts-title", "actions-title")
    assert alerts.count(f"Escalated to {world.manager}") == 4
    assert alerts.count(f"owner {world.other_rep}") == 4
    assert alerts.count("Acknowledged") == 1


def _section(body: str, start_id: str, end_id: str) -> str:
    return body[body.index(f'id="{start_id}"') : body.index(f'id="{end_id}"')]


def test_my_day_shows_ten_of_each_list_with_the_exact_total_and_opens_one_on_request(world, client):
    _my_day_world(world.rep, 13)
    client.force_login(world.rep)
    body = body_of(client.get(reverse("home")))
    due = _section(body, "due-title", "alerts-title")
    assert '<span class="count">(13)</span>' in due
    assert due.count("Log a visit<") == 10
    assert 'href="?more=due#due-title">Show all 13</a>' in due
    alerts = _section(body, "alerts-title", "actions-title")
    assert 'Open alerts <span class="count">(13)</span>' in alerts
    assert alerts.count("Log a visit<") == 10
    assert 'href="?more=lapsed_cadence#lapsed-title">Show all 13</a>' in alerts
    actions = body[body.index('id="actions-title"') : body.index('id="changes-title"')]
    assert '<span class="count">(13)</span>' in actions
    assert 'href="?more=actions#actions-title">Show all 13</a>' in actions

    opened = body_of(client.get(reverse("home"), {"more": "lapsed_cadence"}))
    alerts = _section(opened, "alerts-title", "actions-title")
    assert alerts.count("Log a visit<") == 13
    assert f'href="{reverse("home")}#lapsed-title">Show fewer</a>' in alerts
    # Only the section asked for opens; the others keep their first ten.
    assert _section(opened, "due-title", "alerts-title").count("Log a visit<") == 10
    # The most overdue come first, in the short list and the long one alike.
    assert due.index("Mine 13-12") < due.index("Mine 13-3")
    assert "Mine 13-2<" not in due


def test_my_day_past_the_cap_points_to_the_account_list(world, client, monkeypatch):
    monkeypatch.setattr("workspace.views.MY_DAY_ALL", 12)
    _my_day_world(world.rep, 13)
    client.force_login(world.rep)
    due = _section(body_of(client.get(reverse("home"), {"more": "due"})), "due-title", "alerts-title")
    assert due.count("Log a visit<") == 12
    assert "The first 12 of 13." in due
    assert (
        f'href="{reverse("accounts:list")}?mine=1&amp;sort=due">See them all in the account list</a>' in due
    )


@pytest.mark.parametrize("role", ["anonymous", "integration", "rep", "manager"])
def test_my_day_for_every_role(world, client, role):
    if role != "anonymous":
        client.force_login(getattr(world, role))
    response = client.get(reverse("home"))
    expected = {"anonymous": 302, "integration": 403}.get(role, 200)
    assert response.status_code == expected


@pytest.mark.parametrize(
    ("role", "expected"), [("anonymous", 302), ("integration", 403), ("rep", 404), ("other_rep", 200)]
)
def test_account_page_for_every_role(world, client, role, expected):
    if role != "anonymous":
        client.force_login(getattr(world, role))
    assert client.get(world.other_account.get_absolute_url()).status_code == expected


# --- Logging a visit in under a minute --------------------------------------------------------------------------


def test_log_a_visit_from_my_day_and_come_back(world, client):
    person = InfluencerFactory(account=world.rep_account, name="Dora Decider")
    InfluencerFactory(account=world.other_account, name="Not Mine")
    _due(world.rep_account, 5)
    CadenceAlert.objects.create(account=world.rep_account, kind=AlertKind.LAPSED_CADENCE, opened_on=TODAY())
    client.force_login(world.rep)
    url = reverse("accounts:visit_create", args=[world.rep_account.pk])
    form = body_of(client.get(url + "?next=/"))
    assert 'name="next" value="/"' in form
    assert f'value="{TODAY().isoformat()}"' in form  # the date defaults to today
    assert "Dora Decider" in form
    assert "Not Mine" not in form
    response = client.post(
        url,
        {
            "date": TODAY().isoformat(),
            "kind": "meeting",
            "influencers": [person.pk],
            "summary": "Agreed the trial.",
            "next_steps": "Send the samples.",
            "follow_up_date": (TODAY() + datetime.timedelta(days=14)).isoformat(),
            "next": "/",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/"
    visit = Visit.objects.get(account=world.rep_account)
    assert (visit.kind, list(visit.influencers.all()), visit.next_steps) == (
        "meeting",
        [person],
        "Send the samples.",
    )
    world.rep_account.refresh_from_db()
    assert world.rep_account.last_contact_date == TODAY()
    assert not CadenceAlert.objects.open().filter(account=world.rep_account).exists()
    home = body_of(client.get("/"))
    assert "Visit to Rep&#x27;s Own Account logged." in home


def test_quick_log_on_the_account_page_comes_back_to_it(world, client):
    client.force_login(world.rep)
    page = world.rep_account.get_absolute_url()
    body = body_of(client.get(page))
    log = body[body.index('id="log-visit"') : body.index("</details>", body.index('id="log-visit"'))]
    # The page carries no form, only where to fetch it when the quick log is opened (and, without
    # JavaScript, a link to the full form).
    assert 'name="summary"' not in log
    fragment_url = html.unescape(re.search(r'hx-get="([^"]+)"', log).group(1))
    assert fragment_url == reverse("accounts:visit_create", args=[world.rep_account.pk]) + "?next=" + quote(
        page
    )
    assert f'href="{reverse("accounts:visit_create", args=[world.rep_account.pk])}"' in log

    fragment = client.get(fragment_url, HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    assert "HX-Request" in fragment["Vary"]
    form = fragment.content.decode()
    assert "<html" not in form
    assert "<nav" not in form
    assert form.lstrip().startswith("<form")
    assert 'name="csrfmiddlewaretoken"' in form
    assert f'name="next" value="{page}"' in form
    assert 'name="summary"' in form
    assert 'name="kind"' in form
    assert "Open the full form" in form
    assert "Cancel" not in form
    full = body_of(client.get(reverse("accounts:visit_create", args=[world.rep_account.pk])))
    assert "<nav" in full
    assert "Cancel" in full
    assert "Open the full form" not in full


def test_visit_next_never_leaves_the_site(world, client):
    client.force_login(world.rep)
    url = reverse("accounts:visit_create", args=[world.rep_account.pk])
    form = body_of(client.get(url + "?next=https://evil.example/"))
    assert "evil.example" not in form
    response = client.post(
        url, {"date": TODAY().isoformat(), "kind": "meeting", "summary": "x", "next": "https://evil.example/"}
    )
    assert response["Location"] == world.rep_account.get_absolute_url()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"date": "2999-01-01"}, "A visit cannot be in the future; plan it as a follow-up instead."),
        ({"summary": ""}, "This field is required."),
        ({"kind": "carrier pigeon"}, "Select a valid choice."),
        ({"follow_up_date": "2000-01-01"}, "The follow-up date must be on or after the visit."),
    ],
)
def test_invalid_visit_is_explained_and_not_saved(world, client, overrides, message):
    client.force_login(world.rep)
    data = {"date": TODAY().isoformat(), "kind": "meeting", "summary": "Fine.", "next": "/"} | overrides
    response = client.post(reverse("accounts:visit_create", args=[world.rep_account.pk]), data)
    body = body_of(response)
    assert message in body
    assert 'name="next" value="/"' in body  # still goes back to My day once fixed
    assert not Visit.objects.exists()


# --- The profile, edited in place ------------------------------------------------------------------------------


def test_profile_is_edited_in_place_with_htmx(world, client):
    from profiles.models import AccountProfile

    client.force_login(world.rep)
    url = reverse("profiles:edit", args=[world.rep_account.pk])
    page = body_of(client.get(world.rep_account.get_absolute_url()))
    assert f'hx-get="{url}" hx-target="#profile-card"' in page
    form = body_of(client.get(url, HTTP_HX_REQUEST="true"))
    assert "<html" not in form
    assert form.lstrip().startswith('<section class="card" id="profile-card"')
    assert f'hx-post="{url}"' in form
    assert 'hx-select="#profile-card"' in form  # Cancel puts the card back
    card = body_of(client.post(url, {"mission": "Feed the region."}, HTTP_HX_REQUEST="true"))
    assert "<html" not in card
    assert "Profile saved." in card
    assert "Feed the region." in card
    assert "1 of 9 questions answered" in card
    record = AccountProfile.history.get(account_id=world.rep_account.pk)
    assert (record.mission, record.history_user) == ("Feed the region.", world.rep)


def test_profile_edit_without_htmx_is_a_page_of_its_own(world, client):
    client.force_login(world.rep)
    url = reverse("profiles:edit", args=[world.rep_account.pk])
    assert "<html" in body_of(client.get(url))
    response = client.post(url, {"mission": "Feed the region."})
    assert response["Location"] == world.rep_account.get_absolute_url()


def test_rep_cannot_edit_another_reps_profile_in_place(world, client):
    client.force_login(world.rep)
    url = reverse("profiles:edit", args=[world.other_account.pk])
    assert client.get(url, HTTP_HX_REQUEST="true").status_code == 404
    assert client.post(url, {"mission": "Mine now"}, HTTP_HX_REQUEST="true").status_code == 404
