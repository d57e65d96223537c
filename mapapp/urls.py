from django.urls import include, path

from .views import accounts, cameras, data, geocode, maps, moderation, sightings, transparency, verification

urlpatterns = [
    path("", maps.home, name="home"),
    path("signup/", accounts.signup, name="signup"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("me/", accounts.me, name="me"),
    path("sightings/new/", sightings.new, name="sighting_new"),
    path("sightings/<int:pk>/", sightings.detail, name="sighting_detail"),
    path("sightings/<int:pk>/flag/", moderation.sighting_flag, name="sighting_flag"),
    path("geocode/", geocode.search, name="geocode"),
    path("verify/", verification.queue, name="verify"),
    path("cameras/<int:pk>/", cameras.detail, name="camera_detail"),
    path("cameras/<int:pk>/popup.json", cameras.popup, name="camera_popup"),
    path("cameras/<int:pk>/vote/", verification.vote, name="camera_vote"),
    path("cameras/<int:pk>/discussion/", moderation.discussion, name="camera_discussion"),
    path("cameras/<int:pk>/flag/", moderation.camera_flag, name="camera_flag"),
    path("moderate/", moderation.moderate, name="moderate"),
    path("moderate/action/", moderation.moderate_action, name="moderate_action"),
    path("neighbourhoods/<slug:slug>/", maps.neighbourhood, name="neighbourhood"),
    path("embed/neighbourhoods/<slug:slug>/", maps.neighbourhood_embed, name="neighbourhood_embed"),
    path("maps/overview/", maps.overview_map, name="overview_map"),
    path("maps/cameras.json", maps.cameras_in_bbox, name="map_cameras"),
    path("transparency/", transparency.transparency, name="transparency"),
    path("data/", data.data, name="data"),
    path("data/<str:version>/<str:filename>", data.data_file, name="data_file"),
]
