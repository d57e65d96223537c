"""Rendered public maps: built from the database, cached in the database, refreshed by Celery.

How the cache behaves (mapapp/tasks.py `refresh_maps`, run by beat every MAP_REFRESH_SECONDS):

* A map's *fingerprint* names the data it shows: for a neighbourhood, its live cameras' count and
  latest `updated_at`, the neighbourhood's own `updated_at`, and the asset version. Every camera
  write (dedupe, votes, moderation, recluster, import) sets `updated_at`, and a camera leaving a
  neighbourhood changes its count, so any change a resident could see changes the fingerprint.
* A request serves the stored document whenever one exists, stale or not; it never renders. Only
  the very first request for a map nobody has rendered yet builds it (there is nothing to serve).
* The refresh task compares fingerprints (one GROUP BY over the cameras) and rebuilds only maps
  whose fingerprint moved, plus their neighbourhoods' stats. That is the debounce: a burst of 100
  camera changes inside one interval costs one render per neighbourhood touched, not 100, and a
  sustained stream costs one per interval. Renders never run inside the dedupe hot path.
* A render runs outside any transaction and is written with one UPDATE, so a reader always sees
  a whole document. Two refreshers racing both write a correct map; the later one wins.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Count, Max
from django.urls import reverse
from django.utils import timezone

from ..maps import render
from ..maps.assets import assets_version
from ..models import Camera, Neighbourhood, RenderedMap
from .neighbourhoods import neighbourhoods_stats_refresh

log = logging.getLogger(__name__)

OVERVIEW_KEY = "overview"
# Bump when the rendered documents change shape, so every cached map is rebuilt once.
RENDER_VERSION = "1"


def neighbourhood_key(slug: str) -> str:
    return f"neighbourhood:{slug}"


@dataclass(frozen=True, slots=True)
class Served:
    html: str
    fingerprint: str
    built_at: object
    fresh_build: bool


def _camera_fingerprints(hood_ids: Iterable[int] | None = None) -> dict[int | None, str]:
    qs = Camera.objects.live()
    if hood_ids is not None:
        qs = qs.filter(neighbourhood_id__in=list(hood_ids))
    rows = qs.values("neighbourhood_id").annotate(n=Count("id"), latest=Max("updated_at")).order_by()
    return {r["neighbourhood_id"]: f"{r['n']}@{r['latest'].isoformat() if r['latest'] else '-'}" for r in rows}


def _hood_fingerprint(hood: Neighbourhood, cameras: str) -> str:
    return f"v{RENDER_VERSION}:{assets_version()}:{hood.updated_at.isoformat()}:{cameras or '0'}"


def neighbourhood_fingerprint(hood: Neighbourhood) -> str:
    return _hood_fingerprint(hood, _camera_fingerprints([hood.pk]).get(hood.pk, ""))


def overview_fingerprint() -> str:
    """The overview shows every neighbourhood's shape and stats, so it changes with any of them."""
    latest = Neighbourhood.objects.aggregate(n=Count("id"), shapes=Max("updated_at"), stats=Max("stats_updated_at"))
    parts = [latest["n"], latest["shapes"], latest["stats"]]
    return f"v{RENDER_VERSION}:{assets_version()}:" + ":".join(str(p) for p in parts)


# --- Building ---------------------------------------------------------------------------------

MAP_FIELDS = ("id", "lat", "lon", "status", "camera_type", "surveillance_type", "direction", "height", "camera_angle")


def neighbourhood_document(hood: Neighbourhood) -> str:
    rows = Camera.objects.published().filter(neighbourhood=hood).order_by("id").values_list(*MAP_FIELDS)
    cameras = (render.MapCamera(*row) for row in rows.iterator(chunk_size=5000))
    m = render.neighbourhood_map(
        geometry=hood.polygon,
        cameras=cameras,
        popup_url=reverse("camera_popup", args=[0]).replace("/0/", "/{id}/"),
        verify_url=reverse("verify") + f"?neighbourhood={hood.slug}",
    )
    return render.html_document(m)


def overview_areas() -> list[render.AreaSummary]:
    return [
        render.AreaSummary(
            slug=h.slug,
            name=h.name,
            geometry=h.polygon,
            cameras=int(h.stats.get("cameras", 0)),
            per_km2=h.stats.get("per_km2"),
        )
        for h in Neighbourhood.objects.order_by("name")
    ]


def overview_document() -> str:
    m = render.overview_map(
        areas=overview_areas(),
        cameras_url=reverse("map_cameras"),
        page_url=reverse("neighbourhood", args=["SLUG"]).replace("SLUG", "{slug}"),
    )
    return render.html_document(m)


def _store(key: str, html: str, fingerprint: str, seconds: float) -> None:
    values = {"html": html, "fingerprint": fingerprint, "built_at": timezone.now(), "build_seconds": seconds}
    if RenderedMap.objects.filter(key=key).update(**values):
        return
    try:
        with transaction.atomic():
            RenderedMap.objects.create(key=key, **values)
    except IntegrityError:  # another process stored it first; ours is as good, keep the newest
        RenderedMap.objects.filter(key=key).update(**values)


def _build(key: str, fingerprint: str, make: callable) -> str:
    started = time.perf_counter()
    html = make()
    seconds = time.perf_counter() - started
    _store(key, html, fingerprint, seconds)
    log.info("Rendered map %s in %.2f s (%d bytes)", key, seconds, len(html))
    return html


# --- Serving ----------------------------------------------------------------------------------


def _serve(key: str, fingerprint: callable, make: callable) -> Served:
    stored = RenderedMap.objects.filter(key=key).values_list("html", "fingerprint", "built_at").first()
    if stored is not None:
        return Served(*stored, fresh_build=False)
    fp = fingerprint()
    html = _build(key, fp, make)
    return Served(html, fp, timezone.now(), fresh_build=True)


def neighbourhood_map_served(hood: Neighbourhood) -> Served:
    """The stored map, even if stale (the refresh task replaces it); built only if there is none."""
    return _serve(
        neighbourhood_key(hood.slug), lambda: neighbourhood_fingerprint(hood), lambda: neighbourhood_document(hood)
    )


def overview_map_served() -> Served:
    return _serve(OVERVIEW_KEY, overview_fingerprint, overview_document)


# --- Refreshing (the Celery task calls this) ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class RefreshResult:
    stats_refreshed: int
    rendered: list[str]


def maps_refresh() -> RefreshResult:
    """Rebuild the stats and cached maps whose data changed since they were built. Idempotent."""
    cameras = _camera_fingerprints()
    hoods = list(Neighbourhood.objects.all())
    wanted = {neighbourhood_key(h.slug): (h, _hood_fingerprint(h, cameras.get(h.pk, ""))) for h in hoods}
    # Stats follow the same fingerprint, stored in the stats themselves.
    stale = [(h, fp) for h, fp in wanted.values() if h.stats.get("fingerprint") != fp]
    if stale:
        neighbourhoods_stats_refresh([h.pk for h, _ in stale])
        for hood, fp in stale:
            Neighbourhood.objects.filter(pk=hood.pk).update(stats=_with_fingerprint(hood.pk, fp))
    rendered = []
    stored = dict(RenderedMap.objects.values_list("key", "fingerprint"))
    for key, (hood, fp) in wanted.items():
        if key in stored and stored[key] != fp:
            _build(key, fp, lambda hood=hood: neighbourhood_document(hood))
            rendered.append(key)
    overview_fp = overview_fingerprint()
    if OVERVIEW_KEY in stored and stored[OVERVIEW_KEY] != overview_fp:
        _build(OVERVIEW_KEY, overview_fp, overview_document)
        rendered.append(OVERVIEW_KEY)
    return RefreshResult(stats_refreshed=len(stale), rendered=rendered)


def _with_fingerprint(hood_id: int, fingerprint: str) -> dict:
    stats = dict(Neighbourhood.objects.values_list("stats", flat=True).get(pk=hood_id) or {})
    stats["fingerprint"] = fingerprint
    return stats
