from django.urls import path

from accounts import views_imports

app_name = "imports"

urlpatterns = [
    path("", views_imports.import_index, name="index"),
    path("<int:pk>/", views_imports.import_detail, name="detail"),
    path("<int:pk>/map/", views_imports.import_map, name="map"),
    path("<int:pk>/preview/", views_imports.import_preview, name="preview"),
    path("<int:pk>/commit/", views_imports.import_commit, name="commit"),
    path("<int:pk>/discard/", views_imports.import_discard, name="discard"),
]
