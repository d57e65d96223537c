"""The URLconf of bench_api.py's gunicorn: the project's own URLs plus one raw baseline view.

gunicorn loads `bench.api_baseline:application`, which is camerawatch.wsgi's application,
imported unchanged (same settings, same middleware, WhiteNoise included), with ROOT_URLCONF
pointed here. Every project URL resolves as in production; `/bench/raw/cameras/` is added.

The baseline is what the GeoJSON bbox page would cost written by hand: one `cursor.execute` of
the same SELECT the API runs (mapapp.exports.public_rows over public_cameras().in_bbox(), in id
order, the page size + 1 rows as the keyset paginator fetches them), then `orjson.dumps` of a
FeatureCollection with the same features and licence members. No DRF, no django-filter, no
throttle, no cursor link, no validation beyond float(): the floor the API is compared with.
bench_api.py checks that both answer the same features for the same bbox before it times them.
"""

from __future__ import annotations

import orjson
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.utils import timezone

# camerawatch.wsgi sets Django up, which mapapp.exports (models) needs: isort keeps it first.
from camerawatch.wsgi import application
from mapapp.exports import formats as fmt

__all__ = ["application", "urlpatterns"]


def _date(column: str) -> str:
    """The public date of a timestamp column, cut in SQL as mapapp.exports.PublicDate does."""
    if settings.PUBLIC_DATE_PRECISION == "month":
        return f"(date_trunc('month', c.{column} AT TIME ZONE 'UTC'))::date"
    return f"(c.{column} AT TIME ZONE 'UTC')::date"


# Every public column (formats.PUBLIC_COLUMNS, in order) as SQL, with the filter semantics of
# Camera.objects.published() and in_bbox(): live, not removed, a visible sighting, inclusive box.
SELECT = {
    "id": "c.id",
    "lat": "c.lat",
    "lon": "c.lon",
    "status": "c.status",
    "surveillance_type": "c.surveillance_type",
    "camera_type": "c.camera_type",
    "camera_mount": "c.camera_mount",
    "surveillance": "c.surveillance",
    "zone": "c.zone",
    "direction": "c.direction",
    "operator": "c.operator",
    "operator_type": "c.operator_type",
    "height": "c.height",
    "camera_angle": "c.camera_angle",
    "confirmations": "c.confirmations",
    "contributors": "c.confirmations + CASE WHEN c.provenance = 'osm' THEN 0 ELSE 1 END",
    "first_seen": _date("first_seen"),
    "last_seen": _date("last_seen"),
    "last_confirmed": _date("last_confirmed_at"),
    "neighbourhood": "n.slug",
    "updated": _date("updated_at"),
    "osm_id": "c.osm_id",
    "provenance": "c.provenance",
}
if tuple(SELECT) != fmt.PUBLIC_COLUMNS:
    raise ImproperlyConfigured(
        f"bench/api_baseline.py selects {tuple(SELECT)} but the API's public columns are now "
        f"{fmt.PUBLIC_COLUMNS}; update SELECT so the baseline stays like-for-like"
    )
# Constant column expressions; the bbox and the limit are parameters.
SQL = (
    f"SELECT {', '.join(SELECT.values())} FROM mapapp_camera c "  # noqa: S608
    "LEFT OUTER JOIN mapapp_neighbourhood n ON n.id = c.neighbourhood_id "
    "WHERE c.merged_into_id IS NULL AND c.status <> 'removed' AND c.sighting_count > 0 "
    "AND c.lat >= %s AND c.lat <= %s AND c.lon >= %s AND c.lon <= %s "
    "ORDER BY c.id LIMIT %s"
)
PROPERTIES = tuple(name for name in SELECT if name not in ("lat", "lon"))


def raw_cameras(request: HttpRequest) -> HttpResponse:
    """GET /bench/raw/cameras/?bbox=w,s,e,n&page_size=N: the page as GeoJSON, by hand."""
    west, south, east, north = (float(v) for v in request.GET["bbox"].split(","))
    size = int(request.GET.get("page_size", "1000"))
    with connection.cursor() as cursor:
        cursor.execute(SQL, [south, north, west, east, size + 1])
        rows = cursor.fetchall()
    features = [
        {
            "type": "Feature",
            "id": r[0],
            "geometry": {"type": "Point", "coordinates": [r[2], r[1]]},
            "properties": dict(zip(PROPERTIES, (r[0], *r[3:]), strict=True)),
        }
        for r in rows[:size]
    ]
    members = fmt.licence_members(accessed=timezone.now().date(), url=request.build_absolute_uri("/api/v1/"))
    body = orjson.dumps({"type": "FeatureCollection", **members, "features": features})
    return HttpResponse(body, content_type="application/geo+json")


settings.ROOT_URLCONF = __name__
urlpatterns = [
    path("bench/raw/cameras/", raw_cameras, name="bench-raw-cameras"),
    path("", include("camerawatch.urls")),
]
