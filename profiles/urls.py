from django.urls import path

from profiles import views

app_name = "profiles"

urlpatterns = [
    path("accounts/<int:pk>/profile/", views.profile_edit, name="edit"),
    path("accounts/<int:pk>/profile/history/", views.profile_history, name="history"),
    path("accounts/<int:pk>/influencers/new/", views.influencer_create, name="influencer_create"),
    path("influencers/<int:pk>/edit/", views.influencer_edit, name="influencer_edit"),
]
