from django.urls import path

from . import views

app_name = "api"

urlpatterns = [
    path("auth/token/", views.TokenView.as_view(), name="token"),
    path("sightings/", views.SightingListCreateView.as_view(), name="sighting-list"),
    path("sightings/<int:pk>/", views.SightingDetailView.as_view(), name="sighting-detail"),
    path("cameras/<int:pk>/votes/", views.CameraVoteView.as_view(), name="camera-votes"),
]
