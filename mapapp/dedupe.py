"""Dedupe: which sightings describe the same physical camera. Pure: plain values in and out.

No ORM and no Celery here. `services.sighting_process` feeds one sighting and its nearby cameras
to `best_match`; `manage.py recluster` and the benchmarks feed whole regions to `cluster`.

Scoring a sighting against a camera
===================================
A volunteer's phone puts a city sighting 5-15 m from the camera (RMS about 8 m), so two reports
of one camera are typically 10 m apart and now and then 25 m. Dense places (stations, shopfronts,
poles with two ALPRs) put *different* cameras closer than that. Position alone cannot decide,
so the score combines position with the evidence volunteers give us:

1. **Hard rules: "certainly a different camera" (no score at all).**
   - The camera already has a sighting by the *same volunteer*. A volunteer does not report one
     camera twice on a walk, while a building with three cameras gets three reports from them. So
     two reports by one person a few metres apart are evidence of two cameras. (Imported OSM
     nodes all belong to the one "OpenStreetMap" system account, so two OSM nodes never merge:
     OSM mappers already decided they are two cameras.)
   - Both directions are known and differ by more than `direction_tolerance` (45°). Two ALPRs on
     one pole face different lanes; one camera does not point two ways.
   - The geodesic distance exceeds the gate `radius_m + min(accuracy, accuracy_cap_m)`, where
     accuracy is the larger reported GPS accuracy of the two sides. A phone that says "±30 m" is
     believed up to the cap; a cap keeps a "±5 km" fix from swallowing a neighbourhood.
2. **The score**, for pairs that pass:

       score = 1 - (d / gate)²                 proximity: 1 on the spot, 0 at the gate
             + direction_bonus                 both directions known and within tolerance
             - type_penalty                    both camera:type known and different
             - mount_penalty                   both camera:mount known and different

   The quadratic proximity is the shape of a Gaussian log-likelihood: being twice as far is four
   times less likely, so near candidates win clearly. Unknown values are compatible with anything
   and neither add nor subtract. A type or mount conflict only *lowers* the score, because
   volunteers misjudge types (the benchmark assumes 10% wrong types): a conflicting report still
   joins a camera it sits right on, but not one at the edge of the gate, and a same-typed camera
   nearby wins over it. Agreeing directions are positive evidence, since two cameras facing the
   same way a few metres apart are rarer than two facing different ways.
3. **Decision.** The best-scoring camera with `score >= threshold` wins; ties go to the lowest
   camera id, so the result never depends on the order candidates were read. Otherwise the
   sighting founds a new camera.

The defaults (`Params`) were chosen with `make bench-dedupe`, which simulates three volunteers per
real camera layout (Swiss OSM cameras, DeFlock ALPRs) and reports pairwise F1 per radius; see
`RADIUS_REASON` below and bench/README.md.

Camera position and attributes
==============================
A camera's position is a robust centre of its sightings (`robust_centre`): a Huber M-estimate,
weighted by reported accuracy, so one report 60 m off moves the centre by little instead of by a
third of 60 m. Its attributes are per-attribute consensus (`attribute_consensus`): the weighted
majority of the known values, with the share that agrees kept alongside.

Batch clustering
================
`cluster` groups N reports by the same rules, in O(N·k) for k neighbours per report:
candidate pairs come from a 3-D grid over Earth-centred (ECEF) coordinates, so there is no
special case at the antimeridian or the poles, and distances are computed vectorised as ECEF
chords. At dedupe distances a chord on the WGS-84 ellipsoid equals the geodesic to within
nanometres (the difference grows as d³/24ρ²); pairs whose decision lies within 1 mm of flipping
are settled with geopy's geodesic all the same. Pairs are then merged in descending score order
(ties by report id), each merge re-checking the rules between the two whole clusters, which makes
the grouping independent of input order.

Locking
=======
`lock_keys` names the grid cells a sighting's processing must hold. Cells are cubes in ECEF with
an edge of at least twice the largest gate; a sighting locks every cell its gate-ball touches.
Two sightings that could end in one camera lie within two gates of each other, so the midpoint
between them is within one gate of both, and its cell is in both lock sets: the two workers
serialise. Keys are sorted, so every worker takes them in the same order and none deadlock.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import geo

# WGS-84
_A = 6378137.0
_F = 1 / 298.257223563
_E2 = _F * (2 - _F)

# Values that mean "the volunteer could not tell"; they are compatible with anything.
UNKNOWN_VALUES = frozenset({None, "", "unknown"})

RADIUS_REASON = (
    "25 m: with 8 m RMS GPS error per report, two reports of one camera are more than 25 m "
    "apart in under 1% of cases (Rayleigh tail), and the benchmark's F1 peaks at 20-30 m on both "
    "real layouts; attributes and the same-volunteer rule, not a smaller radius, separate dense cameras."
)


@dataclass(frozen=True, slots=True)
class Params:
    radius_m: float = 25.0
    accuracy_cap_m: float = 15.0
    direction_tolerance: float = 45.0
    threshold: float = 0.0
    direction_bonus: float = 0.25
    type_penalty: float = 0.5
    mount_penalty: float = 0.5
    # Huber's tuning constant for the robust centre: reports further than this from the centre
    # get weight c/r instead of 1. Twice the typical per-axis GPS error.
    huber_m: float = 12.0
    # Weight of a report without a stated accuracy: as if it said ±8 m (the city RMS).
    default_accuracy_m: float = 8.0

    @property
    def max_gate_m(self) -> float:
        return self.radius_m + self.accuracy_cap_m


DEFAULT_PARAMS = Params()


@dataclass(frozen=True, slots=True)
class Report:
    """One sighting as dedupe sees it. Attributes are None when unknown."""

    id: int
    lat: float
    lon: float
    reporter: int
    accuracy_m: float | None = None
    direction: float | None = None
    camera_type: str | None = None
    camera_mount: str | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A camera as the matcher sees it: its centre, consensus attributes and who reported it."""

    id: int
    lat: float
    lon: float
    reporters: frozenset[int]
    accuracy_m: float | None = None
    direction: float | None = None
    camera_type: str | None = None
    camera_mount: str | None = None


@dataclass(frozen=True, slots=True)
class Match:
    camera_id: int
    score: float
    distance_m: float


def known(value: Any) -> bool:
    if isinstance(value, float) and math.isnan(value):
        return False
    return value not in UNKNOWN_VALUES


def angle_between(a: float, b: float) -> float:
    """Smallest difference between two compass bearings, 0-180."""
    return abs((a - b + 180.0) % 360.0 - 180.0)


# --- Scoring -----------------------------------------------------------------------------------


def gate_m(acc_a: float | None, acc_b: float | None, params: Params = DEFAULT_PARAMS) -> float:
    widening = max((a for a in (acc_a, acc_b) if a is not None and math.isfinite(a)), default=0.0)
    return params.radius_m + min(max(widening, 0.0), params.accuracy_cap_m)


def compatible(a: Report | Candidate, b: Report | Candidate, params: Params = DEFAULT_PARAMS) -> bool:
    """The hard rules that do not need a distance: same volunteer, opposed directions."""
    if _reporters(a) & _reporters(b):
        return False
    if known(a.direction) and known(b.direction):
        return angle_between(a.direction, b.direction) <= params.direction_tolerance
    return True


def score_at(
    distance: float, a: Report | Candidate, b: Report | Candidate, params: Params = DEFAULT_PARAMS
) -> float | None:
    """The score at a given distance, or None when a hard rule says "different cameras"."""
    if not compatible(a, b, params):
        return None
    gate = gate_m(a.accuracy_m, b.accuracy_m, params)
    if distance > gate:
        return None
    score = 1.0 - (distance / gate) ** 2
    if known(a.direction) and known(b.direction):
        score += params.direction_bonus
    if known(a.camera_type) and known(b.camera_type) and a.camera_type != b.camera_type:
        score -= params.type_penalty
    if known(a.camera_mount) and known(b.camera_mount) and a.camera_mount != b.camera_mount:
        score -= params.mount_penalty
    return score


def score(a: Report | Candidate, b: Report | Candidate, params: Params = DEFAULT_PARAMS) -> float | None:
    """Score with geopy's geodesic distance (the final check the task uses)."""
    if not compatible(a, b, params):
        return None
    return score_at(geo.distance_m((a.lat, a.lon), (b.lat, b.lon)), a, b, params)


def best_match(report: Report, candidates: Iterable[Candidate], params: Params = DEFAULT_PARAMS) -> Match | None:
    """The camera this report joins, or None to found a new one.

    Candidates are usually prefiltered by a bounding box; anything outside the gate is ignored
    here anyway, so a generous prefilter is only slower, never wrong.
    """
    best: Match | None = None
    for camera in candidates:
        if not compatible(report, camera, params):
            continue
        if _chord_m(report.lat, report.lon, camera.lat, camera.lon) > params.max_gate_m + 1.0:
            continue  # cheap prefilter; the geodesic below makes the decision
        distance = geo.distance_m((report.lat, report.lon), (camera.lat, camera.lon))
        value = score_at(distance, report, camera, params)
        if value is None or value < params.threshold:
            continue
        if best is None or value > best.score or (value == best.score and camera.id < best.camera_id):
            best = Match(camera_id=camera.id, score=value, distance_m=distance)
    return best


def _reporters(x: Report | Candidate) -> frozenset[int]:
    return x.reporters if isinstance(x, Candidate) else frozenset((x.reporter,))


# --- Position and attribute consensus ------------------------------------------------------------


def robust_centre(
    points: Sequence[tuple[float, float, float | None]], params: Params = DEFAULT_PARAMS
) -> tuple[float, float]:
    """Huber M-estimate of (lat, lon) from (lat, lon, accuracy_m) points.

    Works in a local tangent plane around the first point (metres), which is exact enough over
    tens of metres and has no trouble at the antimeridian. Weights are 1/accuracy² (the inverse
    variance); the estimate starts at the coordinate-wise weighted median, so one far-off report
    cannot drag the start towards itself, then takes ten iteratively reweighted means in which a
    report r metres away counts min(1, c/r) times its weight.
    """
    if not points:
        raise ValueError("a centre needs at least one point")
    lat0, lon0 = points[0][0], points[0][1]
    if len(points) == 1:
        return lat0, lon0
    m_lat, m_lon = _metres_per_degree(lat0)
    xs = [((lon - lon0 + 540.0) % 360.0 - 180.0) * m_lon for _, lon, _ in points]
    ys = [(lat - lat0) * m_lat for lat, _, _ in points]
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
    lat = max(-90.0, min(90.0, lat0 + y / m_lat))
    lon = (lon0 + (x / m_lon if m_lon > 0 else 0.0) + 540.0) % 360.0 - 180.0
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


def _metres_per_degree(lat: float) -> tuple[float, float]:
    """Metres per degree of latitude and of longitude at a latitude, on the WGS-84 ellipsoid."""
    phi = math.radians(lat)
    s = math.sin(phi)
    w = math.sqrt(1.0 - _E2 * s * s)
    meridian = _A * (1.0 - _E2) / (w**3)  # radius of curvature in the meridian
    prime = _A / w  # in the prime vertical
    return math.radians(1.0) * meridian, math.radians(1.0) * prime * math.cos(phi)


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


# --- Geometry helpers ----------------------------------------------------------------------------


def ecef(lat: Any, lon: Any) -> Any:
    """Earth-centred coordinates in metres on the WGS-84 ellipsoid; scalars or numpy arrays."""
    phi = np.radians(lat)
    lam = np.radians(lon)
    s = np.sin(phi)
    n = _A / np.sqrt(1.0 - _E2 * s * s)
    return n * np.cos(phi) * np.cos(lam), n * np.cos(phi) * np.sin(lam), n * (1.0 - _E2) * s


def _chord_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    x1, y1, z1 = ecef(lat1, lon1)
    x2, y2, z2 = ecef(lat2, lon2)
    return float(math.sqrt((x1 - x2) ** 2 + (y1 - y2) ** 2 + (z1 - z2) ** 2))


# Advisory-lock keys: 18 bits per axis (cells of >= 50 m cover Earth's ±6,400 km in ±2^17), under
# a fixed namespace in the high bits so other users of advisory locks never collide with us.
_LOCK_BITS = 18
_LOCK_OFFSET = 1 << (_LOCK_BITS - 1)
_LOCK_NAMESPACE = 0x3C << (3 * _LOCK_BITS)


def lock_cell_m(params: Params = DEFAULT_PARAMS) -> float:
    return max(2.0 * params.max_gate_m, 50.0)


def lock_keys(lat: float, lon: float, params: Params = DEFAULT_PARAMS) -> list[int]:
    """Sorted advisory-lock keys of every grid cell the sighting's gate-ball touches (1-8 cells)."""
    cell = lock_cell_m(params)
    reach = params.max_gate_m
    centre = [float(v) for v in ecef(lat, lon)]
    ranges = [range(math.floor((c - reach) / cell), math.floor((c + reach) / cell) + 1) for c in centre]
    keys = {
        _LOCK_NAMESPACE
        | ((kx + _LOCK_OFFSET) << (2 * _LOCK_BITS))
        | ((ky + _LOCK_OFFSET) << _LOCK_BITS)
        | (kz + _LOCK_OFFSET)
        for kx in ranges[0]
        for ky in ranges[1]
        for kz in ranges[2]
    }
    return sorted(keys)


def bbox_around(lat: float, lon: float, reach_m: float) -> tuple[float, float, float, float] | None:
    """(min_lon, min_lat, max_lon, max_lat) covering `reach_m` around a point, for an index query.

    None when the box would wrap the antimeridian or touch a pole; callers then query a latitude
    band instead (rare, and correct either way since the gate decides).
    """
    m_lat, m_lon = _metres_per_degree(lat)
    dlat = reach_m / m_lat
    if abs(lat) + dlat >= 89.9 or m_lon < 1e-6:
        return None
    dlon = reach_m / _metres_per_degree(min(89.9, abs(lat) + dlat))[1]
    if lon - dlon < -180.0 or lon + dlon > 180.0:
        return None
    return lon - dlon, lat - dlat, lon + dlon, lat + dlat


# --- Incremental replay (the task's rule, applied in arrival order) -------------------------------


def replay(reports: Sequence[Report], params: Params = DEFAULT_PARAMS) -> list[int]:
    """Process reports one by one as the worker does; return a camera label per report.

    This is the same `best_match` the task calls, with an in-memory grid for the candidate
    search. It exists to simulate arrival order in tests and benchmarks.
    """
    cell = params.max_gate_m * 2.0 + 2.0
    grid: dict[tuple[int, int, int], set[int]] = defaultdict(set)
    members: dict[int, list[Report]] = {}
    candidates: dict[int, Candidate] = {}
    where: dict[int, tuple[int, int, int]] = {}
    labels: list[int] = []
    for report in reports:
        key = _cell(report.lat, report.lon, cell)
        nearby = [candidates[cid] for k in _neighbours(key) for cid in grid.get(k, ())]
        match = best_match(report, sorted(nearby, key=lambda c: c.id), params)
        if match is None:
            cid = len(members)
            members[cid] = [report]
        else:
            cid = match.camera_id
            members[cid].append(report)
            grid[where[cid]].discard(cid)
        candidates[cid] = candidate_from(cid, members[cid], params)
        where[cid] = _cell(candidates[cid].lat, candidates[cid].lon, cell)
        grid[where[cid]].add(cid)
        labels.append(cid)
    final = {r.id: cid for r, cid in zip(reports, labels, strict=True)}
    # Relabel by camera membership so labels do not encode the order cameras were founded.
    by_camera: dict[int, list[int]] = defaultdict(list)
    for report in reports:
        by_camera[final[report.id]].append(report.id)
    label_of = {rid: min(ids) for ids in by_camera.values() for rid in ids}
    return [label_of[r.id] for r in reports]


def _cell(lat: float, lon: float, cell: float) -> tuple[int, int, int]:
    x, y, z = ecef(lat, lon)
    return math.floor(x / cell), math.floor(y / cell), math.floor(z / cell)


def _neighbours(key: tuple[int, int, int]) -> Iterable[tuple[int, int, int]]:
    kx, ky, kz = key
    return ((kx + dx, ky + dy, kz + dz) for dx in (-1, 0, 1) for dy in (-1, 0, 1) for dz in (-1, 0, 1))


# --- Batch clustering ----------------------------------------------------------------------------

_KEY_BITS = 21
_KEY_OFFSET = 1 << (_KEY_BITS - 1)
# Half of the 26 neighbour offsets (plus the cell itself, handled separately): each unordered
# pair of cells is visited once.
_HALF_OFFSETS = [
    (dx, dy, dz) for dx in (-1, 0, 1) for dy in (-1, 0, 1) for dz in (-1, 0, 1) if (dx, dy, dz) > (0, 0, 0)
]


@dataclass
class _Arrays:
    ids: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    xyz: np.ndarray
    reporter: np.ndarray
    acc: np.ndarray  # nan when unknown
    direction: np.ndarray  # nan when unknown
    ctype: np.ndarray  # int code, -1 unknown
    mount: np.ndarray  # int code, -1 unknown
    type_names: list[str] = field(default_factory=list)
    mount_names: list[str] = field(default_factory=list)


def _arrays(reports: Sequence[Report]) -> _Arrays:
    order = sorted(range(len(reports)), key=lambda i: reports[i].id)
    rs = [reports[i] for i in order]

    def codes(values: list[Any]) -> tuple[np.ndarray, list[str]]:
        names = sorted({v for v in values if known(v)})
        index = {v: i for i, v in enumerate(names)}
        return np.array([index.get(v, -1) if known(v) else -1 for v in values], dtype=np.int32), names

    lat = np.array([r.lat for r in rs], dtype=np.float64)
    lon = np.array([r.lon for r in rs], dtype=np.float64)
    ctype, type_names = codes([r.camera_type for r in rs])
    mount, mount_names = codes([r.camera_mount for r in rs])
    return _Arrays(
        ids=np.array([r.id for r in rs], dtype=np.int64),
        lat=lat,
        lon=lon,
        xyz=np.column_stack(ecef(lat, lon)) if rs else np.zeros((0, 3)),
        reporter=np.array([r.reporter for r in rs], dtype=np.int64),
        acc=np.array([np.nan if r.accuracy_m is None else r.accuracy_m for r in rs], dtype=np.float64),
        direction=np.array([np.nan if not known(r.direction) else float(r.direction) for r in rs], dtype=np.float64),
        ctype=ctype,
        mount=mount,
        type_names=type_names,
        mount_names=mount_names,
    )


def candidate_pairs(xyz: np.ndarray, reach_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs (i < j) of points within `reach_m` (chord), via a 3-D grid. Returns (i, j, d).

    Points are bucketed into cubes of edge `reach_m`; a pair within reach is always in the same
    or adjacent cubes, so 14 vectorised look-ups (the cube itself and 13 of its 26 neighbours)
    find every pair, with work proportional to N times the local density, not N².
    """
    n = len(xyz)
    empty = np.zeros(0, dtype=np.int64)
    if n < 2:
        return empty, empty, np.zeros(0)
    k = np.floor(xyz / reach_m).astype(np.int64) + _KEY_OFFSET
    keys = (k[:, 0] << (2 * _KEY_BITS)) | (k[:, 1] << _KEY_BITS) | k[:, 2]
    order = np.argsort(keys, kind="stable")
    skeys = keys[order]
    ucells, starts, counts = np.unique(skeys, return_index=True, return_counts=True)
    cell_of = np.repeat(np.arange(len(ucells)), counts)  # cell index of each sorted point
    out_i, out_j = [], []

    # Same cell: every i < j within the cell (in sorted positions).
    multi = counts > 1
    if multi.any():
        c_start, c_count = starts[multi], counts[multi]
        # For each point p in a multi cell, pair with the following points of its cell.
        cells = np.nonzero(multi)[0]
        pos_in = np.arange(n) - starts[cell_of]
        members = np.isin(cell_of, cells)
        p = np.nonzero(members)[0]
        rest = (counts[cell_of[p]] - 1 - pos_in[p]).astype(np.int64)
        i_idx = np.repeat(p, rest)
        offs = _ranges(rest)
        out_i.append(i_idx)
        out_j.append(i_idx + 1 + offs)
        del c_start, c_count

    for dx, dy, dz in _HALF_OFFSETS:
        delta = (dx << (2 * _KEY_BITS)) + (dy << _KEY_BITS) + dz
        target = ucells + delta
        hit = np.searchsorted(ucells, target)
        hit_c = np.minimum(hit, len(ucells) - 1)
        found = ucells[hit_c] == target
        if not found.any():
            continue
        nb_start = np.where(found, starts[hit_c], 0)
        nb_count = np.where(found, counts[hit_c], 0)
        per_point = nb_count[cell_of]
        i_idx = np.repeat(np.arange(n), per_point)
        j_idx = np.repeat(nb_start[cell_of], per_point) + _ranges(per_point)
        out_i.append(i_idx)
        out_j.append(j_idx)

    si = np.concatenate(out_i) if out_i else empty
    sj = np.concatenate(out_j) if out_j else empty
    i, j = order[si], order[sj]
    d = np.sqrt(((xyz[i] - xyz[j]) ** 2).sum(axis=1))
    near = d <= reach_m
    i, j, d = i[near], j[near], d[near]
    swap = i > j
    i, j = np.where(swap, j, i), np.where(swap, i, j)
    return i, j, d


def _ranges(counts: np.ndarray) -> np.ndarray:
    """Concatenated aranges: [0..c0), [0..c1), ... without a Python loop."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(counts)
    resets = np.repeat(ends - counts, counts)
    return np.arange(total, dtype=np.int64) - resets


def pair_scores(a: _Arrays, i: np.ndarray, j: np.ndarray, d: np.ndarray, params: Params) -> np.ndarray:
    """Vectorised `score_at` for report pairs; NaN where a hard rule forbids the pair."""
    acc = np.fmax(np.nan_to_num(a.acc[i], nan=0.0), np.nan_to_num(a.acc[j], nan=0.0))
    gate = params.radius_m + np.minimum(np.maximum(acc, 0.0), params.accuracy_cap_m)
    both_dir = ~np.isnan(a.direction[i]) & ~np.isnan(a.direction[j])
    diff = np.abs((a.direction[i] - a.direction[j] + 180.0) % 360.0 - 180.0)
    ok = (a.reporter[i] != a.reporter[j]) & (d <= gate) & ~(both_dir & (diff > params.direction_tolerance))
    s = 1.0 - (d / gate) ** 2
    s = s + np.where(both_dir, params.direction_bonus, 0.0)
    s = s - np.where((a.ctype[i] >= 0) & (a.ctype[j] >= 0) & (a.ctype[i] != a.ctype[j]), params.type_penalty, 0.0)
    s = s - np.where((a.mount[i] >= 0) & (a.mount[j] >= 0) & (a.mount[i] != a.mount[j]), params.mount_penalty, 0.0)
    return np.where(ok, s, np.nan)


def cluster(reports: Sequence[Report], params: Params = DEFAULT_PARAMS) -> list[int]:
    """Group reports into cameras; a label per report (the smallest report id of its camera).

    Deterministic and independent of input order: reports are canonicalised by id, and pairs
    merge in descending score, ties broken by the ids.
    """
    if not reports:
        return []
    a = _arrays(reports)
    n = len(a.ids)
    i, j, d = candidate_pairs(a.xyz, params.max_gate_m)
    s = pair_scores(a, i, j, d, params)
    _settle_borderline(a, i, j, d, s, params)
    keep = ~np.isnan(s) & (s >= params.threshold)
    i, j, s = i[keep], j[keep], s[keep]

    comp = _components(n, i, j)
    sizes = np.bincount(comp, minlength=n)
    labels = np.arange(n)
    # A component of two is one pair that passed: the rules between two single reports are the
    # pair's rules, so it merges. Larger components go through the exact agglomeration.
    two = sizes[comp[i]] == 2
    labels[j[two]] = i[two]
    big = sizes[comp[i]] > 2
    if big.any():
        _agglomerate(a, i[big], j[big], s[big], comp[i[big]], labels, params)
    by_index = a.ids[labels]
    out_by_id = dict(zip(a.ids.tolist(), by_index.tolist(), strict=True))
    return [out_by_id[r.id] for r in reports]


def _settle_borderline(a: _Arrays, i: np.ndarray, j: np.ndarray, d: np.ndarray, s: np.ndarray, params: Params) -> None:
    """Re-score with geopy's geodesic the pairs whose decision a 1 mm distance error could flip."""
    acc = np.fmax(np.nan_to_num(a.acc[i], nan=0.0), np.nan_to_num(a.acc[j], nan=0.0))
    gate = params.radius_m + np.minimum(np.maximum(acc, 0.0), params.accuracy_cap_m)
    # The distance at which the pair's score would equal the threshold (or reach the gate).
    rest = s - (1.0 - (d / gate) ** 2)  # bonus minus penalties
    crit = gate * np.sqrt(np.clip(1.0 + rest - params.threshold, 0.0, None))
    close = (np.abs(d - np.minimum(crit, gate)) < 1e-3) | (np.abs(d - gate) < 1e-3)
    for k in np.nonzero(close)[0].tolist():
        ri, rj = int(i[k]), int(j[k])
        distance = geo.distance_m((a.lat[ri], a.lon[ri]), (a.lat[rj], a.lon[rj]))
        d[k] = distance
        s[k] = pair_scores(a, i[k : k + 1], j[k : k + 1], d[k : k + 1], params)[0]


def _components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Connected components by vectorised label propagation with pointer jumping."""
    label = np.arange(n)
    if len(i) == 0:
        return label
    while True:
        li, lj = label[i], label[j]
        low = np.minimum(li, lj)
        new = label.copy()
        np.minimum.at(new, i, low)
        np.minimum.at(new, j, low)
        np.minimum.at(new, li, low)
        np.minimum.at(new, lj, low)
        while True:  # pointer jumping
            jumped = new[new]
            if np.array_equal(jumped, new):
                break
            new = jumped
        if np.array_equal(new, label):
            return label
        label = new


@dataclass
class _Group:
    members: list[int]
    reporters: set[int]
    wsum: float
    x: float
    y: float
    z: float
    dsin: float
    dcos: float
    dn: int
    types: Counter[int]
    mounts: Counter[int]
    accs: list[float]


def _agglomerate(
    a: _Arrays,
    i: np.ndarray,
    j: np.ndarray,
    s: np.ndarray,
    comp: np.ndarray,
    labels: np.ndarray,
    params: Params,
) -> None:
    """Constrained agglomeration: merge along pairs in descending score if whole clusters agree."""
    order = np.lexsort((j, i, -s))
    groups: dict[int, _Group] = {}
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:
            parent[x], x = root, parent[x]
        return root

    def group(p: int) -> _Group:
        g = groups.get(p)
        if g is None:
            acc = a.acc[p]
            w = 1.0 / max(acc if acc == acc and acc > 0 else params.default_accuracy_m, 1.0) ** 2
            dirn = a.direction[p]
            known_dir = dirn == dirn
            g = _Group(
                members=[p],
                reporters={int(a.reporter[p])},
                wsum=w,
                x=a.xyz[p, 0] * w,
                y=a.xyz[p, 1] * w,
                z=a.xyz[p, 2] * w,
                dsin=math.sin(math.radians(dirn)) if known_dir else 0.0,
                dcos=math.cos(math.radians(dirn)) if known_dir else 0.0,
                dn=1 if known_dir else 0,
                types=Counter([int(a.ctype[p])] if a.ctype[p] >= 0 else []),
                mounts=Counter([int(a.mount[p])] if a.mount[p] >= 0 else []),
                accs=[float(acc)] if acc == acc else [],
            )
            groups[p] = g
        return g

    for k in order.tolist():
        ri, rj = find(int(i[k])), find(int(j[k]))
        if ri == rj:
            continue
        gi, gj = group(ri), group(rj)
        if (len(gi.members) > 1 or len(gj.members) > 1) and not _groups_agree(gi, gj, params):
            continue
        # Merge the smaller into the larger; the root is the smaller index for determinism.
        root, other = (ri, rj) if ri < rj else (rj, ri)
        g, h = groups[root], groups[other]
        g.members += h.members
        g.reporters |= h.reporters
        g.wsum += h.wsum
        g.x += h.x
        g.y += h.y
        g.z += h.z
        g.dsin += h.dsin
        g.dcos += h.dcos
        g.dn += h.dn
        g.types.update(h.types)
        g.mounts.update(h.mounts)
        g.accs += h.accs
        parent[other] = root
        del groups[other]
    for root, g in groups.items():
        for m in g.members:
            labels[m] = root


def _majority(counter: Counter[int]) -> int:
    if not counter:
        return -1
    return min(counter, key=lambda v: (-counter[v], v))


def _groups_agree(g: _Group, h: _Group, params: Params) -> bool:
    """The matcher's rules between two whole clusters (centres, consensus attributes, reporters)."""
    if g.reporters & h.reporters:
        return False
    dg = math.degrees(math.atan2(g.dsin, g.dcos)) % 360.0 if g.dn else None
    dh = math.degrees(math.atan2(h.dsin, h.dcos)) % 360.0 if h.dn else None
    if dg is not None and dh is not None and angle_between(dg, dh) > params.direction_tolerance:
        return False
    d = math.sqrt(
        (g.x / g.wsum - h.x / h.wsum) ** 2 + (g.y / g.wsum - h.y / h.wsum) ** 2 + (g.z / g.wsum - h.z / h.wsum) ** 2
    )
    acc_g = sorted(g.accs)[len(g.accs) // 2] if g.accs else None
    acc_h = sorted(h.accs)[len(h.accs) // 2] if h.accs else None
    gate = gate_m(acc_g, acc_h, params)
    if d > gate:
        return False
    value = 1.0 - (d / gate) ** 2
    if dg is not None and dh is not None:
        value += params.direction_bonus
    tg, th = _majority(g.types), _majority(h.types)
    if tg >= 0 and th >= 0 and tg != th:
        value -= params.type_penalty
    mg, mh = _majority(g.mounts), _majority(h.mounts)
    if mg >= 0 and mh >= 0 and mg != mh:
        value -= params.mount_penalty
    return value >= params.threshold


def groups_of(labels: Sequence[int]) -> list[list[int]]:
    """Labels to groups of positions, for tests and metrics."""
    by: dict[int, list[int]] = defaultdict(list)
    for pos, label in enumerate(labels):
        by[label].append(pos)
    return sorted(by.values())
