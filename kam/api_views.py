"""API base classes that need DRF's views: the base viewsets, the OpenAPI schema class, the key's security
scheme and the catch-all 404. (The classes REST_FRAMEWORK names live in kam/api.py, which must not import DRF
views: DRF imports them while its views module is still loading.)
"""

from django.urls import Resolver404, resolve
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, viewsets
from rest_framework.decorators import api_view, authentication_classes, permission_classes, throttle_classes
from rest_framework.permissions import SAFE_METHODS

from accounts.models import Account, ApiScope
from kam.api import (
    ID_REGEX,
    PROBLEM_CONTENT_TYPE,
    ApiKeyAuthentication,
    ProblemSerializer,
    account_for_request,
)


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "kam_<prefix>_<secret>",
            "description": "An API key made by a manager under Settings → Integrations. It acts as the user "
            "it was made for and sees what they see; its scopes limit what it may do.",
        }


# --- Base viewsets ------------------------------------------------------------------------------------------


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


class AccountChildViewSet(ApiViewSet):
    """Things that live under one account, at /api/v1/accounts/{account_pk}/<things>/."""

    def get_account(self, *, write: bool = False) -> Account:
        cached = getattr(self, "_account", None)
        if cached is None or (write and not getattr(self, "_account_write", False)):
            self._account = account_for_request(self.request, self.kwargs["account_pk"], write=write)
            self._account_write = write
        return self._account

    def get_queryset(self):
        if self.schema_only:
            return self.queryset.none()
        return self.get_children(self.get_account())

    def get_children(self, account: Account):
        raise NotImplementedError


# --- OpenAPI ------------------------------------------------------------------------------------------------


class ProblemAutoSchema(AutoSchema):
    """Documents the problem responses any operation can return, so clients (and schemathesis) expect them."""

    problem_codes = {
        "400": "The request is not valid; `errors` says which fields.",
        "401": "No credentials, or an invalid or revoked API key.",
        "403": "The key lacks the scope, or the user may see but not change this.",
        "404": "Not found, or not visible to you.",
        "406": "The Accept header asks for something other than JSON.",
        "429": "Too many requests for this key; wait for Retry-After seconds.",
    }
    body_problem_codes = {
        "413": "The request body is larger than the limit.",
        "415": "Send the body as application/json.",
    }

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = dict(self.problem_codes)
        if self.method in ("POST", "PUT", "PATCH"):
            codes.update(self.body_problem_codes)
        for code, description in codes.items():
            responses.setdefault(code, {"description": description})
        for code, response in responses.items():
            if code >= "400" and "content" not in response:
                problem = self._get_response_for_code(ProblemSerializer, code, [PROBLEM_CONTENT_TYPE])
                response["content"] = problem["content"]
        responses["429"]["headers"] = {
            "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before retrying."}
        }
        return dict(sorted(responses.items()))


# The schema class above must exist before @api_view runs: the decorator reads DEFAULT_SCHEMA_CLASS.
@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([])
@throttle_classes([])
def api_not_found(request, *args, **kwargs):
    """Any /api/ address that names nothing: a 404 problem, never the HTML error page."""
    if not request.path.endswith("/"):
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            raise exceptions.NotFound(f"Addresses end with a slash: {request.path}/")
    raise exceptions.NotFound("There is no API endpoint at this address; see /api/docs/.")
