"""The daily digest's delivery rules: only what the owner may see, only active plans, and a claim per owner and
day that a failed send releases, so a mail server outage delays digests instead of losing them."""

import datetime
import smtplib
from unittest import mock

import pytest
from django.core.mail.backends.locmem import EmailBackend
from django.utils import timezone

from accounts.models import Account
from plans.models import PlanStatus
from tests.conftest import need
from tests.factories import ActionFactory, PlanFactory, TeamMemberFactory
from tests.fixtures.worker import redis_available
from workspace import digest
from workspace.digest import digests_for
from workspace.tasks import digest_send_task

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery", "clean_digest_claims")]

TODAY = timezone.localdate()
YESTERDAY = TODAY - datetime.timedelta(days=1)


class FlakyBackend(EmailBackend):
    """The test outbox, with a mail server that refuses some recipients or cannot be reached at all."""

    refuse: set[str] = set()
    unreachable = False

    def open(self):
        if FlakyBackend.unreachable:
            raise ConnectionRefusedError(111, "Connection refused")
        return super().open()

    def send_messages(self, messages):
        for message in messages:
            if set(message.to) & FlakyBackend.refuse:
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(messages)


@pytest.fixture
def flaky_mail(settings):
    settings.EMAIL_BACKEND = f"{__name__}.FlakyBackend"
    FlakyBackend.refuse, FlakyBackend.unreachable = set(), False
    yield FlakyBackend
    FlakyBackend.refuse, FlakyBackend.unreachable = set(), False


@pytest.fixture
def due_actions(world):
    """One overdue action each for the rep, the other rep and the manager, on accounts they can see."""
    ActionFactory(
        plan=PlanFactory(account=world.rep_account), owner=world.rep, title="Rep's call", due_date=YESTERDAY
    )
    ActionFactory(
        plan=PlanFactory(account=world.other_account),
        owner=world.other_rep,
        title="Other's call",
        due_date=YESTERDAY,
    )
    ActionFactory(
        plan=PlanFactory(account=world.team_account),
        owner=world.manager,
        title="Manager's call",
        due_date=YESTERDAY,
    )
    return world


def action_titles(user) -> list[str]:
    return [line.title for d in digests_for(today=TODAY) if d.user == user for line in d.actions]


# --- 3. What the digest may show -----------------------------------------------------------------------------


def test_the_digest_leaves_out_actions_on_accounts_their_owner_can_no_longer_see(world):
    plan = PlanFactory(account=world.other_account)
    # The engineer was given an action, then left the account team: the account is no longer theirs to see.
    ActionFactory(plan=plan, owner=world.colleague, title="Audit the line", due_date=YESTERDAY)
    assert not Account.objects.visible_to(world.colleague).filter(pk=world.other_account.pk).exists()
    assert action_titles(world.colleague) == []
    assert world.colleague not in [d.user for d in digests_for(today=TODAY)]
    # Back on the team, the action is theirs again.
    TeamMemberFactory(account=world.other_account, user=world.colleague, function="engineering")
    assert action_titles(world.colleague) == ["Audit the line"]


def test_the_digest_shows_actions_of_active_plans_only_as_my_day_does(world):
    for status, title in ((PlanStatus.DRAFT, "Draft idea"), (PlanStatus.CLOSED, "Last year's action")):
        ActionFactory(
            plan=PlanFactory(account=world.rep_account, status=status),
            owner=world.rep,
            title=title,
            due_date=YESTERDAY,
        )
    ActionFactory(
        plan=PlanFactory(account=world.rep_account),
        owner=world.rep,
        title="This year's action",
        due_date=YESTERDAY,
    )
    assert action_titles(world.rep) == ["This year's action"]


def test_managers_get_their_actions_on_any_account(due_actions):
    assert action_titles(due_actions.manager) == ["Manager's call"]


def test_the_digest_is_still_built_in_two_queries(due_actions, django_assert_num_queries):
    with django_assert_num_queries(2):
        assert len(digests_for(today=TODAY)) == 3


# --- 6. A claim per owner and day ----------------------------------------------------------------------------


def test_a_refused_send_releases_only_that_owners_claim_and_the_retry_sends_only_theirs(
    due_actions, flaky_mail, mailoutbox
):
    need(redis_available(), "the claims live in Redis: set REDIS_URL=redis://...")
    world = due_actions
    flaky_mail.refuse = {world.rep.email}
    with (
        mock.patch.object(digest_send_task, "retry", side_effect=RuntimeError("retry later")) as retry,
        pytest.raises(RuntimeError, match="retry later"),
    ):
        digest_send_task(today=TODAY.isoformat())
    assert sorted(m.to[0] for m in mailoutbox) == sorted([world.other_rep.email, world.manager.email])
    assert isinstance(retry.call_args.kwargs["exc"], digest.DigestNotSent)
    assert retry.call_args.kwargs["countdown"] == 30  # with backoff, not back to back: 30 s, then 60 s ...
    assert retry.call_args.kwargs["exc"].failed == [world.rep.username]

    flaky_mail.refuse = set()  # the mail server is back: the retry sends the rep's, and nobody's twice
    assert digest_send_task(today=TODAY.isoformat()) == 1
    assert [m.to[0] for m in mailoutbox[2:]] == [world.rep.email]
    assert digest_send_task(today=TODAY.isoformat()) == 0
    assert len(mailoutbox) == 3


def test_an_unreachable_mail_server_claims_nothing_and_is_retried(due_actions, flaky_mail, mailoutbox):
    need(redis_available(), "the claims live in Redis: set REDIS_URL=redis://...")
    flaky_mail.unreachable = True
    with (
        mock.patch.object(digest_send_task, "retry", side_effect=RuntimeError("retry later")) as retry,
        pytest.raises(RuntimeError),
    ):
        digest_send_task(today=TODAY.isoformat())
    assert retry.call_args.kwargs["exc"].sent == 0
    assert mailoutbox == []
    flaky_mail.unreachable = False
    assert digest_send_task(today=TODAY.isoformat()) == 3
    assert digest_send_task(today=TODAY.isoformat()) == 0


def test_a_new_owner_with_something_due_later_the_same_day_still_gets_theirs(due_actions, mailoutbox):
    need(redis_available(), "the claims live in Redis: set REDIS_URL=redis://...")
    world = due_actions
    assert digest_send_task(today=TODAY.isoformat()) == 3
    TeamMemberFactory(account=world.team_account, user=world.colleague, function="engineering")
    ActionFactory(
        plan=world.team_account.plans.get(), owner=world.colleague, title="Engineer's", due_date=YESTERDAY
    )
    assert digest_send_task(today=TODAY.isoformat()) == 1
    assert mailoutbox[-1].to == [world.colleague.email]


def test_in_process_a_failed_send_is_logged_not_retried_and_the_others_go_out(
    due_actions, flaky_mail, mailoutbox, settings, caplog
):
    settings.REDIS_URL = ""  # the embedded mode: tasks run inside the caller, no claims
    world = due_actions
    flaky_mail.refuse = {world.rep.email}
    with mock.patch.object(digest_send_task, "retry") as retry:
        assert digest_send_task.apply(kwargs={"today": TODAY.isoformat()}).get() == 2
    retry.assert_not_called()
    assert sorted(m.to[0] for m in mailoutbox) == sorted([world.other_rep.email, world.manager.email])
    assert "not retried in-process" in caplog.text
