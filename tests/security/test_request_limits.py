"""Request size limits: friendly 413/400 pages for people, problem details for the API, nothing saved."""

import json

from django.test import override_settings
from django.urls import reverse

from accounts.models import Visit
from integrations.models import ApiKey
from kam.api.scopes import ApiScope


def test_a_form_post_over_the_memory_limit_gets_the_friendly_413_page(client, world):
    client.force_login(world.rep)
    url = reverse("accounts:visit_create", args=[world.rep_account.pk])
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=10_000):
        response = client.post(url, {"date": "2026-01-05", "kind": "meeting", "summary": "x" * 20_000})
    assert response.status_code == 413
    page = response.content.decode()
    assert "That was too much to send at once" in page
    assert "9.8\xa0KB" in page
    assert not Visit.objects.filter(account=world.rep_account).exists()


def test_a_form_with_too_many_fields_gets_the_friendly_400_page(client, world):
    client.force_login(world.rep)
    url = reverse("accounts:visit_create", args=[world.rep_account.pk])
    fields = {f"field{i}": "x" for i in range(1_100)}
    response = client.post(url, {"date": "2026-01-05", "kind": "meeting", "summary": "ok", **fields})
    assert response.status_code == 400
    assert "We couldn't read that request" in response.content.decode()
    assert not Visit.objects.filter(account=world.rep_account).exists()


def test_any_body_over_the_overall_cap_is_refused_before_it_is_read(client, world):
    client.force_login(world.rep)
    url = reverse("accounts:visit_create", args=[world.rep_account.pk])
    with override_settings(KAM_MAX_REQUEST_BYTES=1_000):
        response = client.post(url, {"date": "2026-01-05", "kind": "meeting", "summary": "y" * 2_000})
    assert response.status_code == 413
    assert "That was too much to send at once" in response.content.decode()
    assert not Visit.objects.exists()


def test_the_api_answers_an_oversized_body_with_a_413_problem(client, world):
    _, raw = ApiKey.issue(
        name="erp", user=world.integration, scopes=[ApiScope.WRITE_ORDERS], created_by=world.manager
    )
    body = json.dumps({"orders": [{"account": world.rep_account.pk, "notes": "z" * 5_000}]})
    with override_settings(KAM_API_MAX_REQUEST_BYTES=1_000):
        response = client.post(
            "/api/v1/orders/bulk/",
            body,
            content_type="application/json",
            headers={"Authorization": f"Bearer {raw}"},
        )
    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"] == "urn:kam:problem:payload-too-large"


def test_the_api_answers_a_body_over_the_overall_cap_with_a_413_problem(client, world):
    _, raw = ApiKey.issue(
        name="erp", user=world.integration, scopes=[ApiScope.WRITE_ORDERS], created_by=world.manager
    )
    with override_settings(KAM_MAX_REQUEST_BYTES=1_000):
        response = client.post(
            "/api/v1/orders/bulk/",
            json.dumps({"orders": [], "pad": "p" * 2_000}),
            content_type="application/json",
            headers={"Authorization": f"Bearer {raw}"},
        )
    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["detail"] == "The request body is larger than the limit of 1,000 bytes."


def test_a_large_form_encoded_api_request_is_refused_as_a_problem_before_it_is_read(client, world):
    client.force_login(world.manager)
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1_000):
        response = client.post("/api/v1/orders/bulk/", {"pad": "p" * 2_000})
    # The API reads JSON only: DRF refuses the media type without parsing the body, as a problem.
    assert response.status_code == 415
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"] == "urn:kam:problem:unsupported-media-type"
