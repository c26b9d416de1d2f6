from django.urls import path

from accounts import views_imports

app_name = "exports"

urlpatterns = [
    path("portfolio.<str:fmt>", views_imports.export_portfolio, name="portfolio"),
    path("<str:kind>.<str:fmt>", views_imports.export, name="export"),
]
