"""`Idempotency-Key` on the API writes that create records: a retried request replays the first answer.

An integration that times out cannot know whether its POST was written; sending it again must not log the
visit twice. With the header, the first request claims (user, key) by inserting a row into the store
(KAM_IDEMPOTENCY_MODEL, integrations.IdempotencyRecord: a table, named by setting since kam imports no app)
inside the same transaction as the write, and saves its answer on that row before committing:

- same key, same request, within KAM_IDEMPOTENCY_HOURS: the stored status and body, nothing written;
- same key, another request (body, method or address): 422 problem;
- two at once: the second INSERT waits on the unique index until the first commits, then replays its
  answer; if the first failed (rolled back, nothing written, nothing stored) the second goes ahead.

Why a table and not Redis SET NX: the claim, the write and the stored answer commit or roll back together,
so a crash between them cannot leave a key that says "done" for a write that never happened, or the other
way round; and the cache may be down (kam.cache answers as a miss), which would let duplicates through.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import re

from django.apps import apps
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, status
from rest_framework.response import Response

HEADER = "Idempotency-Key"
KEY_FORMAT = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces: UUIDs, ULIDs, hashes

PARAMETER = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    pattern=KEY_FORMAT.pattern,
    description="Any unique string up to 255 printable ASCII characters (a UUID is ideal). Sending the same "
    "request again with the same key within 24 hours replays the first answer (status and body; the "
    "`Idempotent-Replayed: true` header says so) and writes nothing, also when both arrive at once. "
    "The same key with a different request is a 422 problem.",
)


class KeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was already used for a different request; use a new key."
    default_code = "idempotency_key_reused"


def _fingerprint(request) -> str:
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def idempotent(view_method):
    """Wraps a DRF view method that creates records (see the module docstring)."""

    @functools.wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view_method(self, request, *args, **kwargs)
        if not KEY_FORMAT.match(key):
            raise exceptions.ValidationError(
                {HEADER: ["Send 1 to 255 printable ASCII characters without spaces, e.g. a UUID."]}
            )
        store = apps.get_model(settings.KAM_IDEMPOTENCY_MODEL)
        fingerprint = _fingerprint(request)
        with transaction.atomic():
            earlier = _claim(store, user=request.user, key=key, fingerprint=fingerprint)
            if earlier is not None:
                if earlier.fingerprint != fingerprint:
                    raise KeyReused()
                return Response(
                    earlier.response_body,
                    status=earlier.response_status,
                    headers={"Idempotent-Replayed": "true"},
                )
            response = view_method(self, request, *args, **kwargs)
            if response.status_code >= 400:
                # Not an answer to replay: undo the claim with whatever the view did, so a retry runs again.
                transaction.set_rollback(True)
                return response
            store.objects.filter(user=request.user, key=key).update(
                response_status=response.status_code, response_body=response.data
            )
            return response

    return wrapper


def _claim(store, *, user, key: str, fingerprint: str):
    """None when this request now owns the key; else the earlier record (waiting for it to commit)."""
    expired_before = timezone.now() - datetime.timedelta(hours=settings.KAM_IDEMPOTENCY_HOURS)
    store.objects.filter(user=user, key=key, created_at__lt=expired_before).delete()
    try:
        with transaction.atomic():
            store.objects.create(user=user, key=key, fingerprint=fingerprint)
        return None
    except IntegrityError:
        return store.objects.get(user=user, key=key)
