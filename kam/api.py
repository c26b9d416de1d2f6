"""Cross-cutting glue for the REST API, configured once here and in settings.REST_FRAMEWORK for every app.

DRF imports the classes named in REST_FRAMEWORK while its own views module is still loading, so this module
must not import DRF views; the base viewsets, the schema class and the 404 view are in kam/api_views.py.

- Authentication: an API key (`Authorization: Bearer kam_...`) or the browser session. A key acts as its user,
  so every queryset is scoped exactly as the pages are; its scopes then narrow what it may do.
- Permissions: `ScopePermission` (reads need `read`, each write declares its scope) and `IsManager`.
- Errors: one shape, RFC 9457 problem details, `application/problem+json`, for every 4xx and 5xx.
- Throttling per key (or per session user, or per address when anonymous), 429 with Retry-After.
- Pagination: page numbers with a maximum page size; cursor pagination for the scores portfolio.
- A JSON parser that refuses bodies over KAM_API_MAX_REQUEST_BYTES (413) before reading them into memory.
"""

from __future__ import annotations

import http
import io
import json
import logging
import math

import django_filters
from django import forms
from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, InterfaceError, OperationalError, connections
from django.http import Http404, HttpResponse
from django.urls import register_converter
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.parsers import JSONParser
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.utils.encoders import JSONEncoder

from accounts.access import get_account_for_user
from accounts.models import Account, ApiKey, ApiScope

log = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "urn:kam:problem:"


# --- Authentication -----------------------------------------------------------------------------------------


def api_key_of(request) -> ApiKey | None:
    """The key a request authenticated with, or None for a browser session."""
    return request.auth if isinstance(request.auth, ApiKey) else None


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
        key = ApiKey.objects.select_related("user").filter(prefix=prefix).first() if prefix else None
        if key is None or not key.matches(raw):
            raise exceptions.AuthenticationFailed("This API key is not valid.")
        if key.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        if not key.user.is_active:
            raise exceptions.AuthenticationFailed("The user this API key acts as is deactivated.")
        now = timezone.now()
        if key.last_used_at is None or (now - key.last_used_at).total_seconds() > self.touch_interval_seconds:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
            key.last_used_at = now
        return key.user, key

    def authenticate_header(self, request):
        # Makes DRF answer 401 (not 403) to a request without credentials.
        return 'Bearer realm="api"'


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


class IsManager(BasePermission):
    message = "Only managers can do this."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.is_manager)


def account_for_request(request, pk, *, write: bool = False, queryset=None) -> Account:
    """The account `pk` through the one access helper: 404 if not visible, 403 if read-only.

    People's keys follow their user's edit rights. Integration users may never edit in the app, so for their
    keys the write scope (already checked by ScopePermission) is what allows the write, on any account they
    can see: that is how an ERP pushes orders and visits for the whole portfolio.
    """
    if write and api_key_of(request) is not None and request.user.is_integration:
        return get_account_for_user(request.user, pk, queryset=queryset)
    return get_account_for_user(request.user, pk, write=write, queryset=queryset)


# --- Pagination ---------------------------------------------------------------------------------------------


def _oas31_nullable(schema: dict) -> dict:
    """DRF describes next/previous with OpenAPI 3.0's `nullable`; the schema is 3.1, where null is a type."""
    for prop in schema.get("properties", {}).values():
        if isinstance(prop, dict) and prop.pop("nullable", False):
            prop["type"] = [prop["type"], "null"]
    return schema


class PagePagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = settings.KAM_API_MAX_PAGE_SIZE

    def get_paginated_response_schema(self, schema):
        return _oas31_nullable(super().get_paginated_response_schema(schema))


class RankCursorPagination(CursorPagination):
    """Stable paging through a large, ordered portfolio: no page drifts when you fetch the next one."""

    ordering = ("rank", "id")
    page_size_query_param = "page_size"
    max_page_size = settings.KAM_API_MAX_PAGE_SIZE

    def get_paginated_response_schema(self, schema):
        return _oas31_nullable(super().get_paginated_response_schema(schema))


# --- Ids: in URLs, filters and bodies, never a number the database cannot hold ---------------------------

MAX_ID = 2**63 - 1
# Up to 18 digits always fits a 64-bit id column; a longer "id" names nothing (404), never a database error.
ID_REGEX = "[0-9]{1,18}"


class IdConverter:
    regex = ID_REGEX

    def to_python(self, value):
        return int(value)

    def to_url(self, value):
        return str(value)


register_converter(IdConverter, "id")


class IdRelatedField(serializers.PrimaryKeyRelatedField):
    """A related object by id; an id out of range is "does not exist", not an overflow in the database."""

    def to_internal_value(self, data):
        if isinstance(data, int) and not isinstance(data, bool) and not 1 <= data <= MAX_ID:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)


# --- Filters ---------------------------------------------------------------------------------------------


class IdField(forms.IntegerField):
    """A database id: a whole number from 1 to the 64-bit maximum (anything else is a 400, never an overflow)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.NumberFilter):
    """Filter by an id. django-filter's NumberFilter takes any decimal, e.g. 1e300, which no id column holds."""

    field_class = IdField


# --- Parsing ------------------------------------------------------------------------------------------------


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class LimitedJSONParser(JSONParser):
    """Size-capped JSON: DRF reads JSON from the raw stream, so DATA_UPLOAD_MAX_MEMORY_SIZE never applies."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.KAM_API_MAX_REQUEST_BYTES
        request = (parser_context or {}).get("request")
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        except ValueError:
            declared = 0
        too_large = f"The request body is larger than the limit of {limit:,} bytes."
        if declared > limit:
            raise PayloadTooLarge(too_large)
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise PayloadTooLarge(too_large)
        return super().parse(io.BytesIO(body), media_type, parser_context)


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


# --- Errors: RFC 9457 problem details -----------------------------------------------------------------------


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service is temporarily unavailable; try again later."
    default_code = "service_unavailable"

    def __init__(self, detail=None, code=None, *, retry_after: int | None = None):
        super().__init__(detail, code)
        self.wait = retry_after


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details; `errors` maps a field (dotted, with [row] indexes) to its messages."""

    type = serializers.CharField(
        help_text="A URI naming the kind of problem, e.g. urn:kam:problem:not-found."
    )
    title = serializers.CharField(help_text="A short summary of the kind of problem.")
    status = serializers.IntegerField(help_text="The HTTP status code.")
    detail = serializers.CharField(help_text="What went wrong with this request, for a person.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text='Per-field messages, e.g. {"orders[3].revenue": ["Ensure this value is ..."]}.',
    )


def problem_response(
    status_code: int, detail: str, *, code: str = "", title: str = "", errors=None, headers=None
) -> HttpResponse:
    """Always JSON, whatever renderer the view negotiated (the schema view's is YAML)."""
    slug = (code or http.HTTPStatus(status_code).phrase).lower().replace("_", "-").replace(" ", "-")
    body = {
        "type": PROBLEM_TYPE_BASE + slug,
        "title": title or http.HTTPStatus(status_code).phrase,
        "status": status_code,
        "detail": detail,
        "errors": errors or {},
    }
    content = json.dumps(body, cls=JSONEncoder, ensure_ascii=False).encode()
    return HttpResponse(content, status=status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def flatten_errors(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error structure as {"field": [...], "orders[3].revenue": [...]}."""
    non_field = api_settings.NON_FIELD_ERRORS_KEY
    out: dict[str, list[str]] = {}

    def add(name: str, messages: list[str]) -> None:
        out.setdefault(name or non_field, []).extend(messages)

    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int):  # a ListSerializer's errors, keyed by row
                name = f"{prefix}[{key}]"
            elif key == non_field and prefix:
                name = prefix
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            for field, messages in flatten_errors(value, name).items():
                add(field, messages)
    elif isinstance(detail, list | tuple):
        for index, item in enumerate(detail):
            if isinstance(item, dict | list | tuple):
                for field, messages in flatten_errors(item, f"{prefix}[{index}]").items():
                    add(field, messages)
            else:
                add(prefix, [str(item)])
    else:
        add(prefix, [str(detail)])
    return out


def set_rollback() -> None:
    """What DRF does after an error: roll back ATOMIC_REQUESTS transactions (DRF's own lives in its views)."""
    for connection in connections.all():
        if connection.settings_dict["ATOMIC_REQUESTS"] and connection.in_atomic_block:
            connection.set_rollback(True)


def _code_of(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    return codes if isinstance(codes, str) else exc.default_code


def problem_exception_handler(exc, context):
    """Every error the API returns, as problem details. Unexpected errors are logged and become a bare 500."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, DjangoValidationError):
        detail = (
            exc.message_dict
            if hasattr(exc, "error_dict")
            else {api_settings.NON_FIELD_ERRORS_KEY: exc.messages}
        )
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, IntegrityError):
        # A concurrent request wrote the same row between our check and our write.
        log.info("API integrity conflict: %s", exc)
        exc = Conflict("Another request changed the same data at the same time; send the request again.")
    elif isinstance(exc, OperationalError | InterfaceError):
        # The database is unreachable (restarting, failing over): temporary, so 503 with Retry-After.
        log.warning("API request while the database is unavailable: %s", exc)
        exc = ServiceUnavailable(
            "The database is temporarily unavailable; try again in a moment.",
            code="database_unavailable",
            retry_after=30,
        )

    set_rollback()
    if not isinstance(exc, exceptions.APIException):
        log.exception("Unhandled error in the API", exc_info=exc)
        return problem_response(500, "Something went wrong on our side; it has been logged.")

    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(max(1, math.ceil(exc.wait)))

    if isinstance(exc, exceptions.ValidationError):
        errors = flatten_errors(exc.detail)
        count = sum(len(messages) for messages in errors.values())
        fields = ", ".join(list(errors)[:5]) + (", ..." if len(errors) > 5 else "")
        detail = f"{count} problem{'s' if count != 1 else ''} in the request: {fields}. See errors."
        return problem_response(
            exc.status_code,
            detail,
            code="validation_error",
            title="The request is not valid",
            errors=errors,
            headers=headers,
        )
    if isinstance(exc.detail, str):
        detail = str(exc.detail)
    else:
        detail = " ".join(m for messages in flatten_errors(exc.detail).values() for m in messages)
    return problem_response(exc.status_code, detail, code=_code_of(exc), headers=headers)


API_DESCRIPTION = """
The KAM REST API lets ERP, BI and marketing systems pull scores and tiers and push orders and visits.

**Authentication.** A manager creates an API key under *Settings → Integrations* in the app; the key is
shown once. Send it as `Authorization: Bearer kam_<prefix>_<secret>`. A key acts as the user it was made
for and sees exactly what that user sees (a rep's key: the rep's own and team accounts; an integration
user's key: all accounts). Its scopes limit what it may do:

| scope | allows |
|---|---|
| `read` | every GET, and managing the key's own webhooks |
| `write_accounts` | POST/PUT/PATCH /accounts/ |
| `write_orders` | POST /orders/bulk/ |
| `write_visits` | POST /accounts/{id}/visits/, POST /cadence-alerts/{id}/acknowledge/ |
| `run_scoring` | POST /scoring/runs/ (a manager's key only) |

In the browser, the session you are logged in with works too (then writes need the CSRF token).

**Errors** always come as RFC 9457 problem details (`application/problem+json`):
`{"type", "title", "status", "detail", "errors": {"field": ["message"]}}`. In a bulk request the field
names the row: `orders[3].revenue`. 401: no or bad key; 403: missing scope or read-only; 404: not there, or
not visible to you.

**Limits.** Requests are throttled per key (429 with `Retry-After`); pages hold at most 1,000 items
(`page_size`); request bodies at most 5 MB; a bulk upsert at most 10,000 orders.

**Scores** come from the latest successful scoring run; `GET /api/v1/scores/` supports `If-None-Match`.

**Webhooks** (`run.succeeded`, `account.tier_changed`, `alert.opened`) are POSTed with
`X-KAM-Signature: t=<unix>,v1=<hex>` where v1 is `HMAC-SHA256(secret, "<t>.<raw body>")` in hex; failed
deliveries are retried with exponential backoff, and every attempt is in the endpoint's delivery log.
""".strip()


def describe_api(result, generator, request, public):
    """Schema postprocessing hook: the long description, kept here next to the code it documents."""
    result["info"]["description"] = API_DESCRIPTION
    return result
