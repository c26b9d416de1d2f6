"""Authentication, scopes, throttling and the one error shape (RFC 9457 problem details)."""

import datetime

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from integrations.models import ApiKey
from kam.api.scopes import ApiScope
from tests.fixtures.api import assert_problem

pytestmark = pytest.mark.django_db

READ_URLS = [
    "/api/v1/accounts/",
    "/api/v1/orders/",
    "/api/v1/scores/",
    "/api/v1/scoring/runs/",
    "/api/v1/scoring/model/",
    "/api/v1/cadence-alerts/",
    "/api/v1/webhooks/",
]


@pytest.mark.parametrize("url", READ_URLS)
def test_anonymous_requests_get_a_401_problem_with_a_bearer_challenge(anon, url, world, match_schema):
    response = anon.get(url)
    assert_problem(response, 401)
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json()["type"] == "urn:kam:problem:not-authenticated"
    match_schema(response, url)


def test_the_key_is_stored_only_as_a_hash_and_shown_once(world):
    key, raw = ApiKey.issue(name="ERP", user=world.integration, scopes=["read"], created_by=world.manager)
    stored = ApiKey.objects.get(pk=key.pk)
    assert raw.startswith(f"kam_{stored.prefix}_")
    assert raw not in {stored.secret_hash, stored.prefix, stored.name}
    assert len(stored.secret_hash) == 64
    assert stored.matches(raw)
    assert not stored.matches(raw + "x")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer kam_nope_secret",
        "Bearer not-even-shaped-like-a-key",
        "Bearer",
        "Bearer a b",
        "Bearer kam_\u00e9\u00e9_x",
    ],
)
def test_a_bad_key_is_a_401_problem(world, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert_problem(client.get("/api/v1/accounts/"), 401)


def test_a_right_prefix_with_a_wrong_secret_is_refused(world, key_for):
    client = key_for(world.integration, ["read"])
    prefix = client.key.prefix
    forged = APIClient()
    forged.credentials(HTTP_AUTHORIZATION=f"Bearer kam_{prefix}_{'A' * 43}")
    assert assert_problem(forged.get("/api/v1/accounts/"), 401)["detail"] == "This API key is not valid."


def test_a_revoked_key_and_a_deactivated_user_are_refused(world, key_for):
    client = key_for(world.integration, ["read"])
    assert client.get("/api/v1/accounts/").status_code == 200
    client.key.revoke(when=timezone.now())
    assert "revoked" in assert_problem(client.get("/api/v1/accounts/"), 401)["detail"]

    rep_client = key_for(world.rep, ["read"])
    world.rep.is_active = False
    world.rep.save()
    assert "deactivated" in assert_problem(rep_client.get("/api/v1/accounts/"), 401)["detail"]


def test_using_a_key_records_when_it_was_last_used(world, key_for):
    client = key_for(world.integration, ["read"])
    assert ApiKey.objects.get(pk=client.key.pk).last_used_at is None
    client.get("/api/v1/accounts/")
    first = ApiKey.objects.get(pk=client.key.pk).last_used_at
    assert first is not None
    assert timezone.now() - first < datetime.timedelta(seconds=5)


def test_a_key_without_the_read_scope_cannot_read(world, key_for):
    client = key_for(world.integration, [ApiScope.WRITE_ORDERS])
    body = assert_problem(client.get("/api/v1/accounts/"), 403)
    assert body["type"] == "urn:kam:problem:missing-scope"
    assert "'read'" in body["detail"]


@pytest.mark.parametrize(
    ("method", "url", "scope"),
    [
        ("post", "/api/v1/accounts/", ApiScope.WRITE_ACCOUNTS),
        ("post", "/api/v1/orders/bulk/", ApiScope.WRITE_ORDERS),
        ("post", "/api/v1/accounts/{account}/visits/", ApiScope.WRITE_VISITS),
        ("post", "/api/v1/scoring/runs/", ApiScope.RUN_SCORING),
    ],
)
def test_every_write_needs_its_scope(world, key_for, method, url, scope):
    url = url.format(account=world.rep_account.pk)
    others = [s for s in ApiScope.values if s != scope]
    response = getattr(key_for(world.manager, others), method)(url, {}, format="json")
    body = assert_problem(response, 403)
    assert f"'{scope}'" in body["detail"]


def test_integration_users_write_only_through_a_key(world, session_as):
    client = session_as(world.integration)
    assert client.get("/api/v1/accounts/").status_code == 200
    body = assert_problem(client.post("/api/v1/accounts/", {"name": "X"}, format="json"), 403)
    assert "API key" in body["detail"]


def test_a_session_write_without_the_csrf_token_is_refused(world):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world.manager)
    body = assert_problem(client.post("/api/v1/accounts/", {"name": "New"}, format="json"), 403)
    assert "CSRF" in body["detail"]


def test_validation_errors_name_each_field(world, key_for, match_schema):
    client = key_for(world.manager)
    response = client.post(
        "/api/v1/accounts/",
        {"name": "", "country": "Netherlands", "image_rating": 9, "reference": world.rep_account.reference},
        format="json",
    )
    body = assert_problem(response, 400)
    assert body["type"] == "urn:kam:problem:validation-error"
    assert set(body["errors"]) >= {"name", "country", "image_rating", "reference"}
    assert body["errors"]["reference"] == ["Another account already has this reference."]
    assert all(isinstance(m, str) for messages in body["errors"].values() for m in messages)
    match_schema(response, "/api/v1/accounts/", "post")


def test_malformed_json_is_a_400_problem(world, key_for):
    response = key_for(world.manager).post("/api/v1/accounts/", "{not json", content_type="application/json")
    assert assert_problem(response, 400)["type"] == "urn:kam:problem:parse-error"


def test_a_form_post_is_a_415_problem(world, key_for):
    response = key_for(world.manager).post("/api/v1/accounts/", {"name": "X"}, format="multipart")
    assert_problem(response, 415)


def test_an_unsupported_method_is_a_405_problem_with_allow(world, key_for):
    response = key_for(world.manager).delete("/api/v1/accounts/")
    assert_problem(response, 405)
    assert "GET" in response["Allow"]


def test_an_unknown_address_is_a_404_problem_and_a_missing_slash_is_explained(world, key_for):
    client = key_for(world.manager)
    assert_problem(client.get("/api/v1/nothing-here/"), 404)
    body = assert_problem(client.post("/api/v1/orders/bulk", {}, format="json"), 404)
    assert body["detail"] == "Addresses end with a slash: /api/v1/orders/bulk/"


@override_settings(KAM_API_MAX_REQUEST_BYTES=1000)
def test_a_body_over_the_limit_is_a_413_problem_before_it_is_parsed(world, key_for):
    body = '{"orders": [' + ",".join(['{"reference": "x"}'] * 100) + "]}"
    response = key_for(world.manager).post("/api/v1/orders/bulk/", body, content_type="application/json")
    assert "1,000 bytes" in assert_problem(response, 413)["detail"]


@pytest.mark.parametrize(
    "query",
    [
        "/api/v1/accounts/?page=abc",
        "/api/v1/accounts/?page=99999",
        "/api/v1/accounts/?page_size=-5",
        "/api/v1/accounts/?page_size=abc",
        "/api/v1/accounts/?tier=Z",
        "/api/v1/accounts/?owner=abc",
        "/api/v1/accounts/?is_key=perhaps",
        "/api/v1/accounts/?updated_since=yesterday",
        "/api/v1/accounts/?ordering=password",
        "/api/v1/accounts/999999999999999999999/",
        "/api/v1/accounts/abc/",
        "/api/v1/scores/?cursor=garbage",
        "/api/v1/scores/?min_score=high",
        "/api/v1/scores/?changed_since_run=999999",
        "/api/v1/scores/?ordering=-account__name",
        "/api/v1/orders/?date_from=2026-02-31",
        "/api/v1/accounts/1/visits/?page=0",
        "/api/v1/cadence-alerts/?status=lost",
        "/api/v1/scoring/runs/?status=nope",
    ],
)
def test_bad_input_is_never_a_500(world, key_for, query):
    response = key_for(world.manager).get(query)
    assert response.status_code < 500
    if response.status_code >= 400:
        assert_problem(response, response.status_code)


@override_settings(KAM_API_RATE="3/min")
def test_a_key_over_its_rate_gets_a_429_with_retry_after(world, key_for):
    client = key_for(world.integration, ["read"])
    assert [client.get("/api/v1/accounts/").status_code for _ in range(3)] == [200, 200, 200]
    response = client.get("/api/v1/accounts/")
    body = assert_problem(response, 429)
    assert body["type"] == "urn:kam:problem:throttled"
    assert 1 <= int(response["Retry-After"]) <= 60
    # The budget is per key: another key (even of the same user) still has its own.
    assert key_for(world.integration, ["read"]).get("/api/v1/accounts/").status_code == 200


@override_settings(KAM_API_ANON_RATE="2/min")
def test_anonymous_requests_are_throttled_per_address(anon, world):
    # Protected endpoints answer 401 before any throttling; the public schema (costly to build) is throttled.
    assert [anon.get("/api/schema/").status_code for _ in range(2)] == [200, 200]
    response = anon.get("/api/schema/")
    assert_problem(response, 429)
    assert int(response["Retry-After"]) >= 1


def test_the_schema_and_the_docs_are_served_without_a_cdn(anon):
    schema = anon.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert schema.json()["openapi"].startswith("3.1")
    assert "/api/v1/orders/bulk/" in schema.json()["paths"]
    docs = anon.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower()


def test_every_operation_has_a_summary_a_description_and_an_example(openapi):
    missing = []
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            if not operation.get("description") or not operation.get("summary"):
                missing.append(f"{method.upper()} {path}: description")
            bodies = [operation.get("requestBody", {}), *list(operation["responses"].values())]
            examples = [m.get("examples") for b in bodies for m in b.get("content", {}).values()]
            if method != "delete" and not any(examples):
                missing.append(f"{method.upper()} {path}: example")
    assert not missing, missing
