"""kam.cache.TolerantRedisCache: a real Redis when it answers, a clean miss when it does not."""

import logging
import socket
import uuid

import pytest
from django.conf import settings

from kam.cache import TolerantRedisCache
from tests.conftest import need
from tests.fixtures.worker import redis_available


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: nothing listens there


def _cache(url: str) -> TolerantRedisCache:
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    return TolerantRedisCache(url, {"KEY_PREFIX": prefix, "OPTIONS": {"socket_connect_timeout": 0.5}})


def test_without_redis_every_call_answers_as_a_miss_and_warns_once(caplog):
    cache = _cache(f"redis://127.0.0.1:{_closed_port()}/0")
    with caplog.at_level(logging.WARNING, logger="kam.cache"):
        assert cache.get("k", "default") == "default"
        cache.set("k", 1)
        assert cache.add("k", 1) is False
        assert cache.get_many(["a", "b"]) == {}
        assert cache.set_many({"a": 1, "b": 2}) == ["a", "b"]
        assert cache.has_key("k") is False
        assert cache.delete("k") is False
        cache.delete_many(["a"])
        assert cache.touch("k") is False
        assert cache.get_or_set("k", 42) == 42  # computed, not stored
        with pytest.raises(ValueError, match="not found"):
            cache.incr("k")
    assert not cache.available  # the breaker is open: no connection attempt per call
    warnings = [r for r in caplog.records if r.name == "kam.cache"]
    assert len(warnings) == 1
    assert "cache unavailable" in warnings[0].getMessage()


@pytest.mark.redis
def test_with_redis_it_is_a_plain_redis_cache():
    need(redis_available(), "needs Redis: set REDIS_URL=redis://...")
    cache = _cache(settings.REDIS_URL)
    try:
        cache.set("k", {"a": 1}, 30)
        assert cache.get("k") == {"a": 1}
        assert cache.add("k", 2) is False
        cache.set("n", 1, 30)
        assert cache.incr("n", 2) == 3
        assert cache.get_many(["k", "n", "missing"]) == {"k": {"a": 1}, "n": 3}
        assert cache.delete("k") is True
        assert cache.get("k") is None
        assert cache.available
    finally:
        cache.delete_many(["k", "n"])


@pytest.mark.redis
def test_the_breaker_closes_again_after_the_retry_interval(monkeypatch):
    need(redis_available(), "needs Redis: set REDIS_URL=redis://...")
    cache = _cache(settings.REDIS_URL)
    cache._down_until = float("inf")  # as after a failure
    assert cache.get("k", "miss") == "miss"  # Redis is up, but the breaker is open: not asked
    cache._down_until = 0.0  # the interval has passed
    cache.set("k", "hit", 30)
    try:
        assert cache.get("k") == "hit"
    finally:
        cache.delete("k")
