"""Fixtures for the REST API tests: clients per role and key, and validation against the real OpenAPI schema."""

import json

import pytest
from django.core.cache import cache
from drf_spectacular.generators import SchemaGenerator
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from rest_framework.test import APIClient

from integrations.models import ApiKey
from kam.api.scopes import ApiScope

ALL_SCOPES = list(ApiScope.values)
SCHEMA_URI = "urn:kam:openapi"


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    # Throttle counters live in the cache, keyed by key or user id; ids repeat across tests.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def anon():
    return APIClient()


@pytest.fixture
def session_as():
    """A logged-in browser session for a user (CSRF enforced, as in a browser)."""

    def make(user):
        client = APIClient(enforce_csrf_checks=False)
        client.force_login(user)
        return client

    return make


@pytest.fixture
def key_for(world):
    """An API client authenticated with a fresh key for `user` holding `scopes` (all of them by default)."""

    def make(user, scopes=None, *, name="test key"):
        scopes = ALL_SCOPES if scopes is None else scopes
        if not user.is_manager:
            scopes = [s for s in scopes if s != ApiScope.RUN_SCORING]
        key, raw = ApiKey.issue(name=name, user=user, scopes=scopes, created_by=world.manager)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        client.key, client.raw_key = key, raw
        return client

    return make


@pytest.fixture(scope="session")
def openapi():
    """The schema /api/schema/ serves, generated once per test session."""
    return SchemaGenerator().get_schema(request=None, public=True)


def _pointer(*parts) -> str:
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


@pytest.fixture(scope="session")
def match_schema(openapi):
    """match_schema(response, "/api/v1/accounts/{id}/", "get"): the body and content type are as documented."""
    document = json.loads(json.dumps(openapi, default=str))
    registry = Registry().with_resource(
        SCHEMA_URI, Resource.from_contents(document, default_specification=DRAFT202012)
    )

    def check(response, path: str, method: str = "get"):
        status = str(response.status_code)
        operation = document["paths"][path][method.lower()]
        assert status in operation["responses"], f"{status} is not documented for {method.upper()} {path}"
        content = operation["responses"][status].get("content")
        if content is None:
            assert not response.content, "an undocumented body"
            return
        media_type = response["Content-Type"].split(";")[0]
        assert media_type in content, f"{media_type} is not documented for {status} {method.upper()} {path}"
        pointer = _pointer(
            "paths", path, method.lower(), "responses", status, "content", media_type, "schema"
        )
        validator = Draft202012Validator({"$ref": f"{SCHEMA_URI}#{pointer}"}, registry=registry)
        errors = sorted(validator.iter_errors(response.json()), key=lambda e: list(e.absolute_path))
        assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])

    return check


def assert_problem(response, status: int, *, field: str | None = None):
    """The one error shape: RFC 9457 problem details with per-field errors."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert set(body) == {"type", "title", "status", "detail", "errors"}
    assert body["status"] == status
    assert body["type"].startswith("urn:kam:problem:")
    assert body["detail"]
    if field is not None:
        assert field in body["errors"], body["errors"]
    return body


@pytest.fixture
def eager_tasks():
    """Celery tasks run in-process (as without REDIS_URL), whatever the environment says."""
    from kam.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def scoring_model(db):
    """The active scoring model (a transactional test may have emptied the table the data migration filled)."""
    from decimal import Decimal

    from scoring.selectors import active_model
    from scoring.services import scoring_model_create_version

    weights = {"weight_cm": Decimal("3"), "weight_clv": Decimal("2"), "weight_image": Decimal("1")}
    return active_model() or scoring_model_create_version(data=weights, created_by=None)


@pytest.fixture
def make_run(scoring_model):
    """make_run({account: (score, tier, rank)}, as_of=...): a finished successful run with its results."""
    import datetime

    from django.utils import timezone

    from scoring.models import CRITERIA, RunStatus, ScoreResult, ScoringRun
    from scoring.selectors import active_model

    day = [datetime.date(2026, 1, 1)]

    def make(results: dict, *, as_of=None, status=RunStatus.SUCCEEDED) -> ScoringRun:
        as_of = as_of or day[0]
        day[0] += datetime.timedelta(days=1)
        finished = timezone.now() if status == RunStatus.SUCCEEDED else None
        run = ScoringRun.objects.create(
            model=active_model(),
            as_of=as_of,
            status=status,
            holds_lock=status in (RunStatus.QUEUED, RunStatus.RUNNING),
            finished_at=finished,
            accounts_scored=len(results),
        )
        ScoreResult.objects.bulk_create(
            ScoreResult(
                run=run,
                account=account,
                score=score,
                tier=tier,
                rank=rank,
                revenue=1000,
                revenue_prev=900,
                cm=300,
                cm_pct=0.3,
                growth=0.11,
                **{f"{c}_norm": 0.5 for c in CRITERIA},
                **{f"{c}_points": score / len(CRITERIA) for c in CRITERIA},
                missing="strategic",
            )
            for account, (score, tier, rank) in results.items()
        )
        return run

    return make
