"""Batch clustering of many reports by the matcher's rules: grid pairs, vectorised scores, agglomeration."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import geo
from .rules import DEFAULT_PARAMS, Params, Report, angle_between, gate_m, known
from .spatial import candidate_pairs, ecef


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
    """Constrained agglomeration: merge along pairs in descending score if whole clusters agree.

    This loop is the one part of `cluster` that is plain Python, so it works on Python lists
    (numpy scalars are several times slower to index and compute with) and a list-based
    union-find.
    """
    order = np.lexsort((j, i, -s))
    ei, ej = i[order].tolist(), j[order].tolist()
    xs, ys, zs = a.xyz[:, 0].tolist(), a.xyz[:, 1].tolist(), a.xyz[:, 2].tolist()
    accs, dirs = a.acc.tolist(), a.direction.tolist()
    ctypes, mounts, reporters = a.ctype.tolist(), a.mount.tolist(), a.reporter.tolist()
    xyz = (xs, ys, zs)
    parent = list(range(len(xs)))
    groups: dict[int, _Group] = {}

    def find(x: int) -> int:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def group(p: int) -> _Group:
        g = groups.get(p)
        if g is None:
            acc = accs[p]
            w = 1.0 / max(acc if acc == acc and acc > 0 else params.default_accuracy_m, 1.0) ** 2
            dirn = dirs[p]
            known_dir = dirn == dirn
            g = _Group(
                members=[p],
                reporters={reporters[p]},
                wsum=w,
                x=xs[p] * w,
                y=ys[p] * w,
                z=zs[p] * w,
                dsin=math.sin(math.radians(dirn)) if known_dir else 0.0,
                dcos=math.cos(math.radians(dirn)) if known_dir else 0.0,
                dn=1 if known_dir else 0,
                types=Counter({ctypes[p]: 1}) if ctypes[p] >= 0 else Counter(),
                mounts=Counter({mounts[p]: 1}) if mounts[p] >= 0 else Counter(),
                accs=[acc] if acc == acc else [],
            )
            groups[p] = g
        return g

    for ri, rj in zip(ei, ej, strict=True):
        ri, rj = find(ri), find(rj)
        if ri == rj:
            continue
        gi, gj = group(ri), group(rj)
        if (len(gi.members) > 1 or len(gj.members) > 1) and not _groups_agree(gi, gj, params, xyz):
            continue
        # The root is the smaller index (it labels the camera); the smaller group's members are
        # copied into the larger's lists, never the other way, so merging stays linear.
        root, other = (ri, rj) if ri < rj else (rj, ri)
        g, h = groups[root], groups[other]
        if len(g.members) < len(h.members):
            g.members, h.members = h.members, g.members
            g.reporters, h.reporters = h.reporters, g.reporters
            g.types, h.types = h.types, g.types
            g.mounts, h.mounts = h.mounts, g.mounts
            g.accs, h.accs = h.accs, g.accs
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


def _groups_agree(g: _Group, h: _Group, params: Params, xyz: tuple[list[float], list[float], list[float]]) -> bool:
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
