"""Security headers on every kind of response: pages, partials, API, errors and static files."""

import pytest
from django.urls import reverse

from integrations.models import ApiKey
from kam.api.scopes import ApiScope
from kam.security import PAGE_POLICY, render_policy

PAGE_CSP = render_policy(PAGE_POLICY)


def assert_security_headers(response, *, csp: str | None = None) -> None:
    headers = response.headers
    if csp is not None:
        assert headers["Content-Security-Policy"] == csp
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert headers["Cross-Origin-Resource-Policy"] == "same-origin"
    assert "camera=()" in headers["Permissions-Policy"]
    assert "geolocation=()" in headers["Permissions-Policy"]


def test_page_policy_allows_no_inline_script_and_no_inline_style():
    directives = dict(part.split(" ", 1) for part in PAGE_CSP.split("; "))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in PAGE_CSP
    assert "unsafe-eval" not in PAGE_CSP
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    # Only hashes of plotly's three fixed strings besides our own origin.
    assert directives["style-src"].split()[0] == "'self'"
    assert all(source.startswith("'sha256-") for source in directives["style-src"].split()[1:])


def test_login_page_has_the_security_headers(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert_security_headers(response, csp=PAGE_CSP)


@pytest.mark.parametrize("name", ["home", "accounts:list", "scoring:dashboard"])
def test_pages_have_the_security_headers(client, world, name):
    client.force_login(world.manager)
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert_security_headers(response, csp=PAGE_CSP)


def test_htmx_partials_have_the_security_headers(client, world):
    client.force_login(world.rep)
    response = client.get(reverse("accounts:list"), headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert_security_headers(response, csp=PAGE_CSP)


def test_pages_carry_no_inline_script_or_style(client, world):
    """What the policy forbids is not in the HTML either (the browser test proves it renders)."""
    client.force_login(world.manager)
    for url in [
        reverse("home"),
        reverse("accounts:detail", args=[world.rep_account.pk]),
        reverse("scoring:dashboard"),
    ]:
        html = client.get(url).content.decode()
        assert " style=" not in html
        for handler in (" onclick=", " onload=", " onsubmit=", " onchange="):
            assert handler not in html
        assert "javascript:" not in html
        for script in html.split("<script")[1:]:
            tag = script.split(">", 1)[0]
            assert "src=" in tag or 'type="application/json"' in tag, f"inline script in {url}: <script{tag}>"


def test_api_responses_get_a_policy_that_allows_nothing(client, world):
    _, raw = ApiKey.issue(
        name="erp", user=world.integration, scopes=[ApiScope.READ], created_by=world.manager
    )
    response = client.get("/api/v1/accounts/", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200
    assert_security_headers(response)
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_api_problem_responses_have_the_security_headers(client):
    response = client.get("/api/v1/accounts/")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert_security_headers(response)
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_error_pages_have_the_security_headers(client, world):
    client.force_login(world.other_rep)
    response = client.get(reverse("accounts:detail", args=[world.rep_account.pk]))
    assert response.status_code == 404
    assert_security_headers(response, csp=PAGE_CSP)


def test_static_files_have_the_policy_headers(client):
    # WhiteNoise answers before the clickjacking middleware (a script cannot be framed anyway).
    response = client.get("/static/js/kam.js")
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == PAGE_CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cross-Origin-Resource-Policy"] == "same-origin"


def test_with_debug_on_the_technical_error_pages_stay_readable(client, world, settings):
    """Django's yellow debug pages are inline-styled; with DEBUG on (never in production) they get no CSP."""
    settings.DEBUG = True
    client.force_login(world.other_rep)
    response = client.get(reverse("accounts:detail", args=[world.rep_account.pk]))
    assert response.status_code == 404
    assert "Content-Security-Policy" not in response.headers
    assert client.get(reverse("home")).headers["Content-Security-Policy"] == PAGE_CSP
