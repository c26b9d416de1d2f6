"""Hostile request input the glue refuses cleanly: JSON bodies (size, nesting) and control characters in queries."""

import json

import pytest
from django.urls import reverse

from accounts.models import Order
from kam.api.scopes import ApiScope
from tests.fixtures.api import assert_problem, key_for  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db

BULK = "/api/v1/orders/bulk/"


@pytest.fixture
def erp(world, key_for):  # noqa: F811
    return key_for(world.integration, [ApiScope.READ, ApiScope.WRITE_ORDERS])


def _batch(world, count: int, notes: str = "") -> str:
    rows = [
        {
            "account": world.rep_account.pk,
            "reference": f"SO-2026-{n:010d}",
            "date": "2026-10-01",
            "revenue": "1234567.89",
            "variable_cost": "1234567.89",
            "notes": notes,
        }
        for n in range(count)
    ]
    return json.dumps({"orders": rows})


def test_a_full_batch_larger_than_the_form_upload_limit_is_accepted(world, erp, settings):
    # DATA_UPLOAD_MAX_MEMORY_SIZE is the form limit (2.5 MB); the API's own limit is 5 MB.
    body = _batch(world, 10_000, notes="n" * 130)
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE < len(body) < settings.KAM_API_MAX_REQUEST_BYTES
    response = erp.post(BULK, body, content_type="application/json")
    assert response.status_code == 200, response.content[:300]
    assert response.json()["created"] == 10_000
    assert Order.objects.count() == 10_000


def test_a_body_over_the_api_limit_is_a_413_problem_and_writes_nothing(world, erp, settings):
    settings.KAM_API_MAX_REQUEST_BYTES = 3_000_000
    body = _batch(world, 10_000, notes="n" * 200)
    assert len(body) > settings.KAM_API_MAX_REQUEST_BYTES
    problem = assert_problem(erp.post(BULK, body, content_type="application/json"), 413)
    assert problem["detail"] == "The request body is larger than the limit of 3,000,000 bytes."
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    "body",
    ["[" * 50_000, "[" * 33 + "]" * 33, '{"orders": ' + '{"a": ' * 40 + "1" + "}" * 41],
    ids=["50000-arrays", "33-arrays", "41-objects"],
)
def test_json_nested_too_deeply_is_a_400_problem(world, erp, body):
    problem = assert_problem(erp.post(BULK, body, content_type="application/json"), 400)
    assert "nested more than 32 levels" in problem["detail"]
    assert not Order.objects.exists()


def test_json_nested_within_the_limit_is_read(world, erp):
    body = '{"orders": [], "x": ' + "[" * 30 + "]" * 30 + "}"
    problem = assert_problem(erp.post(BULK, body, content_type="application/json"), 400, field="orders")
    assert "nested" not in problem["detail"]


PAGES = [
    ("accounts:list", "q"),
    ("accounts:list", "region"),
    ("accounts:list", "industry"),
    ("accounts:export", "q"),
    ("scoring:dashboard", "region"),
    ("scoring:dashboard", "industry"),
    ("scoring:capacity", "region"),
]


@pytest.mark.parametrize(("route", "parameter"), PAGES)
def test_a_nul_in_a_filter_is_a_clear_400_page(client, world, route, parameter):
    client.force_login(world.manager)
    response = client.get(reverse(route) + f"?{parameter}=Bene%00lux")
    assert response.status_code == 400
    assert f"The query parameter “{parameter}” contains a control character" in response.content.decode()


def test_a_nul_in_a_portfolio_export_filter_is_a_400(client, world):
    client.force_login(world.manager)
    response = client.get(reverse("exports:portfolio", args=["csv"]) + "?industry=%00")
    assert response.status_code == 400
    assert "control character" in response.content.decode()


@pytest.mark.parametrize("query", ["q=%00", "region=a%01b", "name%00=x", "ordering=%1f"])
def test_a_control_character_in_an_api_query_is_a_400_problem(world, erp, query):
    problem = assert_problem(erp.get(f"/api/v1/accounts/?{query}"), 400)
    assert "control character" in problem["detail"]


def test_tabs_and_newlines_in_a_search_are_still_text(client, world):
    client.force_login(world.manager)
    assert client.get(reverse("accounts:list") + "?q=Rep%09Own%0A").status_code == 200
