"""The API's JSON parser: the one place a request body is read, capped in size (413) and in nesting (400)."""

from __future__ import annotations

import codecs

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import BaseParser
from rest_framework.renderers import JSONRenderer
from rest_framework.settings import api_settings
from rest_framework.utils import json

# Deeper than any body the API documents (an order batch is 3 levels): refused before a serializer walks it.
MAX_JSON_DEPTH = 32


# --- Parsing ------------------------------------------------------------------------------------------------


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class LimitedJSONParser(BaseParser):
    """JSON read from the raw stream, at most KAM_API_MAX_REQUEST_BYTES of it, nested at most MAX_JSON_DEPTH.

    Not a subclass of DRF's JSONParser on purpose: DRF hands a JSONParser `request.body`, which Django caps at
    DATA_UPLOAD_MAX_MEMORY_SIZE (the form limit, 2.5 MB) by raising RequestDataTooBig, a 500 for a valid
    10,000-order batch. Any other parser gets the stream, so the API's own documented limit is the one that
    applies, checked against Content-Length first and then against what is actually read (chunked bodies).
    """

    media_type = "application/json"
    renderer_class = JSONRenderer

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        limit = settings.KAM_API_MAX_REQUEST_BYTES
        request = parser_context.get("request")
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        except ValueError:
            declared = 0
        too_large = f"The request body is larger than the limit of {limit:,} bytes."
        if declared > limit:
            raise PayloadTooLarge(too_large)
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise PayloadTooLarge(too_large)
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        parse_constant = json.strict_constant if api_settings.STRICT_JSON else None
        try:
            data = json.loads(codecs.decode(body, encoding), parse_constant=parse_constant)
        except RecursionError:
            # The C decoder recurses once per level; it gives up at the interpreter's recursion limit.
            raise _too_deep() from None
        except ValueError as exc:  # UnicodeDecodeError included
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
        if _depth_exceeds(data, MAX_JSON_DEPTH):
            raise _too_deep()
        return data


def _too_deep() -> exceptions.ParseError:
    return exceptions.ParseError(
        f"The JSON is nested more than {MAX_JSON_DEPTH} levels deep; no request needs that.",
        code="json_too_deep",
    )


def _depth_exceeds(data, limit: int) -> bool:
    """Iterative, so it cannot itself run out of stack; stops at the first container past the limit."""
    level = [data]
    for _ in range(limit):
        level = [
            child
            for node in level
            if isinstance(node, dict | list)
            for child in (node.values() if isinstance(node, dict) else node)
        ]
        if not level:
            return False
    return any(isinstance(node, dict | list) for node in level)
