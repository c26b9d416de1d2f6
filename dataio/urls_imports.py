from django.urls import path

from dataio import views

app_name = "imports"

urlpatterns = [
    path("", views.import_index, name="index"),
    path("<int:pk>/", views.import_detail, name="detail"),
    path("<int:pk>/map/", views.import_map, name="map"),
    path("<int:pk>/preview/", views.import_preview, name="preview"),
    path("<int:pk>/commit/", views.import_commit, name="commit"),
    path("<int:pk>/discard/", views.import_discard, name="discard"),
]
