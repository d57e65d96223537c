"""Recluster: rebuild a region's cameras from its sightings with the batch dedupe.

Use it after changing the dedupe parameters, after a bulk import, or to repair a region. It runs
in one transaction per region, holding the global dedupe lock (locks.lock_everything), so the
region is never seen half-rebuilt and no dedupe task interleaves.

Camera ids stay stable: each new group keeps the old camera that holds most of its sightings
(ties: the lowest id), so votes, links and history stay attached to the camera they were about.
A camera left without sightings becomes a tombstone forwarding to the camera that took most of
them, and its votes move there, as in a merge. Cameras a moderator shaped (holding a sighting
they split, merged or unmerged: `pinned`) are left exactly as they are.

A region is the set of live cameras whose centre lies in the bbox (or neighbourhood polygon);
all their sightings take part, including ones just outside, so no camera is cut in two by the
region's edge. Two cameras on opposite sides of the edge are not compared with each other.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from .. import dedupe, geometry
from ..models import Assignment, Camera, Sighting, Vote
from . import locks
from .audit import audit_record
from .cameras import (
    SUMMARY_FIELDS,
    _move_sightings,
    _move_votes,
    _retire,
    camera_refresh,
    dedupe_params,
    report_of,
    summary_values,
)

BBox = tuple[float, float, float, float]  # min_lon, min_lat, max_lon, max_lat


@dataclass
class ReclusterResult:
    cameras_before: int = 0
    cameras_after: int = 0
    sightings: int = 0
    moved: int = 0
    created: list[int] = field(default_factory=list)
    retired: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "cameras_before": self.cameras_before,
            "cameras_after": self.cameras_after,
            "sightings": self.sightings,
            "moved": self.moved,
            "created": self.created,
            "retired": self.retired,
        }


@transaction.atomic
def recluster_region(
    *,
    bbox: BBox,
    polygon: dict | None = None,
    actor: AbstractBaseUser | None = None,
    label: str = "",
    params: dedupe.Params | None = None,
    progress: Callable[[str], object] | None = None,
) -> ReclusterResult:
    """Rebuild the cameras of one region (see the module docstring). All or nothing."""
    params = params or dedupe_params()
    locks.lock_everything()
    cameras = Camera.objects.live().in_bbox(*bbox).values_list("pk", "lat", "lon")
    camera_ids = [pk for pk, lat, lon in cameras if polygon is None or geometry.contains(polygon, lon, lat)]
    result = ReclusterResult(cameras_before=len(camera_ids))
    if not camera_ids:
        return result
    rows = list(
        Sighting.objects.filter(camera_id__in=camera_ids, status=Sighting.Status.PROCESSED)
        .order_by("pk")
        .values(*SUMMARY_FIELDS, "camera_id", "pinned")
    )
    result.sightings = len(rows)
    # Cameras a moderator shaped (holding a pinned sighting) are left exactly as they are.
    curated = {r["camera_id"] for r in rows if r["pinned"]}
    free = [r for r in rows if r["camera_id"] not in curated]
    if progress:
        progress(f"clustering {len(free):,} sightings of {len(camera_ids) - len(curated):,} cameras")
    labels = dedupe.cluster([report_of(r) for r in free], params)

    groups: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row, label_ in zip(free, labels, strict=True):
        groups[label_].append(row)
    ordered = sorted(groups)
    kept = dedupe.assign_ids([[r["camera_id"] for r in groups[g]] for g in ordered], reserved=curated)
    owner = {g: cid for g, cid in zip(ordered, kept, strict=True) if cid is not None}

    now = timezone.now()
    moves: list[tuple[dict[str, Any], int]] = []
    for key, members in groups.items():
        camera_id = owner.get(key)
        if camera_id is None:
            camera_id = Camera.objects.create(**summary_values(members, params)).pk
            result.created.append(camera_id)
        moves += [(row, camera_id) for row in members if row["camera_id"] != camera_id]
    _move_sightings(
        [(row["id"], row["camera_id"], c) for row, c in moves], kind=Assignment.Kind.RECLUSTERED, actor=actor, now=now
    )
    result.moved = len(moves)

    final = {row["id"]: row["camera_id"] for row in rows} | {row["id"]: cid for row, cid in moves}
    members_of: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        members_of[final[row["id"]]].append(row)
    for old in sorted(set(camera_ids) - set(members_of)):
        went_to = Counter(final[r["id"]] for r in rows if r["camera_id"] == old)
        heir = min(went_to, key=lambda c: (-went_to[c], c))
        _move_votes(source_id=old, target_id=heir)
        _retire(old, into=heir)
        result.retired.append(old)
    touched = {cid for _, cid in moves} | {row["camera_id"] for row, _ in moves}
    changed = sorted(touched & set(members_of))
    # A camera with votes or an expert verdict needs them for its status: camera_refresh reads them.
    # Votes are looked up in their table, not the cameras' counts: an heir's moved votes are not
    # counted on its row until it is refreshed.
    judged = set(Vote.objects.filter(camera_id__in=changed).values_list("camera_id", flat=True))
    judged |= set(Camera.objects.filter(pk__in=changed).exclude(expert_status="").values_list("pk", flat=True))
    for camera_id in changed:
        if camera_id in judged:
            camera_refresh(camera_id=camera_id, params=params, reason="Reclustered.")
            continue
        Camera.objects.filter(pk=camera_id).update(
            **summary_values(members_of[camera_id], params, now=now), updated_at=now
        )
    result.cameras_after = len(members_of)
    audit_record(
        action="recluster", target=None, actor=actor, reason=label, data={"bbox": list(bbox), **result.as_dict()}
    )
    return result
