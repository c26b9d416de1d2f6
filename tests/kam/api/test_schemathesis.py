"""Schemathesis against the live schema, in-process through the WSGI app: no 5xx, every response as documented.

Every operation gets generated requests from a manager's key holding every scope: valid ones with the ids of
real objects in the path (so the happy paths run), deliberately invalid ones, and valid ones with generated
ids. The example budget keeps the run well under a minute.
"""

import datetime

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import AlertKind, CadenceAlert
from integrations.models import WebhookEndpoint
from tests.factories import (
    ActionFactory,
    InfluencerFactory,
    ObjectiveFactory,
    OrderFactory,
    ServiceIssueFactory,
    VisitFactory,
)

pytestmark = pytest.mark.django_db

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
EXAMPLES_WITH_REAL_IDS = 20
EXAMPLES_WITH_GENERATED_IDS = 3
INVALID_EXAMPLES = 6


@pytest.fixture
def seeded(world, make_run, key_for):
    """A little of everything, so generated requests reach real objects."""
    account = world.rep_account
    person = InfluencerFactory(account=account)
    VisitFactory(account=account).influencers.set([person])
    OrderFactory(account=account)
    ServiceIssueFactory(account=account)
    ActionFactory(plan=ObjectiveFactory(plan__account=account).plan)
    make_run({account: (50.0, "B", 2), world.other_account: (70.0, "A", 1)})
    run = make_run({account: (80.0, "A", 1), world.other_account: (60.0, "B", 2)})
    alert = CadenceAlert.objects.create(
        account=account, kind=AlertKind.LAPSED_CADENCE, opened_on=datetime.date(2026, 11, 1)
    )
    client = key_for(world.manager)
    hook = WebhookEndpoint.objects.create(
        owner=world.manager,
        url="https://hooks.example.com/kam",
        events=["run.succeeded"],
        secret="whsec_test",
    )
    ids = {
        "/api/v1/accounts/": account.pk,
        "/api/v1/cadence-alerts/": alert.pk,
        "/api/v1/scoring/runs/": run.pk,
        "/api/v1/webhooks/": hook.pk,
    }
    return client.raw_key, account, ids


def path_parameters(path: str, account, ids) -> dict:
    params = {}
    if "{account_pk}" in path:
        params["account_pk"] = account.pk
    if "{id}" in path:
        params["id"] = next(pk for prefix, pk in ids.items() if path.startswith(prefix))
    return params


@pytest.fixture
def wsgi_app():
    """The project's WSGI app, kept on the test's database connection (as Django's test client does)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@override_settings(KAM_API_RATE="", KAM_API_ANON_RATE="", KAM_API_WEBHOOK_ALLOW_PRIVATE_URLS=False)
def test_the_api_keeps_its_schema_under_generated_requests(seeded, wsgi_app):
    raw_key, account, ids = seeded
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app)
    headers = {"Authorization": f"Bearer {raw_key}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30

    for operation in operations:
        fixed = path_parameters(operation.path, account, ids)
        plans = [
            (operation.as_strategy(path_parameters=fixed), EXAMPLES_WITH_REAL_IDS),
            # Invalid input on purpose (wrong types, missing fields, out-of-range values): a 4xx, never a 5xx.
            (operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=fixed), INVALID_EXAMPLES),
        ]
        if fixed:
            plans.append((operation.as_strategy(), EXAMPLES_WITH_GENERATED_IDS))
        for strategy, examples in plans:

            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def check(case):
                case.call_and_validate(headers=headers, checks=CHECKS)

            check()
