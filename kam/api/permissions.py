"""Who may call what: reads need the `read` scope, each write its own. What a role may do is
accounts.access's question; an app's view asks it (scoring's MayRunScoring)."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from kam.api.scopes import ApiScope


def api_key_of(request):
    """The API key a request authenticated with, or None for a browser session.

    Only the key authentication (integrations.authentication) sets `request.auth`; the session sets none.
    """
    return request.auth


# --- Permissions --------------------------------------------------------------------------------------------


class ScopePermission(BasePermission):
    """A key needs `read` for reads and the view's declared scope for writes; sessions follow the user's role.

    Integration users write only through a key, so every write they make is attributable to a named key.
    """

    message = "You may not do this."
    code = "permission_denied"

    def has_permission(self, request, view):
        key = api_key_of(request)
        unsafe = request.method not in SAFE_METHODS
        if key is None:
            if unsafe and request.user.is_authenticated and request.user.is_integration:
                self.message = "Integration users write through an API key, not a session."
                return False
            return True
        scope = view.get_required_scope() if hasattr(view, "get_required_scope") else None
        if scope is None and not unsafe:
            scope = ApiScope.READ
        if scope is None or not key.has_scope(scope):
            self.message = f"This API key lacks the '{scope or 'write'}' scope for this request."
            self.code = "missing_scope"
            return False
        return True
