"""API keys: `Authorization: Bearer kam_<prefix>_<secret>`, and how the OpenAPI document describes them."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from integrations.models import ApiKey


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer kam_<prefix>_<secret>`. Revoked keys and inactive users get a 401."""

    keyword = b"bearer"
    # Writing last_used_at on every request would turn each read into a write; once a minute is enough.
    touch_interval_seconds = 60

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Send the key as 'Authorization: Bearer <key>'.")
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("This API key is not valid.") from None
        prefix = ApiKey.split_key(raw)
        keys = ApiKey.objects.select_related("user", "created_by")
        key = keys.filter(prefix=prefix).first() if prefix else None
        if key is None or not key.matches(raw):
            raise exceptions.AuthenticationFailed("This API key is not valid.")
        if key.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        if not key.user.is_active:
            raise exceptions.AuthenticationFailed("The user this API key acts as is deactivated.")
        if not key.maker_may_act_as_user():
            raise exceptions.AuthenticationFailed(
                "This API key acts as someone its maker may not act as; ask for a new key."
            )
        now = timezone.now()
        if key.last_used_at is None or (now - key.last_used_at).total_seconds() > self.touch_interval_seconds:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
            key.last_used_at = now
        return key.user, key

    def authenticate_header(self, request):
        # Makes DRF answer 401 (not 403) to a request without credentials.
        return 'Bearer realm="api"'
