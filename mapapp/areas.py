"""Which neighbourhood a point lies in: a spatial index over polygons (pure; shapely, no Django).

Every camera write asks this question (the dedupe task, through services.cameras.summary_values),
and a reload of the neighbourhoods asks it for every camera at once, so both shapes are served:
`locate` for one point and `locate_many` for arrays of them.

Design:

* **STRtree.** The polygons go into shapely's packed R-tree; a query first narrows to the
  polygons whose bounding box holds the point, then runs the exact predicate (GEOS, in C) on
  prepared geometries. A point costs microseconds whether a city has 30 quarters or 3,000.
* **Plain lon/lat, like mapapp.geometry.** GeoJSON positions are [lon, lat]; the index treats
  them as planar x/y. That is exact for "which side of an edge" as long as edges are short
  compared with the Earth, as city districts' are. Polygons crossing the antimeridian are not
  supported (nor are they by geometry.contains).
* **Boundaries are inside** (predicate "intersects", i.e. covers). Outlines of adjacent quarters
  often run along street centre lines, where cameras are; a point exactly on a shared edge would
  belong to *neither* quarter under a strict "contains". Counting the boundary as inside gives it
  to both candidates, and the overlap rule below picks one. The same holds for a hole's rim: it is
  the boundary of the polygon around the hole, so it belongs to that polygon (or to a smaller
  enclave filling the hole, by the overlap rule).
* **Overlaps: the smallest area wins, then the lowest id.** Overlapping areas in practice are
  nested (a quarter inside a district, an enclave inside a city, two files of different
  granularity), and the smallest is the most specific answer. The id breaks exact ties so the
  answer never depends on input order or tree layout: a full reassignment run twice changes no
  row the second time.
* **Invalid polygons are repaired** with `make_valid` (a self-intersecting "bow tie" becomes its
  two lobes) and only the polygonal parts are kept. GEOS predicates on invalid input give
  undefined answers, and an outline file drawn by hand often has such a ring. A polygon that
  repairs to nothing (zero area) never matches.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape

Area = tuple[int, dict[str, Any], float]  # (id, GeoJSON Polygon/MultiPolygon geometry, area in km²)


def polygonal(geometry: dict[str, Any]) -> shapely.Geometry:
    """A valid (Multi)Polygon for a GeoJSON geometry; invalid rings are repaired, stray lines dropped."""
    geom = shape(geometry)
    if geom.is_valid:
        return geom
    repaired = shapely.make_valid(geom)
    parts = [p for p in shapely.get_parts(repaired) if isinstance(p, shapely.Polygon | shapely.MultiPolygon)]
    return shapely.union_all(parts) if parts else shapely.Polygon()


class AreaIndex:
    """Points to area ids. Built once from all areas, then queried many times (read-only)."""

    def __init__(self, areas: Iterable[Area]) -> None:
        rows = sorted(areas, key=lambda a: (a[2], a[0]))  # rank = position in this order (see docstring)
        self.ids = np.array([a[0] for a in rows], dtype=np.int64)
        self.geometries = np.array([polygonal(a[1]) for a in rows], dtype=object)
        shapely.prepare(self.geometries)
        self.tree = shapely.STRtree(self.geometries)

    def __len__(self) -> int:
        return len(self.ids)

    def locate(self, lat: float, lon: float) -> int | None:
        """The id of the area holding the point, or None when it lies outside every area."""
        hits = self.tree.query(shapely.Point(lon, lat), predicate="intersects")
        return int(self.ids[hits.min()]) if hits.size else None

    def locate_many(self, lats: Sequence[float] | np.ndarray, lons: Sequence[float] | np.ndarray) -> list[int | None]:
        """`locate` for each (lats[i], lons[i]), in one vectorised tree query."""
        points = shapely.points(np.asarray(lons, dtype=float), np.asarray(lats, dtype=float))
        best = np.full(len(points), -1, dtype=np.int64)
        if len(self) and len(points):
            point_at, area_at = self.tree.query(points, predicate="intersects")
            # Areas are stored by rank, so a point's lowest matching area index is its winner.
            # Sort by (point, area) and keep each point's first hit.
            order = np.lexsort((area_at, point_at))
            point_at, area_at = point_at[order], area_at[order]
            first = np.ones(len(point_at), dtype=bool)
            first[1:] = point_at[1:] != point_at[:-1]
            best[point_at[first]] = area_at[first]
        return [int(self.ids[i]) if i >= 0 else None for i in best]
