"""The rule for merging two clusters of reports, shared by both clustering implementations.

`batch.cluster` (vectorised, for regions) and `loop.cluster_loop` (a plain loop, for the worker's
few reports) both merge report pairs in descending score; when either side is already a cluster,
this rule decides, on the two clusters as wholes. Keeping it in one place is what makes the two
implementations give the same cameras (tests/test_dedupe_batch_reference.py).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from .rules import Params, angle_between, gate_m


@dataclass
class Group:
    """A cluster as the rule reads it: accuracy-weighted ECEF sums, direction sums, attribute counts.

    `members` are positions in id order; types and mounts are counted as codes (their index among
    the sorted known values), so a tied majority goes to the same value in both implementations.
    """

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

    def absorb(self, other: Group) -> None:
        self.members += other.members
        self.reporters |= other.reporters
        self.wsum += other.wsum
        self.x, self.y, self.z = self.x + other.x, self.y + other.y, self.z + other.z
        self.dsin, self.dcos, self.dn = self.dsin + other.dsin, self.dcos + other.dcos, self.dn + other.dn
        self.types.update(other.types)
        self.mounts.update(other.mounts)
        self.accs += other.accs


def majority(counter: Counter[int]) -> int:
    """The most frequent code, ties to the smallest; -1 when nothing is known."""
    if not counter:
        return -1
    return min(counter, key=lambda v: (-counter[v], v))


def groups_agree(g: Group, h: Group, params: Params, xyz: tuple[list[float], list[float], list[float]]) -> bool:
    """The matcher's rules between two whole clusters (centres, consensus attributes, reporters).

    One more rule than between two reports: every report of the merged cluster must lie within
    the gate of its new centre. Without it, clusters could chain along a busy street, each merge
    within the gate of a centre that keeps moving, into one "camera" a block long.
    """
    if g.reporters & h.reporters:
        return False
    dg = math.degrees(math.atan2(g.dsin, g.dcos)) % 360.0 if g.dn else None
    dh = math.degrees(math.atan2(h.dsin, h.dcos)) % 360.0 if h.dn else None
    if dg is not None and dh is not None and angle_between(dg, dh) > params.direction_tolerance:
        return False
    gx, gy, gz = g.x / g.wsum, g.y / g.wsum, g.z / g.wsum
    hx, hy, hz = h.x / h.wsum, h.y / h.wsum, h.z / h.wsum
    d = math.sqrt((gx - hx) ** 2 + (gy - hy) ** 2 + (gz - hz) ** 2)
    acc_g = sorted(g.accs)[len(g.accs) // 2] if g.accs else None
    acc_h = sorted(h.accs)[len(h.accs) // 2] if h.accs else None
    gate = gate_m(acc_g, acc_h, params)
    if d > gate:
        return False
    w = g.wsum + h.wsum
    cx, cy, cz = (g.x + h.x) / w, (g.y + h.y) / w, (g.z + h.z) / w
    limit = gate * gate
    xs, ys, zs = xyz
    for m in (*g.members, *h.members):
        if (xs[m] - cx) ** 2 + (ys[m] - cy) ** 2 + (zs[m] - cz) ** 2 > limit:
            return False
    value = 1.0 - (d / gate) ** 2
    if dg is not None and dh is not None:
        value += params.direction_bonus
    tg, th = majority(g.types), majority(h.types)
    if tg >= 0 and th >= 0 and tg != th:
        value -= params.type_penalty
    mg, mh = majority(g.mounts), majority(h.mounts)
    if mg >= 0 and mh >= 0 and mg != mh:
        value -= params.mount_penalty
    return value >= params.threshold
