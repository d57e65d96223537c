"""A camera's position (robust centre) and attributes (per-attribute consensus) from its reports."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .rules import DEFAULT_PARAMS, Candidate, Params, Report, angle_between, known
from .spatial import _E2, ecef


def robust_centre(
    points: Sequence[tuple[float, float, float | None]], params: Params = DEFAULT_PARAMS
) -> tuple[float, float]:
    """Huber M-estimate of (lat, lon) from (lat, lon, accuracy_m) points.

    Works in the plane tangent to the ellipsoid at the first point, built from Earth-centred
    (ECEF) coordinates, so it is the same computation at the antimeridian and at a pole (a
    lat/lon plane would put two reports either side of the pole far apart). Over tens of metres
    the plane departs from the surface by well under a millimetre. Weights are 1/accuracy² (the
    inverse variance); the estimate starts at the coordinate-wise weighted median, so one
    far-off report cannot drag the start towards itself, then takes ten iteratively reweighted
    means in which a report r metres away counts min(1, c/r) times its weight.
    """
    if not points:
        raise ValueError("a centre needs at least one point")
    lat0, lon0 = points[0][0], points[0][1]
    if len(points) == 1:
        return lat0, lon0
    origin = [float(v) for v in ecef(lat0, lon0)]
    phi, lam = math.radians(lat0), math.radians(lon0)
    east = (-math.sin(lam), math.cos(lam), 0.0)
    north = (-math.sin(phi) * math.cos(lam), -math.sin(phi) * math.sin(lam), math.cos(phi))
    xs, ys = [], []
    for lat, lon, _ in points:
        d = [float(v) - o for v, o in zip(ecef(lat, lon), origin, strict=True)]
        xs.append(sum(a * b for a, b in zip(d, east, strict=True)))
        ys.append(sum(a * b for a, b in zip(d, north, strict=True)))
    ws = [1.0 / max(acc if acc is not None and acc > 0 else params.default_accuracy_m, 1.0) ** 2 for *_, acc in points]
    if len(points) == 2:
        x, y = _weighted_mean(xs, ys, ws)
    else:
        x, y = _weighted_median(xs, ws), _weighted_median(ys, ws)
        for _ in range(10):
            rw = [
                w * min(1.0, params.huber_m / max(math.hypot(px - x, py - y), 1e-9))
                for px, py, w in zip(xs, ys, ws, strict=True)
            ]
            x, y = _weighted_mean(xs, ys, rw)
    px, py, pz = (o + x * e + y * n for o, e, n in zip(origin, east, north, strict=True))
    # Geodetic latitude of a point on (or within a millimetre of) the ellipsoid's surface.
    lat = math.degrees(math.atan2(pz, (1.0 - _E2) * math.hypot(px, py)))
    lon = math.degrees(math.atan2(py, px)) if math.hypot(px, py) > 1e-6 else lon0
    return lat, lon


def _weighted_mean(xs: Sequence[float], ys: Sequence[float], ws: Sequence[float]) -> tuple[float, float]:
    total = sum(ws)
    return sum(x * w for x, w in zip(xs, ws, strict=True)) / total, sum(
        y * w for y, w in zip(ys, ws, strict=True)
    ) / total


def _weighted_median(values: Sequence[float], weights: Sequence[float]) -> float:
    pairs = sorted(zip(values, weights, strict=True))
    half = sum(weights) / 2.0
    running = 0.0
    for value, weight in pairs:
        running += weight
        if running >= half:
            return value
    return pairs[-1][0]


@dataclass(frozen=True, slots=True)
class Consensus:
    value: Any
    share: float  # of the reports that knew a value, the (weighted) share agreeing with it
    known: int  # how many reports knew a value


def attribute_consensus(
    rows: Sequence[Mapping[str, Any]],
    fields: Sequence[str],
    *,
    weights: Sequence[float] | None = None,
    direction_tolerance: float = DEFAULT_PARAMS.direction_tolerance,
) -> dict[str, Consensus]:
    """Per-attribute consensus over reports (dicts of attribute values).

    Categorical and text values: the weighted majority of the known values; ties go to the
    alphabetically first value, so the result does not depend on arrival order. Directions: the
    circular mean of the largest group agreeing within the tolerance. Numbers (height, angle):
    the weighted median, agreeing within 20%. An attribute nobody knew gets value None, share 0.
    """
    weights = list(weights) if weights is not None else [1.0] * len(rows)
    result: dict[str, Consensus] = {}
    for name in fields:
        values = [(row.get(name), w) for row, w in zip(rows, weights, strict=True) if known(row.get(name))]
        if not values:
            result[name] = Consensus(None, 0.0, 0)
        elif name == "direction":
            result[name] = _direction_consensus(values, direction_tolerance)
        elif all(isinstance(v, int | float) and not isinstance(v, bool) for v, _ in values):
            median = _weighted_median([float(v) for v, _ in values], [w for _, w in values])
            agree = sum(w for v, w in values if abs(float(v) - median) <= 0.2 * abs(median))
            result[name] = Consensus(median, agree / sum(w for _, w in values), len(values))
        else:
            tally: dict[Any, float] = defaultdict(float)
            for v, w in values:
                tally[v] += w
            winner = min(tally, key=lambda v: (-tally[v], str(v)))
            result[name] = Consensus(winner, tally[winner] / sum(tally.values()), len(values))
    return result


def _direction_consensus(values: list[tuple[Any, float]], tolerance: float) -> Consensus:
    total = sum(w for _, w in values)
    best: tuple[float, float] | None = None  # (agreeing weight, mean)
    for anchor, _ in sorted(values, key=lambda vw: float(vw[0])):
        group = [(float(v), w) for v, w in values if angle_between(float(v), float(anchor)) <= tolerance]
        mean = circular_mean([v for v, _ in group], [w for _, w in group])
        agreeing = sum(w for v, w in values if angle_between(float(v), mean) <= tolerance)
        if best is None or agreeing > best[0] + 1e-12:
            best = (agreeing, mean)
    assert best is not None
    return Consensus(round(best[1]) % 360, best[0] / total, len(values))


def circular_mean(angles: Sequence[float], weights: Sequence[float] | None = None) -> float:
    weights = weights or [1.0] * len(angles)
    s = sum(w * math.sin(math.radians(a)) for a, w in zip(angles, weights, strict=True))
    c = sum(w * math.cos(math.radians(a)) for a, w in zip(angles, weights, strict=True))
    return math.degrees(math.atan2(s, c)) % 360.0


def candidate_from(camera_id: int, reports: Sequence[Report], params: Params = DEFAULT_PARAMS) -> Candidate:
    """The matcher's view of a camera built from its reports (used by replay and tests)."""
    lat, lon = robust_centre([(r.lat, r.lon, r.accuracy_m) for r in reports], params)
    rows = [{"direction": r.direction, "camera_type": r.camera_type, "camera_mount": r.camera_mount} for r in reports]
    attrs = attribute_consensus(
        rows, ("direction", "camera_type", "camera_mount"), direction_tolerance=params.direction_tolerance
    )
    accs = sorted(r.accuracy_m for r in reports if r.accuracy_m is not None)
    return Candidate(
        id=camera_id,
        lat=lat,
        lon=lon,
        reporters=frozenset(r.reporter for r in reports),
        accuracy_m=accs[len(accs) // 2] if accs else None,
        direction=attrs["direction"].value,
        camera_type=attrs["camera_type"].value,
        camera_mount=attrs["camera_mount"].value,
    )
