from django.urls import path, re_path

from . import open_data, views

app_name = "api"

urlpatterns = [
    path("", open_data.ApiRootView.as_view(), name="root"),
    path("auth/token/", views.TokenView.as_view(), name="token"),
    path("sightings/", views.SightingListCreateView.as_view(), name="sighting-list"),
    path("sightings/<int:pk>/", views.SightingDetailView.as_view(), name="sighting-detail"),
    # The open-data (researcher) API: read-only, for anyone, rate-limited (open_data.py).
    path("cameras/", open_data.CameraListView.as_view(), name="camera-list"),
    path("cameras/export/", open_data.CameraExportView.as_view(), name="camera-export"),
    path("cameras/<int:pk>/", open_data.CameraDetailView.as_view(), name="camera-detail"),
    path("cameras/<int:pk>/votes/", views.CameraVoteView.as_view(), name="camera-votes"),
    path("neighbourhoods/", open_data.NeighbourhoodListView.as_view(), name="neighbourhood-list"),
    path("neighbourhoods/<slug:slug>/", open_data.NeighbourhoodDetailView.as_view(), name="neighbourhood-detail"),
    path("stats/", open_data.StatsView.as_view(), name="stats"),
    # Last: any other URL here (cameras/-1/, a typo) is the API's JSON 404, not the site's HTML page.
    # Only with a trailing slash, so CommonMiddleware still redirects cameras to cameras/.
    # ([\s\S], not ".": a %0A in the URL is a newline, and still a URL that names nothing.)
    re_path(r"^[\s\S]*/$", views.not_found, name="not-found"),
]
