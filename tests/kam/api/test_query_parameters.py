"""Query parameters are read exactly as the schema documents them: what it allows works, the rest is a 400."""

import pytest

from tests.fixtures.api import assert_problem

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("/api/v1/accounts/?page=abc", "page"),
        ("/api/v1/accounts/?page=0", "page"),
        ("/api/v1/accounts/?page=-1", "page"),
        ("/api/v1/accounts/?page=1.5", "page"),
        ("/api/v1/accounts/?page=last", "page"),
        ("/api/v1/accounts/?page=", "page"),
        ("/api/v1/accounts/?page_size=abc", "page_size"),
        ("/api/v1/accounts/?page_size=0", "page_size"),
        ("/api/v1/accounts/?page_size=-5", "page_size"),
        ("/api/v1/accounts/?page_size=2.5", "page_size"),
        ("/api/v1/accounts/?page_size=", "page_size"),
        ("/api/v1/accounts/{account}/visits/?page=0", "page"),
        ("/api/v1/scores/?page_size=abc", "page_size"),
    ],
)
def test_page_and_page_size_must_be_whole_numbers_from_one(world, key_for, query, parameter):
    response = key_for(world.manager).get(query.format(account=world.rep_account.pk))
    body = assert_problem(response, 400, field=parameter)
    assert "whole number from 1" in body["errors"][parameter][0]


def test_valid_pages_still_page(world, key_for):
    client = key_for(world.manager)
    first = client.get("/api/v1/accounts/?page=1&page_size=2")
    assert first.status_code == 200
    assert len(first.json()["results"]) == 2
    assert client.get("/api/v1/accounts/?page=0002&page_size=2").json()["results"]
    # Past the last page is "not there", as documented; a page size over the maximum gives the maximum.
    assert_problem(client.get("/api/v1/accounts/?page=99999"), 404)
    assert_problem(client.get("/api/v1/accounts/?page=" + "9" * 40), 404)
    assert client.get("/api/v1/accounts/?page_size=" + "9" * 40).status_code == 200


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("/api/v1/accounts/?updated_since=", "updated_since"),
        ("/api/v1/accounts/?owner=", "owner"),
        ("/api/v1/accounts/?is_key=", "is_key"),
        ("/api/v1/accounts/?tier=", "tier"),
        ("/api/v1/orders/?date_from=", "date_from"),
        ("/api/v1/orders/?account=", "account"),
        ("/api/v1/scores/?changed_since_run=", "changed_since_run"),
        ("/api/v1/scoring/runs/?status=", "status"),
    ],
)
def test_an_empty_value_for_a_typed_filter_is_a_400_not_no_filter(world, key_for, query, parameter):
    body = assert_problem(key_for(world.manager).get(query), 400, field=parameter)
    assert body["errors"][parameter] == ["Give a value, or leave the parameter out."]


def test_an_empty_text_filter_still_matches_as_before(world, key_for):
    response = key_for(world.manager).get("/api/v1/accounts/?q=&region=")
    assert response.status_code == 200
    assert response.json()["count"] == 3


@pytest.mark.parametrize("query", ["owner=0", "parent=0", "owner=-1"])
def test_an_id_filter_refuses_what_its_schema_refuses(world, key_for, openapi, query):
    name, value = query.split("=")
    parameters = {p["name"]: p for p in openapi["paths"]["/api/v1/accounts/"]["get"]["parameters"]}
    assert parameters[name]["schema"]["minimum"] == 1 > int(value)
    assert_problem(key_for(world.manager).get(f"/api/v1/accounts/?{query}"), 400, field=name)


def test_the_schema_documents_the_limits_the_api_checks(openapi):
    def parameters(path):
        return {p["name"]: p["schema"] for p in openapi["paths"][path]["get"]["parameters"]}

    accounts, scores = parameters("/api/v1/accounts/"), parameters("/api/v1/scores/")
    assert accounts["page"]["minimum"] == accounts["page_size"]["minimum"] == 1
    assert scores["page_size"]["minimum"] == 1
    for schema in (accounts["owner"], accounts["parent"], scores["owner"], scores["changed_since_run"]):
        assert schema == {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
    bodies = openapi["components"]["schemas"]
    assert bodies["OrderBulkRequest"]["properties"]["orders"]["minItems"] == 1
    assert bodies["WebhookEndpointRequest"]["properties"]["events"]["minItems"] == 1


def test_an_invalid_score_query_is_a_400_even_when_if_none_match_would_match(world, key_for):
    response = key_for(world.manager).get("/api/v1/scores/?min_score=high", HTTP_IF_NONE_MATCH="*")
    assert_problem(response, 400, field="min_score")
    response = key_for(world.manager).get("/api/v1/scores/?page_size=abc", HTTP_IF_NONE_MATCH="*")
    assert_problem(response, 400, field="page_size")


@pytest.mark.parametrize("method", ["get", "options", "delete", "post"])
@pytest.mark.parametrize("path", ["/api/", "/api/v1/nothing-here/"])
def test_an_address_that_names_nothing_advertises_no_methods(world, key_for, method, path):
    response = getattr(key_for(world.manager), method)(path)
    assert_problem(response, 404)
    assert "Allow" not in response
