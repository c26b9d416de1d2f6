"""Throttling per key (or per session user, or per address when anonymous): 429 with Retry-After."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from kam.api.permissions import api_key_of

# --- Throttling ---------------------------------------------------------------------------------------------


class KeyRateThrottle(SimpleRateThrottle):
    """One budget per API key (two keys of one integration are two budgets), per session user, or per address.

    Rates are read on every request (not frozen at import), so settings overrides apply. Counts live in the
    default cache: configure a shared cache (Redis) in production, or each process counts on its own.
    """

    scope = "api"

    def __init__(self):
        # The rate is chosen per request in allow_request (it depends on who is asking); nothing to parse yet.
        self.rate = None

    def allow_request(self, request, view):
        self.rate = settings.KAM_API_RATE if request.user.is_authenticated else settings.KAM_API_ANON_RATE
        if not self.rate:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        key = api_key_of(request)
        if key is not None:
            ident = f"key:{key.pk}"
        elif request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"addr:{self.get_ident(request)}"
        return f"kam-api-throttle:{ident}"
