"""A Redis cache that degrades to "no cache" when Redis is unreachable, instead of failing the request.

Everything this project caches can be recomputed: sessions (`cached_db`: the database holds them), the dashboard
snapshot, filter menus, API throttle counters. Django's RedisCache raises on a refused or timed-out connection,
which would turn "Redis stopped" into a 500 on every page. Here a failing call logs a warning (at most once per
`RETRY_SECONDS`), answers as a miss (`get` → default, `set`/`add` → not stored, `incr` → ValueError as for a
missing key) and skips Redis for `RETRY_SECONDS` so a dead server costs one connection attempt per process per
interval, not one per call.
"""

import contextlib
import logging
import threading
import time

import redis
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache

log = logging.getLogger(__name__)

RETRY_SECONDS = 5.0
ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


class Unavailable(Exception):
    """Raised inside `_call` while the breaker is open; never leaves this module."""


class TolerantRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._lock = threading.Lock()
        self._down_until = 0.0

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _call(self, method, *args, **kwargs):
        if not self.available:
            raise Unavailable
        try:
            return method(*args, **kwargs)
        except ERRORS as exc:
            with self._lock:
                first = self.available
                self._down_until = time.monotonic() + RETRY_SECONDS
            if first:
                log.warning("cache unavailable for %.0f s, serving without it: %s", RETRY_SECONDS, exc)
            raise Unavailable from exc

    def get(self, key, default=None, version=None):
        try:
            return self._call(super().get, key, default, version)
        except Unavailable:
            return default

    def get_many(self, keys, version=None):
        try:
            return self._call(super().get_many, keys, version)
        except Unavailable:
            return {}

    def has_key(self, key, version=None):
        try:
            return self._call(super().has_key, key, version)
        except Unavailable:
            return False

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return self._call(super().add, key, value, timeout, version)
        except Unavailable:
            return False

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        with contextlib.suppress(Unavailable):
            self._call(super().set, key, value, timeout, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return self._call(super().set_many, data, timeout, version)
        except Unavailable:
            return list(data)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return self._call(super().touch, key, timeout, version)
        except Unavailable:
            return False

    def delete(self, key, version=None):
        try:
            return self._call(super().delete, key, version)
        except Unavailable:
            return False

    def delete_many(self, keys, version=None):
        with contextlib.suppress(Unavailable):
            self._call(super().delete_many, keys, version)

    def incr(self, key, delta=1, version=None):
        try:
            return self._call(super().incr, key, delta, version)
        except Unavailable:
            raise ValueError(f"Key '{key}' not found (cache unavailable)") from None

    def clear(self):
        try:
            return self._call(super().clear)
        except Unavailable:
            return False
