"""The shared fixture world and the rules for tests that need real services.

A test that needs PostgreSQL, Redis, a Celery worker or Chromium skips with a reason on a plain machine;
under `.ci/run` (KAM_REQUIRE_SERVICES=1) every service is provided, so such a skip is a failure instead.
"""

import os
from dataclasses import dataclass

import pytest
from django.db import connection

from accounts.models import Role
from tests.factories import AccountFactory, TeamMemberFactory, UserFactory

REQUIRE_SERVICES = os.environ.get("KAM_REQUIRE_SERVICES") == "1"

# Fixtures more than one app's tests use (tests/ mirrors the apps, so they cannot live in one folder's conftest):
# API clients, keys and the schema validator; a real Celery worker; import helpers.
pytest_plugins = ["tests.fixtures.api", "tests.fixtures.worker", "tests.fixtures.imports"]


def need(available: bool, reason: str) -> None:
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (KAM_REQUIRE_SERVICES=1: every service must be available here)")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _empty_cache():
    """Every test starts with an empty cache (throttle counts, dashboard snapshots): no state leaks between."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def postgres(db):
    need(connection.vendor == "postgresql", "needs PostgreSQL: set DATABASE_URL=postgres://...")


@dataclass
class World:
    rep: object
    other_rep: object
    manager: object
    integration: object
    colleague: object
    rep_account: object
    team_account: object
    other_account: object


@pytest.fixture
def world(db):
    """Two reps, a manager, an integration user, and accounts owned by each rep (one shared via the team)."""
    manager = UserFactory(username="manager", role=Role.MANAGER)
    rep = UserFactory(username="rep", role=Role.REP, manager=manager)
    other_rep = UserFactory(username="other_rep", role=Role.REP, manager=manager)
    integration = UserFactory(username="integration", role=Role.INTEGRATION)
    colleague = UserFactory(username="engineer", role=Role.REP)
    rep_account = AccountFactory(name="Rep's Own Account", owner=rep)
    team_account = AccountFactory(name="Team Account", owner=other_rep)
    TeamMemberFactory(account=team_account, user=rep, function="sales")
    other_account = AccountFactory(name="Other Rep's Account", owner=other_rep)
    return World(rep, other_rep, manager, integration, colleague, rep_account, team_account, other_account)
