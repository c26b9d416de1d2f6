from django.urls import path

import kam.api.fields  # noqa: F401 (registers the <id:...> path converter)
from profiles.api import views

urlpatterns = [
    path(
        "accounts/<id:account_pk>/influencers/",
        views.AccountInfluencerViewSet.as_view({"get": "list"}),
        name="account-influencers",
    ),
    path(
        "accounts/<id:account_pk>/profile/",
        views.AccountProfileViewSet.as_view({"get": "retrieve"}),
        name="account-profile",
    ),
]
