"""Pure geometry on GeoJSON shapes: bounding boxes and areas on the Earth's surface.

GeoJSON positions are [lon, lat] (RFC 7946). Areas use the spherical-excess line integral of
Chamberlain & Duquette ("Some algorithms for polygons on a sphere", JPL 2007), the same formula
Leaflet.draw and Turf use: accurate to a fraction of a percent for city districts, with no
projection library needed. Holes (inner rings) are subtracted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

EARTH_RADIUS_M = 6_378_137.0  # WGS84 equatorial radius, as Turf and Leaflet.draw use

Position = Sequence[float]
Ring = Sequence[Position]


class GeometryError(ValueError):
    """A geometry that is not a usable Polygon or MultiPolygon."""


def polygons_of(geometry: dict) -> list[list[Ring]]:
    """The polygons (each a list of rings) of a Polygon or MultiPolygon, validated."""
    if not isinstance(geometry, dict):
        raise GeometryError("geometry must be an object")
    kind, coords = geometry.get("type"), geometry.get("coordinates")
    if kind == "Polygon":
        polygons = [coords]
    elif kind == "MultiPolygon":
        polygons = coords
    else:
        raise GeometryError(f"geometry type must be Polygon or MultiPolygon, got {kind!r}")
    if not isinstance(polygons, list) or not polygons:
        raise GeometryError("geometry has no coordinates")
    for polygon in polygons:
        if not isinstance(polygon, list) or not polygon:
            raise GeometryError("a polygon has no rings")
        for ring in polygon:
            _check_ring(ring)
    return polygons


def _check_ring(ring: object) -> None:
    if not isinstance(ring, list) or len(ring) < 4:
        raise GeometryError("a ring needs at least 4 positions")
    for position in ring:
        if (
            not isinstance(position, list | tuple)
            or len(position) < 2
            or not all(isinstance(c, int | float) and math.isfinite(c) for c in position[:2])
        ):
            raise GeometryError(f"bad position {position!r}")
        lon, lat = position[0], position[1]
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise GeometryError(f"position {position!r} is outside lon -180..180 / lat -90..90")


def bbox(geometry: dict) -> tuple[float, float, float, float]:
    """(min_lon, min_lat, max_lon, max_lat) of all positions."""
    positions = [p for polygon in polygons_of(geometry) for ring in polygon for p in ring]
    lons = [p[0] for p in positions]
    lats = [p[1] for p in positions]
    return min(lons), min(lats), max(lons), max(lats)


def ring_area_m2(ring: Ring) -> float:
    """Unsigned area of one closed ring, in square metres."""
    total = 0.0
    for (lon1, lat1), (lon2, lat2) in _pairs(ring):
        total += math.radians(lon2 - lon1) * (2 + math.sin(math.radians(lat1)) + math.sin(math.radians(lat2)))
    return abs(total) * EARTH_RADIUS_M**2 / 2


def _pairs(ring: Ring) -> Iterable[tuple[tuple[float, float], tuple[float, float]]]:
    points = [(float(p[0]), float(p[1])) for p in ring]
    return zip(points, points[1:] + points[:1], strict=True)


def area_km2(geometry: dict) -> float:
    """Area of a Polygon or MultiPolygon in km², holes subtracted."""
    total = 0.0
    for outer, *holes in polygons_of(geometry):
        total += ring_area_m2(outer) - sum(ring_area_m2(h) for h in holes)
    return max(total, 0.0) / 1e6


def contains(geometry: dict, lon: float, lat: float) -> bool:
    """Whether a point lies inside a Polygon or MultiPolygon (holes excluded).

    Even-odd ray casting in plain lon/lat, which is exact for the question "which side of each
    edge" as long as edges are short compared with the Earth (city districts are). A point
    exactly on an edge may fall either way.
    """
    for rings in polygons_of(geometry):
        if rings and _in_ring(rings[0], lon, lat) and not any(_in_ring(hole, lon, lat) for hole in rings[1:]):
            return True
    return False


def _in_ring(ring: Ring, x: float, y: float) -> bool:
    inside = False
    for (x1, y1), (x2, y2) in _pairs(ring):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


class BadBBox(ValueError):
    """A bbox query parameter that is not west,south,east,north in degrees."""


def parse_bbox(raw: str | None) -> tuple[float, float, float, float]:
    """'west,south,east,north' in degrees; a clear message for anything else."""
    if not raw:
        raise BadBBox("bbox is required: west,south,east,north in degrees, e.g. bbox=8.50,47.36,8.56,47.39")
    parts = raw.split(",")
    if len(parts) != 4:
        raise BadBBox(f"bbox needs 4 numbers (west,south,east,north), got {len(parts)}")
    try:
        west, south, east, north = (float(p) for p in parts)
    except ValueError:
        raise BadBBox(f"bbox must be numbers, got {raw!r}") from None
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        raise BadBBox("bbox must be finite numbers")
    if not (-90 <= south <= north <= 90):
        raise BadBBox("bbox latitudes must satisfy -90 <= south <= north <= 90")
    if not (-180 <= west <= 180 and -180 <= east <= 180) or west > east:
        raise BadBBox("bbox longitudes must satisfy -180 <= west <= east <= 180")
    return west, south, east, north
