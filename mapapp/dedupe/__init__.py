"""Dedupe: which sightings describe the same physical camera. Pure: plain values in and out.

No ORM and no Celery here. `services.sighting_process` feeds one sighting and the cameras around
it to `regroup` (or to `best_match` where a moderator has pinned sightings nearby); `manage.py
recluster` and the benchmarks feed whole regions to `cluster`. For the worker's few reports
`cluster` runs as a plain loop (`loop.py`), for regions in vectorised rounds (`batch.py`); both
make the same decisions and share the cluster merge rule (`merge_rule.py`).

Scoring a sighting against a camera
===================================
A volunteer's phone puts a city sighting 5-15 m from the camera (RMS about 8 m), so two reports
of one camera are typically 10 m apart and now and then 25 m. Dense places (stations, shopfronts,
poles with two ALPRs) put *different* cameras closer than that. Position alone cannot decide,
so the score combines position with the evidence volunteers give us:

1. **Hard rules: "certainly a different camera" (no score at all).**
   - The camera already has a sighting by the *same volunteer*. A volunteer does not report one
     camera twice on a walk, while a building with three cameras gets three reports from them. So
     two reports by one person a few metres apart are evidence of two cameras. (Imported OSM
     nodes all belong to the one "OpenStreetMap" system account, so two OSM nodes never merge:
     OSM mappers already decided they are two cameras.)
   - Both directions are known and differ by more than `direction_tolerance` (45°). Two ALPRs on
     one pole face different lanes; one camera does not point two ways.
   - The geodesic distance exceeds the gate `radius_m + min(accuracy, accuracy_cap_m)`, where
     accuracy is the larger reported GPS accuracy of the two sides. A phone that says "±30 m" is
     believed up to the cap; a cap keeps a "±5 km" fix from swallowing a neighbourhood.
2. **The score**, for pairs that pass:

       score = 1 - (d / gate)²                 proximity: 1 on the spot, 0 at the gate
             + direction_bonus                 both directions known and within tolerance
             - type_penalty                    both camera:type known and different
             - mount_penalty                   both camera:mount known and different

   The quadratic proximity is the shape of a Gaussian log-likelihood: being twice as far is four
   times less likely, so near candidates win clearly. Unknown values are compatible with anything
   and neither add nor subtract. A type or mount conflict only *lowers* the score, because
   volunteers misjudge types (the benchmark assumes 10% wrong types): a conflicting report still
   joins a camera it sits right on, but not one at the edge of the gate, and a same-typed camera
   nearby wins over it. Agreeing directions are positive evidence, since two cameras facing the
   same way a few metres apart are rarer than two facing different ways.
3. **Decision.** The best-scoring camera with `score >= threshold` wins; ties go to the lowest
   camera id, so the result never depends on the order candidates were read. Otherwise the
   sighting founds a new camera. That is `best_match`, the greedy rule. The worker goes one step
   further (`regroup`): it re-clusters the new sighting together with every sighting of the
   cameras within the widest gate, using the batch rules below, and keeps camera ids stable. In a
   sparse street that is the same as `best_match`; in a dense station it lets a later report
   correct an earlier greedy choice, which is what made the incremental result equal the batch
   result on the benchmark (Swiss layout: greedy F1 0.77, regroup 0.82 = batch).

The defaults (`Params`) were chosen with `make bench-dedupe`, which simulates three volunteers per
real camera layout (Swiss OSM cameras, DeFlock ALPRs) and reports pairwise F1 per radius; see
`RADIUS_REASON` below and bench/README.md.

Camera position and attributes
==============================
A camera's position is a robust centre of its sightings (`robust_centre`): a Huber M-estimate,
weighted by reported accuracy, so one report 60 m off moves the centre by little instead of by a
third of 60 m. Its attributes are per-attribute consensus (`attribute_consensus`): the weighted
majority of the known values, with the share that agrees kept alongside.

Batch clustering
================
`cluster` groups N reports by the same rules, in O(N·k) for k neighbours per report:
candidate pairs come from a 3-D grid over Earth-centred (ECEF) coordinates, so there is no
special case at the antimeridian or the poles, and distances are computed vectorised as ECEF
chords. At dedupe distances a chord on the WGS-84 ellipsoid equals the geodesic to within
nanometres (the difference grows as d³/24ρ²); pairs whose decision lies within 1 mm of flipping
are settled with geopy's geodesic all the same. Pairs are then merged in descending score order
(ties by report id), each merge re-checking the rules between the two whole clusters, which makes
the grouping independent of input order.

Locking
=======
`lock_keys` names the grid cells a writer must hold. Cells are cubes in ECEF with an edge of at
least twice the reach; a writer locks every cell its reach-ball touches. Two points within two
reaches of each other have their midpoint within one reach of both, and its cell is in both
lock sets, so the two writers serialise. Keys are sorted, so every worker takes them in the same
order and none deadlock. The worker locks two gates around a sighting (services.cameras
`lock_reach_m`), because a regroup reaches the sightings of cameras up to a gate away.
"""

from __future__ import annotations

from .batch import cluster, groups_of, pair_scores
from .centre import Consensus, attribute_consensus, candidate_from, circular_mean, robust_centre
from .regroup import Group, assign_ids, regroup
from .replay import replay
from .rules import (
    DEFAULT_PARAMS,
    RADIUS_REASON,
    UNKNOWN_VALUES,
    Candidate,
    Match,
    Params,
    Report,
    angle_between,
    best_match,
    compatible,
    gate_m,
    known,
    score,
    score_at,
)
from .spatial import bbox_around, candidate_pairs, chord_m, ecef, lock_cell_m, lock_keys, metres_per_degree

__all__ = [
    "DEFAULT_PARAMS",
    "RADIUS_REASON",
    "UNKNOWN_VALUES",
    "Candidate",
    "Consensus",
    "Group",
    "Match",
    "Params",
    "Report",
    "angle_between",
    "assign_ids",
    "attribute_consensus",
    "bbox_around",
    "best_match",
    "candidate_from",
    "candidate_pairs",
    "chord_m",
    "circular_mean",
    "cluster",
    "compatible",
    "ecef",
    "gate_m",
    "groups_of",
    "known",
    "lock_cell_m",
    "lock_keys",
    "metres_per_degree",
    "pair_scores",
    "regroup",
    "replay",
    "robust_centre",
    "score",
    "score_at",
]
