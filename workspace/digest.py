"""The daily digest: one email per person with what needs them today.

Sections: accounts they own whose visit cadence has lapsed, key accounts they own where no decision maker has
been met (coverage gaps), plan actions they own that are due or overdue, and, for managers, the alerts
(lapsed cadences and coverage gaps) escalated to them. Built from the open alerts the cadence check just
refreshed, in two queries whatever the portfolio size, and sent over one mail connection (console by default,
SMTP when EMAIL_HOST is set).
"""

import contextlib
import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db.models import Exists, F, OuterRef, Q
from django.template.loader import render_to_string

from accounts import access
from accounts.models import AccountTeamMember, AlertKind, CadenceAlert, User
from plans.models import PlanAction, PlanStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlertLine:
    account: str
    url: str
    owner: str
    since: datetime.date | None
    days: int | None
    last_contact: datetime.date | None
    acknowledged: bool
    escalated: bool
    coverage_gap: bool = False  # else a lapsed visit cadence


@dataclass(frozen=True)
class ActionLine:
    title: str
    account: str
    url: str
    due_date: datetime.date
    days_overdue: int


@dataclass
class Digest:
    user: User
    today: datetime.date
    lapsed: list[AlertLine] = field(default_factory=list)
    coverage_gaps: list[AlertLine] = field(default_factory=list)
    actions: list[ActionLine] = field(default_factory=list)
    escalated: list[AlertLine] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.lapsed or self.coverage_gaps or self.actions or self.escalated)

    @property
    def subject(self) -> str:
        parts = [
            (len(self.lapsed), "lapsed account", "lapsed accounts"),
            (len(self.coverage_gaps), "coverage gap", "coverage gaps"),
            (len(self.actions), "action due", "actions due"),
            (len(self.escalated), "escalation", "escalations"),
        ]
        counts = ", ".join(f"{n} {one if n == 1 else many}" for n, one, many in parts if n)
        return f"Your key accounts on {self.today:%a} {self.today.day} {self.today:%b}: {counts}"


def _url(path: str) -> str:
    return settings.KAM_SITE_URL.rstrip("/") + path


def _alert_line(alert: CadenceAlert, today: datetime.date) -> AlertLine:
    account = alert.account
    since = alert.due_since
    return AlertLine(
        account=account.name,
        url=_url(account.get_absolute_url()),
        owner=str(account.owner) if account.owner else "nobody",
        since=since,
        days=(today - since).days if since else None,
        last_contact=account.last_contact_date,
        acknowledged=alert.status == "acknowledged",
        escalated=alert.escalated_at is not None,
        coverage_gap=alert.kind == AlertKind.COVERAGE_GAP,
    )


def digests_for(*, today: datetime.date) -> list[Digest]:
    """Every non-empty digest for `today`, one per active user with an email address. Two queries."""
    digests: dict[int, Digest] = {}

    def digest_of(user: User | None) -> Digest | None:
        if user is None or not user.is_active or not user.email:
            return None
        if user.pk not in digests:
            digests[user.pk] = Digest(user=user, today=today)
        return digests[user.pk]

    alerts = (
        CadenceAlert.objects.open()
        .filter(Q(account__owner__isnull=False) | Q(escalated_to__isnull=False))
        .select_related("account__owner", "escalated_to")
        .order_by("due_since", "account__name")
    )
    for alert in alerts:
        line = _alert_line(alert, today)
        if (digest := digest_of(alert.account.owner)) is not None:
            section = digest.lapsed if alert.kind == AlertKind.LAPSED_CADENCE else digest.coverage_gaps
            section.append(line)
        if alert.escalated_to_id and (digest := digest_of(alert.escalated_to)) is not None:
            digest.escalated.append(line)

    # As on My day (plans.selectors.actions_due): actions of active plans only, and only on accounts the
    # action's owner can still see (Account.objects.visible_to, evaluated per owner inside the query): an
    # engineer who left the account team must not keep receiving its name and actions.
    owner_sees_account = (
        access.sees_everything_q("owner")
        | Q(plan__account__owner=F("owner"))
        | Exists(AccountTeamMember.objects.filter(account=OuterRef("plan__account"), user=OuterRef("owner")))
    )
    actions = (
        PlanAction.objects.due_by(today)
        .filter(owner_sees_account, owner__isnull=False, plan__status=PlanStatus.ACTIVE)
        .select_related("owner", "plan__account")
        .order_by("due_date", "id")
    )
    for action in actions:
        if (digest := digest_of(action.owner)) is not None:
            account = action.plan.account
            digest.actions.append(
                ActionLine(
                    title=action.title,
                    account=account.name,
                    url=_url(account.get_absolute_url()),
                    due_date=action.due_date,
                    days_overdue=max((today - action.due_date).days, 0),
                )
            )
    return sorted((d for d in digests.values() if not d.is_empty), key=lambda d: d.user.username)


def digest_message(digest: Digest) -> EmailMultiAlternatives:
    context = {
        "digest": digest,
        "user": digest.user,
        "site_url": settings.KAM_SITE_URL,
        "gap_days": settings.KAM_COVERAGE_GAP_DAYS,
    }
    message = EmailMultiAlternatives(
        subject=digest.subject,
        body=render_to_string("emails/digest.txt", context),
        to=[digest.user.email],
    )
    message.attach_alternative(render_to_string("emails/digest.html", context), "text/html")
    return message


# What a mail server or the network may throw at a send (smtplib.SMTPException is an OSError).
MAIL_ERRORS = (OSError,)


class DigestNotSent(Exception):
    """Some digests could not be sent (their claims were released, so a retry sends exactly those)."""

    def __init__(self, *, sent: int, failed: list[str], cause: BaseException):
        self.sent, self.failed = sent, failed
        super().__init__(
            f"{len(failed)} digest(s) not sent ({', '.join(failed)}), {sent} sent: {type(cause).__name__}: {cause}"
        )


def digest_send(
    *,
    today: datetime.date,
    claim: Callable[[User], bool] | None = None,
    release: Callable[[User], None] | None = None,
) -> int:
    """Send today's digests, one owner at a time; returns how many emails went out.

    Everything is read before the first is sent. `claim(user)` is asked before each send (False: that
    person's digest already went out today, skip it); `release(user)` is called when their send fails, so
    a retry sends theirs and nobody else's twice. A failure does not stop the others: once every digest
    was tried, DigestNotSent names the people still waiting.
    """
    messages = [(d.user, digest_message(d)) for d in digests_for(today=today)]
    if not messages:
        return 0
    sent, failed, cause = 0, [], None
    try:
        mail = get_connection()
        mail.open()
    except MAIL_ERRORS as exc:
        raise DigestNotSent(sent=0, failed=[u.username for u, _ in messages], cause=exc) from exc
    try:
        for user, message in messages:
            if claim is not None and not claim(user):
                continue
            try:
                sent += mail.send_messages([message]) or 0
            except MAIL_ERRORS as exc:
                log.warning("The digest for %s on %s was not sent: %s", user.username, today, exc)
                if release is not None:
                    release(user)
                failed.append(user.username)
                cause = cause or exc
    finally:
        with contextlib.suppress(*MAIL_ERRORS):  # every message was handed over or its failure recorded
            mail.close()
    if failed:
        raise DigestNotSent(sent=sent, failed=failed, cause=cause) from cause
    return sent
