"""The matching rules: hard rules, the score, and picking the best camera (see the package docstring)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .. import geo
from .spatial import chord_m

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
        if chord_m(report.lat, report.lon, camera.lat, camera.lon) > params.max_gate_m + 1.0:
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
