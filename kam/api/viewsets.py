"""The base viewset every API viewset derives from: reads need the `read` scope, writes name theirs."""

from rest_framework import viewsets
from rest_framework.permissions import SAFE_METHODS

from kam.api.fields import ID_REGEX
from kam.api.scopes import ApiScope


class ApiViewSet(viewsets.GenericViewSet):
    """Reads need the `read` scope; a viewset that writes names the scope its writes need."""

    write_scope: str | None = None
    lookup_value_regex = ID_REGEX

    def get_required_scope(self) -> str | None:
        if self.request.method in SAFE_METHODS:
            return ApiScope.READ
        return self.write_scope

    @property
    def schema_only(self) -> bool:
        """True while drf-spectacular introspects the view (no request user, no URL kwargs)."""
        return getattr(self, "swagger_fake_view", False)
