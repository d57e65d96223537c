from django.urls import path

from .views import geocode

urlpatterns = [
    path("geocode/", geocode.search, name="geocode"),
]
