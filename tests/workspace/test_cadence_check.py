"""The cadence check: one alert per lapsed account, resolved by a visit, escalated once; coverage gaps."""

import datetime

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.alerts import alert_acknowledge
from accounts.models import Account, AccountStatus, AlertKind, AlertStatus, CadenceAlert, VisitKind
from accounts.services import account_update, visit_log
from profiles.models import BuyingRole
from tests.factories import AccountFactory, InfluencerFactory, UserFactory
from workspace.cadence_check import cadence_check

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def day(offset: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=offset)


def visited(account, on, *, kind=VisitKind.MEETING, influencers=()):
    return visit_log(
        account=account,
        logged_by=account.owner,
        date=on,
        kind=kind,
        summary="Walked the plant with the buyer.",
        influencers=influencers,
    )


def monthly(account) -> Account:
    """A 30-day cadence override, so the account is lapsed 30 days after its last qualifying visit."""
    Account.objects.filter(pk=account.pk).update(cadence_days=30)
    account.refresh_from_db()
    return account


def make_key(account, since=None) -> Account:
    Account.objects.filter(pk=account.pk).update(
        is_key=True, key_since=since or day(-400), key_reason="Biggest margin in the region."
    )
    account.refresh_from_db()
    return account


def open_alerts(account, kind=AlertKind.LAPSED_CADENCE):
    return CadenceAlert.objects.open().filter(account=account, kind=kind)


@pytest.fixture
def lapsed(world, settings):
    """The rep's account, last visited 40 days ago on a monthly cadence: 10 days overdue."""
    settings.KAM_ALERT_GRACE_DAYS = 14
    account = monthly(world.rep_account)
    visited(account, day(-40))
    account.refresh_from_db()
    assert account.next_contact_due == day(-10)
    return account


def test_lapsed_account_gets_exactly_one_alert_even_when_the_check_runs_twice(lapsed):
    first = cadence_check(today=TODAY)
    second = cadence_check(today=TODAY)
    assert first.lapsed_opened == 1
    assert second.lapsed_opened == 0
    alert = open_alerts(lapsed).get()
    assert (alert.status, alert.opened_on, alert.due_since) == (AlertStatus.OPEN, TODAY, day(-10))


def test_the_database_refuses_a_second_open_alert_for_the_same_account_and_kind(lapsed):
    cadence_check(today=TODAY)
    with pytest.raises(IntegrityError), transaction.atomic():
        CadenceAlert.objects.create(account=lapsed, kind=AlertKind.LAPSED_CADENCE, opened_on=TODAY)
    alert = open_alerts(lapsed).get()
    alert_acknowledge(alert=alert, by=lapsed.owner)
    with pytest.raises(IntegrityError), transaction.atomic():
        CadenceAlert.objects.create(account=lapsed, kind=AlertKind.LAPSED_CADENCE, opened_on=TODAY)
    # A different kind, or a new alert once the first is resolved, is fine.
    CadenceAlert.objects.create(account=lapsed, kind=AlertKind.COVERAGE_GAP, opened_on=TODAY)
    CadenceAlert.objects.filter(pk=alert.pk).update(status=AlertStatus.RESOLVED, resolved_on=TODAY)
    CadenceAlert.objects.create(account=lapsed, kind=AlertKind.LAPSED_CADENCE, opened_on=TODAY)


def test_accounts_on_cadence_or_without_one_get_no_alert(world, lapsed):
    on_time = monthly(world.other_account)
    visited(on_time, day(-5))
    result = cadence_check(today=TODAY)
    assert result.lapsed_opened == 1
    assert set(CadenceAlert.objects.values_list("account__name", flat=True)) == {lapsed.name}


def test_a_qualifying_visit_logged_by_anyone_resolves_the_alert(world, lapsed):
    cadence_check(today=TODAY)
    visit_log(
        account=lapsed, logged_by=world.colleague, date=TODAY, kind=VisitKind.VIDEO, summary="Quarterly call."
    )
    alert = CadenceAlert.objects.get(account=lapsed)
    assert (alert.status, alert.resolved_on) == (AlertStatus.RESOLVED, TODAY)
    assert cadence_check(today=TODAY).lapsed_opened == 0


def test_a_social_event_does_not_resolve_the_alert(lapsed):
    cadence_check(today=TODAY)
    visited(lapsed, TODAY, kind=VisitKind.SOCIAL)
    assert open_alerts(lapsed).count() == 1


def test_a_backdated_visit_that_leaves_the_account_lapsed_keeps_the_alert_open(lapsed):
    cadence_check(today=TODAY)
    visited(lapsed, day(-35))
    assert open_alerts(lapsed).get().status == AlertStatus.OPEN


def test_the_check_resolves_alerts_whose_account_is_no_longer_lapsed(lapsed):
    cadence_check(today=TODAY)
    # The cadence was relaxed to quarterly: the account is no longer overdue.
    Account.objects.filter(pk=lapsed.pk).update(next_contact_due=day(50))
    result = cadence_check(today=TODAY)
    assert result.lapsed_resolved == 1
    assert CadenceAlert.objects.get(account=lapsed).status == AlertStatus.RESOLVED


def test_a_lost_account_gets_no_alert_and_its_open_alert_is_resolved(world, lapsed):
    cadence_check(today=TODAY)
    # Marked lost the way the product does it: the cadence rule then gives the account no cadence.
    account_update(account=lapsed, data={"status": AccountStatus.LOST}, by=world.manager)
    assert (lapsed.target_cadence_days, lapsed.next_contact_due) == (None, None)
    assert cadence_check(today=TODAY).lapsed_resolved == 1
    assert not open_alerts(lapsed).exists()


def test_alert_open_past_the_grace_period_escalates_to_the_owners_manager_once(world, lapsed):
    cadence_check(today=TODAY)
    assert cadence_check(today=day(14)).escalated == 0  # open 14 days: still within the grace period
    result = cadence_check(today=day(15))
    assert result.escalated == 1
    alert = open_alerts(lapsed).get()
    assert alert.escalated_to == world.manager
    escalated_at = alert.escalated_at
    assert cadence_check(today=day(16)).escalated == 0
    alert.refresh_from_db()
    assert (alert.escalated_to, alert.escalated_at) == (world.manager, escalated_at)


def test_acknowledging_does_not_stop_the_escalation_but_a_visit_does(world, lapsed):
    cadence_check(today=TODAY)
    alert = open_alerts(lapsed).get()
    assert alert_acknowledge(alert=alert, by=world.rep) == 1
    assert alert_acknowledge(alert=alert, by=world.rep) == 0
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by) == (AlertStatus.ACKNOWLEDGED, world.rep)
    assert cadence_check(today=day(15)).escalated == 1
    visited(lapsed, TODAY)
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED
    assert cadence_check(today=day(30)).escalated == 0


def test_an_owner_without_an_active_manager_has_nothing_to_escalate_to(world):
    loner = UserFactory(username="loner")
    account = monthly(AccountFactory(owner=loner))
    visited(account, day(-40))
    left = UserFactory(username="left", is_active=False)
    orphaned = monthly(AccountFactory(owner=UserFactory(username="orphan", manager=left)))
    visited(orphaned, day(-40))
    cadence_check(today=TODAY)
    assert cadence_check(today=day(30)).escalated == 0
    assert open_alerts(account).get().escalated_to is None
    assert open_alerts(orphaned).get().escalated_to is None


def test_key_account_without_a_decision_maker_met_gets_a_coverage_gap(world, settings):
    settings.KAM_COVERAGE_GAP_DAYS = 180
    key = make_key(world.rep_account, since=day(-400))
    InfluencerFactory(account=key, buying_role=BuyingRole.DECISION_MAKER)
    gatekeeper = InfluencerFactory(account=key, buying_role=BuyingRole.GATEKEEPER)
    visited(key, day(-3), influencers=[gatekeeper])  # meeting only the purchaser is the classic weakness
    not_key = world.other_account
    InfluencerFactory(account=not_key, buying_role=BuyingRole.DECISION_MAKER)
    result = cadence_check(today=TODAY)
    assert result.coverage_opened == 1
    gap = open_alerts(key, AlertKind.COVERAGE_GAP).get()
    assert gap.due_since == day(-400)  # never met: a gap since the account became key
    assert not open_alerts(not_key, AlertKind.COVERAGE_GAP).exists()
    assert cadence_check(today=TODAY).coverage_opened == 0


def test_coverage_gap_dates_from_when_the_last_meeting_ran_out(world, settings):
    settings.KAM_COVERAGE_GAP_DAYS = 180
    key = make_key(world.rep_account)
    boss = InfluencerFactory(account=key, buying_role=BuyingRole.DECISION_MAKER)
    visited(key, day(-200), influencers=[boss])
    cadence_check(today=TODAY)
    assert open_alerts(key, AlertKind.COVERAGE_GAP).get().due_since == day(-20)


def test_meeting_a_decision_maker_resolves_the_coverage_gap(world, settings):
    settings.KAM_COVERAGE_GAP_DAYS = 180
    key = make_key(world.rep_account)
    boss = InfluencerFactory(account=key, buying_role=BuyingRole.DECISION_MAKER)
    cadence_check(today=TODAY)
    assert open_alerts(key, AlertKind.COVERAGE_GAP).exists()
    visited(key, TODAY, kind=VisitKind.SOCIAL, influencers=[boss])  # a dinner with the CFO counts as met
    gap = CadenceAlert.objects.get(account=key, kind=AlertKind.COVERAGE_GAP)
    assert (gap.status, gap.resolved_on) == (AlertStatus.RESOLVED, TODAY)
    assert cadence_check(today=TODAY).coverage_opened == 0


def test_a_decision_maker_who_left_does_not_count_as_coverage(world, settings):
    settings.KAM_COVERAGE_GAP_DAYS = 180
    key = make_key(world.rep_account)
    gone = InfluencerFactory(account=key, buying_role=BuyingRole.DECISION_MAKER)
    visited(key, day(-10), influencers=[gone])
    assert cadence_check(today=TODAY).coverage_opened == 0
    gone.is_active = False
    gone.save()
    assert cadence_check(today=TODAY).coverage_opened == 1


def test_an_account_that_is_no_longer_key_has_its_coverage_gap_resolved(world):
    key = make_key(world.rep_account)
    cadence_check(today=TODAY)
    Account.objects.filter(pk=key.pk).update(is_key=False, key_since=None)
    assert cadence_check(today=TODAY).coverage_resolved == 1


def test_the_check_runs_in_a_bounded_number_of_queries_whatever_the_portfolio_size(
    world, django_assert_max_num_queries
):
    owner = UserFactory(username="busy", manager=world.manager)
    for i in range(60):
        account = AccountFactory(owner=owner, cadence_days=30)
        if i % 2:
            make_key(account)
            InfluencerFactory(account=account, buying_role=BuyingRole.DECISION_MAKER)
        Account.objects.filter(pk=account.pk).update(next_contact_due=day(-(i % 5) - 1 if i % 3 else 10))
    cadence_check(today=day(-20))
    with django_assert_max_num_queries(8):
        result = cadence_check(today=TODAY)
    assert result.lapsed_opened == 40
    assert result.coverage_opened == 0  # opened on the first run, when all 30 key accounts had a gap
    assert result.escalated == 30  # those gaps, open 20 days: past the 14-day grace period
    with django_assert_max_num_queries(8):
        assert cadence_check(today=day(20)).escalated == 40


def test_alerts_are_visible_to_whoever_sees_the_account(world, lapsed):
    other = monthly(world.other_account)
    team = monthly(world.team_account)
    visited(other, day(-40))
    visited(team, day(-40))
    cadence_check(today=TODAY)

    def names(user):
        return set(CadenceAlert.objects.visible_to(user).values_list("account__name", flat=True))

    assert names(world.rep) == {lapsed.name, team.name}
    assert names(world.other_rep) == {other.name, team.name}
    assert names(world.manager) == {lapsed.name, other.name, team.name}


def test_check_cadence_command_prints_the_counts(lapsed, capsys, mailoutbox):
    call_command("check_cadence", "--today", TODAY.isoformat())
    out = capsys.readouterr().out
    assert f"Cadence check for {TODAY}: lapsed alerts 1 opened, 0 resolved, 0 escalated" in out
    assert "Digest: 1 email sent." in out
    assert mailoutbox[0].to == [lapsed.owner.email]
    call_command("check_cadence", "--today", TODAY.isoformat(), "--no-digest")
    assert "lapsed alerts 0 opened" in capsys.readouterr().out
    assert len(mailoutbox) == 1


def test_a_coverage_gap_left_open_past_the_grace_period_escalates_and_a_meeting_ends_it(world):
    """Nobody senior met at a key account is as urgent as a missed visit: it reaches the manager too."""
    key = make_key(world.rep_account)
    cadence_check(today=day(-20))
    gap = open_alerts(key, AlertKind.COVERAGE_GAP).get()
    assert gap.escalated_at is None
    assert cadence_check(today=day(-10)).escalated == 0  # open 10 days: within the 14-day grace period
    assert cadence_check(today=TODAY).escalated == 1
    gap.refresh_from_db()
    assert gap.escalated_to == world.manager
    buyer = InfluencerFactory(account=key, buying_role=BuyingRole.DECISION_MAKER)
    visited(key, TODAY, influencers=[buyer])  # logging the visit resolves the alert at once
    assert not open_alerts(key, AlertKind.COVERAGE_GAP).exists()
    gap.refresh_from_db()
    assert gap.status == AlertStatus.RESOLVED
