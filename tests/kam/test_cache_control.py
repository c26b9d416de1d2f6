"""What one person may see is never kept by a shared cache or the browser's disk: Cache-Control on responses."""

import pytest
from django.urls import reverse

from tests.fixtures.api import key_for  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db

PRIVATE = "private, no-store"


@pytest.mark.parametrize(
    "url",
    [
        lambda world: reverse("home"),
        lambda world: reverse("accounts:list"),
        lambda world: reverse("accounts:detail", args=[world.rep_account.pk]),
        lambda world: reverse("accounts:export"),
        lambda world: reverse("exports:portfolio", args=["csv"]),
        lambda world: reverse("scoring:dashboard"),
        lambda world: "/admin/",
    ],
    ids=["home", "account-list", "account-page", "account-export", "portfolio-export", "dashboard", "admin"],
)
def test_pages_and_exports_for_a_logged_in_person_are_private_and_not_stored(client, world, url):
    world.manager.is_staff = world.manager.is_superuser = True
    world.manager.save()
    client.force_login(world.manager)
    response = client.get(url(world))
    assert response.status_code == 200
    # Django's never_cache views (the admin, log-in) say the same in more words.
    assert {"private", "no-store"} <= {part.strip() for part in response["Cache-Control"].split(",")}


def test_api_answers_and_their_errors_are_private_and_not_stored(world, key_for, client):  # noqa: F811
    api = key_for(world.manager)
    assert api.get("/api/v1/accounts/")["Cache-Control"] == PRIVATE
    assert api.get("/api/v1/accounts/999999/")["Cache-Control"] == PRIVATE
    assert client.get("/api/v1/accounts/")["Cache-Control"] == PRIVATE  # 401


def test_the_scores_api_keeps_its_revalidating_policy_for_its_etag(world, key_for):  # noqa: F811
    api = key_for(world.manager)
    first = api.get("/api/v1/scores/")
    assert first["Cache-Control"] == "private, no-cache"
    assert api.get("/api/v1/scores/", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
