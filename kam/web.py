"""Cross-cutting glue for HTML views."""

import functools
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import resolve_url
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect


def staff_page(view):
    """A browser page for people: log in first; integration users use the API only (403)."""

    @functools.wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        if request.user.is_integration:
            raise PermissionDenied("Integration users use the API only.")
        return view(request, *args, **kwargs)

    return wrapper


def nothing_changed(request, form) -> bool:
    """An edit form sent back as it was: say so, and save nothing. A save would write a "changed" entry with no
    changes into the managers' audit trail (django-simple-history writes a row on every save)."""
    if form.instance.pk is None or form.has_changed():
        return False
    messages.info(request, "Nothing changed, so nothing was saved.")
    return True


def manager_page(view):
    @functools.wraps(view)
    @staff_page
    def wrapper(request, *args, **kwargs):
        if not request.user.is_manager:
            raise PermissionDenied("Only managers can do this.")
        return view(request, *args, **kwargs)

    return wrapper


def int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def wants_fragment(request, target: str | None = None) -> bool:
    """Whether to answer with the fragment instead of the whole page: the one htmx branch of every view.

    True for an htmx request, except a history restore (HX-History-Restore-Request): after Back, htmx asks for
    a page missing from its history cache with HX-Request too and swaps the answer in for the whole body, so
    a fragment there would become the whole page. (base.html sets refreshOnHistoryMiss, which reloads instead;
    this holds without it.) With `target`, an element id, only when htmx swaps into that element (HX-Target):
    a page with a filter form and other htmx parts sends its body only to the filter form. A view that asks
    this is decorated with `fragment_view`, so caches keep the two answers apart.
    """
    htmx = request.htmx
    if not htmx or htmx.history_restore_request:
        return False
    return target is None or htmx.target == target


def fragment_view(view=None, *, by_target: bool = False):
    """A view that answers at the same URL with the whole page or, to htmx, a fragment (`wants_fragment`).

    Every answer, the whole page too, says which request headers chose it (Vary): without that a cache, the
    browser's own first, may hand the fragment htmx fetched for a pushed URL to Back or a reload, or the page
    to htmx. by_target=True when the view passes a `target` to wants_fragment (it then reads HX-Target too).
    Use it as @fragment_view or @fragment_view(by_target=True), outermost, so the login redirect varies too.
    """
    headers = ("HX-Request", "HX-History-Restore-Request", *(("HX-Target",) if by_target else ()))

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            response = view(request, *args, **kwargs)
            patch_vary_headers(response, headers)
            return response

        wrapper.fragment_vary = headers  # read by the test that every branching view is decorated
        return wrapper

    return decorate(view) if view is not None else decorate


class HtmxLoginRedirectMiddleware:
    """An htmx request whose session has expired goes to the login page as a whole page.

    login_required answers it with a redirect to the login page, which the browser follows inside htmx's
    request: the login form would be swapped into the fragment (a login page inside the results table, or in
    the quick log). Instead the answer tells htmx to load the login page itself (HX-Redirect), with `next` the
    page the user was on (HX-Current-URL, when it is on this site), so logging in brings them back to it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code != 302:
            return response
        login = resolve_url(settings.LOGIN_URL)
        if urlsplit(response["Location"]).path != login:
            return response
        # The same URL answers a plain request with the redirect and htmx with HX-Redirect.
        patch_vary_headers(response, ("HX-Request",))
        if request.headers.get("HX-Request") != "true":
            return response
        current = request.headers.get("HX-Current-URL", "")
        if url_has_allowed_host_and_scheme(current, {request.get_host()}, request.is_secure()):
            back = urlsplit(current)
            target = back.path + (f"?{back.query}" if back.query else "")
        else:
            target = resolve_url(settings.LOGIN_REDIRECT_URL)
        redirect = HttpResponseClientRedirect(f"{login}?{urlencode({REDIRECT_FIELD_NAME: target})}")
        patch_vary_headers(redirect, ("HX-Request",))
        return redirect
