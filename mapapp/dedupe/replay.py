"""Incremental replay: the task's rule applied in arrival order, for tests and benchmarks."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence

from .centre import candidate_from
from .rules import DEFAULT_PARAMS, Candidate, Params, Report, best_match
from .spatial import ecef


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
