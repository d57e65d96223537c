"""The batch clustering as a plain loop: the same decisions as `batch.cluster`, for a few reports.

The worker regroups one new sighting with the cameras around it: usually a handful of reports,
rarely more than a few dozen. numpy's per-call cost dominates at that size (`batch.cluster` of
four reports takes about a millisecond, a third of the task's budget), while this loop over every
pair takes tens of microseconds. `batch.cluster` hands inputs of up to `SMALL` reports here.

The two must agree exactly, so this loop restates the vectorised arithmetic operation for
operation, not `rules.score_at`'s (which is equal in value but not always in the last bit):
  - chord distances in ECEF as `((dx² + dy²) + dz²) ** 0.5` from the same `ecef` coordinates;
  - pairs whose decision a 1 mm error could flip re-measured with geopy's geodesic
    (`batch._settle_borderline`);
  - merges in descending score, ties by the two reports' positions in id order;
  - two clusters merge only if `merge_rule.groups_agree`, the one rule both implementations share.
tests/test_dedupe_batch_reference.py checks the agreement on dense, messy random data.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from .. import geo
from .merge_rule import Group, groups_agree
from .rules import DEFAULT_PARAMS, Params, Report, known
from .spatial import ecef

# Up to this many reports `batch.cluster` uses the loop: its pairs grow as n², numpy's fixed cost
# does not; they break even at about 60 reports on this machine (bench/README.md).
SMALL = 48


def _widening(acc: float | None, params: Params) -> float:
    """A report's gate widening, as numpy computes it: unknown (None, NaN) counts as 0."""
    if acc is None or acc != acc:
        return 0.0
    return min(max(acc, 0.0), params.accuracy_cap_m)


def _pair_score(d: float, a: _Known, b: _Known, gate: float, params: Params) -> float | None:
    """`batch._scores` for one pair (None where a hard rule forbids it)."""
    if d > gate:
        return None
    s = 1.0 - (d / gate) * (d / gate)
    if a.direction is not None and b.direction is not None:
        if abs((a.direction - b.direction + 180.0) % 360.0 - 180.0) > params.direction_tolerance:
            return None
        s += params.direction_bonus
    if a.camera_type is not None and b.camera_type is not None and a.camera_type != b.camera_type:
        s -= params.type_penalty
    if a.camera_mount is not None and b.camera_mount is not None and a.camera_mount != b.camera_mount:
        s -= params.mount_penalty
    return s


class _Known:
    """A report's attributes with unknown values as None, worked out once (not once per pair)."""

    __slots__ = ("camera_mount", "camera_type", "direction")

    def __init__(self, r: Report) -> None:
        self.direction = float(r.direction) if known(r.direction) else None
        self.camera_type = r.camera_type if known(r.camera_type) else None
        self.camera_mount = r.camera_mount if known(r.camera_mount) else None


def _borderline(d: float, s: float | None, gate: float, params: Params) -> bool:
    """True when a 1 mm error in `d` could change the pair's decision (batch._settle_borderline)."""
    if abs(d - gate) < 1e-3:
        return True
    if s is None:
        return False
    rest = s - (1.0 - (d / gate) * (d / gate))  # bonus minus penalties
    crit = gate * math.sqrt(max(1.0 + rest - params.threshold, 0.0))
    return abs(d - min(crit, gate)) < 1e-3


class PairRule:
    """The pair rule over reports in id order (positions 0..n-1), with the vectorised arithmetic.

    Scores are memoised, so `regroup` can search the reports linked to a new one and then cluster
    them without scoring a pair twice.
    """

    def __init__(self, reports: Sequence[Report], params: Params) -> None:
        self.rs = sorted(reports, key=lambda r: r.id)  # stable, as batch's argsort
        self.params = params
        lat = np.array([r.lat for r in self.rs], dtype=np.float64)
        lon = np.array([r.lon for r in self.rs], dtype=np.float64)
        self.xyz = tuple(axis.tolist() for axis in ecef(lat, lon))
        self.widening = [_widening(r.accuracy_m, params) for r in self.rs]
        self.reporter = [r.reporter for r in self.rs]
        self.known = [_Known(r) for r in self.rs]
        self._memo: dict[tuple[int, int], float | None] = {}

    def score(self, p: int, q: int) -> float | None:
        """The pair's score if it reaches the threshold, else None (either order of p and q)."""
        if p > q:
            p, q = q, p
        key = (p, q)
        if key not in self._memo:
            self._memo[key] = self._score(p, q)
        return self._memo[key]

    def _score(self, p: int, q: int) -> float | None:
        if self.reporter[p] == self.reporter[q]:
            return None
        params = self.params
        gate = params.radius_m + max(self.widening[p], self.widening[q])
        xs, ys, zs = self.xyz
        dx, dy, dz = xs[q] - xs[p], ys[q] - ys[p], zs[q] - zs[p]
        d = math.sqrt((dx * dx + dy * dy) + dz * dz)
        if not d < gate + 2e-3:
            return None
        a, b = self.known[p], self.known[q]
        s = _pair_score(d, a, b, gate, params)
        if _borderline(d, s, gate, params):
            ra, rb = self.rs[p], self.rs[q]
            d = geo.distance_m((ra.lat, ra.lon), (rb.lat, rb.lon))
            s = _pair_score(d, a, b, gate, params)
        return s if s is not None and s >= params.threshold else None

    def cluster(self, positions: Sequence[int]) -> dict[int, int]:
        """Cluster the reports at `positions` (ascending); each position's cluster root position.

        The root is the cluster's smallest position, i.e. its smallest report id.
        """
        rs, params = self.rs, self.params
        edges: list[tuple[float, int, int]] = []
        for k, p in enumerate(positions):
            for q in positions[k + 1 :]:
                s = self.score(p, q)
                if s is not None:
                    edges.append((-s, p, q))
        edges.sort()

        # Type and mount codes: their order among the known values, as batch numbers them.
        types = {v: k for k, v in enumerate(sorted({rs[p].camera_type for p in positions if known(rs[p].camera_type)}))}
        mounts = {
            v: k for k, v in enumerate(sorted({rs[p].camera_mount for p in positions if known(rs[p].camera_mount)}))
        }
        parent = {p: p for p in positions}
        groups: dict[int, Group] = {}
        xyz = self.xyz

        def find(x: int) -> int:
            while parent[x] != x:
                x = parent[x]
            return x

        def group(p: int) -> Group:
            if p not in groups:
                groups[p] = _single(p, rs[p], (xyz[0][p], xyz[1][p], xyz[2][p]), types, mounts, params)
            return groups[p]

        for _, p, q in edges:
            rp, rq = find(p), find(q)
            if rp == rq:
                continue
            gp, gq = group(rp), group(rq)
            if (len(gp.members) > 1 or len(gq.members) > 1) and not groups_agree(gp, gq, params, xyz):
                continue
            root, other = min(rp, rq), max(rp, rq)
            groups[root].absorb(groups.pop(other))
            parent[other] = root
        return {p: find(p) for p in positions}


def cluster_loop(reports: Sequence[Report], params: Params = DEFAULT_PARAMS) -> list[int]:
    """`batch.cluster` for a few reports: a label per report (the smallest report id of its camera)."""
    if not reports:
        return []
    rule = PairRule(reports, params)
    root = rule.cluster(range(len(reports)))
    # By id, built in id order: with repeated ids the last one's label wins, as in batch.
    by_id = {r.id: rule.rs[root[p]].id for p, r in enumerate(rule.rs)}
    return [by_id[r.id] for r in reports]


def _single(
    p: int,
    r: Report,
    xyz: tuple[float, float, float],
    types: dict[str, int],
    mounts: dict[str, int],
    params: Params,
) -> Group:
    acc = r.accuracy_m
    w = 1.0 / max(acc if acc is not None and acc == acc and acc > 0 else params.default_accuracy_m, 1.0) ** 2
    has_dir = known(r.direction)
    return Group(
        members=[p],
        reporters={r.reporter},
        wsum=w,
        x=xyz[0] * w,
        y=xyz[1] * w,
        z=xyz[2] * w,
        dsin=math.sin(math.radians(r.direction)) if has_dir else 0.0,
        dcos=math.cos(math.radians(r.direction)) if has_dir else 0.0,
        dn=1 if has_dir else 0,
        types=Counter([types[r.camera_type]] if known(r.camera_type) else []),
        mounts=Counter([mounts[r.camera_mount]] if known(r.camera_mount) else []),
        accs=[acc] if acc is not None and acc == acc else [],
    )
