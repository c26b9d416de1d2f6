"""A JSON parser that refuses bodies over KAM_API_MAX_REQUEST_BYTES (413) before reading them."""

from __future__ import annotations

import io

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser

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
