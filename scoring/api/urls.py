from django.urls import path
from rest_framework.routers import SimpleRouter

import kam.api.fields  # noqa: F401 (registers the <id:...> path converter)
from scoring.api import views

router = SimpleRouter()
router.register("scores", views.ScoreViewSet, basename="score")
router.register("scoring/runs", views.ScoringRunViewSet, basename="run")

urlpatterns = [
    *router.urls,
    path("scoring/model/", views.ActiveModelView.as_view(), name="scoring-model"),
    path(
        "accounts/<id:account_pk>/scores/",
        views.AccountScoreHistoryViewSet.as_view({"get": "list"}),
        name="account-scores",
    ),
]
