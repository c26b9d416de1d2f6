from django.urls import path

from dataio import views

app_name = "exports"

urlpatterns = [
    path("portfolio.<str:fmt>", views.export_portfolio, name="portfolio"),
    path("<str:kind>.<str:fmt>", views.export, name="export"),
]
