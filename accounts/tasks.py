"""Celery entry points for the nightly cadence check and the daily digest: parse a date, call a service."""

import datetime
import logging

import redis
from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from accounts.alerts import cadence_check
from accounts.digest import digest_send
from scoring.runs import TRANSIENT_ERRORS

log = logging.getLogger(__name__)

RETRY = {
    "ignore_result": True,  # the outcome is in the database (and the worker's log)
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 5,
}
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


# At most once: a digest sent twice is worse than one sent late, so no late ack and a claim per day.
@shared_task(acks_late=False, **RETRY)
def digest_send_task(today: str | None = None) -> int:
    """Email each owner their digest for `today`, once a day however often the task is delivered."""
    day = _day(today)
    if not _claim(digest_claim_key(day)):
        log.info("The digest for %s was already sent", day)
        return 0
    try:
        return digest_send(today=day)
    except (OperationalError, InterfaceError):
        # Nothing was sent yet (the digest reads everything first): let the retry claim the day again.
        _release(digest_claim_key(day))
        raise


def digest_claim_key(day: datetime.date) -> str:
    return f"kam:digest-sent:{day.isoformat()}"


def _redis():
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5)


def _claim(key: str) -> bool:
    """SET NX on Redis, shared by every worker. Without REDIS_URL tasks run in-process, once: no claim."""
    if not settings.REDIS_URL:
        return True
    return bool(_redis().set(key, "1", nx=True, ex=DIGEST_CLAIM_SECONDS))


def _release(key: str) -> None:
    if settings.REDIS_URL:
        _redis().delete(key)
