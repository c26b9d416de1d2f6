"""Page-number pagination with a maximum page size; cursor pagination for the ranked scores.

Both read `page` and `page_size` strictly, as the schema documents them: a whole number from 1, or a 400
problem naming the parameter. DRF's own parsing lets `page_size=abc` or `page_size=` fall back to the
default page and turns `page=0` into a 404, so a client's typo would look like a short or missing page.
"""

from __future__ import annotations

import re

from django.conf import settings
from rest_framework import serializers
from rest_framework.pagination import CursorPagination, PageNumberPagination

from kam.api.fields import MAX_ID

# --- Pagination ---------------------------------------------------------------------------------------------

WHOLE_NUMBER = re.compile(r"[0-9]+")
MAX_DIGITS = len(str(MAX_ID))


def _oas31_nullable(schema: dict) -> dict:
    """DRF describes next/previous with OpenAPI 3.0's `nullable`; the schema is 3.1, where null is a type."""
    for prop in schema.get("properties", {}).values():
        if isinstance(prop, dict) and prop.pop("nullable", False):
            prop["type"] = [prop["type"], "null"]
    return schema


def _whole_number(request, name: str) -> int | None:
    """The query parameter `name` as a whole number from 1, None when absent; anything else is a 400."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    digits = raw.lstrip("0") if WHOLE_NUMBER.fullmatch(raw) else ""
    if not digits:
        raise serializers.ValidationError({name: [f"Give a whole number from 1 (got {raw[:40]!r})."]})
    # More digits than any id has: bigger than any page there is (and int() of thousands of digits is slow).
    return int(digits) if len(digits) <= MAX_DIGITS else MAX_ID


class StrictPageSizeMixin:
    """`page_size`: a whole number from 1, capped at the maximum (documented); the default when absent."""

    page_size_query_param = "page_size"
    max_page_size = settings.KAM_API_MAX_PAGE_SIZE

    def get_page_size(self, request):
        size = _whole_number(request, self.page_size_query_param)
        return self.page_size if size is None else min(size, self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["minimum"] = 1
                parameter["description"] = (
                    f"Items per page, from 1; a larger value than {self.max_page_size:,} gives "
                    f"{self.max_page_size:,}."
                )
        return parameters

    def get_paginated_response_schema(self, schema):
        return _oas31_nullable(super().get_paginated_response_schema(schema))


class PagePagination(StrictPageSizeMixin, PageNumberPagination):
    # `page=last` is DRF's shortcut; the schema promises an integer, so it is not one.
    last_page_strings = ()

    def get_page_number(self, request, paginator):
        return _whole_number(request, self.page_query_param) or 1

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"]["minimum"] = 1
                parameter["description"] = "The page, from 1; past the last page is a 404."
        return parameters


class RankCursorPagination(StrictPageSizeMixin, CursorPagination):
    """Stable paging through a large, ordered portfolio: no page drifts when you fetch the next one."""

    ordering = ("rank", "id")
