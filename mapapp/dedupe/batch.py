"""Batch clustering of many reports by the matcher's rules: grid pairs, vectorised scores, agglomeration.

Every step works on numpy arrays, so a million reports cluster in seconds (bench/bench_dedupe_batch.py).
The agglomeration is by nature a loop (merge pairs in descending score, each decision depending on the
merges before it); it runs as rounds of vectorised work that make exactly the loop's decisions, see
`_agglomerate` and `_Round`. Wherever numpy's float arithmetic could differ from the loop's Python
arithmetic in the last bit, decisions that close to a limit are made by the loop's own code.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import numpy as np

from .. import geo
from .loop import SMALL, cluster_loop
from .merge_rule import Group, groups_agree
from .rules import DEFAULT_PARAMS, Params, Report, known
from .spatial import _KEY_BITS, _KEY_OFFSET, candidate_pairs, ecef


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
    return _arrays_and_order(reports)[0]


def _arrays_and_order(reports: Sequence[Report]) -> tuple[_Arrays, np.ndarray]:
    """The reports as columns ordered by id, and the input position of each row.

    Speed: each field is read with one C-level pass (`attrgetter`) in input order, and the rows are
    put in id order by a numpy gather afterwards (a stable argsort, as `sorted` by id is stable).
    """
    n = len(reports)

    def column(name: str) -> list[Any]:
        return list(map(attrgetter(name), reports))

    ids = np.array(column("id"), dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    lat = np.array(column("lat"), dtype=np.float64)[order]
    lon = np.array(column("lon"), dtype=np.float64)[order]
    ctype, type_names = _codes(column("camera_type"))
    mount, mount_names = _codes(column("camera_mount"))
    a = _Arrays(
        ids=ids[order],
        lat=lat,
        lon=lon,
        xyz=np.column_stack(ecef(lat, lon)) if n else np.zeros((0, 3)),
        reporter=np.array(column("reporter"), dtype=np.int64)[order],
        # numpy reads None as NaN when it makes a float array.
        acc=np.array(column("accuracy_m"), dtype=np.float64)[order],
        direction=_known_floats(column("direction"))[order],
        ctype=ctype[order],
        mount=mount[order],
        type_names=type_names,
        mount_names=mount_names,
    )
    return a, order


def _known_floats(values: list[Any]) -> np.ndarray:
    """float(v) for known values, NaN for unknown ones (None, "", "unknown", NaN)."""
    if {type(v) for v in values} <= {type(None), float, int}:
        return np.array(values, dtype=np.float64)  # the common case: None becomes NaN
    return np.array([float(v) if known(v) else np.nan for v in values], dtype=np.float64)


def _codes(values: list[Any]) -> tuple[np.ndarray, list[str]]:
    """An int code per value (its index among the sorted known values), -1 when unknown."""
    distinct = set(values)
    names = sorted(v for v in distinct if known(v))
    code = dict.fromkeys(distinct, -1)
    code.update({v: k for k, v in enumerate(names)})
    return np.fromiter(map(code.__getitem__, values), dtype=np.int32, count=len(values)), names


def _pair_gates(a: _Arrays, i: np.ndarray, j: np.ndarray, params: Params) -> np.ndarray:
    """radius + the larger stated accuracy of the two (NaN as 0), at least 0 and at most the cap.

    Clipping is monotone, so clipping each report's accuracy first (n values, not 2 per pair)
    gives the same numbers as clipping the larger of the two."""
    widening = np.minimum(np.fmax(a.acc, 0.0), params.accuracy_cap_m)  # NaN (unknown) becomes 0
    return params.radius_m + np.maximum(widening[i], widening[j])


def pair_scores(a: _Arrays, i: np.ndarray, j: np.ndarray, d: np.ndarray, params: Params) -> np.ndarray:
    """Vectorised `score_at` for report pairs; NaN where a hard rule forbids the pair."""
    return _scores(a, i, j, d, _pair_gates(a, i, j, params), params)


def _scores(a: _Arrays, i: np.ndarray, j: np.ndarray, d: np.ndarray, gate: np.ndarray, params: Params) -> np.ndarray:
    ok = (a.reporter[i] != a.reporter[j]) & (d <= gate)
    s = 1.0 - (d / gate) ** 2
    # Each term is added in place only where it applies (s is never -0.0, so adding 0.0
    # elsewhere would change nothing), and the direction difference is only computed for the
    # pairs where both directions are known.
    dir_i, dir_j = a.direction[i], a.direction[j]
    both_dir = np.flatnonzero(~np.isnan(dir_i) & ~np.isnan(dir_j))
    diff = np.abs((dir_i[both_dir] - dir_j[both_dir] + 180.0) % 360.0 - 180.0)
    ok[both_dir[diff > params.direction_tolerance]] = False
    s[both_dir] += params.direction_bonus
    for codes, penalty in ((a.ctype, params.type_penalty), (a.mount, params.mount_penalty)):
        ci, cj = codes[i], codes[j]
        np.subtract(s, penalty, out=s, where=(ci >= 0) & (cj >= 0) & (ci != cj))
    s[~ok] = np.nan
    return s


def cluster(reports: Sequence[Report], params: Params = DEFAULT_PARAMS) -> list[int]:
    """Group reports into cameras; a label per report (the smallest report id of its camera).

    Deterministic and independent of input order: reports are canonicalised by id, and pairs
    merge in descending score, ties broken by the ids. A few reports (the worker's regroup) go
    through the plain loop, which makes the same decisions without numpy's per-call cost.
    """
    if len(reports) <= SMALL:
        return cluster_loop(reports, params)
    return cluster_vectorised(reports, params)


def cluster_vectorised(reports: Sequence[Report], params: Params = DEFAULT_PARAMS) -> list[int]:
    """`cluster` on numpy arrays: grid pairs, vectorised scores, agglomeration in rounds."""
    if not reports:
        return []
    a, order = _arrays_and_order(reports)

    # Pairs are found and scored with the reports renumbered in grid order, so that the look-ups
    # of a pair's two reports read nearby memory (several times faster than random access at a
    # million reports). A pair's score does not depend on the numbering; the merge order, which
    # breaks ties by index, uses the id order again below.
    grid = _grid_order(a.xyz, params.max_gate_m)
    g = _rows(a, grid)
    # 2 mm past the widest gate: a pair whose chord is a hair over the gate can still be inside
    # it by the geodesic, which `_settle_borderline` measures for pairs that close.
    i, j, d = candidate_pairs(g.xyz, params.max_gate_m + 2e-3)
    # A pair by one volunteer, or more than a millimetre beyond its gate, never scores, not even
    # after `_settle_borderline` measures it again (it only re-measures pairs within 1 mm of a
    # limit): drop those first (a third of the pairs in a city), 2 mm to be safe from rounding.
    gate = _pair_gates(g, i, j, params)
    hopeful = np.flatnonzero((g.reporter[i] != g.reporter[j]) & (d < gate + 2e-3))
    i, j, d, gate = i[hopeful], j[hopeful], d[hopeful], gate[hopeful]
    s = _scores(g, i, j, d, gate, params)  # `pair_scores`, with the gates already at hand
    _settle_borderline(g, i, j, d, s, params, gate)
    keep = np.flatnonzero(s >= params.threshold)  # NaN (a hard rule) compares False
    i, j, s = grid[i[keep]], grid[j[keep]], s[keep]
    i, j = np.minimum(i, j), np.maximum(i, j)

    by_index = a.ids[_agglomerate(a, i, j, s, params)]
    if len(a.ids) > 1 and (a.ids[1:] == a.ids[:-1]).any():  # repeated ids: the last one's label wins
        out_by_id = dict(zip(a.ids.tolist(), by_index.tolist(), strict=True))
        return [out_by_id[r.id] for r in reports]
    out = np.empty_like(by_index)
    out[order] = by_index
    return out.tolist()


def _grid_order(xyz: np.ndarray, cell_m: float) -> np.ndarray:
    """Indices sorted by the `candidate_pairs` grid cell they fall in (for memory locality only)."""
    k = np.floor(xyz / cell_m).astype(np.int64) + _KEY_OFFSET
    return np.argsort((k[:, 0] << (2 * _KEY_BITS)) | (k[:, 1] << _KEY_BITS) | k[:, 2])  # any order within a cell


def _rows(a: _Arrays, rows: np.ndarray) -> _Arrays:
    return _Arrays(
        ids=a.ids[rows],
        lat=a.lat[rows],
        lon=a.lon[rows],
        xyz=a.xyz[rows],
        reporter=a.reporter[rows],
        acc=a.acc[rows],
        direction=a.direction[rows],
        ctype=a.ctype[rows],
        mount=a.mount[rows],
        type_names=a.type_names,
        mount_names=a.mount_names,
    )


def _settle_borderline(
    a: _Arrays,
    i: np.ndarray,
    j: np.ndarray,
    d: np.ndarray,
    s: np.ndarray,
    params: Params,
    gate: np.ndarray | None = None,
) -> None:
    """Re-score with geopy's geodesic the pairs whose decision a 1 mm distance error could flip."""
    if gate is None:
        gate = _pair_gates(a, i, j, params)
    # The distance at which the pair's score would equal the threshold (or reach the gate).
    rest = s - (1.0 - (d / gate) ** 2)  # bonus minus penalties
    crit = gate * np.sqrt(np.clip(1.0 + rest - params.threshold, 0.0, None))
    close = np.flatnonzero((np.abs(d - np.minimum(crit, gate)) < 1e-3) | (np.abs(d - gate) < 1e-3))
    if len(close):
        # Each pair's re-score depends on that pair alone, so they are re-scored in one call.
        ri, rj = i[close].tolist(), j[close].tolist()
        d[close] = [geo.distance_m((a.lat[p], a.lon[p]), (a.lat[q], a.lon[q])) for p, q in zip(ri, rj, strict=True)]
        s[close] = pair_scores(a, i[close], j[close], d[close], params)


def _descending(s: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """The order of `np.lexsort((j, i, -s))` (descending score, ties by i then j), faster.

    numpy sorts plain 64-bit integers several times faster than it argsorts, so each pair gets
    one integer: the leading bits of its score's order-preserving bit pattern, then its position.
    Sorting those orders the pairs by score except within runs whose leading bits are equal
    (equal scores, or scores within about 1e-9 of each other): those runs, rare, are then put in
    exact (-s, i, j) order in place.
    """
    count = len(s)
    if count < 2:
        return np.arange(count)
    index_bits = (count - 1).bit_length()
    if index_bits > 40:  # too many pairs to leave enough score bits: the plain way
        return np.lexsort((j, i, -s))
    neg = -s + 0.0  # + 0.0: -0.0 becomes 0.0, as it compares equal
    bits = neg.view(np.uint64)
    flip = np.where(bits >> np.uint64(63), ~np.uint64(0), np.uint64(1) << np.uint64(63))
    score_key = (bits ^ flip) >> np.uint64(index_bits)  # ascending with neg, leading bits only
    packed = np.sort((score_key << np.uint64(index_bits)) | np.arange(count, dtype=np.uint64))
    order = (packed & np.uint64((1 << index_bits) - 1)).astype(np.int64)
    lead = packed >> np.uint64(index_bits)
    tied = np.zeros(count, dtype=bool)  # every position in a run of equal leading bits
    tied[1:] = lead[1:] == lead[:-1]
    tied[:-1] |= tied[1:]
    at = np.flatnonzero(tied)
    if len(at) > count // 4:  # many equal scores (rounded input): the plain way is faster
        return np.lexsort((j, i, -s))
    sub = order[at]
    order[at] = sub[np.lexsort((j[sub], i[sub], neg[sub]))]
    return order


# --- Agglomeration -----------------------------------------------------------------------------

_NEVER = np.iinfo(np.int64).max
# Rounds: a window grows (up to _MAX_WINDOW pairs) while rounds decide most of it cheaply and
# shrinks when they do not; a round follows chains of merges up to _MAX_LEVELS deep. Tuned on
# the benchmark's cities (any values give the same labels, only the speed differs).
_FIRST_WINDOW, _MIN_WINDOW, _MAX_WINDOW = 1 << 14, 1 << 10, 1 << 20
_GROW_SHARE, _GROW_WORK, _SHRINK_SHARE, _SHRINK_WORK = 0.9, 1.3, 0.7, 2.0
_MAX_LEVELS = 8

# Rows of `_Clusters.table`. The first `_RULE` rows are what the rule reads (gathered for every
# pair evaluated); the sums that merging adds follow.
_CX, _CY, _CZ, _GATE_ACC, _DIRECTION, _TYPE, _MOUNT, _DN, _SIZE, _WSUM, _X, _Y, _Z, _DSIN, _DCOS, _RADIUS = range(16)
_RULE = _DN + 1
_SUMS = [_DN, _SIZE, _WSUM, _X, _Y, _Z, _DSIN, _DCOS]


def _agglomerate(a: _Arrays, i: np.ndarray, j: np.ndarray, s: np.ndarray, params: Params) -> np.ndarray:
    """Constrained agglomeration; returns each report's cluster root (the cluster's smallest index).

    The rule is sequential: take pairs in descending score (ties by index); skip a pair already in
    one cluster; merge two single reports; merge two clusters if `groups_agree`. As a Python loop
    that is a minute for a million city reports. Instead, rounds take the next `window`
    undecided pairs in that order and replay the loop over them speculatively, with vectorised
    steps, then keep what is certainly the loop's result. See `_Round`.
    """
    clusters = _Clusters(a, params)
    order = _descending(s, i, j)
    first_u, first_v = i[order], j[order]  # the pairs in merge order
    total = len(order)
    waiting = np.zeros(0, dtype=np.int64)  # undecided pairs (positions in merge order), ascending
    pos, window = 0, _FIRST_WINDOW
    while pos < total or len(waiting):
        take = max(window - len(waiting), 0)
        pairs = np.concatenate([waiting, np.arange(pos, min(pos + take, total))])
        pos += take
        ru, rv = clusters.find(first_u[pairs]), clusters.find(first_v[pairs])
        apart = np.flatnonzero(ru != rv)  # a pair inside one cluster is skipped, now or later alike
        rnd = _Round(clusters, ru[apart], rv[apart])
        decided = rnd.run()
        waiting = pairs[apart[~decided]]
        # Big windows amortise numpy's per-call cost; but in a dense place a big window holds long
        # chains of merges, whose later pairs are evaluated again after each merge, and more
        # conflicts that leave pairs undecided.
        share = decided.sum() / max(len(apart), 1)
        work = rnd.evaluations / max(len(apart), 1)
        if share > _GROW_SHARE and work < _GROW_WORK:
            window = min(window * 2, _MAX_WINDOW)
        elif share < _SHRINK_SHARE or work > _SHRINK_WORK:
            window = max(window // 2, _MIN_WINDOW)
    return clusters.find(np.arange(len(a.ids)))


class _Round:
    """One round: replay the loop over a window of pairs against *hypothetical* clusters.

    Positions k = 0, 1, ... are the pairs in merge order; each pair's ends are clusters ("nodes").
    Nodes 0..n-1 are the clusters as they are (by root); a proposed merge creates node n + p.

    1. Evaluate every pair against the nodes it sees. A pair that evaluates to a merge and is the
       first merge of both its nodes is *proposed*: both nodes end at its position, a new node
       holds their union, and every later pair that saw either node now sees the new one and is
       evaluated again. Repeat until no new proposal (or `_MAX_LEVELS` times): this follows
       chains of merges (a camera's third report joining the first two) within one round.
    2. Clusters change only by merges. Any merge evaluation that is not a proposal (it conflicts
       with one, or came after the last level) may change its nodes from its position on
       ("taint"); a pair seeing a node that may have changed before it may change its other node
       from its own position on; and a proposal is spoilt from its position on if either part may
       have changed before it. Relax until nothing moves.
    3. A pair at position k whose nodes may not have changed before k, and which is not itself
       unsure, saw exactly the clusters the loop sees at k: it is decided. Decided proposals are
       applied in the order they were made (their parts are decided too), decided rejections are
       dropped, and the rest of the window waits for the next round. The first pair of a window
       is always decided, so every round makes progress.

    Proposals add the same two clusters' sums as the loop does, and float addition is commutative,
    so every number is bit for bit the loop's.
    """

    def __init__(self, clusters: _Clusters, ru: np.ndarray, rv: np.ndarray) -> None:
        self.c = clusters
        self.k = np.arange(len(ru))
        self.node_u, self.node_v = ru.copy(), rv.copy()
        self.merge = np.zeros(len(ru), dtype=bool)
        self.proposed = np.zeros(len(ru), dtype=bool)
        self.evaluations = 0

    def run(self) -> np.ndarray:
        """Apply the round's decided merges; return which pairs are decided."""
        c, k = self.c, self.k
        dirty = k
        levels = 0
        while True:
            self._evaluate(dirty)
            if levels == _MAX_LEVELS:
                break
            made = self._propose()
            if not len(made):
                break
            levels += 1
            dirty = self._follow(made)
        unsure = self.merge & ~self.proposed
        sources = np.flatnonzero(unsure)
        decided = ~unsure
        if len(sources):
            tu, tv = self._taint(sources)
            decided &= (tu >= k) & (tv >= k)
            c.taint[self.node_u] = c.taint[self.node_v] = _NEVER  # reset the scratch
        c.commit(decided[c.made_at[: c.proposals]])
        c.reset()
        return decided

    def _evaluate(self, at: np.ndarray) -> None:
        nu, nv = self.node_u[at], self.node_v[at]
        apart = nu != nv  # ends in one hypothetical cluster: skipped
        self.merge[at] = False
        at, nu, nv = at[apart], nu[apart], nv[apart]
        # Clusters of a few reports each are joined by several pairs: evaluate each (u, v) once.
        span = 2 * self.c.n
        pairs, index = _unique_inverse(nu * span + nv)
        self.merge[at] = self.c.agree(pairs // span, pairs % span)[index]
        self.evaluations += len(pairs)

    def _propose(self) -> np.ndarray:
        """Propose every merge evaluation that is the first of both its nodes, which are still open."""
        c = self.c
        m = np.flatnonzero(self.merge & ~self.proposed)
        nu, nv = self.node_u[m], self.node_v[m]
        np.minimum.at(c.first, nu, m)
        np.minimum.at(c.first, nv, m)
        new = (c.first[nu] == m) & (c.first[nv] == m) & (c.ends[nu] == _NEVER) & (c.ends[nv] == _NEVER)
        c.first[nu] = c.first[nv] = _NEVER
        made = m[new]
        self.proposed[made] = True
        c.propose(nu[new], nv[new], made)
        return made

    def _follow(self, made: np.ndarray) -> np.ndarray:
        """Move the pair ends that saw a node the proposals `made` ended, if their pair comes
        after it, to the node made there; return the pairs that moved (to evaluate again)."""
        c = self.c
        start = int(made[0])  # nothing before the first proposal can move
        ended = c.parts[c.proposals - len(made) : c.proposals].ravel()  # the latest proposals' parts
        c.ended[ended] = True
        k = self.k[start:]
        moved = np.zeros(len(k), dtype=bool)
        for node in (self.node_u[start:], self.node_v[start:]):  # views: updated in place
            at = np.flatnonzero(c.ended[node])  # a one-byte look-up first: few pairs match
            at = at[c.ends[node[at]] < k[at]]
            node[at] = c.succ[node[at]]
            moved[at] = True
        c.ended[ended] = False
        return start + np.flatnonzero(moved)

    def _taint(self, sources: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The earliest position each pair's nodes may differ from what the round assumed."""
        c, w = self.c, len(self.k)
        never = np.full(w, _NEVER)
        taint = c.taint
        np.minimum.at(taint, self.node_u[sources], sources)
        np.minimum.at(taint, self.node_v[sources], sources)
        made = c.n + np.arange(c.proposals)
        at, parts = c.made_at[: c.proposals], c.parts[: c.proposals]
        by_at = np.argsort(at)
        made, at, parts = made[by_at], at[by_at], parts[by_at]
        tu, tv = never.copy(), never.copy()
        # Taint only moves forward (from a position to later ones), so blocks of positions are
        # settled in order, each by relaxing until nothing moves; nothing before the first
        # unsure pair is affected.
        block = 1 << 12
        for lo in range(int(sources[0]), w, block):
            hi = min(lo + block, w)
            k = self.k[lo:hi]
            nu, nv = self.node_u[lo:hi], self.node_v[lo:hi]
            p0, p1 = np.searchsorted(at, [lo, hi])
            b_made, b_at, b_parts = made[p0:p1], at[p0:p1], parts[p0:p1]
            while True:
                bu, bv = taint[nu], taint[nv]
                spread_u = np.flatnonzero((bv < k) & (k < bu))
                spread_v = np.flatnonzero((bu < k) & (k < bv))
                spoilt = np.flatnonzero(
                    (np.minimum(taint[b_parts[:, 0]], taint[b_parts[:, 1]]) < b_at) & (b_at < taint[b_made])
                )
                if not len(spread_u) and not len(spread_v) and not len(spoilt):
                    break
                np.minimum.at(taint, nu[spread_u], k[spread_u])
                np.minimum.at(taint, nv[spread_v], k[spread_v])
                taint[b_made[spoilt]] = b_at[spoilt]
            tu[lo:hi], tv[lo:hi] = bu, bv
        return tu, tv


class _Clusters:
    """The clusters during agglomeration, and a round's hypothetical merges ("nodes").

    Column r < n of `table` holds the cluster whose root is report r (meaningful at roots only);
    column n + p the round's proposal p. Its rows (`_CX` ...) are what `groups_agree` reads:
    accuracy-weighted ECEF sums and the centre, direction sums and mean, the median accuracy (for
    the gate) and the majority type and mount codes (-1 unknown). Four 64-bit Bloom words per node
    (one bit per reporter in each) rule out a shared reporter for most pairs without looking at
    the members. Each report knows its cluster's root (`root`); a cluster's members form a
    circular list (`nxt`); a proposal lists its two parts.
    """

    def __init__(self, a: _Arrays, params: Params) -> None:
        n = len(a.ids)
        self.a, self.params, self.n = a, params, n
        self.root = np.arange(n)  # each report's cluster
        self.nxt = np.arange(n)
        table = np.zeros((16, 2 * n))  # a row per value: gathering nodes reads contiguous rows
        # Starting values exactly as `Group` computes them: Python arithmetic, once per distinct
        # value, since numpy's pow and trigonometry may differ from Python's in the last bit.
        default = params.default_accuracy_m
        accs, acc_index = np.unique(a.acc, return_inverse=True)  # few distinct values
        weight = [1.0 / max(acc if acc == acc and acc > 0 else default, 1.0) ** 2 for acc in accs.tolist()]
        wsum = np.array(weight)[acc_index]
        table[_SIZE, :n] = 1
        table[_WSUM, :n] = wsum
        table[_X : _Z + 1, :n] = (a.xyz * wsum[:, None]).T
        # math.radians(d) is d * (pi / 180), which numpy computes to the same bits; sin and cos
        # come from math (numpy's may differ in the last bit).
        directions, index = np.unique(a.direction, return_inverse=True)
        radians = np.radians(directions).tolist()
        known_ = ~np.isnan(directions)
        table[_DSIN, :n] = np.where(known_, np.array(list(map(math.sin, radians))), 0.0)[index]
        table[_DCOS, :n] = np.where(known_, np.array(list(map(math.cos, radians))), 0.0)[index]
        table[_DN, :n] = ~np.isnan(a.direction)
        table[_GATE_ACC, :n] = np.where(np.isfinite(a.acc), a.acc, np.nan)
        # The distinct stated accuracies in order, and each report's rank among them (-1: none).
        self.acc_sorted = accs[~np.isnan(accs)]  # np.unique puts NaN last
        self.acc_rank = np.where(acc_index < len(self.acc_sorted), acc_index, -1)
        table[_TYPE, :n] = a.ctype
        table[_MOUNT, :n] = a.mount
        table[_DIRECTION, :n] = _mean_direction(table[_DSIN, :n], table[_DCOS, :n], table[_DN, :n])
        with np.errstate(invalid="ignore", divide="ignore"):  # an infinite accuracy weighs 0
            table[_CX : _CZ + 1, :n] = table[_X : _Z + 1, :n] / wsum
        self.table = table
        _, self.reporter_code = np.unique(a.reporter, return_inverse=True)
        mixed = self.reporter_code.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        self.bloom = np.zeros((2 * n, 4), dtype=np.uint64)
        for w in range(4):
            self.bloom[:n, w] = np.uint64(1) << ((mixed >> np.uint64(58 - 6 * w)) & np.uint64(63))
        # A round's proposals, and scratch arrays by node (reset after each round).
        self.proposals = 0
        self.parts = np.zeros((n, 2), dtype=np.int64)
        self.made_at = np.zeros(n, dtype=np.int64)
        self.ends = np.full(2 * n, _NEVER)  # position of the proposal a node ends at
        self.succ = np.full(2 * n, -1)  # the node made there
        self.first = np.full(2 * n, _NEVER)
        self.taint = np.full(2 * n, _NEVER)
        self.root_of = np.arange(2 * n)  # the root a node's cluster got when it was applied
        self.applied = np.zeros(2 * n, dtype=bool)
        self.ended = np.zeros(2 * n, dtype=bool)  # nodes ended by the latest proposals
        self._xyz: tuple[list[float], list[float], list[float]] | None = None  # `groups_agree` takes lists

    # -- clusters as they are

    def find(self, v: np.ndarray) -> np.ndarray:
        return self.root[v]

    def _clusters_in(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(k, root) for every cluster (as it is) in every node nodes[k]."""
        owner, node = np.arange(len(nodes)), nodes
        owners, roots = [owner[:0]], [node[:0]]
        while len(node):  # a proposal is the union of its two parts
            real = node < self.n
            owners.append(owner[real])
            roots.append(node[real])
            owner = np.repeat(owner[~real], 2)
            node = self.parts[node[~real] - self.n].ravel()
        return np.concatenate(owners), np.concatenate(roots)

    def members(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(k, report) for every report in every node nodes[k]."""
        owner, root = self._clusters_in(nodes)
        owners, members = [owner], [root]
        k, cur = np.arange(len(root)), self.nxt[root]
        while True:  # walk the rings
            more = cur != root[k]
            k, cur = k[more], cur[more]
            if not len(k):
                return np.concatenate(owners), np.concatenate(members)
            owners.append(owner[k])
            members.append(cur)
            cur = self.nxt[cur]

    # -- a round's proposals

    def propose(self, g: np.ndarray, h: np.ndarray, at: np.ndarray) -> None:
        """Nodes for the merges g[k] ∪ h[k] at positions at[k]; g and h end there."""
        if not len(g):
            return
        p = self.proposals + np.arange(len(g))
        node = self.n + p
        self.proposals += len(g)
        self.parts[p, 0], self.parts[p, 1] = g, h
        self.made_at[p] = at
        self.ends[g] = self.ends[h] = at
        self.succ[g] = self.succ[h] = node
        table, new = self.table, slice(node[0], node[-1] + 1)  # proposals are numbered in order
        for column in _SUMS:
            table[column, new] = table[column, g] + table[column, h]
        table[_DIRECTION, new] = _mean_direction(table[_DSIN, new], table[_DCOS, new], table[_DN, new])
        with np.errstate(invalid="ignore", divide="ignore"):
            table[_CX : _CZ + 1, new] = table[_X : _Z + 1, new] / table[_WSUM, new]
        # No member is further from the new centre than from its part's centre plus the centre's move.
        centre = table[_CX : _CZ + 1, new]
        table[_RADIUS, new] = np.maximum(
            table[_RADIUS, g] + _norm(table[_CX : _CZ + 1, g] - centre),
            table[_RADIUS, h] + _norm(table[_CX : _CZ + 1, h] - centre),
        )
        k, members = self.members(node)
        rank = self.acc_rank[members]
        stated = rank >= 0
        median = _medians(k[stated], rank[stated], self.acc_sorted, len(g))
        table[_GATE_ACC, new] = np.where(np.isfinite(median), median, np.nan)  # `gate_m` ignores the rest
        table[_TYPE, new] = _majorities(k, self.a.ctype[members], len(g))
        table[_MOUNT, new] = _majorities(k, self.a.mount[members], len(g))
        self.bloom[node] = self.bloom[g] | self.bloom[h]

    def commit(self, keep: np.ndarray) -> None:
        """Apply the proposals with keep[p], in the order they were made (a proposal's parts first)."""
        n, todo = self.n, np.flatnonzero(keep)
        while len(todo):
            # Those whose parts are clusters as they are, or applied proposals.
            parts = self.parts[todo]
            ready = ((parts < n) | self.applied[parts]).all(axis=1)
            if not ready.any():
                raise RuntimeError("a decided proposal is built on an undecided one")
            batch, todo = todo[ready], todo[~ready]
            g, h = self.root_of[parts[ready, 0]], self.root_of[parts[ready, 1]]
            root, other = np.minimum(g, h), np.maximum(g, h)
            for column in self.table:  # row by row: numpy gathers 1-D rows faster than 2-D blocks
                column[root] = column[n + batch]
            self.bloom[root] = self.bloom[n + batch]
            k, members = self.members(other)  # before the splice: just the other cluster's reports
            self.root[members] = root[k]
            self.nxt[root], self.nxt[other] = self.nxt[other], self.nxt[root]  # splice the two rings
            self.root_of[n + batch] = root
            self.applied[n + batch] = True

    def reset(self) -> None:
        """Clear the round's scratch entries."""
        made = self.n + np.arange(self.proposals)
        parts = self.parts[: self.proposals].ravel()
        self.ends[parts] = _NEVER
        self.succ[parts] = -1
        self.taint[made] = _NEVER
        self.root_of[made] = made
        self.applied[made] = False
        self.proposals = 0

    # -- the rule

    def agree(self, nu: np.ndarray, nv: np.ndarray) -> np.ndarray:
        """For nodes nu[k], nv[k]: would the loop merge them? (Two single reports always merge.)

        numpy's arctan2 and pow may differ from Python's math in the last bit, so a decision this
        close to flipping (within 1e-9 of a limit; float error here is below 1e-12) is recomputed
        with `groups_agree` itself.
        """
        table = self.table
        ok = (table[_SIZE, nu] == 1) & (table[_SIZE, nv] == 1)
        rest = np.flatnonzero(~ok)
        ok[rest] = self._agree(nu[rest], nv[rest])
        return ok

    def _agree(self, nu: np.ndarray, nv: np.ndarray) -> np.ndarray:
        par, table = self.params, self.table
        ok = np.zeros(len(nu), dtype=bool)
        # Most pairs of clusters fail on distance: compute that first, the rest only for the others.
        # np.take on a block of rows is several times faster than table[rows, nu].
        p, q = np.take(table[_CX : _GATE_ACC + 1], nu, axis=1), np.take(table[_CX : _GATE_ACC + 1], nv, axis=1)
        dist = np.sqrt((p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2 + (p[2] - q[2]) ** 2)
        # `gate_m`: the larger finite median accuracy, at least 0 (fmax skips NaN), capped.
        gate = par.radius_m + np.minimum(np.fmax(np.fmax(p[3], q[3]), 0.0), par.accuracy_cap_m)
        near = np.flatnonzero(dist <= gate + 1e-9)
        dist, gate, nu, nv = dist[near], gate[near], nu[near], nv[near]
        p, q = np.take(table[_DIRECTION:_RULE], nu, axis=1), np.take(table[_DIRECTION:_RULE], nv, axis=1)
        direction, kind, mount, known = range(4)  # rows of p and q
        both = (p[known] > 0) & (q[known] > 0)
        angle = np.abs((p[direction] - q[direction] + 180.0) % 360.0 - 180.0)
        value = 1.0 - (dist / gate) ** 2
        value += np.where(both, par.direction_bonus, 0.0)
        value -= np.where((p[kind] >= 0) & (q[kind] >= 0) & (p[kind] != q[kind]), par.type_penalty, 0.0)
        value -= np.where((p[mount] >= 0) & (q[mount] >= 0) & (p[mount] != q[mount]), par.mount_penalty, 0.0)
        agree = ~(both & (angle > par.direction_tolerance)) & (dist <= gate) & (value >= par.threshold)
        close = (
            (both & (np.abs(angle - par.direction_tolerance) <= 1e-9))
            | (np.abs(dist - gate) <= 1e-9)
            | (np.abs(value - par.threshold) <= 1e-9)
        )
        agree &= ~close
        cand = np.flatnonzero(agree)
        if len(cand):
            agree[cand], unsure = self._members_agree(nu[cand], nv[cand], gate[cand])
            close[cand[unsure]] = True
        for k in np.flatnonzero(close).tolist():
            agree[k] = groups_agree(self._group(int(nu[k])), self._group(int(nv[k])), par, self._xyz_lists())
        ok[near] = agree
        return ok

    def _members_agree(self, nu: np.ndarray, nv: np.ndarray, gate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rules on the members of nu[k] ∪ nv[k]: (they hold, too close to call).

        Every report must lie within the gate of the merged centre, (g.x + h.x) / (g.wsum + h.wsum)
        exactly as `groups_agree` computes it, and no volunteer may be in both clusters. Each
        node's `_RADIUS` (an upper bound of its members' distance from its centre) settles the
        first rule for most pairs, and the Bloom words the second; only the rest are walked.
        """
        table, count = self.table, len(nu)
        sums = np.take(table[_WSUM : _Z + 1], nu, axis=1) + np.take(table[_WSUM : _Z + 1], nv, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            centre = sums[1:] / sums[0]
        limit = gate * gate
        reach = np.maximum(
            table[_RADIUS, nu] + _norm(np.take(table[_CX : _CZ + 1], nu, axis=1) - centre),
            table[_RADIUS, nv] + _norm(np.take(table[_CX : _CZ + 1], nv, axis=1) - centre),
        )
        spread = ~(reach * reach <= limit * (1 - 1e-9))  # maybe too spread out (NaN: walk too)
        shared = (self.bloom[nu] & self.bloom[nv] != 0).all(axis=1)  # maybe a shared volunteer
        holds, unsure = np.ones(count, dtype=bool), np.zeros(count, dtype=bool)
        walk = np.flatnonzero(spread | shared)
        if not len(walk):
            return holds, unsure
        k, members = self.members(np.concatenate([nu[walk], nv[walk]]))
        k %= len(walk)
        # Squares may differ from Python's in the last bit: within 1e-9 of the limit is unsure.
        excess = np.full(len(walk), -np.inf)
        np.maximum.at(excess, k, np.sum((self.a.xyz[members] - centre[:, walk[k]].T) ** 2, axis=1) - limit[walk[k]])
        far = spread[walk]
        holds[walk[far]] = excess[far] < 0
        unsure[walk[far]] = np.abs(excess[far]) <= 1e-9 * limit[walk[far]]
        # Within one cluster reporters are distinct, so a repeated (k, reporter) is one in both.
        span = int(self.reporter_code.max()) + 1
        keys = np.sort(k * span + self.reporter_code[members])
        holds[walk[keys[1:][keys[1:] == keys[:-1]] // span]] = False
        return holds & ~unsure, unsure

    def _group(self, node: int) -> Group:
        """A node as `groups_agree` takes it: the same values, as Python floats like the loop's."""
        members = self.members(np.array([node]))[1].tolist()
        a, row = self.a, self.table[:, node].tolist()
        return Group(
            members=members,
            reporters={int(a.reporter[m]) for m in members},
            wsum=row[_WSUM],
            x=row[_X],
            y=row[_Y],
            z=row[_Z],
            dsin=row[_DSIN],
            dcos=row[_DCOS],
            dn=int(row[_DN]),
            types=Counter(int(a.ctype[m]) for m in members if a.ctype[m] >= 0),
            mounts=Counter(int(a.mount[m]) for m in members if a.mount[m] >= 0),
            accs=[float(a.acc[m]) for m in members if a.acc[m] == a.acc[m]],
        )

    def _xyz_lists(self) -> tuple[list[float], list[float], list[float]]:
        if self._xyz is None:
            self._xyz = (self.a.xyz[:, 0].tolist(), self.a.xyz[:, 1].tolist(), self.a.xyz[:, 2].tolist())
        return self._xyz


def _norm(v: np.ndarray) -> np.ndarray:
    return np.sqrt(v[0] ** 2 + v[1] ** 2 + v[2] ** 2)


def _mean_direction(dsin: np.ndarray, dcos: np.ndarray, dn: np.ndarray) -> np.ndarray:
    """Mean directions (NaN without one); numpy's, which may differ from math's in the last bit."""
    return np.where(dn > 0, np.degrees(np.arctan2(dsin, dcos)) % 360.0, np.nan)


def _unique_inverse(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(keys, return_inverse=True) for non-negative int64 keys, several times faster.

    Like `_descending`: numpy sorts plain integers much faster than it argsorts them, so each
    key is packed with its position and the packed integers are sorted."""
    count = len(keys)
    bits = max(count - 1, 1).bit_length()
    if not count or int(keys.max()) >= 1 << (63 - bits):
        return np.unique(keys, return_inverse=True)
    packed = np.sort((keys << bits) | np.arange(count))
    ranked, position = packed >> bits, packed & ((1 << bits) - 1)
    first = np.empty(count, dtype=bool)
    first[0] = True
    first[1:] = ranked[1:] != ranked[:-1]
    inverse = np.empty(count, dtype=np.int64)
    inverse[position] = np.cumsum(first) - 1
    return ranked[first], inverse


def _medians(k: np.ndarray, rank: np.ndarray, values: np.ndarray, count: int) -> np.ndarray:
    """sorted(values[rank] of group k)[len // 2] for k in range(count); NaN for a group without values.

    `values` is sorted, so sorting plain integers (group, rank) sorts each group's values."""
    out = np.full(count, np.nan)
    keys = np.sort(k * len(values) + rank)
    sizes = np.bincount(k, minlength=count)
    starts = np.cumsum(sizes) - sizes
    has = np.flatnonzero(sizes)
    out[has] = values[keys[starts[has] + sizes[has] // 2] % len(values)]
    return out


def _majorities(k: np.ndarray, codes: np.ndarray, count: int) -> np.ndarray:
    """`majority` of the known codes (>= 0) of each group k: most frequent, ties to the smallest code."""
    known_ = codes >= 0
    k, codes = k[known_], codes[known_].astype(np.int64)
    if not len(k):
        return np.full(count, -1)
    span = int(codes.max()) + 1
    if span * count <= 4 * len(k) + 1024:  # few codes (the vocabularies): count into a table
        votes = np.bincount(k * span + codes, minlength=count * span).reshape(count, span)
        return np.where(votes.any(axis=1), votes.argmax(axis=1), -1)  # argmax: the first (smallest) top code
    out = np.full(count, -1)
    pairs, votes = np.unique(k * span + codes, return_counts=True)
    group, code = pairs // span, pairs % span
    by = np.lexsort((code, -votes, group))
    group, code = group[by], code[by]
    top = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])  # first row per group
    out[group[top]] = code[top]
    return out


def groups_of(labels: Sequence[int]) -> list[list[int]]:
    """Labels to groups of positions, for tests and metrics."""
    by: dict[int, list[int]] = defaultdict(list)
    for pos, label in enumerate(labels):
        by[label].append(pos)
    return sorted(by.values())
