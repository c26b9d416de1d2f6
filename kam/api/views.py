"""The catch-all under /api/: any address that names nothing is a 404 problem, never the HTML error page."""

from django.urls import Resolver404, resolve
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.decorators import api_view, authentication_classes, permission_classes, throttle_classes


# The schema class above must exist before @api_view runs: the decorator reads DEFAULT_SCHEMA_CLASS.
@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([])
@throttle_classes([])
def api_not_found(request, *args, **kwargs):
    """Any /api/ address that names nothing: a 404 problem, never the HTML error page."""
    if not request.path.endswith("/"):
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            raise exceptions.NotFound(f"Addresses end with a slash: {request.path}/")
    raise exceptions.NotFound("There is no API endpoint at this address; see /api/docs/.")
