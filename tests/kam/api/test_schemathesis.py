"""Schemathesis against the live schema, in-process through the WSGI app: no 5xx, every response as documented.

Every operation gets generated requests from keys of each kind a client can hold: a manager's key with every
scope, a read-only key, a key for each write scope alone, a rep's key and an integration user's key. Each
sends valid requests with the ids of real objects in the path (so the happy paths run), deliberately invalid
ones (which must be refused with a 4xx), and valid ones with generated ids. Every response must be a
documented status with the documented content type, body and headers. Hypothesis is derandomized, so CI
sends the same requests on every run; the example budget keeps the run to a minute or two.
"""

import datetime
from dataclasses import dataclass

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
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import AlertKind, CadenceAlert
from integrations.models import WebhookEndpoint
from kam.api.scopes import ApiScope
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
    negative_data_rejection,
]


@dataclass(frozen=True)
class Budget:
    """Examples per operation: valid with real ids, invalid on purpose, valid with generated ids."""

    real_ids: int
    invalid: int
    generated_ids: int


# The all-scopes key explores deepest; the others mostly check that scopes and visibility answer as documented.
FULL = Budget(real_ids=12, invalid=6, generated_ids=2)
LIGHT = Budget(real_ids=2, invalid=1, generated_ids=0)
KEYS = {
    "manager, every scope": ("manager", None, FULL),
    "manager, read only": ("manager", [ApiScope.READ], LIGHT),
    "manager, write_accounts only": ("manager", [ApiScope.WRITE_ACCOUNTS], LIGHT),
    "manager, write_orders only": ("manager", [ApiScope.WRITE_ORDERS], LIGHT),
    "manager, write_visits only": ("manager", [ApiScope.WRITE_VISITS], LIGHT),
    "manager, run_scoring only": ("manager", [ApiScope.RUN_SCORING], LIGHT),
    "rep, every scope": ("rep", None, LIGHT),
    "integration user, every scope": ("integration", None, LIGHT),
}


@pytest.fixture
def seeded(world, make_run):
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
    return account, ids


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


@pytest.mark.parametrize("caller", list(KEYS))
@override_settings(KAM_API_RATE="", KAM_API_ANON_RATE="", KAM_API_WEBHOOK_ALLOW_PRIVATE_URLS=False)
def test_the_api_keeps_its_schema_under_generated_requests(caller, world, seeded, key_for, wsgi_app):
    username, scopes, budget = KEYS[caller]
    client = key_for(getattr(world, username), scopes)
    account, ids = seeded
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app)
    headers = {"Authorization": f"Bearer {client.raw_key}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30

    failures, sent = [], []
    for operation in operations:
        fixed = path_parameters(operation.path, account, ids)
        plans = [
            (operation.as_strategy(path_parameters=fixed), budget.real_ids),
            # Invalid input on purpose (wrong types, missing fields, out-of-range values): a 4xx, never a 5xx.
            (operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=fixed), budget.invalid),
        ]
        if fixed and budget.generated_ids:
            plans.append((operation.as_strategy(), budget.generated_ids))
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
                sent.append(case.operation.label)
                case.call_and_validate(headers=headers, checks=CHECKS)

            # Collected, not raised at once: one run names every operation that strays from its schema.
            try:
                check()
            except (Exception, BaseExceptionGroup) as error:  # schemathesis groups its failures
                failures.append(f"{operation.label}: {error}")

    assert set(sent) == {operation.label for operation in operations}, "an operation sent no request"
    assert not failures, f"{len(failures)} operations broke their schema:\n\n" + "\n\n".join(failures)
