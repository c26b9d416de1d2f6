"""Page-number pagination with a maximum page size; cursor pagination for the ranked scores."""

from __future__ import annotations

from django.conf import settings
from rest_framework.pagination import CursorPagination, PageNumberPagination

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
