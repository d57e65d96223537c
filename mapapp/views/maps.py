"""Public map pages: the city overview, a neighbourhood, its embeddable map, cameras by bbox.

The map documents themselves come from the database cache (services/maps.py): a request never
waits on a render while any version exists. Pages show no user beyond a pseudonymous handle, and
the map documents show no user text at all (popups load it as JSON and insert it as text).
"""

from __future__ import annotations

import math

from django.db.models import Avg, Count, F
from django.db.models.functions import Floor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils.http import http_date, quote_etag
from django.views.decorators.clickjacking import xframe_options_exempt, xframe_options_sameorigin
from django.views.decorators.http import require_GET

from ..geometry import BadBBox, parse_bbox
from ..models import Camera, Neighbourhood
from ..services.maps import Served, neighbourhood_map_served, overview_map_served
from ..services.neighbourhoods import cameras_outside_count

# /maps/cameras.json sends single cameras up to this many, and grid cells beyond.
BBOX_POINT_LIMIT = 2000
BBOX_CELL_LIMIT = 4000
SORTS = {"density": "per_km2", "name": "name", "cameras": "cameras"}


def _map_response(served: Served, *, embeddable: bool = False) -> HttpResponse:
    response = HttpResponse(served.html, content_type="text/html; charset=utf-8")
    response["ETag"] = quote_etag(served.fingerprint)
    response["Last-Modified"] = http_date(served.built_at.timestamp())
    response["Cache-Control"] = "public, max-age=30"
    if embeddable:
        # Any site may frame a neighbourhood map: that is what embedding is for. The map holds
        # no session-bound action, so framing it enables no clickjacking.
        response["Content-Security-Policy"] = "frame-ancestors *"
    return response


def _area_rows(sort: str) -> list[dict]:
    rows = []
    for h in Neighbourhood.objects.all():
        stats = h.stats or {}
        rows.append(
            {
                "slug": h.slug,
                "name": h.name,
                "cameras": int(stats.get("cameras", 0)),
                "per_km2": stats.get("per_km2"),
                "verified_share": stats.get("verified_share"),
                "area_km2": h.area_km2,
            }
        )
    field = SORTS.get(sort, SORTS["density"])
    if field == "name":
        rows.sort(key=lambda r: r["name"].casefold())
    else:  # largest first; unknown densities (no area) last
        rows.sort(key=lambda r: (r[field] is None, -(r[field] or 0), r["name"].casefold()))
    return rows


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    sort = request.GET.get("sort", "density")
    public = Camera.objects.published()
    by_status = dict(public.values_list("status").annotate(n=Count("id")).order_by())
    total = sum(by_status.values())
    return render(
        request,
        "mapapp/home.html",
        {
            "camera_total": total,
            "by_status": by_status,
            "verified_share": (by_status.get("verified", 0) / total) if total else None,
            "outside": cameras_outside_count(),
            "areas": _area_rows(sort),
            "sort": sort if sort in SORTS else "density",
            "has_demo_data": Camera.objects.filter(provenance=Camera.Provenance.DEMO).exists(),
        },
    )


@require_GET
@xframe_options_sameorigin  # framed by our home page only
def overview_map(request: HttpRequest) -> HttpResponse:
    return _map_response(overview_map_served())


@require_GET
def neighbourhood(request: HttpRequest, slug: str) -> HttpResponse:
    hood = get_object_or_404(Neighbourhood, slug=slug)
    stats = hood.stats or {}
    tables = [
        (title, sorted((stats.get(key) or {}).items(), key=lambda kv: (-kv[1], kv[0])))
        for title, key in (
            ("Status", "by_status"),
            ("Camera type", "by_type"),
            ("Mount", "by_mount"),
            ("Operator type", "by_operator_type"),
        )
    ]
    return render(request, "mapapp/neighbourhood.html", {"hood": hood, "stats": stats, "tables": tables})


@require_GET
@xframe_options_exempt
def neighbourhood_embed(request: HttpRequest, slug: str) -> HttpResponse:
    hood = get_object_or_404(Neighbourhood, slug=slug)
    return _map_response(neighbourhood_map_served(hood), embeddable=True)


@require_GET
def cameras_in_bbox(request: HttpRequest) -> HttpResponse:
    """Public cameras in a box: single cameras when few, grid cells (count, centre) when many."""
    try:
        west, south, east, north = parse_bbox(request.GET.get("bbox"))
        zoom = int(request.GET.get("zoom", "12"))
        if not 0 <= zoom <= 22:
            raise BadBBox("zoom must be an integer from 0 to 22")
    except ValueError as exc:  # BadBBox, or int() of a non-number zoom
        message = str(exc) if isinstance(exc, BadBBox) else "zoom must be an integer from 0 to 22"
        return JsonResponse({"error": message}, status=400)
    cameras = Camera.objects.published().in_bbox(west, south, east, north)
    # One read when the box is small: at most limit + 1 rows through the (lat, lon) index.
    rows = list(cameras.values_list("lat", "lon", "status")[: BBOX_POINT_LIMIT + 1])
    if len(rows) <= BBOX_POINT_LIMIT:
        points = [[round(lat, 6), round(lon, 6), status] for lat, lon, status in rows]
        body = {"kind": "cameras", "count": len(points), "cameras": points}
    else:
        # One aggregate when it is crowded (its cells' counts add up to the total). Cells are
        # about 64 screen pixels square at this zoom: a 256-pixel tile spans 360 / 2**zoom
        # degrees of longitude, and a degree of latitude is 1 / cos(lat) times longer on screen.
        cell_lon = 360 / 2**zoom / 4
        cell_lat = cell_lon * max(math.cos(math.radians((south + north) / 2)), 0.01)
        cells = list(
            cameras.annotate(gy=Floor(F("lat") / cell_lat), gx=Floor(F("lon") / cell_lon))
            .values("gy", "gx")
            .annotate(n=Count("id"), lat_c=Avg("lat"), lon_c=Avg("lon"))
            .order_by("-n")
        )
        body = {
            "kind": "cells",
            "count": sum(c["n"] for c in cells),
            "cells": [[round(c["lat_c"], 6), round(c["lon_c"], 6), c["n"]] for c in cells[:BBOX_CELL_LIMIT]],
        }
    response = JsonResponse(body)
    response["Cache-Control"] = "public, max-age=60"
    return response
