from django.urls import include, path

from workspace import views

# The account pages keep the `accounts:` URL names they had when they lived in the accounts app.
account_patterns = [
    path("", views.account_list, name="list"),
    path("export.csv", views.account_export, name="export"),
    path("new/", views.account_create, name="create"),
    path("<int:pk>/", views.account_detail, name="detail"),
    path("<int:pk>/edit/", views.account_edit, name="edit"),
    path("<int:pk>/visits/new/", views.visit_create, name="visit_create"),
    path("<int:pk>/designation/", views.designation, name="designation"),
    path("<int:pk>/issues/new/", views.service_issue_create, name="issue_create"),
    path("<int:pk>/team/add/", views.team_add, name="team_add"),
    path("<int:pk>/team/<int:member_pk>/remove/", views.team_remove, name="team_remove"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/", include((account_patterns, "accounts"))),
]
