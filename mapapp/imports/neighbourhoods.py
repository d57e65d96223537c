"""Neighbourhood polygons from GeoJSON: parse and validate (pure), then write them by slug."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.text import slugify

from .. import geometry, services
from ..models import Neighbourhood
from ..services.neighbourhoods import (
    AssignSummary,
    area_index_reset,
    neighbourhoods_assign_all,
    neighbourhoods_stats_refresh,
)
from .common import ImportRejected, describe

# --- Neighbourhoods ----------------------------------------------------------------------------


@dataclass(frozen=True)
class NeighbourhoodFeature:
    name: str
    geometry: dict[str, Any]
    bbox: tuple[float, float, float, float]
    area_km2: float


def parse_neighbourhoods(document: Any, *, name_field: str = "name") -> list[NeighbourhoodFeature]:
    """Validate a FeatureCollection of named Polygons/MultiPolygons; the first problem raises ImportRejected."""
    if not (isinstance(document, dict) and document.get("type") == "FeatureCollection"):
        raise ImportRejected(f"expected a GeoJSON FeatureCollection, got {describe(document)}")
    if not isinstance(document.get("features"), list):
        raise ImportRejected('the FeatureCollection has no "features" list')
    max_name = Neighbourhood._meta.get_field("name").max_length
    features = []
    for i, feature in enumerate(document["features"]):
        label = f"feature {i}"
        if not isinstance(feature, dict):
            raise ImportRejected(f"{label} is {describe(feature)}, not an object")
        props = feature.get("properties")
        name = props.get(name_field) if isinstance(props, dict) else None
        if not isinstance(name, str) or not name.strip():
            found = describe(props) if isinstance(props, dict) else "no properties"
            raise ImportRejected(f"{label}: property {name_field!r} is missing or empty ({found})")
        name = name.strip()
        if len(name) > max_name:
            raise ImportRejected(f"{label}: name is longer than {max_name} characters")
        try:
            geom = feature.get("geometry")
            features.append(
                NeighbourhoodFeature(
                    name=name, geometry=geom, bbox=geometry.bbox(geom), area_km2=geometry.area_km2(geom)
                )
            )
        except geometry.GeometryError as exc:
            raise ImportRejected(f"{label} ({name}): {exc}") from None
    return features


def assign_slugs(names: Sequence[str], *, source: str, owners: Mapping[str, str]) -> list[str]:
    """A unique slug per name, the same every time the same file is loaded.

    `owners` maps existing slugs to the source file that created them. A slug is reused only by
    its own source, so loading Bern's "Altstadt" never overwrites Basel's: it becomes
    "altstadt-2". Names that slugify alike within one file get -2, -3, ... in file order.
    """
    taken: set[str] = set()
    slugs = []
    for name in names:
        base = slugify(name)[:190] or "neighbourhood"  # e.g. a name in a non-Latin script
        n = 1
        slug = base
        while slug in taken or owners.get(slug, source) != source:
            n += 1
            slug = f"{base}-{n}"
        taken.add(slug)
        slugs.append(slug)
    return slugs


@dataclass
class LoadSummary:
    source: str = ""
    created: int = 0
    updated: int = 0
    area_km2: float = 0.0
    cameras: AssignSummary = field(default_factory=AssignSummary)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "created": self.created,
            "updated": self.updated,
            "area_km2": self.area_km2,
            "cameras": self.cameras.as_dict(),
        }

    def report(self) -> str:
        return (
            f"{self.source or 'Neighbourhoods'}: {self.created + self.updated:,} neighbourhoods; "
            f"{self.created:,} created, {self.updated:,} updated; {self.area_km2:,.1f} km² in all.\n"
            f"Cameras: {self.cameras.assigned:,} in a neighbourhood, {self.cameras.outside:,} outside every one; "
            f"{self.cameras.changed:,} changed neighbourhood."
        )


@transaction.atomic
def neighbourhoods_load(
    *,
    features: Sequence[NeighbourhoodFeature],
    source: str,
    progress: Callable[[int], object] | None = None,
) -> LoadSummary:
    """Create or update one Neighbourhood per feature, keyed by slug, all or nothing.

    Neighbourhoods missing from the file are kept: a loader never deletes. Then every live camera
    is placed in the neighbourhood it now lies in and the stats are recomputed, in the same
    transaction, so no reader sees the new outlines with the old assignment.
    """
    owners = dict(Neighbourhood.objects.values_list("slug", "source"))
    slugs = assign_slugs([f.name for f in features], source=source, owners=owners)
    existing = Neighbourhood.objects.in_bulk(slugs, field_name="slug")
    summary = LoadSummary(source=source)
    for feature, slug in zip(features, slugs, strict=True):
        hood = existing.get(slug) or Neighbourhood(slug=slug)
        created = hood.pk is None
        hood.name, hood.polygon, hood.source, hood.area_km2 = feature.name, feature.geometry, source, feature.area_km2
        hood.min_lon, hood.min_lat, hood.max_lon, hood.max_lat = feature.bbox
        hood.save()
        summary.created += created
        summary.updated += not created
        summary.area_km2 += feature.area_km2
        if progress is not None:
            progress(1)
    summary.cameras = neighbourhoods_assign_all()
    neighbourhoods_stats_refresh()
    _schedule_reassignment()
    services.audit_record(action="neighbourhoods_load", target=None, data=summary.as_dict())
    return summary


def _schedule_reassignment() -> None:
    """Make every process use the new outlines, and place the cameras they wrote meanwhile.

    This process forgets its area index now (its own later look-ups see the new outlines) and
    again on commit. Other processes (dedupe workers) keep placing cameras with the outlines they
    cached for up to AREA_INDEX_TTL_SECONDS after the commit, and a camera they write in that
    window gets its neighbourhood from the old outlines. So a second full reassignment is queued
    after twice the TTL, when every process has re-checked: it rewrites only those few cameras.
    """
    from ..tasks import reassign_neighbourhoods

    area_index_reset()
    transaction.on_commit(area_index_reset)
    countdown = 2 * settings.AREA_INDEX_TTL_SECONDS
    # robust: the load is committed either way; with the broker down, the next load (or the
    # task run by hand) corrects the few cameras written in the window.
    transaction.on_commit(lambda: reassign_neighbourhoods.apply_async(countdown=countdown), robust=True)
