"""Cross-cutting glue for HTML views."""

import functools

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied


def staff_page(view):
    """A browser page for people: log in first; integration users use the API only (403)."""

    @functools.wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        if request.user.is_integration:
            raise PermissionDenied("Integration users use the API only.")
        return view(request, *args, **kwargs)

    return wrapper


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
