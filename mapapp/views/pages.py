"""Public pages. They show pseudonymous handles at most, never usernames or emails."""

from __future__ import annotations

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ..models import Camera, Neighbourhood, Sighting

# The overview map embeds at most this many cameras; the Maps issue replaces it with
# bbox-loaded, clustered layers that scale to whole cities.
HOME_MAP_CAMERA_LIMIT = 3000


def home(request: HttpRequest) -> HttpResponse:
    cameras = Camera.objects.public()
    by_status = dict(cameras.values_list("status").annotate(n=Count("id")).order_by())
    points = list(cameras.order_by("-last_seen").values_list("lat", "lon", "status")[:HOME_MAP_CAMERA_LIMIT])
    neighbourhoods = Neighbourhood.objects.annotate(camera_count=Count("cameras")).order_by("name")
    return render(
        request,
        "mapapp/home.html",
        {
            "camera_total": sum(by_status.values()),
            "by_status": by_status,
            "sighting_total": Sighting.objects.count(),
            "neighbourhoods": neighbourhoods,
            "map_points": [[round(lat, 6), round(lon, 6), status] for lat, lon, status in points],
            "map_truncated": len(points) == HOME_MAP_CAMERA_LIMIT,
            "has_demo_data": Camera.objects.filter(provenance=Camera.Provenance.DEMO).exists(),
        },
    )
