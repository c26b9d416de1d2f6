"""The OpenAPI document's description and the post-processing hook that adds it."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema

from kam.api import idempotency
from kam.api.problems import PROBLEM_CONTENT_TYPE, ProblemSerializer

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
(`page_size`); JSON request bodies at most 5 MB (`KAM_API_MAX_REQUEST_BYTES`; larger is a 413 problem) and
nested at most 32 levels (deeper is a 400 problem); a bulk upsert at most 10,000 orders.

**Retries.** `POST /accounts/`, `POST /orders/bulk/` and `POST /accounts/{id}/visits/` accept an
`Idempotency-Key` header (a UUID): the same request with the same key within 24 hours replays the first
answer and writes nothing, even when both arrive at once; the same key with another request is a 422 problem.

**Scores** come from the latest successful scoring run; `GET /api/v1/scores/` supports `If-None-Match`.

**Webhooks** (`run.succeeded`, `account.tier_changed`, `alert.opened`) are POSTed with
`X-KAM-Signature: t=<unix>,v1=<hex>` where v1 is `HMAC-SHA256(secret, "<t>.<raw body>")` in hex; failed
deliveries are retried with exponential backoff, and every attempt is in the endpoint's delivery log.
""".strip()


def describe_api(result, generator, request, public):
    """Schema postprocessing hook: the long description, kept here next to the code it documents."""
    result["info"]["description"] = API_DESCRIPTION
    return result


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
        "413": "The request body is larger than the limit (KAM_API_MAX_REQUEST_BYTES, 5 MB by default).",
        "415": "Send the body as application/json.",
    }

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        # DRF refuses an empty list when allow_empty=False (`events`, `orders`); drf-spectacular does not
        # say so, and a client following the schema would send [] and get a 400 it could not foresee.
        if getattr(field, "allow_empty", True) is False and schema.get("type") == "array":
            schema.setdefault("minItems", 1)
        return schema

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = dict(self.problem_codes)
        if self.method in ("POST", "PUT", "PATCH"):
            codes.update(self.body_problem_codes)
        if any(getattr(p, "name", None) == idempotency.HEADER for p in self.get_override_parameters()):
            codes["422"] = "The Idempotency-Key was already used for a different request."
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
