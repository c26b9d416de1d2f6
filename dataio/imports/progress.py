"""How far a running import got, for the progress bar: in Redis, outside the import's transaction (which
other connections cannot see into). Without REDIS_URL the import runs in-process and nobody polls."""

import contextlib

import redis
from django.conf import settings

TTL_SECONDS = 24 * 60 * 60


def _key(record_id: int) -> str:
    return f"kam:import-progress:{record_id}"


def _redis():
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5)


def reporter(record_id: int):
    def report(rows: int) -> None:
        if settings.REDIS_URL:
            with contextlib.suppress(redis.RedisError):  # the bar stalls; the import goes on
                _redis().set(_key(record_id), rows, ex=TTL_SECONDS)

    return report


def rows_done(record_id: int) -> int | None:
    if not settings.REDIS_URL:
        return None
    try:
        value = _redis().get(_key(record_id))
    except redis.RedisError:
        return None
    return int(value) if value is not None else None
