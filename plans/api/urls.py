from django.urls import path

import kam.api.fields  # noqa: F401 (registers the <id:...> path converter)
from plans.api import views

urlpatterns = [
    path(
        "accounts/<id:account_pk>/plans/",
        views.AccountPlanViewSet.as_view({"get": "list"}),
        name="account-plans",
    ),
    path(
        "accounts/<id:account_pk>/objectives/",
        views.AccountObjectiveViewSet.as_view({"get": "list"}),
        name="account-objectives",
    ),
    path(
        "accounts/<id:account_pk>/actions/",
        views.AccountActionViewSet.as_view({"get": "list"}),
        name="account-actions",
    ),
]
