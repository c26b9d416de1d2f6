from django.urls import path
from rest_framework.routers import SimpleRouter

import kam.api.fields  # noqa: F401 (registers the <id:...> path converter)
from accounts.api import views

router = SimpleRouter()
router.register("accounts", views.AccountViewSet, basename="account")
router.register("orders", views.OrderViewSet, basename="order")
router.register("cadence-alerts", views.CadenceAlertViewSet, basename="cadence-alert")

urlpatterns = [
    *router.urls,
    path(
        "accounts/<id:account_pk>/visits/",
        views.AccountVisitViewSet.as_view({"get": "list", "post": "create"}),
        name="account-visits",
    ),
    path(
        "accounts/<id:account_pk>/service-issues/",
        views.AccountServiceIssueViewSet.as_view({"get": "list"}),
        name="account-service-issues",
    ),
]
