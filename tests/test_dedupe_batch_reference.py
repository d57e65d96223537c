"""Both clusterings make exactly the decisions of a plain sequential loop over every pair.

`cluster` decides merges in vectorised rounds (mapapp/dedupe/batch.py) for regions, and in a
plain loop restating the vectorised arithmetic (mapapp/dedupe/loop.py) for the worker's few
reports. The rules are restated in both for speed, so this test keeps them honest: a
straightforward reference (every pair by brute force, the pair rule `score_at`, then merges in
descending score, each checked between the two whole clusters with `groups_agree`) must give
the same cameras as each of them on dense, messy data.
"""

from __future__ import annotations

import math
from collections import Counter

from geopy.distance import geodesic
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mapapp import dedupe
from mapapp.dedupe import batch, loop, merge_rule


def reference_cluster(reports: list[dedupe.Report], params: dedupe.Params) -> list[int]:
    rs = sorted(reports, key=lambda r: r.id)
    xyz = [tuple(float(v) for v in dedupe.ecef(r.lat, r.lon)) for r in rs]
    edges = []
    for a in range(len(rs)):
        for b in range(a + 1, len(rs)):
            d = math.dist(xyz[a], xyz[b])
            s = dedupe.score_at(d, rs[a], rs[b], params)
            if s is not None and s >= params.threshold:
                edges.append((-s, a, b))
    edges.sort()
    parent = list(range(len(rs)))
    groups: dict[int, merge_rule.Group] = {}

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    def group(p: int) -> merge_rule.Group:
        if p not in groups:
            r = rs[p]
            w = 1.0 / max(r.accuracy_m if r.accuracy_m and r.accuracy_m > 0 else params.default_accuracy_m, 1.0) ** 2
            known_dir = dedupe.known(r.direction)
            groups[p] = merge_rule.Group(
                members=[p],
                reporters={r.reporter},
                wsum=w,
                x=xyz[p][0] * w,
                y=xyz[p][1] * w,
                z=xyz[p][2] * w,
                dsin=math.sin(math.radians(r.direction)) if known_dir else 0.0,
                dcos=math.cos(math.radians(r.direction)) if known_dir else 0.0,
                dn=1 if known_dir else 0,
                types=Counter([codes_t[r.camera_type]] if dedupe.known(r.camera_type) else []),
                mounts=Counter([codes_m[r.camera_mount]] if dedupe.known(r.camera_mount) else []),
                accs=[r.accuracy_m] if r.accuracy_m is not None else [],
            )
        return groups[p]

    codes_t = {v: k for k, v in enumerate(sorted({r.camera_type for r in rs if dedupe.known(r.camera_type)}))}
    codes_m = {v: k for k, v in enumerate(sorted({r.camera_mount for r in rs if dedupe.known(r.camera_mount)}))}
    lists = ([p[0] for p in xyz], [p[1] for p in xyz], [p[2] for p in xyz])
    for _, a, b in edges:
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        ga, gb = group(ra), group(rb)
        if (len(ga.members) > 1 or len(gb.members) > 1) and not merge_rule.groups_agree(ga, gb, params, lists):
            continue
        root, other = min(ra, rb), max(ra, rb)
        groups[root].absorb(groups.pop(other))
        parent[other] = root
    label_of = {rs[m].id: rs[min(g.members)].id for g in groups.values() for m in g.members}
    return [label_of.get(r.id, r.id) for r in reports]


report = st.builds(
    lambda dx, dy, who, acc, direction, ctype, mount: (dx, dy, who, acc, direction, ctype, mount),
    st.floats(0, 80),
    st.floats(0, 80),
    st.integers(1, 6),
    st.one_of(st.none(), st.floats(1, 40)),
    st.one_of(st.none(), st.integers(0, 359)),
    st.sampled_from([None, "fixed", "dome", "panning"]),
    st.sampled_from([None, "wall", "pole"]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(report, min_size=2, max_size=60), st.sampled_from([(47.37, 8.54), (-33.9, 151.2), (64.1, -21.9)]))
def test_the_fast_batch_clustering_equals_the_plain_sequential_loop(rows, origin):
    m_lat, m_lon = dedupe.metres_per_degree(origin[0])
    reports = [
        dedupe.Report(
            id=1000 - n,  # ids in reverse arrival order, so id order is not input order
            lat=origin[0] + dy / m_lat,
            lon=origin[1] + dx / m_lon,
            reporter=who,
            accuracy_m=acc,
            direction=direction,
            camera_type=ctype,
            camera_mount=mount,
        )
        for n, (dx, dy, who, acc, direction, ctype, mount) in enumerate(rows)
    ]

    expected = reference_cluster(reports, dedupe.DEFAULT_PARAMS)

    assert batch.cluster_vectorised(reports) == expected
    assert loop.cluster_loop(reports) == expected


link = st.tuples(
    st.sampled_from([1.0, math.sqrt(0.5)]),  # at the gate, or where a type penalty meets the threshold
    st.floats(-0.002, 0.002),  # metres either side of that limit
    st.integers(1, 4),
    st.sampled_from([None, 4.0, 12.0, 30.0]),
    st.sampled_from([None, "dome", "fixed"]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(link, min_size=2, max_size=14), st.sampled_from([(47.37, 8.54), (-33.9, 151.2)]))
# Found by this test: a pair at the widest gate whose chord is a hair longer than its geodesic
# (the vectorised pair search used to stop exactly at the gate).
@example(
    links=[
        (1.0, 0.0, 1, 12.0, None),
        (1.0, 3.9161985689846815e-05, 1, None, None),
        (1.0, 0.0, 1, 12.0, None),
        (1.0, 0.001953125, 1, None, None),
        (1.0, 0.0, 1, 12.0, None),
        (1.0, 0.00018756742776344882, 1, None, None),
        (math.sqrt(0.5), 0.0, 1, 12.0, None),
        (1.0, 0.0, 2, 30.0, None),
    ],
    origin=(47.37, 8.54),
)
def test_both_clusterings_agree_on_pairs_within_a_millimetre_of_a_limit(links, origin):
    """A chain of reports each about one limit from the last, where a chord-vs-geodesic error could flip it."""
    params = dedupe.DEFAULT_PARAMS
    reports: list[dedupe.Report] = []
    point, previous_acc = origin, None
    for n, (factor, slack, who, acc, ctype) in enumerate(links):
        if reports:
            gate = dedupe.gate_m(previous_acc, acc, params)
            moved = geodesic(meters=gate * factor + slack).destination(point, 90.0)
            point = (moved.latitude, moved.longitude)
        reports.append(
            dedupe.Report(id=n + 1, lat=point[0], lon=point[1], reporter=who, accuracy_m=acc, camera_type=ctype)
        )
        previous_acc = acc

    assert loop.cluster_loop(reports) == batch.cluster_vectorised(reports)
