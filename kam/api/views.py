"""The catch-all under /api/: any address that names nothing is a 404 problem, never the HTML error page."""

from django.urls import Resolver404, resolve
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.views import APIView


@extend_schema(exclude=True)
class ApiNotFound(APIView):
    """Any /api/ address that names nothing: a 404 problem, never the HTML error page.

    It answers every method the same way and, as nothing is here, advertises none: DRF would send an `Allow`
    listing the methods the view handles (all of them, OPTIONS twice), which reads as "this address exists".
    """

    authentication_classes = []
    permission_classes = []
    throttle_classes = []

    @property
    def default_response_headers(self):
        headers = super().default_response_headers
        headers.pop("Allow", None)
        return headers

    def not_found(self, request, *args, **kwargs):
        if not request.path.endswith("/"):
            try:
                match = resolve(request.path + "/")
            except Resolver404:
                match = None
            if match is not None and match.func is not api_not_found:
                raise exceptions.NotFound(f"Addresses end with a slash: {request.path}/")
        raise exceptions.NotFound("There is no API endpoint at this address; see /api/docs/.")

    get = post = put = patch = delete = head = options = trace = not_found


api_not_found = ApiNotFound.as_view()
