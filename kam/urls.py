from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, reverse_lazy

from kam import health
from kam.web import staff_page

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Changing the password keeps this session and logs every other session of the user out (Django checks
    # each session's password hash on every request).
    path(
        "password/",
        staff_page(
            auth_views.PasswordChangeView.as_view(
                template_name="registration/change_password.html",
                success_url=reverse_lazy("password_change_done"),
            )
        ),
        name="password_change",
    ),
    path(
        "password/done/",
        staff_page(
            auth_views.PasswordChangeDoneView.as_view(template_name="registration/change_password_done.html")
        ),
        name="password_change_done",
    ),
    path("", include("workspace.urls")),
    path("", include("profiles.urls")),
    path("", include("plans.urls")),
    path("scoring/", include("scoring.urls")),
    path("imports/", include("dataio.urls_imports")),
    path("exports/", include("dataio.urls_exports")),
    path("api/", include("kam.api.urls")),
    path("settings/integrations/", include("integrations.urls")),
    path("audit/", include("audit.urls")),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
]

handler400 = "kam.errors.bad_request"
handler403 = "kam.errors.permission_denied"
handler404 = "kam.errors.page_not_found"
handler500 = "kam.errors.server_error"
