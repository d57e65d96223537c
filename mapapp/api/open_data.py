"""The open-data (researcher) API: cameras, neighbourhoods and city stats, read-only, for anyone.

HTTP in, one read, bytes out. Which cameras and columns are public is mapapp.exports' decision and
how they are printed is mapapp.exports.formats'; these views parse the query (django-filter, the
keyset paginator), pick a format (DRF's content negotiation) and stream the result.

Speed: rows come as `.values_list()` tuples with dates already cut in SQL, and go through orjson or
the csv module in chunks; there is no serializer object per camera and no COUNT query.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
from django.core.cache import cache
from django.db.models import Count, Max, TextField
from django.db.models.functions import Cast
from django.http import HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import NotFound, Throttled
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.urls import replace_query_param

from mapapp.exports import (
    CITY_STATS_MAX_AGE,
    PUBLIC_COLUMNS,
    city_stats_cached,
    fetch,
    public_cameras,
    public_rows,
    public_stats,
)
from mapapp.exports import formats as fmt
from mapapp.models import Camera, Neighbourhood

from . import pagination
from . import schema as doc
from .filters import CameraFilter, check_known_params
from .renderers import AREA_RENDERERS, CAMERA_RENDERERS, JSON_ONLY, ErrorRenderer, FormatNegotiation
from .throttling import ApiRateThrottle, ExportRateThrottle, rate_headers, tier

CONTENT_TYPES = {
    "json": "application/json",
    "geojson": "application/geo+json",
    "csv": "text/csv; charset=utf-8",
    "osm": "application/vnd.openstreetmap.data+xml; charset=utf-8",
}
EXTENSIONS = {"json": "json", "geojson": "geojson", "csv": "csv", "osm": "osm"}
FILTER_PARAMS = tuple(CameraFilter.base_filters)
PAGE_PARAMS = ("ordering", "page_size", "cursor")
# Rows per database round trip of a streamed export (a server-side cursor on PostgreSQL).
EXPORT_FETCH_ROWS = 2000


class OpenDataView(GenericAPIView):
    """Read-only, for anyone, rate-limited per tier, with X-RateLimit-* headers on every answer."""

    permission_classes = (AllowAny,)
    throttle_classes = (ApiRateThrottle,)
    content_negotiation_class = FormatNegotiation
    renderer_classes = JSON_ONLY
    known_params: tuple[str, ...] = ("format",)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        # After the throttles, so a client cannot probe without being counted.
        check_known_params(request.query_params, self.known_params)

    def check_throttles(self, request: Request) -> None:
        # DRF's loop, keeping the throttles so finalize_response can report on them.
        self._throttles = self.get_throttles()
        blocked = [t for t in self._throttles if not t.allow_request(request, self)]
        if blocked:
            waits = [w for w in (t.wait() for t in blocked) if w is not None]
            raise Throttled(wait=max(waits, default=None))

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, Throttled):
            return self._too_many(exc)
        return super().handle_exception(exc)

    def _too_many(self, exc: Throttled) -> Response:
        wait = max(1, exc.wait or 1)  # DRF rounds it up to whole seconds
        limited = min((t for t in self._throttles if t.rate), key=lambda t: t.remaining)
        retry_at = datetime.fromtimestamp(int(timezone.now().timestamp()) + wait, tz=UTC)
        window = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}[limited.duration]
        who = {"anon": "anonymous clients", "user": "signed-in accounts", "researcher": "researcher accounts"}
        body = {
            "detail": (
                f"Too many requests: {who.get(limited.scope, 'each client')} may make {limited.num_requests} "
                f"{'exports' if limited.scope == 'export' else 'requests'} per {window}. Retry in {wait} seconds, "
                f"at {retry_at:%Y-%m-%dT%H:%M:%SZ}."
            ),
            "retry_after": wait,
            "retry_at": f"{retry_at:%Y-%m-%dT%H:%M:%SZ}",
            "scope": limited.scope,
            "limit": limited.num_requests,
            "window_seconds": limited.duration,
            "help": "Researchers get a higher limit with an API token from their profile page (/me/); "
            "for the whole data set use the nightly bulk files.",
        }
        return Response(body, status=429, headers={"Retry-After": str(wait)})

    def finalize_response(
        self, request: Request, response: HttpResponseBase, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        if isinstance(response, Response):
            # Success bodies are written directly; a DRF Response here is an error, always JSON.
            request.accepted_renderer, request.accepted_media_type = ErrorRenderer(), ErrorRenderer.media_type
        response = super().finalize_response(request, response, *args, **kwargs)
        for name, value in rate_headers(getattr(self, "_throttles", [])).items():
            response[name] = value
        return response

    # --- Helpers for the subclasses ---

    def format(self) -> str:
        return self.request.accepted_renderer.format

    def licence(self) -> dict[str, Any]:
        root = self.request.build_absolute_uri(reverse("api:root"))
        return fmt.licence_members(accessed=timezone.now().date(), url=root)

    def body(self, content: bytes | Iterable[bytes], *, links: dict[str, str] | None = None) -> HttpResponse:
        """A response in the negotiated format, with the licence (and a next link) in `Link`."""
        kind = self.format()
        if isinstance(content, bytes):
            response: HttpResponseBase = HttpResponse(content, content_type=CONTENT_TYPES[kind])
        else:
            response = StreamingHttpResponse(content, content_type=CONTENT_TYPES[kind])
        headers = fmt.licence_headers()
        links = {**(links or {}), "license": fmt.LICENCE_URL}
        headers["Link"] = ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links.items())
        for name, value in headers.items():
            response[name] = value
        return response


def _dumps(data: Any) -> bytes:
    return orjson.dumps(data)


# --- Cameras -----------------------------------------------------------------------------------


class CameraQueryMixin:
    filter_backends = (DjangoFilterBackend,)
    filterset_class = CameraFilter
    renderer_classes = CAMERA_RENDERERS

    def get_queryset(self) -> Any:
        cameras = public_cameras()
        if self.format() == "osm":
            # OSM XML holds only cameras OSM does not have yet (mapapp/exports/formats.py).
            cameras = cameras.filter(osm_id__isnull=True)
        return cameras


def camera_document(kind: str, rows: Iterable[tuple[Any, ...]], members: dict[str, Any]) -> Iterator[bytes]:
    """The rows in one of the four formats; `members` go into the JSON and GeoJSON tops."""
    if kind == "geojson":
        return fmt.geojson_chunks(rows, members=members)
    if kind == "csv":
        return fmt.csv_chunks(rows)
    if kind == "osm":
        return fmt.osm_xml_chunks(rows)
    return fmt.json_chunks(rows, members=members)


class CameraListView(CameraQueryMixin, OpenDataView):
    """GET /api/v1/cameras/: a page of public cameras, filtered, with a `next` cursor link."""

    known_params = ("format", *FILTER_PARAMS, *PAGE_PARAMS)

    @doc.CAMERA_LIST
    def get(self, request: Request) -> HttpResponse:
        ordering, size, cursor = pagination.page_params(request.query_params)
        cameras = pagination.ordered(self.filter_queryset(self.get_queryset()), ordering, cursor)
        rows = fetch(public_rows(cameras)[: size + 1])
        after = pagination.next_cursor(rows, size, ordering, PUBLIC_COLUMNS)
        next_url = replace_query_param(request.build_absolute_uri(), "cursor", after.encode()) if after else None
        members = {**self.licence(), "next": next_url}
        content = b"".join(camera_document(self.format(), rows[:size], members))
        return self.body(content, links={"next": next_url} if next_url else None)


class CameraExportView(CameraQueryMixin, OpenDataView):
    """GET /api/v1/cameras/export/: every public camera matching the filters, streamed, in id order.

    Constant memory on both sides of the database: a server-side cursor feeds the formats module
    in chunks. Counts against the small "export" budget as well as the usual one.
    """

    throttle_classes = (ApiRateThrottle, ExportRateThrottle)
    known_params = ("format", *FILTER_PARAMS)

    @doc.CAMERA_EXPORT
    def get(self, request: Request) -> HttpResponse:
        cameras = self.filter_queryset(self.get_queryset()).order_by("id")
        rows = public_rows(cameras).iterator(chunk_size=EXPORT_FETCH_ROWS)
        kind = self.format()
        response = self.body(camera_document(kind, rows, self.licence()))
        today = timezone.now().date().isoformat()
        response["Content-Disposition"] = f'attachment; filename="camerawatch-cameras-{today}.{EXTENSIONS[kind]}"'
        return response


class CameraDetailView(CameraQueryMixin, OpenDataView):
    """GET /api/v1/cameras/<id>/: one public camera. A merged camera's id redirects to its survivor."""

    filter_backends = ()

    @doc.CAMERA_DETAIL
    def get(self, request: Request, pk: int) -> HttpResponseBase:
        # Not get_queryset(): a camera OSM already has is still this camera (its OSM XML is empty).
        row = public_rows(public_cameras().filter(pk=pk)).first()
        if row is None:
            survivor = Camera.objects.filter(pk=pk, merged_into__isnull=False).values_list("merged_into", flat=True)
            if survivor:
                url = reverse("api:camera-detail", args=[survivor[0]])
                query = request.META.get("QUERY_STRING")
                return redirect(f"{url}?{query}" if query else url)
            raise NotFound("No such camera in the public data.")
        kind = self.format()
        if kind == "json":
            content = _dumps(dict(zip(PUBLIC_COLUMNS, row, strict=True)))
        elif kind == "geojson":
            content = _dumps({**fmt.geojson_feature(row), **self.licence()})
        else:
            content = b"".join(camera_document(kind, [row], {}))
        return self.body(content)


# --- Neighbourhoods ------------------------------------------------------------------------------

AREA_FIELDS = ("slug", "name", "area_km2", "is_demo", "min_lon", "min_lat", "max_lon", "max_lat", "stats")


class NeighbourhoodMixin:
    renderer_classes = AREA_RENDERERS

    def area(self, row: dict[str, Any]) -> dict[str, Any]:
        # Reversed once per request, not twice per neighbourhood: at 1,000 neighbourhoods
        # reverse() and build_absolute_uri were half the list's CPU.
        if not hasattr(self, "_area_urls"):
            request = self.request
            self._area_urls = (
                request.build_absolute_uri(reverse("api:neighbourhood-detail", args=["SLUG"])),
                request.build_absolute_uri(reverse("api:camera-list")) + "?neighbourhood=",
            )
        detail, cameras = self._area_urls
        stats = row["stats"]
        if isinstance(stats, str):  # read as text (AREA_STATS_TEXT) and decoded by orjson
            stats = orjson.loads(stats)
        return {
            "slug": row["slug"],
            "name": row["name"],
            "area_km2": row["area_km2"],
            "is_demo": row["is_demo"],
            **public_stats(stats or {}),
            "bbox": [row["min_lon"], row["min_lat"], row["max_lon"], row["max_lat"]],
            "url": detail.replace("SLUG", row["slug"]),
            "cameras_url": cameras + row["slug"],
        }

    def feature(self, row: dict[str, Any]) -> dict[str, Any]:
        return {"type": "Feature", "id": row["slug"], "geometry": row["polygon"], "properties": self.area(row)}


# The list changes only when the neighbourhoods or their stats do (the map refresh task writes
# the stats), so its body is cached under a version read with one small aggregate, per format,
# host (the links are absolute) and day (the citation names the access date).
NEIGHBOURHOOD_LIST_CACHE_SECONDS = 3600


def _area_rows(*fields: str) -> Any:
    rows = Neighbourhood.objects.order_by("name").annotate(stats_text=Cast("stats", TextField()))
    return ({**r, "stats": r.pop("stats_text")} for r in rows.values(*fields, "stats_text"))


class NeighbourhoodListView(NeighbourhoodMixin, OpenDataView):
    """GET /api/v1/neighbourhoods/: every neighbourhood with its stored stats (no paging: a city has
    tens or hundreds). As GeoJSON, with their polygons."""

    @doc.NEIGHBOURHOOD_LIST
    def get(self, request: Request) -> HttpResponse:
        kind = self.format()
        version = Neighbourhood.objects.aggregate(n=Count("id"), a=Max("updated_at"), b=Max("stats_updated_at"))
        key = (
            "api:neighbourhoods:"
            + hashlib.sha256(
                repr((kind, request.get_host(), request.is_secure(), timezone.now().date(), version)).encode()
            ).hexdigest()
        )
        content = cache.get(key)
        if content is None:
            fields = [f for f in AREA_FIELDS if f != "stats"]
            if kind == "geojson":
                rows = _area_rows(*fields, "polygon")
                body = {"type": "FeatureCollection", **self.licence(), "features": [self.feature(r) for r in rows]}
            else:
                body = {**self.licence(), "results": [self.area(r) for r in _area_rows(*fields)]}
            content = _dumps(body)
            cache.set(key, content, NEIGHBOURHOOD_LIST_CACHE_SECONDS)
        return self.body(content)


class NeighbourhoodDetailView(NeighbourhoodMixin, OpenDataView):
    """GET /api/v1/neighbourhoods/<slug>/: one neighbourhood, its stats and its polygon."""

    @doc.NEIGHBOURHOOD_DETAIL
    def get(self, request: Request, slug: str) -> HttpResponse:
        row = Neighbourhood.objects.filter(slug=slug).values(*AREA_FIELDS, "polygon").first()
        if row is None:
            raise NotFound("No neighbourhood has this slug; see /api/v1/neighbourhoods/.")
        if self.format() == "geojson":
            return self.body(_dumps({**self.feature(row), **self.licence()}))
        return self.body(_dumps({**self.area(row), "geometry": row["polygon"]}))


# --- City stats ----------------------------------------------------------------------------------


class StatsView(OpenDataView):
    """GET /api/v1/stats/: city-wide totals (mapapp.exports.city_stats), at most a minute old."""

    @doc.STATS
    def get(self, request: Request) -> HttpResponse:
        response = self.body(_dumps({**city_stats_cached(), **self.licence()}))
        response["Cache-Control"] = f"public, max-age={CITY_STATS_MAX_AGE}"
        return response


# --- The root ------------------------------------------------------------------------------------


class ApiRootView(OpenDataView):
    """GET /api/v1/: what there is, in which formats, under which licence, at which rates."""

    @doc.ROOT
    def get(self, request: Request) -> HttpResponse:
        def url(name: str, *args: Any) -> str:
            return request.build_absolute_uri(reverse(name, args=args))

        rates = api_settings.DEFAULT_THROTTLE_RATES
        body = {
            "name": "CameraWatch open data API",
            "version": "v1",
            **self.licence(),
            "endpoints": {
                "cameras": url("api:camera-list"),
                "camera": url("api:camera-detail", 0).replace("/0/", "/{id}/"),
                "cameras_export": url("api:camera-export"),
                "neighbourhoods": url("api:neighbourhood-list"),
                "neighbourhood": url("api:neighbourhood-detail", "slug").replace("/slug/", "/{slug}/"),
                "stats": url("api:stats"),
                "token": url("api:token"),
                "sightings": url("api:sighting-list"),
            },
            "formats": {
                "json": "application/json (default)",
                "geojson": "application/geo+json (RFC 7946; [lon, lat])",
                "csv": "text/csv (RFC 4180, UTF-8; text cells that a spreadsheet would run as a formula "
                "start with a single quote)",
                "osm": "application/vnd.openstreetmap.data+xml or application/xml: OSM XML for review in JOSM, "
                "cameras not in OSM yet only, never for automatic upload",
                "how": "?format=<name> or an Accept header; neighbourhoods speak json and geojson, the rest json.",
            },
            "filters": {name: str(f.extra.get("help_text") or name) for name, f in CameraFilter.base_filters.items()},
            "ordering": list(pagination.ORDERINGS),
            "paging": {
                "page_size": {"default": pagination.DEFAULT_PAGE_SIZE, "max": pagination.MAX_PAGE_SIZE},
                "how": "Follow `next` (in the JSON/GeoJSON body and the Link header) until it is absent. "
                "Cursors keep their place while cameras are added; keep the same ordering and filters.",
                "everything": "/api/v1/cameras/export/ streams every camera matching the filters in one response.",
            },
            "columns": fmt.COLUMN_DOCS,
            "dates": "Days in UTC (or the first day of the month), never times: a time would date a volunteer's walk.",
            "rate_limits": {
                "anonymous": rates.get("anon"),
                "signed_in": rates.get("user"),
                "researcher": rates.get("researcher"),
                "exports": rates.get("export"),
                "yours": tier(request.user),
                "headers": "X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset (Unix time), "
                "X-RateLimit-Scope; a 429 has Retry-After.",
                "tokens": "Sign in, open /me/ and create a token; send it as `Authorization: Token <key>`.",
            },
        }
        return self.body(_dumps(body))
