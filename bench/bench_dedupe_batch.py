"""Batch dedupe speed: cluster 1,000,000 synthetic city sightings (3 per camera) in <= 10 s.

    .venv/bin/python bench/bench_dedupe_batch.py [--runs 3] [--cameras 333334] [--quick]

About two minutes: three fresh-process runs at each size, then the baselines (replay() alone takes
about 30-60 s). `--quick` runs a tenth of the sizes once, as a smoke test.

The data is a synthetic city (numpy, fixed seed) around New York: a dense downtown on a
Manhattan-like street grid, hotspot blobs, sparse residential streets and two-camera poles,
each camera reported by three distinct volunteers with phone-grade GPS error and partial,
sometimes wrong, attributes. Every timed measurement runs in a fresh subprocess, so peak memory
(`ru_maxrss`) belongs to that measurement alone. Baselines measured in the same run:

  (a) scaling: the same city at 100k and 300k reports (same density, smaller area);
  (b) a brute-force O(N^2) vectorised pair search against the grid, at 20k reports;
  (c) `replay` (the incremental per-report rule with geopy per candidate) against `cluster`.

Quality against the synthetic truth (camera count ratio, pairwise F1) is printed next to every
timing, so speed is never bought by wrong answers.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mapapp.dedupe import DEFAULT_PARAMS, Report, candidate_pairs, cluster, ecef, replay  # noqa: E402
from mapapp.dedupe import batch as _batch  # noqa: E402
from mapapp.dedupe.spatial import metres_per_degree  # noqa: E402

SEED = 20240611
FULL_CAMERAS = 333_334  # x 3 sightings = 1,000,002 reports
# The full city is 60 km x 60 km (a metro area like New York's five boroughs and beyond): 93
# cameras/km² on average, 3x New York's mapped density, with cores of up to ~1,000 cameras/km²
# (neighbours ~30 m apart). A 30 km city with 5,000/km² hotspots was tried first: it is denser
# than any mapped city, and no position-based method can tell its cameras apart (F1 0.41).
SIDE_M = 60_000.0
CENTRE = (40.7128, -74.0060)  # New York
TARGET_S = 10.0
GPS_SIGMA_M = 5.7  # per axis: RMS 8 m, as the matcher's defaults assume
POOL = 5_000  # volunteers
TYPES = ["fixed", "dome", "panning"]
TYPE_P = [0.55, 0.35, 0.10]
MOUNTS = ["wall", "pole", "building", "ceiling", "street_lamp", "traffic_signal", "other"]
MOUNT_P = [0.45, 0.20, 0.15, 0.08, 0.06, 0.04, 0.02]


# --- The synthetic city --------------------------------------------------------------------------


@dataclass
class City:
    """Reports as columns (unknown: NaN or -1), ordered by report id, plus the truth."""

    ids: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    reporter: np.ndarray
    acc: np.ndarray
    direction: np.ndarray
    ctype: np.ndarray
    mount: np.ndarray
    truth: np.ndarray  # camera index of each report
    cam_x: np.ndarray  # camera positions in the local plane (metres), for the density figures
    cam_y: np.ndarray
    side_m: float

    def __len__(self) -> int:
        return len(self.ids)


def _on_streets(rng: np.random.Generator, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Move points onto building facades of a Manhattan-like grid (streets every 80 m, avenues
    every 250 m), on either side of the road, 6-30 m from its centre line (facades and setbacks)."""
    n = len(x)
    on_street = rng.random(n) < 0.7  # streets are more numerous than avenues
    side = np.where(rng.random(n) < 0.5, -1.0, 1.0) * rng.uniform(6.0, 30.0, n)
    y_snap = np.round(y / 80.0) * 80.0 + side
    x_snap = np.round(x / 250.0) * 250.0 + side
    return np.where(on_street, x, x_snap), np.where(on_street, y_snap, y)


def make_city(n_cameras: int, seed: int = SEED) -> City:
    """A city of `n_cameras` cameras, three sightings each. Smaller cities keep the full city's
    density field on a proportionally smaller area, so per-report work stays comparable."""
    rng = np.random.default_rng(seed)
    scale = (n_cameras / FULL_CAMERAS) ** 0.5
    side = SIDE_M * scale
    half = side / 2.0
    n_pole = round(0.05 * n_cameras)  # second camera on a pole, facing another way
    n_down = round(0.30 * n_cameras)
    n_hot = round(0.35 * n_cameras)
    n_res = n_cameras - n_pole - n_down - n_hot

    # Downtown: a 4.8 km Gaussian core off-centre. Hotspots (stations, malls, campuses): blobs
    # with long-tailed sizes, each spread so that its peak density is 200-1,000 cameras/km²
    # (a big hotspot covers more ground, it is not denser). Residential: uniform everywhere.
    down = rng.normal(0.0, 4_800.0 * scale, (n_down, 2)) + np.array([-0.1, 0.15]) * side
    n_blobs = max(1, round(800 * scale**2))
    blob_xy = rng.uniform(-half, half, (n_blobs, 2))
    weight = rng.pareto(1.5, n_blobs) + 1.0
    blob = rng.choice(n_blobs, n_hot, p=weight / weight.sum())
    peak = rng.uniform(200.0, 1_000.0, n_blobs) / 1e6  # per m²
    blob_sigma = np.maximum(np.sqrt(np.bincount(blob, minlength=n_blobs) / (2 * np.pi * peak)), 30.0)
    hot = blob_xy[blob] + rng.normal(0.0, 1.0, (n_hot, 2)) * blob_sigma[blob, None]
    res = rng.uniform(-half, half, (n_res, 2))
    xy = np.concatenate([down, hot, res, np.zeros((n_pole, 2))])  # poles are placed below
    x, y = _on_streets(rng, xy[:, 0], xy[:, 1])
    x, y = np.clip(x, -half, half), np.clip(y, -half, half)

    n_single = n_cameras - n_pole
    direction = rng.uniform(0.0, 360.0, n_cameras)
    ctype = rng.choice(len(TYPES), n_cameras, p=TYPE_P)
    mount = rng.choice(len(MOUNTS), n_cameras, p=MOUNT_P)
    # Two-camera poles: a second camera within 0.3 m of a downtown/hotspot camera, facing
    # 90-180 degrees away, both fixed cameras on the pole (e.g. two ALPRs over two lanes).
    host = rng.choice(n_down + n_hot, n_pole, replace=False)
    pole = np.arange(n_single, n_cameras)
    x[pole] = x[host] + rng.normal(0.0, 0.3, n_pole)
    y[pole] = y[host] + rng.normal(0.0, 0.3, n_pole)
    direction[pole] = (direction[host] + rng.uniform(90.0, 180.0, n_pole)) % 360.0
    ctype[host] = ctype[pole] = 0
    mount[host] = mount[pole] = MOUNTS.index("pole")

    # Three sightings per camera by three distinct volunteers from the pool.
    r0 = rng.integers(0, POOL, n_cameras)
    r1 = rng.integers(0, POOL - 1, n_cameras)
    r1 += r1 >= r0
    lo, hi = np.minimum(r0, r1), np.maximum(r0, r1)
    r2 = rng.integers(0, POOL - 2, n_cameras)
    r2 += r2 >= lo
    r2 += r2 >= hi
    reporter = np.stack([r0, r1, r2], axis=1).ravel()
    cam = np.repeat(np.arange(n_cameras), 3)
    n = len(cam)

    m_lat, m_lon = metres_per_degree(CENTRE[0])
    rx = x[cam] + rng.normal(0.0, GPS_SIGMA_M, n)
    ry = y[cam] + rng.normal(0.0, GPS_SIGMA_M, n)
    lat = CENTRE[0] + ry / m_lat
    lon = CENTRE[1] + rx / m_lon
    # Phones state an accuracy for most fixes (median 7 m); direction known for 40% with 15
    # degrees of noise; type known for 70%, a tenth of them wrong; mount known for 60%.
    acc = np.where(rng.random(n) < 0.8, np.round(rng.lognormal(np.log(7.0), 0.5, n), 1), np.nan)
    rdir = np.where(rng.random(n) < 0.4, (direction[cam] + rng.normal(0.0, 15.0, n)) % 360.0, np.nan)
    rtype = ctype[cam].copy()
    wrong = rng.random(n) < 0.10
    rtype[wrong] = (rtype[wrong] + rng.integers(1, len(TYPES), int(wrong.sum()))) % len(TYPES)
    rtype[rng.random(n) >= 0.7] = -1
    rmount = np.where(rng.random(n) < 0.6, mount[cam], -1)

    # Report ids in random order with respect to cameras, as arrival order would give them.
    perm = rng.permutation(n)
    return City(
        ids=np.arange(1, n + 1, dtype=np.int64),
        lat=lat[perm],
        lon=lon[perm],
        reporter=reporter[perm],
        acc=acc[perm],
        direction=rdir[perm],
        ctype=rtype[perm],
        mount=rmount[perm],
        truth=cam[perm],
        cam_x=x,
        cam_y=y,
        side_m=side,
    )


def to_reports(city: City) -> list[Report]:
    """The API's input: one frozen Report per sighting, None for unknown attributes."""
    types = [*TYPES, None]  # index -1 is None
    mounts = [*MOUNTS, None]
    acc = [None if a != a else a for a in city.acc.tolist()]
    dirn = [None if d != d else d for d in city.direction.tolist()]
    return [
        Report(
            id=i, lat=la, lon=lo, reporter=r, accuracy_m=a, direction=d, camera_type=types[t], camera_mount=mounts[m]
        )
        for i, la, lo, r, a, d, t, m in zip(
            city.ids.tolist(),
            city.lat.tolist(),
            city.lon.tolist(),
            city.reporter.tolist(),
            acc,
            dirn,
            city.ctype.tolist(),
            city.mount.tolist(),
            strict=True,
        )
    ]


def density(city: City) -> dict[str, float]:
    """Cameras per km² overall and in the densest 1 km grid square; nearest-neighbour distances."""
    area = (city.side_m / 1000.0) ** 2
    half = city.side_m / 2.0
    kx = np.floor((city.cam_x + half) / 1000.0).astype(np.int64)
    ky = np.floor((city.cam_y + half) / 1000.0).astype(np.int64)
    cell = kx * 1000 + ky
    cells, counts = np.unique(cell, return_counts=True)
    densest = cells[np.argmax(counts)]
    xyz = np.column_stack([city.cam_x, city.cam_y, np.zeros_like(city.cam_x)])
    i, j, d = candidate_pairs(xyz, 100.0)  # cameras with no neighbour within 100 m count as inf
    nn = np.full(len(xyz), np.inf)
    np.minimum.at(nn, i, d)
    np.minimum.at(nn, j, d)
    in_densest = cell == densest
    return {
        "cameras_per_km2": len(xyz) / area,
        "densest_km2": float(counts.max()),
        "nn_median_m": float(np.median(nn)),
        "nn_median_densest_m": float(np.median(nn[in_densest])),
        "nn_under_5m": float(np.mean(nn < 5.0)),
    }


def quality(labels: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(found cameras / true cameras, pairwise F1) from a contingency table."""
    _, lab = np.unique(labels, return_inverse=True)
    _, tru = np.unique(truth, return_inverse=True)
    joint = np.unique(lab.astype(np.int64) * (tru.max() + 1) + tru, return_counts=True)[1]

    def pairs(counts: np.ndarray) -> float:
        c = counts.astype(np.float64)
        return float((c * (c - 1) / 2).sum())

    tp = pairs(joint)
    pred = pairs(np.bincount(lab))
    true = pairs(np.bincount(tru))
    f1 = 2 * tp / (pred + true) if pred + true else 1.0
    return (lab.max() + 1) / (tru.max() + 1), f1


# --- Measurements, each in a fresh subprocess ---------------------------------------------------


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


# batch.py's stages, timed by wrapping the module's functions (a few calls each: no overhead).
# `_agglomerate` calls `_descending`; the agglomeration's own time is reported without it.
_PHASES = {
    "arrays": "_arrays_and_order",
    "pairs": "candidate_pairs",
    "scores": "_scores",
    "settle": "_settle_borderline",
    "sort": "_descending",
    "agglomerate": "_agglomerate",
}


def _phase_timers() -> dict[str, float]:
    spent: dict[str, float] = {}
    for label, name in _PHASES.items():
        fn = getattr(_batch, name, None)
        if fn is None:
            continue

        def timed(*args, _fn=fn, _label=label, **kwargs):
            t = time.perf_counter()
            try:
                return _fn(*args, **kwargs)
            finally:
                spent[_label] = spent.get(_label, 0.0) + time.perf_counter() - t

        setattr(_batch, name, timed)
    return spent


def child(task: str, n_cameras: int) -> dict[str, float]:
    """One measurement, run in its own process; prints a JSON line."""
    city = make_city(n_cameras)
    truth, n = city.truth, len(city)
    out: dict[str, float] = {"n": n}
    if task == "brute":
        xyz = np.column_stack(ecef(city.lat, city.lon))
        reach = DEFAULT_PARAMS.max_gate_m
        t = time.perf_counter()
        bi, bj = brute_pairs(xyz, reach)
        out["brute_s"] = time.perf_counter() - t
        t = time.perf_counter()
        gi, gj, _ = candidate_pairs(xyz, reach)
        out["grid_s"] = time.perf_counter() - t
        out["same_pairs"] = float(np.array_equal(np.sort(bi * n + bj), np.sort(gi * n + gj)))
        out["pairs"] = len(gi)
        return out
    t = time.perf_counter()
    reports = to_reports(city)
    out["build_s"] = time.perf_counter() - t
    del city
    gc.collect()
    out["rss_before_mb"] = _rss_mb()
    out["maxrss_before_mb"] = _maxrss_mb()
    spent = _phase_timers() if task == "cluster" else {}
    t, cpu = time.perf_counter(), time.process_time()
    labels = cluster(reports) if task == "cluster" else replay(reports)
    out["run_s"] = time.perf_counter() - t
    out["cpu_s"] = time.process_time() - cpu
    out["maxrss_mb"] = _maxrss_mb()
    if "agglomerate" in spent:
        spent["agglomerate"] -= spent.get("sort", 0.0)
    out.update({f"phase_{k}": v for k, v in spent.items()})
    out["count_ratio"], out["f1"] = quality(np.asarray(labels), truth)
    return out


def brute_pairs(xyz: np.ndarray, reach: float, block: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Every pair i < j within `reach` by comparing all N²/2 pairs, a block of rows at a time,
    with the grid's arithmetic ((dx² + dy²) + dz²) so the two must find the same pairs."""
    out_i, out_j = [], []
    for start in range(0, len(xyz), block):
        rows, rest = xyz[start : start + block], xyz[start:]
        d2 = (rows[:, None, 0] - rest[None, :, 0]) ** 2
        d2 += (rows[:, None, 1] - rest[None, :, 1]) ** 2
        d2 += (rows[:, None, 2] - rest[None, :, 2]) ** 2
        a, b = np.nonzero(np.sqrt(d2) <= reach)
        later = b > a  # b counts from `start`, like a: the pair's second point comes later
        out_i.append(a[later] + start)
        out_j.append(b[later] + start)
    return np.concatenate(out_i), np.concatenate(out_j)


def run_child(task: str, n_cameras: int) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", task, "--cameras", str(n_cameras)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"child {task} {n_cameras} failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(task: str, n_cameras: int, runs: int) -> dict[str, float]:
    """Median of `runs` fresh-process measurements, field by field (the run with the median time
    for the quality figures, which do not vary)."""
    results = [run_child(task, n_cameras) for _ in range(max(1, runs))]
    keys = [k for k in results[0] if isinstance(results[0][k], (int, float))]
    median = {k: statistics.median(r[k] for r in results) for k in keys}
    median["runs"] = len(results)
    median["all_run_s"] = [round(r.get("run_s", r.get("brute_s", 0.0)), 2) for r in results]
    return median


# --- Report ---------------------------------------------------------------------------------------


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[c]) for r in rows)) for c, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="fresh-process runs per measurement (median)")
    parser.add_argument("--cameras", type=int, default=FULL_CAMERAS, help="cameras in the full city (x3 reports)")
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes, one run: a smoke test")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.cameras)))
        return
    full, runs = (args.cameras // 10, 1) if args.quick else (args.cameras, args.runs)
    small = max(full * 20_000 // (3 * FULL_CAMERAS), 100)  # the 20k-report baselines
    load = os.getloadavg()[0]

    city = make_city(full)
    dens = density(city)
    table(
        f"Synthetic city (seed {SEED}): {len(city):,} reports of {full:,} cameras, 3 volunteers each",
        ["area km²", "cameras/km²", "densest km²", "median NN m", "NN in densest km² m", "NN < 5 m"],
        [
            [
                f"{(city.side_m / 1000) ** 2:,.0f}",
                f"{dens['cameras_per_km2']:.0f}",
                f"{dens['densest_km2']:,.0f}",
                f"{dens['nn_median_m']:.1f}",
                f"{dens['nn_median_densest_m']:.1f}",
                f"{dens['nn_under_5m']:.0%}",
            ]
        ],
    )
    del city

    sizes = [full * 10 // 100, full * 30 // 100, full]
    results = [measure("cluster", cams, runs) for cams in sizes]
    base = results[0]
    rows = []
    for r in results:
        rows.append(
            [
                f"{int(r['n']):,}",
                str(r["runs"]),
                f"{r['run_s']:.2f}",
                f"{r['cpu_s']:.2f}",
                f"{r['build_s']:.2f}",
                f"{r['build_s'] + r['run_s']:.2f}",
                f"{r['run_s'] / r['n'] * 1e5:.3f}",
                f"{(r['run_s'] / r['n']) / (base['run_s'] / base['n']):.2f}x",
                f"{r['maxrss_mb'] - r['rss_before_mb']:,.0f}",
                f"{r['maxrss_mb']:,.0f}",
                f"{r['count_ratio']:.3f}",
                f"{r['f1']:.3f}",
            ]
        )
    table(
        "cluster(reports): median wall time of fresh processes (baseline: the smallest size, same run)",
        [
            "reports",
            "runs",
            "cluster s",
            "cpu s",
            "build Reports s",
            "build+cluster s",
            "s per 100k",
            "vs 100k",
            "peak +MB",
            "peak RSS MB",
            "cameras found/true",
            "pair F1",
        ],
        rows,
    )
    big = results[-1]
    phases = [(label, big.get(f"phase_{label}", 0.0)) for label in _PHASES]
    phases.append(("other", big["run_s"] - sum(v for _, v in phases)))
    table(
        f"Where the time goes at {int(big['n']):,} reports (median seconds; cluster() total {big['run_s']:.2f} s)",
        [label for label, _ in phases],
        [[f"{v:.2f} ({v / big['run_s']:.0%})" for _, v in phases]],
    )

    brute = measure("brute", small, runs)
    batch_small = measure("cluster", small, runs)
    slow = measure("replay", small, 1)
    extrapolated_brute = brute["brute_s"] * (big["n"] / brute["n"]) ** 2
    table(
        f"Baselines at {int(brute['n']):,} reports, same run (extrapolations to {int(big['n']):,})",
        ["method", "runs", "seconds", "vs ours", f"at {int(big['n']):,}", "vs ours", "cameras", "F1"],
        [
            [
                "pair search: grid (ours)",
                str(brute["runs"]),
                f"{brute['grid_s']:.3f}",
                "1x",
                f"{big.get('phase_pairs', 0.0):.1f} measured",
                "1x",
                "",
                "",
            ],
            [
                "pair search: brute force O(N²)",
                str(brute["runs"]),
                f"{brute['brute_s']:.2f}",
                f"{brute['brute_s'] / brute['grid_s']:.0f}x",
                f"{duration(extrapolated_brute)} (x N²)",
                f"{extrapolated_brute / max(big.get('phase_pairs', 0.0), 1e-9):,.0f}x",
                "same pairs" if brute["same_pairs"] else "DIFFERENT PAIRS",
                "",
            ],
            [
                "cluster() (ours)",
                str(batch_small["runs"]),
                f"{batch_small['run_s']:.3f}",
                "1x",
                f"{big['run_s']:.1f} measured",
                "1x",
                f"{batch_small['count_ratio']:.3f}",
                f"{batch_small['f1']:.3f}",
            ],
            [
                "replay() (per report, geopy)",
                str(slow["runs"]),
                f"{slow['run_s']:.1f}",
                f"{slow['run_s'] / batch_small['run_s']:.0f}x",
                f"{duration(slow['run_s'] * big['n'] / slow['n'])} (x N)",
                f"{slow['run_s'] * big['n'] / slow['n'] / big['run_s']:,.0f}x",
                f"{slow['count_ratio']:.3f}",
                f"{slow['f1']:.3f}",
            ],
        ],
    )

    print(
        f"\nMachine: {os.cpu_count()} cores, load average {load:.1f} at the start and "
        f"{os.getloadavg()[0]:.1f} at the end (other work on the machine slows wall times; cpu s does not count it)."
    )
    print(f"cluster() seconds of the {int(big['n']):,}-report runs: {big['all_run_s']}")
    verdict = "PASS" if big["run_s"] <= TARGET_S else "FAIL"
    print(
        f"{verdict}: {int(big['n']):,} reports clustered in {big['run_s']:.2f} s median (target <= {TARGET_S:.0f} s), "
        f"counting cluster() from Report objects, i.e. including their conversion to arrays "
        f"({big.get('phase_arrays', 0.0):.2f} s). Building the Report objects themselves took another "
        f"{big['build_s']:.2f} s ({big['build_s'] + big['run_s']:.2f} s from numpy columns). Peak RSS "
        f"{big['maxrss_mb']:,.0f} MB, of which {big['maxrss_mb'] - big['rss_before_mb']:,.0f} MB above the "
        f"process before clustering (Report objects included in the former)."
    )


if __name__ == "__main__":
    main()
