"""Incremental replay: the task's rule applied in arrival order, for tests and benchmarks."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence

from .centre import candidate_from
from .regroup import regroup
from .rules import DEFAULT_PARAMS, Candidate, Params, Report, best_match
from .spatial import chord_m, ecef


def replay(reports: Sequence[Report], params: Params = DEFAULT_PARAMS, *, greedy: bool = False) -> list[int]:
    """Process reports one by one as the worker does; return a camera label per report.

    By default this is the worker's rule (`regroup`: re-cluster the new report with the cameras
    whose centre is within the widest gate). `greedy=True` is the simpler rule it replaced (join
    the best-scoring camera, `best_match`), kept so the benchmark can show the difference. An
    in-memory grid stands in for the database's bbox query. Labels are the smallest report id of
    each final camera, so they do not depend on the order cameras were founded.
    """
    cell = params.max_gate_m * 2.0 + 2.0
    reach = params.max_gate_m + 1.0
    grid: dict[tuple[int, int, int], set[int]] = defaultdict(set)
    members: dict[int, list[Report]] = {}
    candidates: dict[int, Candidate] = {}
    where: dict[int, tuple[int, int, int]] = {}
    next_id = 0

    def place(camera_id: int, group: list[Report]) -> None:
        if camera_id in where:
            grid[where[camera_id]].discard(camera_id)
        members[camera_id] = group
        candidates[camera_id] = candidate_from(camera_id, group, params)
        where[camera_id] = _cell(candidates[camera_id].lat, candidates[camera_id].lon, cell)
        grid[where[camera_id]].add(camera_id)

    def retire(camera_id: int) -> None:
        grid[where.pop(camera_id)].discard(camera_id)
        del members[camera_id], candidates[camera_id]

    for report in reports:
        key = _cell(report.lat, report.lon, cell)
        nearby = sorted(
            cid
            for k in _neighbours(key)
            for cid in grid.get(k, ())
            if chord_m(report.lat, report.lon, candidates[cid].lat, candidates[cid].lon) <= reach
        )
        if greedy:
            match = best_match(report, [candidates[cid] for cid in nearby], params)
            if match is None:
                place(next_id, [report])
                next_id += 1
            else:
                place(match.camera_id, [*members[match.camera_id], report])
            continue
        if not nearby:
            place(next_id, [report])
            next_id += 1
            continue
        groups = regroup(report, {cid: members[cid] for cid in nearby}, params)
        kept = {g.camera_id for g in groups if g.camera_id is not None}
        for cid in nearby:
            if cid not in kept:
                retire(cid)
        for group in groups:
            if group.camera_id is None:
                place(next_id, group.reports)
                next_id += 1
            else:
                place(group.camera_id, group.reports)

    label_of = {r.id: min(m.id for m in group) for group in members.values() for r in group}
    return [label_of[r.id] for r in reports]


def _cell(lat: float, lon: float, cell: float) -> tuple[int, int, int]:
    x, y, z = ecef(lat, lon)
    return math.floor(x / cell), math.floor(y / cell), math.floor(z / cell)


def _neighbours(key: tuple[int, int, int]) -> Iterable[tuple[int, int, int]]:
    kx, ky, kz = key
    return ((kx + dx, ky + dy, kz + dz) for dx in (-1, 0, 1) for dy in (-1, 0, 1) for dz in (-1, 0, 1))
