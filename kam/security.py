"""Security headers Django does not set itself, on every response: pages, API, static files and errors.

Django 5.2 has no Content-Security-Policy of its own (SecurityMiddleware sends HSTS, nosniff, the referrer
policy and Cross-Origin-Opener-Policy; XFrameOptionsMiddleware sends X-Frame-Options). This middleware adds:

- Content-Security-Policy. Pages get `PAGE_POLICY`: everything from our own origin, no inline script, no
  inline style, no eval, no plugins, no framing. That holds because the templates carry no inline script,
  event handler or style attribute (behaviour hangs off data- attributes in static/js, charts read their
  figures from json_script blocks, htmx is told not to inject its indicator <style>). plotly.js styles its
  charts mostly through the CSSOM (element.style, insertRule), which CSP does not govern; the three things
  it does that CSP does govern are allowed by hash, below ('unsafe-inline' is never needed).
  tests/security/test_csp_browser.py drives Chromium over the chart pages and fails on any violation.
  JSON (the API and its problem responses) gets `DATA_POLICY`, which allows nothing at all: a JSON body
  opened in a browser can never run or load anything.
- Permissions-Policy: no camera, microphone, geolocation, payment, USB... for us or anything we embed.
- Cross-Origin-Resource-Policy: same-origin, so other sites cannot embed our responses.
- Cache-Control: private, no-store on the API and on everything a logged-in person gets, unless the view set
  its own.

It also holds the other request-level guards: the request size cap (RequestSizeLimitMiddleware) and the
login throttle's backend and client address (django-axes, configured in settings).

KAM_CSP (a setting) replaces the page policy, e.g. to add a reporting endpoint; it is a dict of directive
to sources like PAGE_POLICY.
"""

import re

from axes.backends import AxesStandaloneBackend
from django.conf import settings

from kam.errors import bad_query_response, too_large_response

PAGE_POLICY: dict[str, tuple[str, ...]] = {
    "default-src": ("'self'",),
    "script-src": ("'self'",),
    # plotly.js needs three exceptions, each a hash that matches one fixed string and nothing else (measured
    # in Chromium with plotly 7.1.0; tests/security/test_csp_browser.py fails on any violation):
    # - the empty <style id="plotly.js-style-global"> it fills through insertRule: blocked, the sheet does
    #   not exist and the charts lose their layout rules (legends overlap the page);
    # - the maplibre stylesheet it injects as text (for map traces; allowed so chart pages log no errors);
    # - style="font-weight:bold", which it sets on the tspan of a <b> in a chart's text.
    "style-src": (
        "'self'",
        "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",  # "" (the empty global <style>)
        "'sha256-ji27qzEtxXZW+7dun6UwjHXJ18e6WAin1VvNtkzIE/o='",  # plotly's bundled maplibre-gl.css
    ),
    "style-src-attr": ("'unsafe-hashes'", "'sha256-wkY2X5hecQzbhnFCqvTpwrUJ1f4X8LH5WFjYUzv1wmU='"),
    # Swagger UI draws its icons from data: URIs; plotly exports none (its mode bar is off).
    "img-src": ("'self'", "data:"),
    "font-src": ("'self'",),
    "connect-src": ("'self'",),
    "object-src": ("'none'",),
    "base-uri": ("'self'",),
    "form-action": ("'self'",),
    "frame-ancestors": ("'none'",),
}
# The admin's history list (django-simple-history's template) has one inline style, style="border-top: 0" on
# its paginator; this allows exactly that string, on those pages only.
ADMIN_HISTORY_PATH = re.compile(r"^/admin/[^/]+/[^/]+/[^/]+/history/")
ADMIN_HISTORY_STYLE = "'sha256-XMXSevYjgSjXgRafBFDvtjwX+yyWLrxfso9DcNZ9UXM='"  # "border-top: 0"
DATA_POLICY: dict[str, tuple[str, ...]] = {
    "default-src": ("'none'",),
    "frame-ancestors": ("'none'",),
    "base-uri": ("'none'",),
    "form-action": ("'none'",),
}
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
    )
)


def render_policy(policy: dict[str, tuple[str, ...]]) -> str:
    return "; ".join(f"{directive} {' '.join(sources)}" for directive, sources in policy.items())


def _with_style_attribute(policy: dict[str, tuple[str, ...]], source: str) -> dict[str, tuple[str, ...]]:
    attributes = policy.get("style-src-attr", ("'unsafe-hashes'",))
    if "'unsafe-hashes'" not in attributes:
        attributes = ("'unsafe-hashes'", *attributes)
    return {**policy, "style-src-attr": (*attributes, source)}


def _is_data(response) -> bool:
    content_type = response.get("Content-Type", "").split(";")[0].strip().lower()
    return content_type == "application/json" or content_type.endswith("+json")


def _is_private(request) -> bool:
    """An API answer, or any answer to a logged-in person (pages, fragments, exports, the admin).

    request.user is only there once AuthenticationMiddleware ran: static files served by WhiteNoise earlier
    keep their own long-lived public caching.
    """
    if request.path.startswith("/api/"):
        return True
    user = getattr(request, "user", None)
    return user is not None and user.is_authenticated


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        page_policy = getattr(settings, "KAM_CSP", None) or PAGE_POLICY
        self.page_policy = render_policy(page_policy)
        self.data_policy = render_policy(DATA_POLICY)
        self.admin_history_policy = render_policy(_with_style_attribute(page_policy, ADMIN_HISTORY_STYLE))

    def __call__(self, request):
        response = self.get_response(request)
        if _is_data(response):
            policy = self.data_policy
        elif ADMIN_HISTORY_PATH.match(request.path):
            policy = self.admin_history_policy
        else:
            policy = self.page_policy
        # With DEBUG on, Django's technical 404/500 pages are styled and scripted inline; a developer needs
        # them readable. (DEBUG is never on in production: the settings refuse it.)
        debug_page = settings.DEBUG and response.status_code in (404, 500) and not _is_data(response)
        if not debug_page:
            response.headers.setdefault("Content-Security-Policy", policy)
        if _is_private(request):
            # Shared caches and the browser's disk must not keep what one person may see. A view that chose
            # its own policy keeps it: the scores API sends `private, no-cache` with its ETag, since no-store
            # would leave the client nothing to revalidate and its If-None-Match/304 would never apply.
            response.headers.setdefault("Cache-Control", "private, no-store")
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        return response


class RequestSizeLimitMiddleware:
    """Refuses a body whose declared size exceeds KAM_MAX_REQUEST_BYTES before anything reads it.

    Django's own limits (DATA_UPLOAD_MAX_MEMORY_SIZE) cover form fields but not files, and the API's JSON
    parser has its own smaller cap; this is the backstop for everything else, uploads included.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.KAM_MAX_REQUEST_BYTES
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if limit and declared > limit:
            return too_large_response(request, limit)
        return self.get_response(request)


# C0 control characters but tab, newline and carriage return. NUL is refused by PostgreSQL in any text
# (a 500, or a CSV export cut off mid-stream); the others have no business in a search or filter either.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class QueryStringGuardMiddleware:
    """Refuses (400) a query string with a control character in any name or value, before a view reads it.

    One check for every page, export and API list, instead of one per filter class: whatever parses the
    query (AccountFilters, PortfolioFilters, django-filter, pagination) only ever sees printable text.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        for name, values in request.GET.lists():
            if any(CONTROL_CHARACTERS.search(text) for text in (name, *values)):
                shown = CONTROL_CHARACTERS.sub("", name)[:40]
                return bad_query_response(
                    request,
                    f"The query parameter “{shown}” contains a control character (such as %00); "
                    "remove it and try again.",
                )
        return self.get_response(request)


class UnreadBodyCloseMiddleware:
    """`Connection: close` on an error answered without reading the request body (401, 403, 413 ...).

    The unread bytes are still in the connection; a server that keeps it alive would read them as the next
    request, or give up on the connection mid-way (gunicorn), so the client's next request on it fails.
    Closing costs one reconnect and only happens on refusals. WSGI forbids hop-by-hop headers from
    applications, so kam.wsgi turns this one into the server's own close (gunicorn's); the stdlib server
    behind runserver and live_server drains unread bodies itself and would refuse the header.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        # 413: read at most up to the limit. Otherwise: nothing read at all (WSGIRequest's own flag).
        unread = response.status_code == 413 or not getattr(request, "_read_started", False)
        if (
            response.status_code >= 400
            and unread
            and _has_body(request)
            and not request.META.get("SERVER_SOFTWARE", "").startswith("WSGIServer/")
        ):
            response["Connection"] = "close"
        return response


def _has_body(request) -> bool:
    if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        return True
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > 0
    except ValueError:
        return True


class LoginThrottleBackend(AxesStandaloneBackend):
    """django-axes' lockout check for logins made through a request (the login page, the admin).

    authenticate() without a request (a management command, a shell) has no address to count against and
    nothing to throttle, so it falls through to the password backend instead of raising as axes does.
    API keys and sessions never call authenticate(), so neither is throttled here (the API has its own
    throttle per key, kam.api.throttling.KeyRateThrottle).
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def client_ip(request) -> str | None:
    """The client's address: the peer, or behind KAM_PROXY_COUNT proxies the address the outermost saw.

    Each proxy appends the address it received the request from to X-Forwarded-For, so with n trusted
    proxies the client is the n-th entry from the right; anything further left is whatever the client sent.
    """
    proxies = settings.KAM_PROXY_COUNT
    if proxies > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR")


def lockout_response(request, original_response=None, credentials=None):
    """The page a locked-out login gets: 429, what happened, for how long, and who can unlock it."""
    from axes.helpers import get_client_username, get_failure_limit
    from django.shortcuts import render

    context = {
        "failure_limit": get_failure_limit(request, credentials),
        "username": get_client_username(request, credentials) or "",
        "cooloff_minutes": max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60)),
    }
    return render(request, "registration/locked_out.html", context, status=429)
