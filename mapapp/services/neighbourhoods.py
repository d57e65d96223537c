"""Neighbourhood services: which neighbourhood each camera is in, and each neighbourhood's stats.

* `neighbourhood_at` answers for one point from a per-process AreaIndex (mapapp/areas.py). It runs
  on every camera write (services.cameras.summary_values, in the dedupe hot path), so it must not
  query the polygons each time: the index is built once, and whether the neighbourhoods changed
  is re-checked (one cheap aggregate) at most every settings.AREA_INDEX_TTL_SECONDS. A worker may
  therefore answer from polygons up to that old; the loader schedules a second full reassignment
  after twice that delay to correct any camera written in the meantime (imports/neighbourhoods.py).
* `neighbourhoods_assign_all` recomputes every live camera's neighbourhood, vectorised, writing
  only the rows that changed.
* `neighbourhoods_stats_refresh` stores each neighbourhood's public camera counts in its `stats`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone

from ..areas import AreaIndex
from ..models import Camera, Neighbourhood

# Cameras read, located and written per round. Keeps every IN list under the databases' parameter
# limits (as the OSM importer's batches do) and memory flat at any table size.
ASSIGN_CHUNK = 2000
UNKNOWN = "unknown"

# --- The per-process index ----------------------------------------------------------------------


@dataclass
class _Cached:
    index: AreaIndex
    version: tuple[int, datetime | None]
    checked_at: float  # time.monotonic() of the last version check


_cached: _Cached | None = None


def area_index_reset() -> None:
    """Forget this process's index: the next look-up rebuilds it (tests; after a load commits)."""
    global _cached
    _cached = None


def _version() -> tuple[int, datetime | None]:
    """What changes whenever a neighbourhood is added, deleted or saved (`updated_at` is auto_now).

    Only `save()` moves `updated_at`; that is why stats are written with `update()`, which leaves it
    alone, so a stats refresh never makes every process rebuild its index.
    """
    row = Neighbourhood.objects.aggregate(n=Count("pk"), latest=Max("updated_at"))
    return row["n"], row["latest"]


def area_index_build() -> AreaIndex:
    """A fresh index of the neighbourhoods as this transaction sees them (no cache)."""
    return AreaIndex(Neighbourhood.objects.order_by("pk").values_list("pk", "polygon", "area_km2").iterator())


def area_index() -> AreaIndex:
    """This process's index, re-checked against the database at most every AREA_INDEX_TTL_SECONDS.

    Not locked: two threads may both rebuild once, and either result is correct.
    """
    global _cached
    now = time.monotonic()
    cached = _cached
    if cached is not None and now - cached.checked_at < settings.AREA_INDEX_TTL_SECONDS:
        return cached.index
    version = _version()
    if cached is not None and cached.version == version:
        cached.checked_at = now
        return cached.index
    _cached = _Cached(index=area_index_build(), version=version, checked_at=now)
    return _cached.index


def neighbourhood_at(lat: float, lon: float) -> int | None:
    """The id of the neighbourhood holding a point (boundaries and overlaps: see mapapp/areas.py)."""
    return area_index().locate(lat, lon)


# --- Assigning every camera ---------------------------------------------------------------------


@dataclass(frozen=True)
class AssignSummary:
    assigned: int = 0  # live cameras inside a neighbourhood
    outside: int = 0  # live cameras outside every neighbourhood (their neighbourhood is NULL)
    changed: int = 0  # rows written: cameras whose neighbourhood differed

    def __add__(self, other: AssignSummary) -> AssignSummary:
        return AssignSummary(*(a + b for a, b in zip(self.as_tuple(), other.as_tuple(), strict=True)))

    def as_tuple(self) -> tuple[int, int, int]:
        return self.assigned, self.outside, self.changed

    def as_dict(self) -> dict[str, int]:
        return {"assigned": self.assigned, "outside": self.outside, "changed": self.changed}


def neighbourhoods_assign_all(*, chunk_size: int = ASSIGN_CHUNK) -> AssignSummary:
    """Put every live camera into the neighbourhood its position lies in (NULL: none). Idempotent.

    Reads cameras in primary-key chunks and locates each chunk in one vectorised query. Only the
    cameras whose neighbourhood differs are written, and only after locking them and reading their
    position again: a dedupe task that moved one meanwhile has either committed (the re-read sees
    the new position) or waits for this transaction. Each chunk is its own transaction when called
    outside one (the Celery task), so locks are short; inside the loader's, all of it is one.
    Uses a fresh index, never the process cache, so it sees the polygons of its own transaction.

    Measured on PostgreSQL with 250,000 cameras and Zürich's 34 quarters (25,000 vertices): about
    3 s when nothing changes (locating is two thirds of it), about 10 s when every camera inside
    a quarter changes (the UPDATEs are most of it). Its only writes are to cameras that changed.
    """
    index = area_index_build()
    total = AssignSummary()
    for rows in _live_camera_chunks(chunk_size):
        with transaction.atomic():
            total += _assign_chunk(index, rows)
    return total


Row = tuple[int, float, float, int | None]  # a camera's pk, lat, lon and neighbourhood_id


def _live_camera_chunks(size: int) -> Iterator[list[Row]]:
    """Every live camera, `size` at a time, by primary key."""
    last = 0
    while True:
        rows = list(
            Camera.objects.live()
            .filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", "lat", "lon", "neighbourhood_id")[:size]
        )
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _assign_chunk(index: AreaIndex, rows: list[Row]) -> AssignSummary:
    found = _located(index, rows)
    stale = [pk for pk, *_, current in rows if found[pk] != current]
    moves: dict[int, int | None] = {}
    if stale:
        read = {pk: (lat, lon) for pk, lat, lon, _ in rows}
        locked = list(
            Camera.objects.live()
            .select_for_update()
            .filter(pk__in=stale)
            .order_by("pk")
            .values_list("pk", "lat", "lon", "neighbourhood_id")
        )
        found |= _located(index, [r for r in locked if (r[1], r[2]) != read[r[0]]])  # moved meanwhile
        moves = {pk: found[pk] for pk, *_, current in locked if found[pk] != current}
    _write_moves(moves)
    outside = sum(hood is None for hood in found.values())
    return AssignSummary(assigned=len(found) - outside, outside=outside, changed=len(moves))


def _located(index: AreaIndex, rows: list[Row]) -> dict[int, int | None]:
    return dict(zip([r[0] for r in rows], index.locate_many([r[1] for r in rows], [r[2] for r in rows]), strict=True))


def _write_moves(moves: dict[int, int | None]) -> None:
    """One UPDATE per destination neighbourhood (measured: about twice as fast as one UPDATE with
    a CASE per destination, and ten times Django's bulk_update, which has a CASE per row).

    `updated_at` moves too: the camera's public data changed, and "changed since" feeds and the
    map fingerprints must see it.
    """
    by_hood: dict[int | None, list[int]] = {}
    for pk, hood in moves.items():
        by_hood.setdefault(hood, []).append(pk)
    now = timezone.now()
    for hood, ids in by_hood.items():
        Camera.objects.filter(pk__in=ids).update(neighbourhood_id=hood, updated_at=now)


# --- Stats ---------------------------------------------------------------------------------------

# The public statuses, each always present in `by_status` (a page can show "0 verified").
PUBLIC_STATUSES = [s for s in Camera.Status.values if s != Camera.Status.REMOVED]
BREAKDOWNS = {"by_type": "camera_type", "by_mount": "camera_mount", "by_operator_type": "operator_type"}
GROUPED = ("neighbourhood_id", "status", *BREAKDOWNS.values())


def _grouped_rows(hood_ids: list[int] | None) -> list[dict[str, Any]]:
    """Public camera counts and latest change per (neighbourhood, status, type, mount, operator type).

    One GROUP BY for any number of neighbourhoods, served by camera_nbhd_status_idx.
    """
    qs = Camera.objects.published().filter(neighbourhood__isnull=False)
    if hood_ids is not None:
        qs = qs.filter(neighbourhood_id__in=hood_ids)
    return list(qs.values(*GROUPED).annotate(n=Count("pk"), latest=Max("updated_at")).order_by())


def stats_from(rows: Iterable[dict[str, Any]], *, area_km2: float) -> dict[str, Any]:
    """One neighbourhood's stats, as plain JSON, from its `_grouped_rows` (pure).

    Blank breakdown values count under "unknown". Ratios are None where they would divide by zero.
    """
    by_status: Counter[str] = Counter(dict.fromkeys(PUBLIC_STATUSES, 0))
    breakdowns: dict[str, Counter[str]] = {key: Counter() for key in BREAKDOWNS}
    latest: datetime | None = None
    for row in rows:
        by_status[row["status"]] += row["n"]
        for key, field in BREAKDOWNS.items():
            breakdowns[key][row[field] or UNKNOWN] += row["n"]
        latest = row["latest"] if latest is None or row["latest"] > latest else latest
    total = sum(by_status.values())
    return {
        "cameras": total,
        "by_status": dict(by_status),
        **{key: dict(counts) for key, counts in breakdowns.items()},
        "per_km2": total / area_km2 if area_km2 > 0 else None,
        "verified_share": by_status[Camera.Status.VERIFIED] / total if total else None,
        "last_update": latest.isoformat() if latest else None,
    }


def neighbourhood_stats(hood: Neighbourhood) -> dict[str, Any]:
    """The stats of one neighbourhood's public cameras (live, not removed), computed now."""
    return stats_from(_grouped_rows([hood.pk]), area_km2=hood.area_km2)


def neighbourhoods_stats_refresh(ids: Iterable[int] | None = None) -> int:
    """Recompute and store the stats of these neighbourhoods (all when None). Returns how many.

    Written with `update()`, not `save()`: `updated_at` stays put, so map fingerprints and the
    area index's version (both keyed on it) do not move for a stats refresh.
    """
    hoods = Neighbourhood.objects.order_by("pk")
    wanted = None if ids is None else sorted(set(ids))
    if wanted is not None:
        hoods = hoods.filter(pk__in=wanted)
    areas = dict(hoods.values_list("pk", "area_km2"))
    rows_of: dict[int, list[dict[str, Any]]] = {pk: [] for pk in areas}
    for row in _grouped_rows(wanted):
        rows_of.setdefault(row["neighbourhood_id"], []).append(row)
    now = timezone.now()
    for pk, area in areas.items():
        stats = stats_from(rows_of[pk], area_km2=area)
        Neighbourhood.objects.filter(pk=pk).update(stats=stats, stats_updated_at=now)
    return len(areas)


def cameras_outside_count() -> int:
    """Public cameras in no neighbourhood (outside every loaded polygon)."""
    return Camera.objects.published().filter(neighbourhood__isnull=True).count()
