"""The htmx branch: a page URL answers htmx with a fragment, everything else with the whole page, and says so.

Every view that answers at its own URL with either decides it through `kam.web.wants_fragment` and carries
`kam.web.fragment_view`, so the answer names the headers that chose it (Vary) and a cache cannot hand the
fragment to Back or a reload. A history restore (htmx asking, after Back, for a page missing from its cache)
gets the whole page: it replaces the whole body.
"""

import datetime
import inspect
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from dataio.imports.service import import_start
from scoring.models import RunStatus, ScoringRun
from scoring.selectors import active_model

ROOT = Path(__file__).resolve().parents[2]
HTMX = {"HTTP_HX_REQUEST": "true"}
RESTORE = {"HTTP_HX_REQUEST": "true", "HTTP_HX_HISTORY_RESTORE_REQUEST": "true"}


@dataclass(frozen=True)
class Page:
    user: str  # the world's user who opens it
    url: object  # world -> the page's address
    target: str | None = None  # the HX-Target the page's own htmx sends; the branch depends on it if set


def _run(world) -> ScoringRun:
    return ScoringRun.objects.create(
        model=active_model(),
        as_of=datetime.date(2026, 1, 1),
        status=RunStatus.RUNNING,
        started_at=timezone.now(),
        triggered_by=world.manager,
    )


def _import(world):
    record, _ = import_start(
        kind="accounts", user=world.manager, file_name="a.csv", content=b"reference,name\nH-1,Htmx\n"
    )
    return record


# Every GET view that calls wants_fragment; test_every_fragment_view_is_decorated_and_listed_here fails when
# one is missing, so a new one cannot ship without these checks.
PAGES = {
    "accounts:list": Page("rep", lambda w: reverse("accounts:list") + "?q=Rep"),
    "accounts:visit_create": Page("rep", lambda w: reverse("accounts:visit_create", args=[w.rep_account.pk])),
    "profiles:edit": Page("rep", lambda w: reverse("profiles:edit", args=[w.rep_account.pk])),
    "imports:detail": Page("manager", lambda w: reverse("imports:detail", args=[_import(w).pk])),
    "scoring:run_detail": Page("manager", lambda w: reverse("scoring:run_detail", args=[_run(w).pk])),
    "scoring:dashboard": Page("manager", lambda w: reverse("scoring:dashboard"), target="dashboard-body"),
    "scoring:capacity": Page("manager", lambda w: reverse("scoring:capacity"), target="capacity-body"),
}
# Views that answer htmx with a fragment and everyone else with a redirect: POST only, never a page.
POST_ONLY = {"plans:action_status", "scoring:run_start"}


def _get(client, world, name, **headers):
    page = PAGES[name]
    client.force_login(getattr(world, page.user))
    response = client.get(page.url(world), **headers)
    assert response.status_code == 200
    return response


def _target(name) -> dict:
    target = PAGES[name].target
    return {"HTTP_HX_TARGET": target} if target else {}


def _vary(response) -> set[str]:
    return {header.strip().lower() for header in response.get("Vary", "").split(",")}


def _expected_vary(name) -> set[str]:
    headers = {"hx-request", "hx-history-restore-request"}
    return headers | {"hx-target"} if PAGES[name].target else headers


def _is_page(response) -> bool:
    return "<html" in response.content.decode()


@pytest.mark.parametrize("name", PAGES)
def test_a_plain_get_is_the_whole_page_and_says_what_it_varies_on(client, world, name):
    response = _get(client, world, name)
    assert _is_page(response)
    assert _expected_vary(name) <= _vary(response)


@pytest.mark.parametrize("name", PAGES)
def test_an_htmx_get_is_the_fragment_and_says_what_it_varies_on(client, world, name):
    response = _get(client, world, name, **HTMX, **_target(name))
    assert not _is_page(response)
    assert response.content.strip()
    assert _expected_vary(name) <= _vary(response)


@pytest.mark.parametrize("name", PAGES)
def test_a_history_restore_is_the_whole_page(client, world, name):
    # htmx sends no HX-Target on a restore; with one it is still a restore and still the whole page.
    response = _get(client, world, name, **RESTORE, **_target(name))
    assert _is_page(response)
    assert _expected_vary(name) <= _vary(response)


@pytest.mark.parametrize("name", [name for name, page in PAGES.items() if page.target])
def test_htmx_aiming_at_another_part_of_the_page_gets_the_whole_page(client, world, name):
    assert _is_page(_get(client, world, name, **HTMX, HTTP_HX_TARGET="main"))
    assert _is_page(_get(client, world, name, **HTMX))


def test_the_login_redirect_says_it_varies_for_htmx(client):
    """An expired session gets a redirect, or HX-Redirect for htmx (kam.web), from the fragment's own URL."""
    url = reverse("scoring:dashboard")
    plain = client.get(url)
    assert plain.status_code == 302
    assert {"hx-request", "hx-target"} <= _vary(plain)
    htmx = client.get(url, **HTMX, HTTP_HX_TARGET="dashboard-body")
    assert htmx.status_code == 200
    assert htmx["HX-Redirect"].startswith(reverse("login"))
    assert "hx-request" in _vary(htmx)


def _views(resolver=None, namespace=""):
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}:{entry.namespace}" if namespace and entry.namespace else entry.namespace
            yield from _views(entry, inner or namespace)
        elif isinstance(entry, URLPattern) and entry.name:
            yield (f"{namespace}:{entry.name}" if namespace else entry.name), entry.callback


def test_every_fragment_view_is_decorated_and_listed_here():
    branching = {}
    for name, view in _views():
        source = inspect.getsource(inspect.unwrap(view))
        if "wants_fragment(" not in source:
            continue
        vary = {header.lower() for header in getattr(view, "fragment_vary", ())}
        assert "hx-request" in vary, f"{name} calls wants_fragment but is not decorated with fragment_view"
        by_target = re.search(r"wants_fragment\(request, target=", source) is not None
        assert ("hx-target" in vary) == by_target, f"{name}: fragment_view(by_target=...) disagrees"
        branching[name] = view
    assert set(branching) == set(PAGES) | POST_ONLY


def test_no_view_reads_the_htmx_headers_itself():
    """One branch for all: a view that tests request.htmx itself would miss the history restore or the Vary."""
    readers = []
    packages = [p for p in ROOT.iterdir() if (p / "__init__.py").exists() and p.name != "tests"]
    for path in (path for package in packages for path in package.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if relative == Path("kam/web.py"):
            continue
        text = path.read_text()
        if "request.htmx" in text or re.search(r"[\"']HX-[A-Za-z-]+[\"']", text):
            readers.append(str(relative))
    assert readers == []
