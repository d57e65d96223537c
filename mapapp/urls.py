from django.urls import include, path

from .views import accounts, geocode, pages, sightings

urlpatterns = [
    path("", pages.home, name="home"),
    path("signup/", accounts.signup, name="signup"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("me/", accounts.me, name="me"),
    path("sightings/new/", sightings.new, name="sighting_new"),
    path("sightings/<int:pk>/", sightings.detail, name="sighting_detail"),
    path("geocode/", geocode.search, name="geocode"),
]
