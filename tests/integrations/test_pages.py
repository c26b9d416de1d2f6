"""Settings → Integrations: managers create and revoke keys (shown once) and manage webhooks in the browser."""

import re

import pytest
from django.test import Client

from integrations.models import ApiKey, WebhookEndpoint
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

INDEX = "/settings/integrations/"


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def test_only_managers_reach_the_integration_settings(world):
    assert logged_in(world.rep).get(INDEX).status_code == 403
    assert logged_in(world.integration).get(INDEX).status_code == 403
    assert Client().get(INDEX).status_code == 302
    assert logged_in(world.manager).get(INDEX).status_code == 200


def test_a_new_key_is_shown_once_works_and_is_stored_hashed(world):
    client = logged_in(world.manager)
    response = client.post(
        f"{INDEX}keys/new/", {"name": "ERP nightly sync", "user": world.integration.pk, "scopes": ["read"]}
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    raw = re.search(r'value="(kam_[^"]+)"', response.content.decode()).group(1)
    key = ApiKey.objects.get()
    assert (key.name, key.user, key.scopes, key.created_by) == (
        "ERP nightly sync",
        world.integration,
        ["read"],
        world.manager,
    )
    assert key.matches(raw)
    listing = client.get(INDEX).content.decode()
    assert f"kam_{key.prefix}_" in listing
    assert raw not in listing
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/accounts/").status_code == 200

    client.post(f"{INDEX}keys/{key.pk}/revoke/")
    assert api.get("/api/v1/accounts/").status_code == 401
    assert "Revoked" in client.get(INDEX).content.decode()


def test_run_scoring_is_only_for_a_managers_key(world):
    response = logged_in(world.manager).post(
        f"{INDEX}keys/new/", {"name": "BI", "user": world.rep.pk, "scopes": ["read", "run_scoring"]}
    )
    assert response.status_code == 200
    assert "Only a key acting as a manager can start scoring runs." in response.content.decode()
    assert not ApiKey.objects.exists()


def test_a_rep_cannot_make_or_revoke_keys(world):
    key, _ = ApiKey.issue(name="x", user=world.rep, scopes=["read"], created_by=world.manager)
    rep = logged_in(world.rep)
    assert (
        rep.post(f"{INDEX}keys/new/", {"name": "mine", "user": world.rep.pk, "scopes": ["read"]}).status_code
        == 403
    )
    assert rep.post(f"{INDEX}keys/{key.pk}/revoke/").status_code == 403
    key.refresh_from_db()
    assert key.revoked_at is None


def test_webhooks_are_managed_in_the_browser(world):
    client = logged_in(world.manager)
    response = client.post(
        f"{INDEX}webhooks/new/",
        {
            "url": "https://erp.example.com/kam",
            "owner": world.integration.pk,
            "events": ["run.succeeded"],
            "active": "on",
        },
    )
    hook = WebhookEndpoint.objects.get()
    assert hook.secret in response.content.decode()
    assert (hook.owner, hook.events, hook.active) == (world.integration, ["run.succeeded"], True)
    page = client.get(f"{INDEX}webhooks/{hook.pk}/")
    assert page.status_code == 200
    assert hook.secret not in page.content.decode()

    client.post(
        f"{INDEX}webhooks/{hook.pk}/",
        {"url": "https://erp.example.com/kam2", "owner": world.integration.pk, "events": ["alert.opened"]},
    )
    hook.refresh_from_db()
    assert (hook.url, hook.events, hook.active) == ("https://erp.example.com/kam2", ["alert.opened"], False)

    old = hook.secret
    rotated = client.post(f"{INDEX}webhooks/{hook.pk}/rotate-secret/")
    hook.refresh_from_db()
    assert hook.secret != old
    assert hook.secret in rotated.content.decode()

    client.post(f"{INDEX}webhooks/{hook.pk}/delete/")
    assert not WebhookEndpoint.objects.exists()


def test_a_webhook_address_must_be_http(world):
    response = logged_in(world.manager).post(
        f"{INDEX}webhooks/new/",
        {"url": "ftp://example.com/x", "owner": world.manager.pk, "events": ["run.succeeded"]},
    )
    assert response.status_code == 200
    assert not WebhookEndpoint.objects.exists()


def test_the_settings_page_costs_a_fixed_number_of_queries(world, django_assert_max_num_queries):
    for n in range(10):
        ApiKey.issue(name=f"k{n}", user=UserFactory(), scopes=["read"], created_by=world.manager)
        WebhookEndpoint.objects.create(
            owner=UserFactory(), url=f"https://x{n}.example.com", events=["ping"], secret="s"
        )
    client = logged_in(world.manager)
    # session, user, keys (with users), endpoints (with owners)
    with django_assert_max_num_queries(5):
        assert client.get(INDEX).status_code == 200
