from django.urls import path

from scoring import views

app_name = "scoring"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("capacity/", views.capacity, name="capacity"),
    path("model/", views.model_edit, name="model"),
    path("model/preview/", views.model_preview, name="model_preview"),
    path("runs/", views.run_list, name="run_list"),
    path("runs/start/", views.run_start, name="run_start"),
    path("runs/<int:pk>/", views.run_detail, name="run_detail"),
]
