"""Friendly error pages that keep the layout (and never leak details)."""

import sys

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.shortcuts import render

from kam.api.problems import problem_response


def bad_request(request, exception=None):
    """400, and 413 for a form body over DATA_UPLOAD_MAX_MEMORY_SIZE (Django raises both as a bad request)."""
    if isinstance(exception, RequestDataTooBig):
        return too_large_response(request, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    if request.path.startswith("/api/"):
        return problem_response(400, "The request could not be read; check its size, fields and encoding.")
    return render(request, "errors/400.html", status=400)


def bad_query_response(request, detail: str):
    """400 for a query string no page or filter can use, naming the parameter: a problem or the 400 page."""
    if request.path.startswith("/api/"):
        return problem_response(400, detail, code="bad_query")
    return render(request, "errors/400.html", {"message": detail}, status=400)


def request_too_large(request, *, limit: int):
    return render(request, "errors/413.html", {"limit": limit}, status=413)


def too_large_response(request, limit: int):
    """413 in the shape the caller reads: problem details for the API, the friendly page for people."""
    detail = f"The request body is larger than the limit of {limit:,} bytes."
    if request.path.startswith("/api/"):
        return problem_response(413, detail, code="payload_too_large")
    return request_too_large(request, limit=limit)


def permission_denied(request, exception=None):
    return render(request, "errors/403.html", {"message": str(exception or "")}, status=403)


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: Django's own page styles itself inline, which the Content-Security-Policy blocks."""
    return render(request, "errors/403_csrf.html", status=403)


def page_not_found(request, exception=None):
    return render(request, "errors/404.html", status=404)


def server_error(request):
    """500, or 503 when the database is unreachable (restarting, failing over): a temporary condition.

    Django calls this from inside its exception handler, so the error being handled is sys.exc_info()'s.
    """
    if isinstance(sys.exc_info()[1], DATABASE_DOWN):
        return service_unavailable(request)
    return render(request, "errors/500.html", status=500)


# The errors a request sees while PostgreSQL restarts: refused or dropped connections.
DATABASE_DOWN = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 30


def service_unavailable(request):
    """A temporary error page (or an API problem) that never touches the database it could not reach."""
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if request.path.startswith("/api/"):
        detail = "The database is temporarily unavailable; try again in a moment."
        return problem_response(503, detail, code="database_unavailable", headers=headers)
    try:
        response = render(request, "errors/503.html", status=503)
    except Exception:  # the page must not fail for the same reason the request did
        response = HttpResponse(
            "KAM is temporarily unavailable. Please try again in a minute.",
            status=503,
            content_type="text/plain",
        )
    response["Retry-After"] = headers["Retry-After"]
    return response
