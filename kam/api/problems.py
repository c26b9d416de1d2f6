"""Errors in one shape, RFC 9457 problem details (`application/problem+json`), for every 4xx and 5xx."""

from __future__ import annotations

import http
import json
import logging
import math

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, InterfaceError, OperationalError, connections
from django.http import Http404, HttpResponse
from rest_framework import exceptions, serializers, status
from rest_framework.settings import api_settings
from rest_framework.utils.encoders import JSONEncoder

log = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "urn:kam:problem:"


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
