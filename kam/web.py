"""Cross-cutting glue for HTML views."""

import functools
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import resolve_url
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
        if response.status_code != 302 or request.headers.get("HX-Request") != "true":
            return response
        login = resolve_url(settings.LOGIN_URL)
        if urlsplit(response["Location"]).path != login:
            return response
        current = request.headers.get("HX-Current-URL", "")
        if url_has_allowed_host_and_scheme(current, {request.get_host()}, request.is_secure()):
            back = urlsplit(current)
            target = back.path + (f"?{back.query}" if back.query else "")
        else:
            target = resolve_url(settings.LOGIN_REDIRECT_URL)
        return HttpResponseClientRedirect(f"{login}?{urlencode({REDIRECT_FIELD_NAME: target})}")
