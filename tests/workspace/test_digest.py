"""The daily digest: each person gets their own lapsed accounts, gaps, due actions and escalations."""

import datetime

import pytest
from django.utils import timezone

from accounts.models import Account
from plans.models import ActionStatus
from tests.conftest import need
from tests.factories import ActionFactory, PlanFactory, TeamMemberFactory, UserFactory
from tests.fixtures.worker import redis_available
from workspace.cadence_check import cadence_check
from workspace.digest import digest_send, digests_for
from workspace.tasks import cadence_check_task, digest_send_task

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery", "clean_digest_claims")]

TODAY = timezone.localdate()


def day(offset: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=offset)


def overdue(account, *, since: datetime.date) -> None:
    Account.objects.filter(pk=account.pk).update(cadence_days=30, next_contact_due=since)


@pytest.fixture
def portfolio(world, settings):
    settings.KAM_ALERT_GRACE_DAYS = 14
    settings.KAM_COVERAGE_GAP_DAYS = 180
    settings.KAM_SITE_URL = "https://kam.example.com"
    overdue(world.rep_account, since=day(-30))
    overdue(world.other_account, since=day(-12))
    Account.objects.filter(pk=world.team_account.pk).update(
        is_key=True, key_since=day(-300), key_reason="Strategic partner."
    )
    rep_plan = PlanFactory(account=world.rep_account)
    ActionFactory(plan=rep_plan, owner=world.rep, title="Send the trial results", due_date=day(-3))
    ActionFactory(plan=rep_plan, owner=world.rep, title="Book the plant tour", due_date=TODAY)
    ActionFactory(plan=rep_plan, owner=world.rep, title="Next quarter's review", due_date=day(10))
    ActionFactory(
        plan=rep_plan, owner=world.rep, title="Done already", due_date=day(-5), status=ActionStatus.DONE
    )
    # The engineer owns an action on the rep's plan: plan actions go to their owner, in any function (on the
    # account team, so the account is one they can see; tests/workspace/test_digest_delivery.py covers the rest).
    TeamMemberFactory(account=world.rep_account, user=world.colleague, function="engineering")
    ActionFactory(plan=rep_plan, owner=world.colleague, title="Run the line audit", due_date=day(-1))
    cadence_check(today=day(-20))  # the rep's account lapsed 10 days before this: its alert is 20 days old
    cadence_check(today=TODAY)
    return world


def digest_of(mailoutbox, user):
    [message] = [m for m in mailoutbox if m.to == [user.email]]
    return message


def test_each_owner_gets_their_own_lapsed_accounts_and_gaps_and_nobody_elses(portfolio, mailoutbox):
    world = portfolio
    assert digest_send(today=TODAY) == 4  # rep, other rep, the engineer, the manager
    rep = digest_of(mailoutbox, world.rep).body
    assert "LAPSED VISIT CADENCE (1)" in rep
    assert "Rep's Own Account: due since" in rep
    assert "(30 days overdue)" in rep
    assert "[escalated to your manager]" in rep
    assert "Other Rep's Account" not in rep
    assert "Team Account" not in rep  # on the rep's team, but owned (and so reported) by the other rep
    other = digest_of(mailoutbox, world.other_rep).body
    assert "Other Rep's Account: due since" in other
    assert "(12 days overdue)" in other
    assert "COVERAGE GAPS (1)" in other
    assert "Team Account: none met in the last 180 days (a gap since" in other
    assert "Rep's Own Account" not in other


def test_plan_actions_due_or_overdue_go_to_the_action_owner(portfolio, mailoutbox):
    world = portfolio
    digest_send(today=TODAY)
    rep = digest_of(mailoutbox, world.rep)
    assert "PLAN ACTIONS DUE (2)" in rep.body
    assert "Send the trial results (Rep's Own Account): due" in rep.body
    assert "3 days overdue" in rep.body
    assert "Book the plant tour" in rep.body
    assert "Next quarter's review" not in rep.body
    assert "Done already" not in rep.body
    assert "Run the line audit" not in rep.body
    engineer = digest_of(mailoutbox, world.colleague)
    assert "Run the line audit (Rep's Own Account)" in engineer.body
    assert engineer.subject.endswith(": 1 action due")


def test_the_manager_gets_the_alerts_escalated_to_them(portfolio, mailoutbox):
    world = portfolio
    digest_send(today=TODAY)
    manager = digest_of(mailoutbox, world.manager)
    assert "ESCALATED TO YOU (2)" in manager.body
    assert f"Rep's Own Account (owner {world.rep}): visit due since" in manager.body
    # A coverage gap escalates like a lapsed cadence, and says what it is.
    assert f"Team Account (owner {world.other_rep}): no decision maker or economic buyer met" in manager.body
    assert "Other Rep's Account" not in manager.body  # open 0 days: within the grace period
    assert manager.subject.endswith(": 2 escalations")


def test_the_digest_has_a_subject_with_counts_links_and_an_html_part(portfolio, mailoutbox):
    world = portfolio
    digest_send(today=TODAY)
    rep = digest_of(mailoutbox, world.rep)
    assert rep.subject.endswith(": 1 lapsed account, 2 actions due")
    url = f"https://kam.example.com/accounts/{world.rep_account.pk}/"
    assert url in rep.body
    html, mimetype = rep.alternatives[0]
    assert mimetype == "text/html"
    assert f'<a href="{url}">Rep&#x27;s Own Account</a>' in html


def test_people_with_nothing_due_or_without_an_email_address_get_no_digest(portfolio, mailoutbox):
    world = portfolio
    UserFactory(username="idle")
    world.colleague.email = ""
    world.colleague.save()
    digest_send(today=TODAY)
    assert sorted(m.to[0] for m in mailoutbox) == sorted(
        u.email for u in (world.rep, world.other_rep, world.manager)
    )


def test_the_digest_is_built_in_two_queries_whatever_the_portfolio_size(portfolio, django_assert_num_queries):
    for _ in range(20):
        owner = UserFactory(manager=portfolio.manager)
        ActionFactory(plan=PlanFactory(account__owner=owner), owner=owner, due_date=day(-1))
    with django_assert_num_queries(2):
        digests = digests_for(today=TODAY)
    assert len(digests) == 24


def test_nightly_task_checks_then_sends_the_digest(world, mailoutbox):
    overdue(world.rep_account, since=day(-1))
    result = cadence_check_task(today=TODAY.isoformat())
    assert result["lapsed_opened"] == 1
    assert result["today"] == TODAY.isoformat()
    assert [m.to for m in mailoutbox] == [[world.rep.email]]


def test_the_digest_task_sends_once_a_day_however_often_it_runs(portfolio, mailoutbox):
    need(redis_available(), "the once-a-day claim lives in Redis: set REDIS_URL=redis://...")
    assert digest_send_task(today=TODAY.isoformat()) == 4
    assert digest_send_task(today=TODAY.isoformat()) == 0
    assert len(mailoutbox) == 4
    assert digest_send_task(today=day(1).isoformat()) == 4
