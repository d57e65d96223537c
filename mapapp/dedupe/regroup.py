"""Regroup: place a new report by re-clustering it with the cameras around it.

Why not just "join the best camera"? Greedy matching in arrival order is order-dependent in
dense places: a report that arrives before its own camera exists joins a neighbour's camera
(anything inside the gate scores), and the same-volunteer rule then pushes its true partner
elsewhere. On the Swiss layout that greedy rule reached pairwise F1 0.77 where the batch
clustering reached 0.82 (bench/bench_dedupe_accuracy.py). So the worker re-runs the batch
clustering (`cluster`) on the new report plus every sighting of the cameras whose centre lies
within the widest gate of it (of those, the ones linked to it: see `regroup`), and keeps camera
ids stable with `assign_ids`. In sparse places that is exactly "join the best camera"; in dense
places it lets new evidence correct an earlier greedy choice. The locked area (lock_keys covers
two gates) contains every camera touched.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass

from .batch import cluster
from .loop import SMALL, PairRule
from .rules import DEFAULT_PARAMS, Params, Report


@dataclass(frozen=True)
class Group:
    camera_id: int | None  # an existing camera it keeps, or None for a new camera
    reports: list[Report]


def assign_ids(held: Sequence[Sequence[int | None]], *, reserved: Set[int] = frozenset()) -> list[int | None]:
    """The old camera id each new group keeps, so that ids (and votes, links) survive regrouping.

    `held[g]` lists the old camera id of each member of group g (None for a member that had no
    camera). Larger groups choose first (ties: lower index, so callers order groups
    deterministically); each takes the old camera holding most of its members (ties: lowest id)
    among those not yet taken or `reserved`. A group that finds none gets None: a new camera.
    """
    order = sorted(range(len(held)), key=lambda g: (-len(held[g]), g))
    taken = set(reserved)
    result: list[int | None] = [None] * len(held)
    for g in order:
        counts = Counter(c for c in held[g] if c is not None and c not in taken)
        if counts:
            camera_id = min(counts, key=lambda c: (-counts[c], c))
            result[g] = camera_id
            taken.add(camera_id)
    return result


def regroup(new: Report, cameras: Mapping[int, Sequence[Report]], params: Params = DEFAULT_PARAMS) -> list[Group]:
    """Cluster `new` with the reports of nearby `cameras` ({camera id: its reports}).

    Returns a group per resulting camera, each with the camera id it keeps (or None for a new
    one), ordered by smallest report id. Cameras that no group keeps have lost all their reports
    to others: the caller retires them.

    Only the reports *linked* to the new one are re-clustered: those reachable from it by pairs
    that score (`loop.PairRule`), closed over cameras (a linked report brings its camera's other
    reports). The rest keep their cameras unchanged. Clustering only ever merges along scoring
    pairs, so a part with no pair to the new report clusters the same with or without it; cutting
    it out changes nothing that the new evidence bears on. It keeps cameras stable (a new sighting
    does not reshuffle unrelated neighbours whose cameras an older rule or a moderator made), and
    it is faster. If the current cameras are the batch clustering of their reports, the result is
    again the batch clustering of all reports plus the new one.
    """
    rule = PairRule([new, *(r for rs in cameras.values() for r in rs)], params)
    rs = rule.rs
    camera_of = {r.id: camera_id for camera_id, reports in cameras.items() for r in reports}
    position_of = {r.id: p for p, r in enumerate(rs)}
    positions_of: dict[int, list[int]] = defaultdict(list)
    for p, r in enumerate(rs):
        if r.id in camera_of:
            positions_of[camera_of[r.id]].append(p)

    start = position_of[new.id]
    linked, affected = {start}, set()
    for q in range(len(rs)):
        camera_id = camera_of.get(rs[q].id)
        if camera_id is not None and camera_id not in affected and rule.score(start, q) is not None:
            affected.add(camera_id)
            linked.update(positions_of[camera_id])

    part = sorted(linked)
    if len(part) <= SMALL:
        root = rule.cluster(part)  # reuses the scores the search computed
        labels = [rs[root[p]].id for p in part]
    else:
        labels = cluster([rs[p] for p in part], params)
    by_label: dict[int, list[Report]] = defaultdict(list)
    for p, label in zip(part, labels, strict=True):
        by_label[label].append(rs[p])
    groups = [sorted(by_label[label], key=lambda r: r.id) for label in sorted(by_label)]
    ids = assign_ids([[camera_of.get(r.id) for r in g] for g in groups])
    result = [Group(camera_id=cid, reports=g) for cid, g in zip(ids, groups, strict=True)]
    result += [
        Group(camera_id=camera_id, reports=sorted(cameras[camera_id], key=lambda r: r.id))
        for camera_id in cameras
        if camera_id not in affected and cameras[camera_id]
    ]
    return sorted(result, key=lambda g: g.reports[0].id)
