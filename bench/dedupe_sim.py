"""Helpers for the dedupe accuracy benchmark: real camera layouts, simulated volunteers, baselines, metrics.

Everything here is pure (plain values and numpy arrays in and out) except the three loaders,
which read the third-party files in place from ../shared/datasets/ and normalise OSM tags with
the project's own importer code. That importer imports Django models, so a caller must run
`django.setup()` before calling `load_osm_cameras` (bench_dedupe_accuracy.py does).

The simulation follows the dedupe issue:

* every real camera is sighted three times, once by each of three volunteers (reporter ids 1, 2, 3);
* GPS error: Gaussian, sigma 5.7 m on each axis (RMS horizontal error 8 m), converted to degrees at
  the camera's latitude with `dedupe.metres_per_degree`;
* direction: where the camera's direction is known, each sighting's is the true one plus Gaussian
  noise of sigma 15 degrees, rounded to whole degrees and wrapped to 0-359 (the form takes integers);
* camera:type: each sighting's type is wrong with probability 10%. A known type is replaced by one
  of the other two of fixed/dome/panning (uniformly). For a camera whose type is unknown, the
  volunteer normally says "unknown" too; a "wrong" value there is a confident guess, uniformly one
  of fixed/dome/panning. So 10% of *all* sightings carry a wrong type, and a wrong type on an
  unknown camera can only ever cost a penalty against another wrong guess;
* camera:mount is copied as is (unknown stays unknown);
* arrival order is a random permutation, and report ids are 1..N in arrival order (as a database
  would number them);
* accuracy_m is None (the volunteers' phones state no accuracy), so every gate is `radius_m`.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mapapp import vocab
from mapapp.dedupe import Params, Report, angle_between, candidate_pairs, ecef, metres_per_degree

DATASETS_DIR = Path(__file__).resolve().parents[2] / "shared" / "datasets"
SWISS_FILE = Path("switzerland-osm") / "osm_surveillance_switzerland_overpass.json"
ALPR_FILE = Path("deflock-alpr-2026-03-01") / "alpr_us_2026-03-01.json"
ROTTERDAM_FILE = Path("rotterdam-field-sightings") / "cameras-new.geojson"

VOLUNTEERS = (1, 2, 3)
GPS_SIGMA_M = 5.7  # per axis; sqrt(2) * 5.7 = 8.06 m RMS horizontal
DIRECTION_SIGMA_DEG = 15.0
WRONG_TYPE_RATE = 0.10
KNOWN_TYPES = ("fixed", "dome", "panning")


# --- Real camera layouts ------------------------------------------------------------------------


@dataclass(frozen=True)
class Cameras:
    """Ground-truth cameras: one row each. Attributes are None when unknown."""

    name: str
    lat: np.ndarray
    lon: np.ndarray
    direction: list[int | None]
    camera_type: list[str | None]
    camera_mount: list[str | None]

    def __len__(self) -> int:
        return len(self.lat)


def datasets_dir() -> Path:
    return Path(os.environ.get("CAMERAWATCH_DATASETS_DIR") or DATASETS_DIR)


def _known(value: Any) -> Any:
    return None if value in (None, "", "unknown") else value


def load_osm_cameras(path: Path, name: str) -> Cameras:
    """OSM nodes through the project's importer: `parse_osm`, then `normalise_tags` per node."""
    from mapapp.imports.osm import normalise_tags, parse_osm  # needs django.setup()

    with path.open(encoding="utf-8") as fh:
        nodes = parse_osm(json.load(fh)).nodes
    attrs = [normalise_tags(n.tags).attributes for n in nodes]
    return Cameras(
        name=name,
        lat=np.array([n.lat for n in nodes], dtype=np.float64),
        lon=np.array([n.lon for n in nodes], dtype=np.float64),
        direction=[a["direction"] for a in attrs],
        camera_type=[_known(a["camera_type"]) for a in attrs],
        camera_mount=[_known(a["camera_mount"]) for a in attrs],
    )


@dataclass(frozen=True)
class FieldReports:
    reports: list[Report]
    raw_types: Counter[str]  # raw label -> count
    mapped_types: Counter[str]  # normalised value ("unknown" included) -> count


def load_rotterdam(path: Path, *, type_of: Any = None) -> FieldReports:
    """The Rotterdam walk as reports, in file order, ids 1..N, one distinct reporter per report.

    No reporter is recorded, so each report is treated as a different volunteer (the
    same-volunteer rule never fires). `type_of(raw) -> (camera_type, camera_mount)` maps the free
    text; by default `vocab.CAMERA_TYPE.normalise(raw)` with mount unknown.
    """
    type_of = type_of or vocab_type
    with path.open(encoding="utf-8") as fh:
        features = json.load(fh)["features"]
    reports, raw, mapped = [], Counter(), Counter()
    for k, feature in enumerate(features, start=1):
        lon, lat = feature["geometry"]["coordinates"][:2]
        label = (feature.get("properties") or {}).get("camera_type") or ""
        ctype, mount = type_of(label)
        raw[label.strip()] += 1
        mapped[ctype or "unknown"] += 1
        reports.append(Report(id=k, lat=float(lat), lon=float(lon), reporter=k, camera_type=ctype, camera_mount=mount))
    return FieldReports(reports=reports, raw_types=raw, mapped_types=mapped)


def vocab_type(raw: str) -> tuple[str | None, str | None]:
    """The project's vocabulary as is: `CAMERA_TYPE.normalise(raw)`; "unknown" becomes None."""
    return _known(vocab.CAMERA_TYPE.normalise(raw)[0]), None


def cleaned_type(raw: str) -> tuple[str | None, str | None]:
    """A bench-side pre-clean of the Rotterdam labels before the vocabulary ("Dome Camera" -> "Dome").

    Lower-cases (the vocabulary is case-sensitive, as OSM is) and drops a trailing "camera" and
    anything in brackets, so "Dome Camera", "Turret Camera", "Bullet Camera", "360 Camera" and
    "PTZ (Pan Tilt Zoom) Camera" reach the vocabulary's values and synonyms. "Doorbell
    Camera" names a mount, not a type: it becomes mount "doorbell" with the type unknown.
    """
    text = raw.split("(")[0].strip().lower()
    if text.endswith("camera"):
        text = text[: -len("camera")].strip()
    if text == "doorbell":
        return None, "doorbell"
    return _known(vocab.CAMERA_TYPE.normalise(text)[0]), None


# --- Simulated volunteers -----------------------------------------------------------------------


@dataclass(frozen=True)
class Sightings:
    reports: list[Report]  # in arrival order, ids 1..N
    truth: np.ndarray  # the true camera index of each report, parallel to `reports`


def simulate(
    cameras: Cameras,
    seed: int,
    *,
    volunteers: Sequence[int] = VOLUNTEERS,
    gps_sigma_m: float = GPS_SIGMA_M,
    direction_sigma: float = DIRECTION_SIGMA_DEG,
    wrong_type_rate: float = WRONG_TYPE_RATE,
) -> Sightings:
    """One sighting per camera per volunteer, with GPS, direction and type errors; shuffled."""
    rng = np.random.default_rng(seed)
    n, v = len(cameras), len(volunteers)
    cam = np.repeat(np.arange(n), v)
    reporter = np.tile(np.asarray(volunteers, dtype=np.int64), n)
    scale = np.array([metres_per_degree(float(lat)) for lat in cameras.lat])  # (m/deg lat, m/deg lon)
    dy = rng.normal(0.0, gps_sigma_m, len(cam))
    dx = rng.normal(0.0, gps_sigma_m, len(cam))
    lat = cameras.lat[cam] + dy / scale[cam, 0]
    lon = cameras.lon[cam] + dx / scale[cam, 1]
    dir_noise = rng.normal(0.0, direction_sigma, len(cam))
    wrong = rng.random(len(cam)) < wrong_type_rate
    pick = rng.integers(0, 3, len(cam))  # which replacement type
    order = rng.permutation(len(cam))

    reports: list[Report] = []
    for rid, k in enumerate(order.tolist(), start=1):
        c = int(cam[k])
        true_dir = cameras.direction[c]
        direction = None if true_dir is None else round(true_dir + dir_noise[k]) % 360
        ctype = cameras.camera_type[c]
        if wrong[k]:
            if ctype is None:
                ctype = KNOWN_TYPES[pick[k]]
            else:
                others = [t for t in KNOWN_TYPES if t != ctype]
                ctype = others[pick[k] % len(others)]
        reports.append(
            Report(
                id=rid,
                lat=float(lat[k]),
                lon=float(lon[k]),
                reporter=int(reporter[k]),
                accuracy_m=None,
                direction=direction,
                camera_type=ctype,
                camera_mount=cameras.camera_mount[c],
            )
        )
    return Sightings(reports=reports, truth=cam[order])


# --- Baseline: position-only DBSCAN ---------------------------------------------------------------


def _xyz(reports: Sequence[Report]) -> np.ndarray:
    lat = np.array([r.lat for r in reports], dtype=np.float64)
    lon = np.array([r.lon for r in reports], dtype=np.float64)
    return np.column_stack(ecef(lat, lon)) if reports else np.zeros((0, 3))


def components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Connected components of an undirected graph: a label per node (its smallest member index).

    Vectorised union-find: each round hooks every edge's larger root onto its smaller root, then
    compresses paths by pointer jumping, until no edge joins two different roots.
    """
    parent = np.arange(n)
    if len(i) == 0:
        return parent
    while True:
        ri, rj = parent[i], parent[j]
        differ = ri != rj
        if not differ.any():
            return parent
        lo, hi = np.minimum(ri[differ], rj[differ]), np.maximum(ri[differ], rj[differ])
        np.minimum.at(parent, hi, lo)
        while True:
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped


MIN_REACH_M = 6.1  # see `dbscan`


def dbscan(reports: Sequence[Report], eps_m: float, min_samples: int = 1) -> np.ndarray:
    """Position-only DBSCAN (chord distance in ECEF, which equals the geodesic at these scales).

    A point is *core* when at least `min_samples` points (itself included, as in the usual
    definition) lie within `eps_m`. Clusters are the connected components of core points;
    a non-core point within `eps_m` of a core point is a *border* point and joins the cluster of
    its nearest core neighbour; every other point is noise and becomes a camera of its own (a
    lone report is still a camera). With min_samples=1 every point is core, so this is exactly
    the connected components of the eps-neighbour graph.

    `candidate_pairs` packs cell indices into 21 bits per axis, which overflows for a reach below
    about 6.1 m (Earth's radius / 2^20) and then silently misses pairs, so smaller eps is refused.
    """
    if eps_m < MIN_REACH_M:
        raise ValueError(f"eps {eps_m} m is below {MIN_REACH_M} m, where dedupe.candidate_pairs misses pairs")
    n = len(reports)
    i, j, d = candidate_pairs(_xyz(reports), eps_m)
    if min_samples <= 1:
        return components(n, i, j)
    degree = np.bincount(i, minlength=n) + np.bincount(j, minlength=n) + 1
    core = degree >= min_samples
    both = core[i] & core[j]
    labels = components(n, i[both], j[both])
    # Border points: the nearest core neighbour's cluster (ties: the lower index, for determinism).
    src = np.concatenate([i, j])
    dst = np.concatenate([j, i])
    dist = np.concatenate([d, d])
    border = ~core[src] & core[dst]
    src, dst, dist = src[border], dst[border], dist[border]
    if len(src):
        order = np.lexsort((dst, dist, src))
        src, dst = src[order], dst[order]
        first = np.ones(len(src), dtype=bool)
        first[1:] = src[1:] != src[:-1]
        labels[src[first]] = labels[dst[first]]
    return labels


# --- Metrics ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scores:
    cameras: int  # predicted
    true: int
    precision: float
    recall: float
    f1: float
    ari: float

    @property
    def ratio(self) -> float:
        return self.cameras / self.true if self.true else math.nan


def _pairs(counts: np.ndarray) -> float:
    c = counts.astype(np.float64)
    return float((c * (c - 1.0) / 2.0).sum())


def evaluate(truth: Sequence[int] | np.ndarray, predicted: Sequence[int] | np.ndarray) -> Scores:
    """Pairwise precision/recall/F1 and the Hubert-Arabie adjusted Rand index, from the contingency table.

    A pair of reports is "predicted together" when both carry one predicted label and "truly
    together" when both come from one camera. Counts come from the table's cells and margins,
    so this is O(N log N), never O(N²).
    """
    t = np.unique(np.asarray(truth), return_inverse=True)[1].ravel()
    p = np.unique(np.asarray(predicted), return_inverse=True)[1].ravel()
    n = len(t)
    if n == 0:
        return Scores(0, 0, math.nan, math.nan, math.nan, math.nan)
    cells = np.unique(t.astype(np.int64) * (int(p.max()) + 1) + p, return_counts=True)[1]
    together = _pairs(cells)
    pred_pairs = _pairs(np.bincount(p))
    true_pairs = _pairs(np.bincount(t))
    precision = together / pred_pairs if pred_pairs else 1.0
    recall = together / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    total = n * (n - 1) / 2.0
    expected = pred_pairs * true_pairs / total if total else 0.0
    best = (pred_pairs + true_pairs) / 2.0
    ari = (together - expected) / (best - expected) if best != expected else 1.0
    return Scores(int(p.max()) + 1, int(t.max()) + 1, precision, recall, f1, ari)


# --- Where the errors are ----------------------------------------------------------------------


# Distance bands of the two real cameras behind a wrongly merged pair ("<1 m": OSM duplicates or
# two cameras on one mount, which no position can tell apart).
MERGE_BANDS = ((1.0, "<1 m"), (5.0, "1-5 m"), (10.0, "5-10 m"), (20.0, "10-20 m"), (math.inf, ">=20 m"))


def explain(sightings: Sightings, labels: Sequence[int], cameras: Cameras, params: Params) -> dict[str, Counter[str]]:
    """Classify the wrong pairs of a labelling by the pairwise rule that (would have) decided them.

    "split": pairs of one true camera's reports that ended in different predicted cameras.
    "merged": pairs of different cameras' reports that ended in one predicted camera, keyed
    "band|evidence": how far apart the two real cameras are (`MERGE_BANDS`), and whether both
    reports gave a direction; "band|types conflict" counts those of them whose types disagreed.
    """
    reports = sightings.reports
    truth = sightings.truth
    lab = np.asarray(labels)
    xyz = _xyz(reports)
    cam_xyz = np.column_stack(ecef(cameras.lat, cameras.lon))
    split: Counter[str] = Counter()
    merged: Counter[str] = Counter()

    by_truth: dict[int, list[int]] = {}
    for k, c in enumerate(truth.tolist()):
        by_truth.setdefault(c, []).append(k)
    by_label: dict[int, list[int]] = {}
    for k, c in enumerate(lab.tolist()):
        by_label.setdefault(c, []).append(k)
    # Predicted cameras that mix reports of several real cameras.
    mixed = {c for c, members in by_label.items() if len({int(truth[k]) for k in members}) > 1}

    def distance(a: int, b: int) -> float:
        return float(np.sqrt(((xyz[a] - xyz[b]) ** 2).sum()))

    def split_reason(a: int, b: int) -> str:
        ra, rb = reports[a], reports[b]
        d = distance(a, b)
        gate = params.radius_m  # the simulation states no accuracy
        if ra.reporter == rb.reporter:
            return "same volunteer"
        both_dir = ra.direction is not None and rb.direction is not None
        if both_dir and angle_between(ra.direction, rb.direction) > params.direction_tolerance:
            return "directions differ > tolerance"
        if d > gate:
            return "distance > radius"
        s = 1.0 - (d / gate) ** 2 + (params.direction_bonus if both_dir else 0.0)
        if ra.camera_type and rb.camera_type and ra.camera_type != rb.camera_type:
            s -= params.type_penalty
            if s < params.threshold:
                return "type conflict, score < threshold"
        if ra.camera_mount and rb.camera_mount and ra.camera_mount != rb.camera_mount:
            s -= params.mount_penalty
            if s < params.threshold:
                return "mount conflict, score < threshold"
        if lab[a] in mixed or lab[b] in mixed:
            return "pair passes; one report taken by a neighbour's camera"
        return "pair passes; refused at cluster level"

    for members in by_truth.values():
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                a, b = members[x], members[y]
                if lab[a] != lab[b]:
                    split[split_reason(a, b)] += 1
    for members in by_label.values():
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                a, b = members[x], members[y]
                ca, cb = int(truth[a]), int(truth[b])
                if ca == cb:
                    continue
                true_d = float(np.sqrt(((cam_xyz[ca] - cam_xyz[cb]) ** 2).sum()))
                band = next(label for limit, label in MERGE_BANDS if true_d < limit)
                ra, rb = reports[a], reports[b]
                both_dir = ra.direction is not None and rb.direction is not None
                merged[f"{band}|{'directions agree' if both_dir else 'no direction'}"] += 1
                if ra.camera_type and rb.camera_type and ra.camera_type != rb.camera_type:
                    merged[f"{band}|types conflict"] += 1
    return {"split": split, "merged": merged}
