"""Cross-cutting glue for the REST API, configured once in settings.REST_FRAMEWORK for every app.

DRF imports the classes named in REST_FRAMEWORK while its own views module is still loading, so the modules
named there (permissions, pagination, parsers, throttling, problems) must not import DRF views; the base
viewset, the schema class and the 404 view are in `viewsets`, `schema` and `views`.

- Authentication: an API key (integrations.authentication) or the browser session. A key acts as its user,
  so every queryset is scoped exactly as the pages are; its scopes (`scopes`) then narrow what it may do.
- Permissions (`permissions`): `ScopePermission` (reads need `read`, each write declares its scope); what a
  role may do is asked of accounts.access by each app's views.
- Errors (`problems`): one shape, RFC 9457 problem details, `application/problem+json`, for every 4xx and 5xx.
- Throttling (`throttling`) per key (or per session user, or per address when anonymous), 429 with Retry-After.
- Pagination (`pagination`): page numbers with a maximum page size; cursor pagination for the scores portfolio.
- Ids (`fields`): the `<id:...>` path converter, id fields and filters that refuse numbers PostgreSQL cannot hold.
- Parsing (`parsers`): the JSON parser; bodies over KAM_API_MAX_REQUEST_BYTES are 413, nesting past 32 levels 400.
- Retries (`idempotency`): `@idempotent` on the writes that create records honours an `Idempotency-Key` header.
"""
