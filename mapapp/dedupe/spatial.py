"""Geometry on the WGS-84 ellipsoid for dedupe: ECEF coordinates, the 3-D grid, lock keys, bboxes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_A = 6378137.0
_F = 1 / 298.257223563
_E2 = _F * (2 - _F)


def metres_per_degree(lat: float) -> tuple[float, float]:
    """Metres per degree of latitude and of longitude at a latitude, on the WGS-84 ellipsoid."""
    phi = math.radians(lat)
    s = math.sin(phi)
    w = math.sqrt(1.0 - _E2 * s * s)
    meridian = _A * (1.0 - _E2) / (w**3)  # radius of curvature in the meridian
    prime = _A / w  # in the prime vertical
    return math.radians(1.0) * meridian, math.radians(1.0) * prime * math.cos(phi)


def ecef(lat: Any, lon: Any) -> Any:
    """Earth-centred coordinates in metres on the WGS-84 ellipsoid; scalars or numpy arrays."""
    phi = np.radians(lat)
    lam = np.radians(lon)
    s = np.sin(phi)
    n = _A / np.sqrt(1.0 - _E2 * s * s)
    return n * np.cos(phi) * np.cos(lam), n * np.cos(phi) * np.sin(lam), n * (1.0 - _E2) * s


def chord_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    x1, y1, z1 = ecef(lat1, lon1)
    x2, y2, z2 = ecef(lat2, lon2)
    return float(math.sqrt((x1 - x2) ** 2 + (y1 - y2) ** 2 + (z1 - z2) ** 2))


# Advisory-lock keys: 18 bits per axis (cells of >= 50 m cover Earth's ±6,400 km in ±2^17), under
# a fixed namespace in the high bits so other users of advisory locks never collide with us.
_LOCK_BITS = 18
_LOCK_OFFSET = 1 << (_LOCK_BITS - 1)
_LOCK_NAMESPACE = 0x3C << (3 * _LOCK_BITS)


def lock_cell_m(reach_m: float) -> float:
    return max(2.0 * reach_m, 50.0)


def lock_keys(lat: float, lon: float, reach_m: float) -> list[int]:
    """Sorted advisory-lock keys of every grid cell the sighting's gate-ball touches (1-8 cells)."""
    cell = lock_cell_m(reach_m)
    reach = reach_m
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
    m_lat, m_lon = metres_per_degree(lat)
    dlat = reach_m / m_lat
    if abs(lat) + dlat >= 89.9 or m_lon < 1e-6:
        return None
    dlon = reach_m / metres_per_degree(min(89.9, abs(lat) + dlat))[1]
    if lon - dlon < -180.0 or lon + dlon > 180.0:
        return None
    return lon - dlon, lat - dlat, lon + dlon, lat + dlat


_KEY_BITS = 21
_KEY_OFFSET = 1 << (_KEY_BITS - 1)
_MIN_CELL_M = 8.0
# Half of the 26 neighbour offsets (plus the cell itself, handled separately): each unordered
# pair of cells is visited once.
_HALF_OFFSETS = [
    (dx, dy, dz) for dx in (-1, 0, 1) for dy in (-1, 0, 1) for dz in (-1, 0, 1) if (dx, dy, dz) > (0, 0, 0)
]


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
    # Cells of at least 8 m: 21 bits per axis hold Earth's ±6,378 km only in cells over 6.1 m.
    # Larger cells than the reach are still correct (pairs are then filtered by distance).
    k = np.floor(xyz / max(reach_m, _MIN_CELL_M)).astype(np.int64) + _KEY_OFFSET
    keys = (k[:, 0] << (2 * _KEY_BITS)) | (k[:, 1] << _KEY_BITS) | k[:, 2]
    order = np.argsort(keys, kind="stable")
    skeys = keys[order]
    starts = np.flatnonzero(np.r_[True, skeys[1:] != skeys[:-1]])  # the first point of each cell
    ucells, counts = skeys[starts], np.diff(np.r_[starts, n])
    # Speed: everything below works on positions in cell order, with one contiguous array per
    # axis, so a cell pair's candidates read neighbouring memory; and each batch of candidates is
    # cut to the pairs within reach at once (about a third in a city), so the full candidate
    # list (three times the answer) never exists. Positions fit in int32 for any realistic N,
    # which halves the memory traffic of the index arrays.
    index = np.int32 if n < 2**31 else np.int64
    starts, counts = starts.astype(index), counts.astype(index)
    sx, sy, sz = (np.ascontiguousarray(xyz[order, axis], dtype=np.float64) for axis in range(3))
    out_i: list[np.ndarray] = []
    out_j: list[np.ndarray] = []
    out_d: list[np.ndarray] = []

    def keep_within_reach(points: np.ndarray, per_point: np.ndarray, pj: np.ndarray) -> None:
        """Candidates (points[r], pj[k]) for k in the r-th run of `per_point` lengths: keep those within reach."""
        # Each point's own coordinates are read once and repeated (cheaper than gathering them
        # per candidate); arithmetic is in place. (dx² + dy²) + dz², dx = x_j - x_i, is bit for
        # bit sqrt(((xyz[i] - xyz[j]) ** 2).sum(axis=1)).
        d2 = sx[pj]
        d2 -= sx[points].repeat(per_point)
        d2 *= d2
        for axis in (sy, sz):
            delta = axis[pj]
            delta -= axis[points].repeat(per_point)
            delta *= delta
            d2 += delta
        d = np.sqrt(d2, out=d2)
        near = np.flatnonzero(d <= reach_m)
        out_i.append(points.repeat(per_point)[near])
        out_j.append(pj[near])
        out_d.append(d[near])

    # Same cell: each point with the points after it in its cell.
    multi = np.flatnonzero(counts > 1)
    if len(multi):
        points = _ranges(counts[multi], starts[multi])  # the points of cells with two or more
        later = (starts[multi] + counts[multi]).repeat(counts[multi]) - 1 - points
        keep_within_reach(points, later, points.repeat(later) + 1 + _ranges(later))

    for dx, dy, dz in _HALF_OFFSETS:
        delta = (dx << (2 * _KEY_BITS)) + (dy << _KEY_BITS) + dz
        target = ucells + delta
        hit = np.minimum(np.searchsorted(ucells, target), len(ucells) - 1)
        cells = np.flatnonzero(ucells[hit] == target)  # cells whose neighbour at this offset has points
        if not len(cells):
            continue
        nb = hit[cells]
        per_point = counts[nb].repeat(counts[cells])
        keep_within_reach(
            _ranges(counts[cells], starts[cells]), per_point, _ranges(per_point, starts[nb].repeat(counts[cells]))
        )

    si = np.concatenate(out_i) if out_i else empty
    sj = np.concatenate(out_j) if out_j else empty
    d = np.concatenate(out_d) if out_d else np.zeros(0)
    i, j = order[si], order[sj]
    swap = i > j
    i, j = np.where(swap, j, i), np.where(swap, i, j)
    return i, j, d


def _ranges(counts: np.ndarray, starts: np.ndarray | None = None) -> np.ndarray:
    """Concatenated aranges [s0, s0 + c0), [s1, s1 + c1), ... (s = 0 by default), without a Python loop."""
    total = int(counts.sum(dtype=np.int64))
    dtype = counts.dtype if starts is None else np.result_type(counts, starts)
    if total >= 2**31:
        dtype = np.int64
    if total == 0:
        return np.zeros(0, dtype=dtype)
    # Element k of run r is k - (first position of run r) + s_r: one repeat instead of one per term.
    shift = np.cumsum(counts, dtype=np.int64) - counts
    if starts is not None:
        shift = shift - starts
    return np.arange(total, dtype=dtype) - shift.astype(dtype).repeat(counts)
