from django.urls import path

from integrations import views

app_name = "integrations"

urlpatterns = [
    path("", views.index, name="index"),
    path("keys/new/", views.key_create, name="key_create"),
    path("keys/<int:pk>/revoke/", views.key_revoke, name="key_revoke"),
    path("webhooks/new/", views.webhook_create, name="webhook_create"),
    path("webhooks/<int:pk>/", views.webhook_edit, name="webhook_edit"),
    path("webhooks/<int:pk>/rotate-secret/", views.webhook_rotate, name="webhook_rotate"),
    path("webhooks/<int:pk>/ping/", views.webhook_ping, name="webhook_ping"),
    path("webhooks/<int:pk>/delete/", views.webhook_delete, name="webhook_delete"),
]
