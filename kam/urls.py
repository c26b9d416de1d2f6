from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from accounts import views as account_views
from kam import health

urlpatterns = [
    path("", account_views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/", include("accounts.urls")),
    path("", include("profiles.urls")),
    path("", include("plans.urls")),
    path("scoring/", include("scoring.urls")),
    path("api/", include("kam.api_urls")),
    path("settings/integrations/", include("accounts.urls_integrations")),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
]

handler403 = "kam.errors.permission_denied"
handler404 = "kam.errors.page_not_found"
handler500 = "kam.errors.server_error"
