"""Celery entry points for the nightly cadence check and the daily digest: parse a date, call a service."""

import datetime
import logging

import redis
from celery import shared_task
from django.conf import settings
from django.utils import timezone

from kam.jobs import RETRY, TRANSIENT_ERRORS, forward_old_name
from workspace.cadence_check import cadence_check
from workspace.digest import DigestNotSent, digest_send

log = logging.getLogger(__name__)

DIGEST_CLAIM_SECONDS = 2 * 24 * 60 * 60


def _day(value: str | None) -> datetime.date:
    return datetime.date.fromisoformat(value) if value else timezone.localdate()


@shared_task(acks_late=True, **RETRY)
def cadence_check_task(today: str | None = None, send_digest: bool = True) -> dict:
    """Open, resolve and escalate alerts as of `today` (YYYY-MM-DD, default: today), then queue the digest."""
    day = _day(today)
    result = cadence_check(today=day)
    if send_digest:
        digest_send_task.delay(today=day.isoformat())
    return result.as_dict()


DIGEST_RETRY = {
    **RETRY,
    # A mail server that is down or refuses a send: retried later, sending only to whoever is still waiting.
    "autoretry_for": (*TRANSIENT_ERRORS, DigestNotSent),
    "retry_backoff": 30,
    "retry_backoff_max": 30 * 60,
    # One task a day, no herd to spread: full jitter would only allow a retry straight away (1 time in 31),
    # at a mail server that refused a moment ago. 30 s, 60 s, 120 s ... instead.
    "retry_jitter": False,
}


# At most once per person: a digest sent twice is worse than one sent late, so no late ack and a claim per
# owner and day, released when that owner's send fails so the retry sends theirs (and nobody else's again).
@shared_task(bind=True, acks_late=False, **DIGEST_RETRY)
def digest_send_task(self, today: str | None = None) -> int:
    """Email each owner their digest for `today`, once a day however often the task is delivered."""
    day = _day(today)
    client = _redis() if settings.REDIS_URL else None  # one connection pool for every claim of the run
    try:
        return digest_send(
            today=day,
            claim=lambda user: _claim(digest_claim_key(day, user.pk), client=client),
            release=lambda user: _release(digest_claim_key(day, user.pk), client=client),
        )
    except DigestNotSent as exc:
        if self.request.is_eager:
            # In-process (no REDIS_URL) there are no claims, so a retry would send everybody's again, and
            # it would run inside the caller's request: log it and leave it for tomorrow.
            log.error("%s; not retried in-process", exc)
            return exc.sent
        raise


def digest_claim_key(day: datetime.date, user_id: int) -> str:
    return f"kam:digest-sent:{day.isoformat()}:{user_id}"


def _redis():
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5)


def _claim(key: str, *, client=None) -> bool:
    """SET NX on Redis, shared by every worker. Without REDIS_URL tasks run in-process, once: no claim."""
    if not settings.REDIS_URL:
        return True
    return bool((client or _redis()).set(key, "1", nx=True, ex=DIGEST_CLAIM_SECONDS))


def _release(key: str, *, client=None) -> None:
    if settings.REDIS_URL:
        (client or _redis()).delete(key)


# Queued before the tasks moved out of the accounts app (December 2026); remove after the next release.
forward_old_name("accounts.tasks.cadence_check_task", "workspace.tasks.cadence_check_task")
forward_old_name("accounts.tasks.digest_send_task", "workspace.tasks.digest_send_task")
