from django.urls import path

from audit import views

app_name = "audit"
urlpatterns = [
    path("", views.audit_list, name="list"),
    path("<slug:kind>/<int:pk>/", views.audit_record, name="record"),
]
