"""Log-in throttling and lockout (django-axes), session expiry, and logging out everywhere on a password change."""

import datetime
from urllib.parse import urlencode

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import authenticate
from django.http import HttpResponseRedirect
from django.test import Client, RequestFactory
from django.urls import reverse

from integrations.models import ApiKey
from kam.api.scopes import ApiScope
from kam.web import HtmxLoginRedirectMiddleware
from tests.factories import UserFactory

PASSWORD = "correct-horse-battery"  # tests/factories.py


def login(client: Client, username: str, password: str, *, address: str = "203.0.113.7"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def fail(client: Client, username: str, times: int, *, address: str = "203.0.113.7"):
    return [login(client, username, "wrong-password", address=address).status_code for _ in range(times)]


def test_four_wrong_passwords_are_only_wrong_passwords(client, world):
    assert fail(client, "rep", 4) == [200, 200, 200, 200]
    response = login(client, "rep", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_the_fifth_wrong_password_locks_the_login_with_a_clear_page(client, world):
    assert fail(client, "rep", 5) == [200, 200, 200, 200, 429]
    response = login(client, "rep", PASSWORD)
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed log-ins" in page
    assert "After 5 wrong passwords in a row for <strong>rep</strong>" in page
    assert "paused for 15 minutes" in page
    assert "_auth_user_id" not in client.session


def test_a_lockout_ends_after_the_cool_off(client, world):
    fail(client, "rep", 5)
    cooled_off = AccessAttempt.objects.get(username="rep").attempt_time - settings.AXES_COOLOFF_TIME
    AccessAttempt.objects.filter(username="rep").update(
        attempt_time=cooled_off - datetime.timedelta(seconds=1)
    )
    assert login(client, "rep", PASSWORD).status_code == 302


def test_a_lockout_is_per_username_and_address(world):
    attacker = Client()
    fail(attacker, "rep", 5, address="198.51.100.9")
    # The same person from the office is not locked out by a stranger guessing elsewhere...
    assert login(Client(), "rep", PASSWORD, address="203.0.113.7").status_code == 302
    # ...and the stranger's address can still try (and fail, and be counted) for other usernames.
    assert login(attacker, "other_rep", PASSWORD, address="198.51.100.9").status_code == 302


def test_a_successful_login_clears_the_failures(client, world):
    fail(client, "rep", 4)
    assert login(client, "rep", PASSWORD).status_code == 302
    client.logout()
    assert fail(client, "rep", 4) == [200, 200, 200, 200]


def test_the_admin_login_is_throttled_too(client, world):
    UserFactory(username="root", is_staff=True, is_superuser=True)
    statuses = [
        client.post(
            reverse("admin:login"), {"username": "root", "password": "nope"}, REMOTE_ADDR="203.0.113.7"
        ).status_code
        for _ in range(5)
    ]
    assert statuses == [200, 200, 200, 200, 429]


def test_api_keys_are_not_throttled_by_the_login_lockout(client, world):
    _, raw = ApiKey.issue(
        name="erp", user=world.integration, scopes=[ApiScope.READ], created_by=world.manager
    )
    fail(Client(), "integration", 5, address="127.0.0.1")
    response = client.get("/api/v1/accounts/", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200


def test_an_existing_session_survives_a_lockout_of_its_username(client, world):
    client.force_login(world.rep)
    fail(Client(), "rep", 5, address="127.0.0.1")
    assert client.get(reverse("home")).status_code == 200


def test_authenticate_without_a_request_still_checks_the_password(world):
    """Management commands and the shell have no address to throttle; they still need the right password."""
    assert authenticate(username="rep", password=PASSWORD) == world.rep
    assert authenticate(username="rep", password="wrong") is None


# --- Sessions -----------------------------------------------------------------------------------------------


def test_sessions_expire_after_session_cookie_age(client, world):
    client.force_login(world.rep)
    assert client.session.get_expiry_age() == settings.SESSION_COOKIE_AGE
    assert settings.SESSION_COOKIE_AGE == 12 * 60 * 60


def test_logging_out_is_a_post_that_ends_the_session(client, world):
    client.force_login(world.rep)
    assert client.get(reverse("logout")).status_code == 405
    client.post(reverse("logout"))
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# --- Password change: this session stays, every other one ends ---------------------------------------------


NEW_PASSWORD = "a-much-longer-new-passphrase"


def test_changing_the_password_logs_out_every_other_session(world):
    here, elsewhere = Client(), Client()
    assert login(here, "rep", PASSWORD).status_code == 302
    assert login(elsewhere, "rep", PASSWORD, address="198.51.100.20").status_code == 302
    assert elsewhere.get(reverse("home")).status_code == 200

    response = here.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("password_change_done")
    assert "Other browsers and devices" in here.get(reverse("password_change_done")).content.decode()
    assert here.get(reverse("home")).status_code == 200
    response = elsewhere.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert login(Client(), "rep", NEW_PASSWORD).status_code == 302


def test_a_wrong_current_password_changes_nothing(client, world):
    client.force_login(world.rep)
    response = client.post(
        reverse("password_change"),
        {"old_password": "not-it", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 200
    assert "Your old password was entered incorrectly" in response.content.decode()
    world.rep.refresh_from_db()
    assert world.rep.check_password(PASSWORD)


@pytest.mark.parametrize(
    ("new_password", "message"),
    [
        ("short1!", "This password is too short."),
        ("password1234", "This password is too common."),
        ("48151623424815", "This password is entirely numeric."),
    ],
)
def test_weak_new_passwords_are_refused(client, world, new_password, message):
    client.force_login(world.rep)
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": new_password, "new_password2": new_password},
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    world.rep.refresh_from_db()
    assert world.rep.check_password(PASSWORD)


def test_the_password_page_is_for_people_only(client, world):
    assert client.get(reverse("password_change"))["Location"].startswith(reverse("login"))
    client.force_login(world.integration)
    assert client.get(reverse("password_change")).status_code == 403


# --- An expired session during an htmx request --------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/accounts/?q=acme", {"HX-Target": "results"}),  # the account list's live filter
        ("/scoring/?region=DACH", {"HX-Target": "dashboard-body"}),  # the dashboard's filters
        (None, {"HX-Target": "log-visit-body"}),  # the account page's quick log
    ],
)
def test_an_htmx_request_after_the_session_expired_goes_to_the_login_page_as_a_whole_page(
    client, world, path, headers
):
    """Without this the browser follows the redirect inside htmx's request and swaps the login form into the
    fragment. The answer tells htmx to load the login page instead, and to come back to the page after."""
    path = path or reverse("accounts:visit_create", args=[world.rep_account.pk])
    page = "https://testserver/accounts/?q=acme&tier=A"
    response = client.get(
        path, headers={"HX-Request": "true", "HX-Current-URL": page, **headers}, secure=True
    )
    assert response.status_code == 200
    assert response.content == b""
    assert "Location" not in response
    assert response["HX-Redirect"] == reverse("login") + "?" + urlencode({"next": "/accounts/?q=acme&tier=A"})

    # Logging in from there lands on the page the user was on.
    login_page = client.get(response["HX-Redirect"], secure=True)
    assert login_page.status_code == 200
    done = client.post(
        response["HX-Redirect"],
        {"username": "rep", "password": PASSWORD},
        REMOTE_ADDR="203.0.113.7",
        secure=True,
    )
    assert done.status_code == 302
    assert done["Location"] == "/accounts/?q=acme&tier=A"


def test_an_htmx_login_redirect_never_sends_the_user_to_another_site(client, world):
    response = client.get(
        "/accounts/",
        headers={"HX-Request": "true", "HX-Current-URL": "https://evil.example/phish"},
        secure=True,
    )
    assert response["HX-Redirect"] == reverse("login") + "?" + urlencode({"next": reverse("home")})


def test_plain_requests_and_other_htmx_redirects_are_left_alone(client, world):
    plain = client.get("/accounts/", secure=True)
    assert plain.status_code == 302
    assert plain["Location"].startswith(reverse("login"))
    client.force_login(world.rep)
    # A logged-in htmx request that redirects elsewhere (not to the login page) is not touched.
    request = RequestFactory().get("/x/", headers={"HX-Request": "true"})
    response = HtmxLoginRedirectMiddleware(lambda r: HttpResponseRedirect("/accounts/1/"))(request)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/1/"
