"""The REST API under /api/v1/, plus the OpenAPI schema and its docs (Swagger UI served from the sidecar)."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from kam.api.views import api_not_found

v1 = [
    path("", include("accounts.api.urls")),
    path("", include("profiles.api.urls")),
    path("", include("plans.api.urls")),
    path("", include("scoring.api.urls")),
    path("", include("integrations.api.urls")),
]

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file, so the docs work under a CSP without inline scripts.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("v1/", include((v1, "v1"))),
    # Anything else under /api/ is a 404 problem, never the HTML error page.
    re_path(r"^.*$", api_not_found),
]
