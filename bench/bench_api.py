"""The open-data API at 1,000,000 cameras, through gunicorn, under wrk (issue 6).

    .venv/bin/python bench/bench_api.py [--reload] [--rounds 3] [--duration 10] [--export-runs 2]
        [--database-url postgres://postgres@127.0.0.1:5432/cw_bench_api]
        [--cache-url redis://127.0.0.1:6379/14]

Targets: a GeoJSON bbox page of about 1,000 cameras serves at least 0.7x the requests/s of a raw
SQL + orjson view of the same query; the streamed CSV export of all 1,000,000 cameras runs at
50,000 rows/s or more while the gunicorn worker's peak RSS stays under 300 MB; /api/v1/stats/
and /api/v1/neighbourhoods/ answer with a p50 under 50 ms.

Data (PostgreSQL, database cw_bench_api, loaded once by COPY and reused while a marker table
matches the dataset spec, the migrations' fingerprint and the row count; --reload rebuilds it):
1,025,000 cameras from pgbench_support.city_layout (downtown street grid, hotspots, residential
streets, two-camera poles), 102,500 around each of the ten city centres in pgbench_support.CITIES,
ids shuffled across cities as years of reports would leave them. 1,000,000 are published; the
other 25,000 are what Camera.objects.published() must leave out (10,000 merge tombstones, 7,500
removed, 7,500 whose every sighting a moderator hid). Published: 40% verified, 50% reported, 5%
disputed, 5% stale; realistic attributes (types, mounts, zones, operator types, an operator name
for a third, some with commas and quotes; a direction for 60%, a height for 30%, a tilt for
20%); 15% imported from OSM with a node id; dates over 2019-2025. Each city holds a 10 x 10 grid
of square neighbourhoods (1,000 in all) over its centre, leaving a 1 km rim outside every
neighbourhood (15% of the cameras, the ones city_stats() must count with a GROUP BY). The
COPY sets neighbourhood_id directly; a sample of 2,000 cameras is checked against the app's own
locator (AreaIndex.locate) and neighbourhoods_stats_refresh() computes the stored stats (timed).

Server: `gunicorn bench.api_baseline:application --workers 2 --worker-class gthread --threads 4`,
which is camerawatch.wsgi's application unchanged (ROOT_URLCONF adds the baseline view; see
bench/api_baseline.py), with the deployment settings: DEBUG off, WhiteNoise in the middleware,
a shared Redis cache (CACHE_URL, here database 14: throttle counters and the cached city stats
must be shared by the workers), BEHIND_TLS_PROXY=true with the requests carrying the
X-Forwarded-Proto/-For headers a TLS proxy adds (so SECURE_SSL_REDIRECT stays on), persistent
database connections (DATABASE_CONN_MAX_AGE default). Only the throttle rates are raised
(THROTTLE_ANON, THROTTLE_EXPORT) so the load generator is not answered with 429s; the throttle
itself still runs on every request. PUBLIC_DATE_PRECISION keeps its default (month). Static files
are not collected: no API response reads them, and WhiteNoise's per-request check is a dict
look-up either way. Why gthread, two workers of four threads: the GIL limits a worker to one core
of Python, so one worker per core (2 here); threads overlap one request's wait on PostgreSQL with
another's Python; and a streamed export of a million rows takes longer than gunicorn's 30 s
timeout, which kills a *sync* worker in the middle of the download (the arbiter hears nothing
from it while it streams) and holds one of only two sync workers for the whole download, whereas
a gthread worker keeps serving pages on its other threads.

Load generator: wrk on the same machine, `wrk -t<cores/2> -c<2 x cores> -d<duration>s --latency`,
a Lua script that cycles through 100 bboxes (each thread starting at its own offset) so no
cache flatters a page; the API and the baseline get the same bboxes. The bboxes are 3:2 boxes
(in metres) centred on random published cameras (dense downtowns and sparse suburbs in
proportion to where cameras are), each the smallest holding at least 1,000 published cameras,
counted exactly after rounding outward to 6 decimals. Before timing, the API and the baseline
must answer the same 1,000 features for three of them. Every endpoint runs --rounds times for
--duration seconds, interleaved (API, baseline, stats, neighbourhoods; the pair's order
alternates), and the tables give the median over rounds of requests/s and of wrk's p50/p99
latency; the ratio is of the medians (per-round ratios printed too). A non-2xx answer stops the
benchmark. /api/v1/stats/ is measured warm, as deployed: city_stats_refresh() (the refresh_maps
task's job) runs just before each round. Its cold cost is timed separately: city_stats() called
directly, and /api/v1/stats/ through gunicorn with the cache entry deleted first.

Export: /api/v1/cameras/export/?format=csv read with http.client in 1 MiB reads (bytes counted,
lines counted, nothing kept), --export-runs times, first, on a freshly started server; rows/s is
rows / (request sent -> last byte). Every 20 ms a thread reads VmRSS of each gunicorn worker from
/proc; VmHWM (the kernel's peak) after the runs is the figure judged. For scale, PostgreSQL alone
streams the same SELECT with COPY ... TO STDOUT (CSV) to this process, which discards it.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pgbench_support as pb
from bench_maps import MARKER_DDL, copy_rows, machine_line

SEED = 20240806
DATASET_VERSION = 1
PUBLISHED = 1_000_000
TOMBSTONES, REMOVED, HIDDEN = 10_000, 7_500, 7_500
TOTAL = PUBLISHED + TOMBSTONES + REMOVED + HIDDEN
GRID = 10  # neighbourhoods per side, per city
RIM_M = 1_000.0  # a rim of each city outside every neighbourhood
N_BBOXES = 100
BBOX_CAMERAS = 1_000
BBOX_ASPECT = 1.5  # width / height, in metres
PAGE_SIZE = 1_000
WORKERS, THREADS = 2, 4
CACHE_DEFAULT = "redis://127.0.0.1:6379/14"
# What a TLS-terminating proxy in front of gunicorn adds (settings: BEHIND_TLS_PROXY=true).
PROXY_HEADERS = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "127.0.0.1"}
UNLIMITED = "100000000/min"

TARGET_RATIO = 0.7
TARGET_ROWS_S = 50_000
TARGET_RSS_MB = 300
TARGET_P50_MS = 50.0

STATUSES = ("verified", "reported", "disputed", "stale")
STATUS_P = (0.40, 0.50, 0.05, 0.05)
SURVEILLANCE_TYPES = ("camera", "ALPR", "guard", "gunshot_detector")
SURVEILLANCE_TYPE_P = (0.95, 0.04, 0.007, 0.003)
SURVEILLANCE = ("public", "outdoor", "indoor", "unknown")
SURVEILLANCE_P = (0.45, 0.25, 0.15, 0.15)
ZONES = ("town", "traffic", "parking", "shop", "bank", "building", "entrance", "other", "unknown")
ZONE_P = (0.30, 0.10, 0.12, 0.15, 0.05, 0.10, 0.10, 0.03, 0.05)
OPERATOR_TYPES = ("police", "government", "transit", "business", "residential", "unknown")
OPERATOR_TYPE_P = (0.05, 0.10, 0.05, 0.40, 0.15, 0.25)
# Operator names by operator type, and how often one is given. Commas, quotes, non-ASCII and a
# leading "+" (a spreadsheet formula start) exercise the CSV writer as real data would.
OPERATORS = {
    "police": (0.8, ("Metropolitan Police", "Polizei Berlin", "NYPD", "Préfecture de police", "Policía Municipal")),
    "government": (0.6, ("City of Chicago", "Bezirksamt Mitte", "Ayuntamiento de Madrid", "Gemeente Amsterdam")),
    "transit": (0.7, ("BVG", "RATP", "MTA", "Transport for London", "Metro de Madrid", "GVB")),
    "business": (
        0.4,
        ("Lidl", "McDonald's", "Deutsche Bank AG", "Rossmann, Filiale 12", 'Café "Zur Ecke"', "7-Eleven", "+Secure 24"),
    ),
    "residential": (0.05, ("Hausverwaltung Schmidt", "Co-op Board, 12 W 4th St")),
    "unknown": (0.1, ("private", "unbekannt")),
}
MOUNT_UNKNOWN_P = 0.08
TYPE_UNKNOWN_P = 0.10
OSM_P = 0.15

NULL = "\\N"


# --- The dataset ----------------------------------------------------------------------------------


@dataclass
class Dataset:
    columns: dict[str, list[str]]  # COPY text per mapapp_camera column (every NOT NULL one), ids 1..TOTAL
    hoods: list[dict[str, Any]]  # Neighbourhood field values (id, name, slug, polygon, ...)


def metres_per_degree(lat: float) -> tuple[float, float]:
    from mapapp.dedupe.spatial import metres_per_degree as mpd

    return mpd(lat)


def _text(a: np.ndarray, fmt: str = "{}") -> list[str]:
    """COPY text of a numeric column; NaN is NULL."""
    return [NULL if v != v else fmt.format(v) for v in a.tolist()]


def _stamps(a: np.ndarray) -> list[str]:
    return [s + "+00" for s in np.datetime_as_string(a.astype("datetime64[s]"), unit="s").tolist()]


def synthetic(rng: np.random.Generator) -> Dataset:
    """TOTAL cameras around the ten cities, ids shuffled, with their neighbourhoods (see the docstring)."""
    from mapapp import geometry as geo

    lat_parts, lon_parts, dir_parts, type_parts, mount_parts, hood_parts = [], [], [], [], [], []
    hoods: list[dict[str, Any]] = []
    per_city = TOTAL // len(pb.CITIES)
    for c, (city, clat, clon) in enumerate(pb.CITIES):
        n = per_city + (TOTAL - per_city * len(pb.CITIES) if c == 0 else 0)
        layout, _ = pb.city_layout(rng, n)
        m_lat, m_lon = metres_per_degree(clat)
        lat = np.round(clat + layout.y / m_lat, 7)
        lon = np.round(clon + layout.x / m_lon, 7)
        half = layout.side_m / 2 - RIM_M
        ticks = np.linspace(-half, half, GRID + 1)
        lat_edges, lon_edges = np.round(clat + ticks / m_lat, 7), np.round(clon + ticks / m_lon, 7)
        # The cell each camera lies in, on the same rounded degrees the polygons are written with.
        iy = np.searchsorted(lat_edges, lat, side="right") - 1
        ix = np.searchsorted(lon_edges, lon, side="right") - 1
        inside = (iy >= 0) & (iy < GRID) & (ix >= 0) & (ix < GRID)
        first_id = c * GRID * GRID + 1
        hood_parts.append(np.where(inside, first_id + iy * GRID + ix, 0))
        slug = city.lower().replace(" ", "-")
        for r in range(GRID):
            for k in range(GRID):
                w, e = float(lon_edges[k]), float(lon_edges[k + 1])
                s, n_ = float(lat_edges[r]), float(lat_edges[r + 1])
                polygon = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n_], [w, n_], [w, s]]]}
                hoods.append(
                    {
                        "id": first_id + r * GRID + k,
                        "name": f"{city} {chr(ord('A') + r)}{k + 1}",
                        "slug": f"{slug}-{chr(ord('a') + r)}{k + 1}",
                        "polygon": polygon,
                        "min_lon": w,
                        "min_lat": s,
                        "max_lon": e,
                        "max_lat": n_,
                        "area_km2": geo.area_km2(polygon),
                    }
                )
        lat_parts.append(lat)
        lon_parts.append(lon)
        dir_parts.append(layout.direction)
        type_parts.append(layout.ctype)
        mount_parts.append(layout.mount)

    order = rng.permutation(TOTAL)  # ids in report order, not city by city
    lat = np.concatenate(lat_parts)[order]
    lon = np.concatenate(lon_parts)[order]
    hood = np.concatenate(hood_parts)[order]
    direction = np.concatenate(dir_parts)[order]
    ctype = np.asarray(pb.TYPES, dtype=object)[np.concatenate(type_parts)[order]]
    mount = np.asarray(pb.MOUNTS, dtype=object)[np.concatenate(mount_parts)[order]]
    ctype[rng.random(TOTAL) < TYPE_UNKNOWN_P] = "unknown"
    mount[rng.random(TOTAL) < MOUNT_UNKNOWN_P] = "unknown"

    def pick(values: tuple[str, ...], p: tuple[float, ...]) -> np.ndarray:
        return np.asarray(values, dtype=object)[rng.choice(len(values), TOTAL, p=p)]

    status = pick(STATUSES, STATUS_P)
    operator_type = pick(OPERATOR_TYPES, OPERATOR_TYPE_P)
    operator = np.full(TOTAL, "", dtype=object)
    for kind, (share, names) in OPERATORS.items():
        named = (operator_type == kind) & (rng.random(TOTAL) < share)
        operator[named] = np.asarray(names, dtype=object)[rng.integers(0, len(names), int(named.sum()))]
    osm = rng.random(TOTAL) < OSM_P
    osm_id = np.where(osm, 2_000_000_000 + np.arange(TOTAL), np.nan)
    # Confirmations by status: verified needs 2+, reported has 0-1, disputed and stale a few.
    extra = rng.geometric(0.5, TOTAL) - 1
    confirmations = np.select(
        [status == "verified", status == "reported"], [2 + extra, (rng.random(TOTAL) < 0.2).astype(int)], extra % 4
    )
    not_there = np.where(status == "disputed", rng.integers(2, 5, TOTAL), 0)
    sightings = 1 + confirmations + rng.poisson(0.3, TOTAL)

    # Unpublished rows (chosen among all ids): tombstones point at a published camera.
    hidden_rows = rng.choice(TOTAL, TOMBSTONES + REMOVED + HIDDEN, replace=False)
    tomb, removed, hidden = np.split(hidden_rows, [TOMBSTONES, TOMBSTONES + REMOVED])
    published = np.ones(TOTAL, dtype=bool)
    published[hidden_rows] = False
    merged_into = np.full(TOTAL, np.nan)
    merged_into[tomb] = rng.choice(np.flatnonzero(published), len(tomb)) + 1
    status[removed] = "removed"
    sightings[hidden] = 0

    # Dates: first seen 2019-2025; last seen, last confirmed and the last change after it.
    start, end = np.datetime64("2019-01-01T00:00:00"), np.datetime64("2025-10-01T00:00:00")
    span = int((end - start) / np.timedelta64(1, "s"))
    first = start + rng.integers(0, span, TOTAL).astype("timedelta64[s]")
    room = ((end - first) / np.timedelta64(1, "s")).astype(np.int64)
    last = first + (room * rng.random(TOTAL) ** 2).astype("timedelta64[s]")
    confirmed = first + ((last - first) / np.timedelta64(1, "s") * rng.random(TOTAL)).astype("timedelta64[s]")
    updated = last + rng.integers(0, 30 * 86400, TOTAL).astype("timedelta64[s]")

    known = rng.random(TOTAL)
    direction = np.where(known < 0.60, np.floor(direction) % 360, np.nan)
    height = np.where(rng.random(TOTAL) < 0.30, np.round(rng.uniform(2.5, 12.0, TOTAL), 1), np.nan)
    angle = np.where(rng.random(TOTAL) < 0.20, np.round(rng.uniform(5.0, 60.0, TOTAL)), np.nan)
    first_s, last_s, confirmed_s, updated_s = _stamps(first), _stamps(last), _stamps(confirmed), _stamps(updated)
    const = lambda value: [value] * TOTAL  # noqa: E731
    columns = {
        "id": [str(i) for i in range(1, TOTAL + 1)],
        "surveillance_type": pick(SURVEILLANCE_TYPES, SURVEILLANCE_TYPE_P).tolist(),
        "camera_type": ctype.tolist(),
        "camera_mount": mount.tolist(),
        "surveillance": pick(SURVEILLANCE, SURVEILLANCE_P).tolist(),
        "zone": pick(ZONES, ZONE_P).tolist(),
        "direction": _text(direction, "{:.0f}"),
        "operator": operator.tolist(),
        "operator_type": operator_type.tolist(),
        "height": _text(height, "{:.1f}"),
        "camera_angle": _text(angle, "{:.0f}"),
        "lat": [repr(v) for v in lat.tolist()],
        "lon": [repr(v) for v in lon.tolist()],
        "status": status.tolist(),
        "agreement": const("{}"),
        "sighting_count": [str(v) for v in sightings.tolist()],
        "confirm_count": [str(v) for v in confirmations.tolist()],
        "not_there_count": [str(v) for v in not_there.tolist()],
        "gone_count": const("0"),
        "confirmations": [str(v) for v in confirmations.tolist()],
        "last_confirmed_at": confirmed_s,
        "status_changed_at": confirmed_s,
        "expert_status": const(""),
        "first_seen": first_s,
        "last_seen": last_s,
        "provenance": np.where(osm, "osm", "volunteer").tolist(),
        "osm_id": _text(osm_id, "{:.0f}"),
        "osm_tags": const("{}"),
        "created_at": first_s,
        "updated_at": updated_s,
        "neighbourhood_id": [NULL if h == 0 else str(h) for h in hood.tolist()],
        "merged_into_id": _text(merged_into, "{:.0f}"),
    }
    return Dataset(columns, hoods)


def copy_text(data: Dataset) -> Iterator[str]:
    for row in zip(*data.columns.values(), strict=True):
        yield "\t".join(row) + "\n"


def dataset_spec() -> dict[str, Any]:
    return {
        "version": DATASET_VERSION,
        "schema": pb.schema_fingerprint(),
        "seed": SEED,
        "published": PUBLISHED,
        "total": TOTAL,
        "grid": GRID,
        "rim_m": RIM_M,
        "cities": [c[0] for c in pb.CITIES],
    }


def marker(url: str) -> dict[str, Any] | None:
    with pb.pg_connect(url) as conn:
        if not conn.execute("SELECT to_regclass('bench_dataset')").fetchone()[0]:
            return None
        row = conn.execute("SELECT spec, cameras, info FROM bench_dataset WHERE name = 'api'").fetchone()
        if row is None:
            return None
        present = conn.execute("SELECT count(*) FROM mapapp_camera").fetchone()[0]
        return {"spec": row[0], "cameras": row[1], "info": row[2]} if present == row[1] else None


def load(url: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A fresh database: neighbourhoods, cameras by COPY (neighbourhood set), stats by the service."""
    from django.db import connection
    from django.utils import timezone

    from mapapp.models import Neighbourhood
    from mapapp.services.neighbourhoods import area_index_build, neighbourhoods_stats_refresh

    started = time.perf_counter()
    data = synthetic(np.random.default_rng(SEED))
    generate_s = time.perf_counter() - started
    pb.recreate_database(url)
    pb.use_database(url)
    pb.migrate()
    now = timezone.now()
    Neighbourhood.objects.bulk_create(
        Neighbourhood(**h, source="bench_api synthetic grid", updated_at=now) for h in data.hoods
    )
    t = time.perf_counter()
    with pb.pg_connect(url, autocommit=False) as conn:
        copy_rows(conn, "mapapp_camera", tuple(data.columns), copy_text(data))
        conn.execute("SELECT setval(pg_get_serial_sequence('mapapp_camera', 'id'), %s)", [TOTAL])
        conn.execute("SELECT setval(pg_get_serial_sequence('mapapp_neighbourhood', 'id'), %s)", [len(data.hoods)])
        conn.commit()
    copy_s = time.perf_counter() - t

    # The neighbourhood set by the COPY must be the one the app's own locator finds.
    index = area_index_build()
    ids = np.random.default_rng(SEED + 1).choice(TOTAL, 2_000, replace=False)
    cols = data.columns
    wrong = [
        i + 1
        for i in ids.tolist()
        if index.locate(float(cols["lat"][i]), float(cols["lon"][i]))
        != (None if cols["neighbourhood_id"][i] == NULL else int(cols["neighbourhood_id"][i]))
    ]
    if wrong:
        raise pb.BenchError(f"{len(wrong)} of 2,000 sampled cameras lie in another neighbourhood than set: {wrong[:5]}")
    t = time.perf_counter()
    refreshed = neighbourhoods_stats_refresh()
    stats_s = time.perf_counter() - t
    connection.close()
    with pb.pg_connect(url) as conn:
        conn.execute("VACUUM (ANALYZE) mapapp_camera, mapapp_neighbourhood")
    info = {
        "generate_s": generate_s,
        "copy_s": copy_s,
        "stats_s": stats_s,
        "stats_refreshed": refreshed,
        "total_s": time.perf_counter() - started,
    }
    with pb.pg_connect(url) as conn:
        conn.execute(MARKER_DDL)
        conn.execute(
            "INSERT INTO bench_dataset (name, spec, cameras, info) VALUES ('api', %s, %s, %s)",
            [json.dumps(spec, sort_keys=True), TOTAL, json.dumps(info)],
        )
    return info


# --- Bboxes of about 1,000 cameras ------------------------------------------------------------------


@dataclass
class Boxes:
    boxes: list[tuple[str, str, str, str]]  # west, south, east, north as sent (6 decimals)
    counts: list[int]  # published cameras in each
    km: list[tuple[float, float]]  # width, height


def published_positions() -> tuple[np.ndarray, np.ndarray]:
    from mapapp.models import Camera

    rows = np.array(Camera.objects.published().values_list("lat", "lon"), dtype=np.float64)
    return rows[:, 0], rows[:, 1]


def choose_boxes(lat: np.ndarray, lon: np.ndarray, rng: np.random.Generator) -> Boxes:
    """N_BBOXES 3:2 boxes around random published cameras, each the smallest with >= BBOX_CAMERAS."""
    order = np.argsort(lat)
    s_lat, s_lon = lat[order], lon[order]

    def count(south: float, north: float, west: float, east: float) -> int:
        a, b = np.searchsorted(s_lat, south, side="left"), np.searchsorted(s_lat, north, side="right")
        seg = s_lon[a:b]
        return int(np.count_nonzero((seg >= west) & (seg <= east)))

    out = Boxes([], [], [])
    for i in rng.choice(len(lat), N_BBOXES, replace=False).tolist():
        c_lat, c_lon = float(lat[i]), float(lon[i])
        m_lat, m_lon = metres_per_degree(c_lat)
        widen = BBOX_ASPECT * m_lat / m_lon  # degrees of longitude per degree of latitude, for 3:2 in metres
        lo, hi = 0.0, 0.5
        for _ in range(40):
            mid = (lo + hi) / 2
            if count(c_lat - mid, c_lat + mid, c_lon - mid * widen, c_lon + mid * widen) >= BBOX_CAMERAS:
                hi = mid
            else:
                lo = mid
        # Rounded outward, so the box still holds at least BBOX_CAMERAS; counted as sent.
        west, south = math.floor((c_lon - hi * widen) * 1e6) / 1e6, math.floor((c_lat - hi) * 1e6) / 1e6
        east, north = math.ceil((c_lon + hi * widen) * 1e6) / 1e6, math.ceil((c_lat + hi) * 1e6) / 1e6
        sent = (f"{west:.6f}", f"{south:.6f}", f"{east:.6f}", f"{north:.6f}")
        w, s, e, n = (float(v) for v in sent)
        out.boxes.append(sent)
        out.counts.append(count(s, n, w, e))
        out.km.append(((e - w) * m_lon / 1e3, (n - s) * m_lat / 1e3))
    return out


def api_path(box: tuple[str, ...]) -> str:
    return f"/api/v1/cameras/?bbox={','.join(box)}&format=geojson&page_size={PAGE_SIZE}"


def raw_path(box: tuple[str, ...]) -> str:
    return f"/bench/raw/cameras/?bbox={','.join(box)}&page_size={PAGE_SIZE}"


# --- gunicorn --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (kB) of a process; empty if it is gone."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


class Gunicorn:
    """`gunicorn bench.api_baseline:application` on a free port, stopped with the benchmark
    (try/finally, and PR_SET_PDEATHSIG should this process die without running it)."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        # The deployment's worker model (see the module docstring for why gthread, 2 x 4).
        server = f"--workers {WORKERS} --worker-class gthread --threads {THREADS}"
        self.args = ["bench.api_baseline:application", "--bind", f"127.0.0.1:{self.port}", *server.split()]

    def command(self) -> str:
        return "gunicorn " + " ".join(self.args)

    def start(self) -> Gunicorn:
        cmd = [sys.executable, "-m", "gunicorn", *self.args, "--chdir", str(pb.ROOT)]
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=pb.ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=pb._die_with_parent
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise pb.BenchError(f"gunicorn exited with {self.proc.returncode}:\n{self.log()}")
            with contextlib.suppress(OSError):
                if get(self.port, "/api/v1/")[0] == 200 and len(self.workers()) == WORKERS:
                    return self
            time.sleep(0.2)
        raise pb.BenchError(f"gunicorn did not answer on port {self.port} within 60 s:\n{self.log()}")

    def workers(self) -> list[int]:
        assert self.proc is not None
        with contextlib.suppress(OSError):
            return [int(p) for p in Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()]
        return []

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)  # the arbiter stops its workers
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            for pid in self.workers():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.proc.kill()
            self.proc.wait(timeout=10)


def get(port: int, path: str, timeout: float = 120) -> tuple[int, bytes, float]:
    """(status, body, seconds) of one GET, with the proxy's headers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        started = time.perf_counter()
        conn.request("GET", path, headers=PROXY_HEADERS)
        response = conn.getresponse()
        body = response.read()
        return response.status, body, time.perf_counter() - started
    finally:
        conn.close()


def get_ok(port: int, path: str) -> bytes:
    status, body, _ = get(port, path)
    if status != 200:
        raise pb.BenchError(f"GET {path} answered {status}: {body[:300]!r}")
    return body


# --- wrk ----------------------------------------------------------------------------------------------

WRK_LUA = """-- bench_api.py: cycle through the paths, each thread from its own offset; report as JSON.
local paths = {%(paths)s}
local counter = 0
%(headers)s
function setup(thread)
  thread:set("offset", counter * %(stride)d)
  counter = counter + 1
end
function init(args)
  i = offset or 0
end
function request()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK-JSON {"requests":%%d,"duration_us":%%d,"bytes":%%d,"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,' ..
    '"max_us":%%d,"connect":%%d,"read":%%d,"write":%%d,"status":%%d,"timeout":%%d}\\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


@dataclass
class WrkRun:
    requests: int
    seconds: float
    bytes: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def kb(self) -> float:
        return self.bytes / self.requests / 1e3 if self.requests else math.nan


@dataclass
class Wrk:
    base_url: str
    folder: Path
    duration: int
    threads: int = field(default_factory=lambda: max(1, (os.cpu_count() or 2) // 2))
    connections: int = field(default_factory=lambda: 2 * (os.cpu_count() or 2))

    def script(self, name: str, paths: list[str]) -> Path:
        path = self.folder / f"{name}.lua"
        headers = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in PROXY_HEADERS.items())
        body = ", ".join(json.dumps(p) for p in paths)
        path.write_text(WRK_LUA % {"paths": body, "headers": headers, "stride": max(1, len(paths) // 7 + 1)})
        return path

    def command(self, script: str = "<script>.lua", duration: int | None = None) -> list[str]:
        options = f"-t{self.threads} -c{self.connections} -d{duration or self.duration}s --latency --timeout 10s"
        return ["wrk", *options.split(), "-s", script, self.base_url]

    def run(self, script: Path, label: str, duration: int | None = None) -> WrkRun:
        done = subprocess.run(self.command(str(script), duration), capture_output=True, text=True, check=False)
        line = next((x for x in done.stdout.splitlines() if x.startswith("WRK-JSON ")), None)
        if done.returncode != 0 or line is None:
            raise pb.BenchError(f"wrk failed on {label} ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        r = json.loads(line.removeprefix("WRK-JSON "))
        errors = {k: r[k] for k in ("connect", "read", "write", "status", "timeout") if r[k]}
        if errors:
            raise pb.BenchError(f"wrk on {label}: errors {errors} (status = non-2xx/3xx answers)\n{done.stdout}")
        return WrkRun(
            requests=r["requests"],
            seconds=r["duration_us"] / 1e6,
            bytes=r["bytes"],
            p50_ms=r["p50_us"] / 1e3,
            p90_ms=r["p90_us"] / 1e3,
            p99_ms=r["p99_us"] / 1e3,
            max_ms=r["max_us"] / 1e3,
        )


# --- Measurements ---------------------------------------------------------------------------------------


@dataclass
class ExportRun:
    rows: int
    bytes: int
    seconds: float
    ttfb_s: float
    peak_rss_kb: int
    client_cpu_s: float  # this process reading (and the RSS sampler): not the bottleneck

    @property
    def rows_s(self) -> float:
        return self.rows / self.seconds


class RssSampler:
    """Reads VmRSS of the server's workers every 20 ms in a thread; keeps the peak per pid."""

    def __init__(self, server: Gunicorn) -> None:
        self.server = server
        self.peak: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            for pid in self.server.workers():
                rss = proc_status(pid).get("VmRSS", 0)
                self.peak[pid] = max(self.peak.get(pid, 0), rss)
            self._stop.wait(0.02)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def export_once(server: Gunicorn, path: str) -> ExportRun:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
    buf = bytearray(1 << 20)
    total = lines = 0
    cpu = time.process_time()
    with RssSampler(server) as rss:
        started = time.perf_counter()
        conn.request("GET", path, headers=PROXY_HEADERS)
        response = conn.getresponse()
        ttfb = time.perf_counter() - started
        if response.status != 200:
            raise pb.BenchError(f"GET {path} answered {response.status}: {response.read(300)!r}")
        while n := response.readinto(buf):
            total += n
            lines += buf.count(b"\n", 0, n)
        seconds = time.perf_counter() - started
    conn.close()
    return ExportRun(lines - 1, total, seconds, ttfb, max(rss.peak.values(), default=0), time.process_time() - cpu)


def copy_baseline(url: str) -> tuple[int, float]:
    """(rows, seconds) of PostgreSQL streaming the export's SELECT as CSV to this process (discarded)."""
    from django.db import connection

    from mapapp.exports import public_cameras, public_rows

    query = connection.ops.compose_sql(*public_rows(public_cameras().order_by("id")).query.sql_with_params())
    rows = 0
    with pb.pg_connect(url) as conn, conn.cursor() as cur:
        started = time.perf_counter()
        with cur.copy(f"COPY ({query}) TO STDOUT (FORMAT csv)") as copy:
            for chunk in copy:
                rows += bytes(chunk).count(b"\n")
        return rows, time.perf_counter() - started


@dataclass
class SqlTiming:
    ms: list[float]
    plan: str


def bbox_sql(boxes: Boxes) -> SqlTiming:
    """The API page's own SELECT (as Django builds it), executed alone per bbox, in this process."""
    from django.db import connection

    from mapapp.exports import public_cameras, public_rows

    ms = []
    plan = ""
    with connection.cursor() as cursor:
        for k, box in enumerate(boxes.boxes * 2):
            w, s, e, n = (float(v) for v in box)
            sql, params = (
                public_rows(public_cameras().in_bbox(w, s, e, n))
                .order_by("id")[: PAGE_SIZE + 1]
                .query.sql_with_params()
            )
            started = time.perf_counter()
            cursor.execute(sql, params)
            cursor.fetchall()
            if k >= len(boxes.boxes):  # the first pass warms the cache
                ms.append((time.perf_counter() - started) * 1e3)
        cursor.execute("EXPLAIN " + sql, params)
        lines = [r[0] for r in cursor.fetchall()]
        nodes = [lines[0], *(x.strip() for x in lines[1:] if x.strip().startswith("->"))]  # plan nodes only
        plan = " > ".join(x.removeprefix("->").strip().split("  (")[0] for x in nodes)
    return SqlTiming(ms, plan)


@dataclass
class InProcess:
    """CPU ms per request in this process (django.test.Client, no HTTP), median over the bboxes."""

    rows: list[tuple[str, float]]


def measure_in_process(boxes: Boxes) -> InProcess:
    """Where a request's time goes, without gunicorn or wrk: the CPU of the whole Django request
    (middleware, DRF, filters, throttle, query building, formatting), waiting on PostgreSQL excluded."""
    import api_baseline  # noqa: F401  (this process's ROOT_URLCONF, as the server's)
    from django.test import Client

    client = Client(
        HTTP_HOST="127.0.0.1", **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in PROXY_HEADERS.items()}
    )
    empty = ("0.000001", "0.000001", "0.000002", "0.000002")

    def cpu_ms(paths: list[str]) -> float:
        for p in paths[:5]:  # warm-up
            client.get(p)
        ms = []
        for p in paths:
            started = time.process_time()
            response = client.get(p)
            ms.append((time.process_time() - started) * 1e3)
            if response.status_code != 200:
                raise pb.BenchError(f"GET {p} answered {response.status_code} in process: {response.content[:300]!r}")
        return median(ms)

    return InProcess(
        [
            (LABELS[API], cpu_ms([api_path(b) for b in boxes.boxes])),
            (LABELS[RAW], cpu_ms([raw_path(b) for b in boxes.boxes])),
            ("API, an empty bbox (DRF, filters, throttle, query building)", cpu_ms([api_path(empty)] * 50)),
            ("raw, an empty bbox", cpu_ms([raw_path(empty)] * 50)),
            (LABELS[HOODS], cpu_ms(["/api/v1/neighbourhoods/"] * 10)),
        ]
    )


@dataclass
class Rounds:
    runs: dict[str, list[WrkRun]] = field(default_factory=dict)

    def add(self, label: str, run: WrkRun) -> None:
        self.runs.setdefault(label, []).append(run)
        print(f"  {label}: {run.rps:.1f} req/s, p50 {run.p50_ms:.1f} ms, p99 {run.p99_ms:.1f} ms", flush=True)

    def median(self, label: str, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in self.runs[label])


API, RAW, STATS, HOODS = "api", "raw", "stats", "hoods"
LABELS = {
    API: "API  /api/v1/cameras/?bbox=...&format=geojson&page_size=1000",
    RAW: "raw SQL + orjson  /bench/raw/cameras/ (same SELECT)",
    STATS: "/api/v1/stats/ (warm: refreshed before each round)",
    HOODS: "/api/v1/neighbourhoods/ (JSON)",
}


def check_same_features(port: int, boxes: Boxes) -> tuple[int, int, int]:
    """API and baseline answer the same features for three bboxes. Returns (features, API bytes, raw bytes)."""
    for box in boxes.boxes[:3]:
        api = json.loads(get_ok(port, api_path(box)))
        raw = json.loads(get_ok(port, raw_path(box)))
        if api["features"] != raw["features"]:
            diff = next((a, b) for a, b in zip(api["features"], raw["features"], strict=False) if a != b)
            raise pb.BenchError(
                f"API and baseline differ for bbox {box}: {len(api['features'])} vs "
                f"{len(raw['features'])} features; first difference:\n{diff}"
            )
        if len(api["features"]) != PAGE_SIZE:
            raise pb.BenchError(f"bbox {box} gave {len(api['features'])} features, expected {PAGE_SIZE}")
    return PAGE_SIZE, len(get_ok(port, api_path(box))), len(get_ok(port, raw_path(box)))


def measure_pages(server: Gunicorn, wrk: Wrk, boxes: Boxes, rounds: int) -> Rounds:
    from mapapp.exports import city_stats_refresh

    scripts = {
        API: wrk.script("api", [api_path(b) for b in boxes.boxes]),
        RAW: wrk.script("raw", [raw_path(b) for b in boxes.boxes]),
        STATS: wrk.script("stats", ["/api/v1/stats/"]),
        HOODS: wrk.script("hoods", ["/api/v1/neighbourhoods/"]),
    }
    # Warm-up: PostgreSQL's buffers, every thread's connection, the workers' first requests.
    for label in (API, RAW, HOODS):
        wrk.run(scripts[label], label, duration=3)
    result = Rounds()
    for r in range(rounds):
        print(f"Round {r + 1}/{rounds} ({wrk.duration} s per endpoint)", flush=True)
        for label in (API, RAW) if r % 2 == 0 else (RAW, API):
            result.add(label, wrk.run(scripts[label], label))
        city_stats_refresh()  # what refresh_maps does every MAP_REFRESH_SECONDS
        result.add(STATS, wrk.run(scripts[STATS], STATS))
        result.add(HOODS, wrk.run(scripts[HOODS], HOODS))
    return result


@dataclass
class ColdStats:
    direct_s: list[float]
    http_s: list[float]
    hoods_refresh_s: float
    hoods: int


def measure_cold_stats(server: Gunicorn) -> ColdStats:
    from django.core.cache import cache

    from mapapp.exports import CITY_STATS_KEY, city_stats
    from mapapp.services.neighbourhoods import neighbourhoods_stats_refresh

    direct = []
    for _ in range(3):
        started = time.perf_counter()
        city_stats()
        direct.append(time.perf_counter() - started)
    http_s = []
    for _ in range(3):
        cache.delete(CITY_STATS_KEY)
        status, body, seconds = get(server.port, "/api/v1/stats/")
        if status != 200:
            raise pb.BenchError(f"/api/v1/stats/ answered {status}: {body[:300]!r}")
        http_s.append(seconds)
    started = time.perf_counter()
    hoods = neighbourhoods_stats_refresh()
    return ColdStats(direct, http_s, time.perf_counter() - started, hoods)


# --- Report ---------------------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


@dataclass
class Results:
    machine: str
    versions: str
    dataset: dict[str, Any]
    reused: bool
    boxes: Boxes
    sql: SqlTiming
    pages: Rounds
    sizes: tuple[int, int, int]
    exports: list[ExportRun]
    hwm_kb: int
    rss_idle_kb: int
    copy_rows: int
    copy_s: float
    cold: ColdStats
    in_process: InProcess
    server_cmd: str
    wrk_cmd: str
    rounds: int
    duration: int
    cache_url: str


def report(res: Results) -> None:
    print(f"\n{res.machine}")
    print(res.versions)
    print(f"server: {res.server_cmd}  (DEBUG off, CACHE_URL {res.cache_url}, BEHIND_TLS_PROXY, throttles raised)")
    print(f"load generator: {res.wrk_cmd}  (same machine; {res.rounds} rounds x {res.duration} s per endpoint)")

    d = res.dataset
    pb.print_table(
        f"PostgreSQL dataset ({'reused' if res.reused else 'loaded in this run'})",
        ["what", "value"],
        [
            ["cameras (rows)", f"{d['total']:,}"],
            ["published (Camera.objects.published())", f"{d['published']:,}"],
            ["published, outside every neighbourhood", f"{d['outside']:,}"],
            ["neighbourhoods", f"{d['hoods']:,}"],
            ["load: generate / COPY / neighbourhoods_stats_refresh", d["load"]],
        ],
    )

    counts, km = res.boxes.counts, res.boxes.km
    widths = [w for w, _ in km]
    pb.print_table(
        f"The {len(counts)} bboxes (3:2, centred on random published cameras; same list for API and baseline)",
        ["", "min", "median", "max"],
        [
            ["published cameras in the box", min(counts), f"{median(counts):.0f}", max(counts)],
            ["box width km", f"{min(widths):.2f}", f"{median(widths):.2f}", f"{max(widths):.2f}"],
            ["the page's SELECT alone, ms (in-process, warm)", *(f"{f(res.sql.ms):.1f}" for f in (min, median, max))],
        ],
    )
    print(f"  plan: {res.sql.plan}")

    p = res.pages
    api_rps, raw_rps = p.median(API, "rps"), p.median(RAW, "rps")
    per_round = [a.rps / b.rps for a, b in zip(p.runs[API], p.runs[RAW], strict=True)]
    features, api_bytes, raw_bytes = res.sizes

    def row(label: str, size: float) -> list[str]:
        runs = p.runs[label]
        return [
            LABELS[label],
            f"{p.median(label, 'rps'):.1f}",
            f"{min(r.rps for r in runs):.1f}-{max(r.rps for r in runs):.1f}",
            f"{p.median(label, 'p50_ms'):.1f}",
            f"{p.median(label, 'p90_ms'):.1f}",
            f"{p.median(label, 'p99_ms'):.1f}",
            f"{size:.0f}",
            f"{sum(r.requests for r in runs):,}",
        ]

    headers = ["endpoint", "req/s", "range", "p50 ms", "p90 ms", "p99 ms", "KB", "requests"]
    pb.print_table(
        f"GeoJSON bbox pages of {features:,} features, gunicorn + wrk (medians over {res.rounds} rounds)",
        headers,
        [
            row(API, api_bytes / 1e3),
            row(RAW, raw_bytes / 1e3),
            ["API / baseline", pb.ratio(api_rps, raw_rps), "", pb.ratio(*(p.median(x, "p50_ms") for x in (API, RAW)))]
            + [""] * 4,
        ],
    )
    print(
        f"  per-round ratios (API/baseline req/s): {', '.join(f'{x:.2f}' for x in per_round)}; "
        f"the API and the baseline answered identical features for 3 bboxes checked"
    )

    pb.print_table(
        "Where a request's time goes: CPU ms per request in one process (django.test.Client; waiting on "
        "PostgreSQL not included), median",
        ["request", "CPU ms"],
        [[label, f"{ms:.2f}"] for label, ms in res.in_process.rows],
    )

    pb.print_table(
        f"Stats and neighbourhoods, gunicorn + wrk (medians over {res.rounds} rounds)",
        headers,
        [row(STATS, p.median(STATS, "kb")), row(HOODS, p.median(HOODS, "kb"))],
    )

    c = res.cold
    pb.print_table(
        "Stats computed cold (not cached)",
        ["what", "n", "p50 ms", "min ms", "max ms"],
        [
            [
                "city_stats() called directly",
                len(c.direct_s),
                *(f"{f(c.direct_s) * 1e3:.1f}" for f in (median, min, max)),
            ],
            [
                "/api/v1/stats/ through gunicorn, cache entry deleted",
                len(c.http_s),
                *(f"{f(c.http_s) * 1e3:.1f}" for f in (median, min, max)),
            ],
            [f"neighbourhoods_stats_refresh() of all {c.hoods:,}", 1, f"{c.hoods_refresh_s * 1e3:.0f}", "", ""],
        ],
    )

    e = res.exports
    rows = [
        [
            f"run {i + 1}",
            f"{x.rows:,}",
            f"{x.bytes / 1e6:.1f}",
            f"{x.ttfb_s * 1e3:.0f}",
            f"{x.seconds:.1f}",
            f"{x.rows_s:,.0f}",
            f"{x.peak_rss_kb / 1024:.0f}",
            f"{x.client_cpu_s:.1f}",
        ]
        for i, x in enumerate(e)
    ]
    rate = median([x.rows_s for x in e])
    copy_rate = res.copy_rows / res.copy_s
    rows += [
        ["median", "", "", "", f"{median([x.seconds for x in e]):.1f}", f"{rate:,.0f}", "", ""],
        ["COPY of the same SELECT", f"{res.copy_rows:,}", "", "", f"{res.copy_s:.1f}", f"{copy_rate:,.0f}", "", ""],
        ["export / COPY", "", "", "", "", pb.ratio(rate, copy_rate), "", ""],
    ]
    pb.print_table(
        "CSV export of every published camera, /api/v1/cameras/export/?format=csv through gunicorn",
        ["run", "rows", "MB", "first byte ms", "s", "rows/s", "worker RSS MB (sampled peak)", "client CPU s"],
        rows,
    )
    print(
        f"  worker RSS before the first export {res.rss_idle_kb / 1024:.0f} MB; "
        f"VmHWM (kernel's peak) after the exports {res.hwm_kb / 1024:.0f} MB"
    )

    rows_s = rate
    peak_mb = max(res.hwm_kb, *(x.peak_rss_kb for x in e)) / 1024
    checks = [
        (
            "GeoJSON bbox page, API / raw baseline req/s",
            f">= {TARGET_RATIO}x",
            pb.ratio(api_rps, raw_rps),
            api_rps / raw_rps >= TARGET_RATIO,
        ),
        ("CSV export rows/s (1M cameras)", f">= {TARGET_ROWS_S:,}", f"{rows_s:,.0f}", rows_s >= TARGET_ROWS_S),
        ("CSV export, gunicorn worker peak RSS", f"< {TARGET_RSS_MB} MB", f"{peak_mb:.0f} MB", peak_mb < TARGET_RSS_MB),
        (
            "/api/v1/stats/ p50 (warm)",
            f"< {TARGET_P50_MS:.0f} ms",
            f"{p.median(STATS, 'p50_ms'):.1f} ms",
            p.median(STATS, "p50_ms") < TARGET_P50_MS,
        ),
        (
            "/api/v1/neighbourhoods/ p50",
            f"< {TARGET_P50_MS:.0f} ms",
            f"{p.median(HOODS, 'p50_ms'):.1f} ms",
            p.median(HOODS, "p50_ms") < TARGET_P50_MS,
        ),
    ]
    pb.print_table(
        "Targets", ["target", "limit", "measured", "result"], [[n, lim, got, verdict(ok)] for n, lim, got, ok in checks]
    )
    for name, _, got, ok in checks:
        print(f"{verdict(ok)}: {name}: {got}")


# --- Main -----------------------------------------------------------------------------------------------


def versions(url: str) -> str:
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    wrk_version = (wrk.stdout or wrk.stderr).split("[")[0].strip()
    with pb.pg_connect(url) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
    import gunicorn

    return f"gunicorn {gunicorn.__version__}; {wrk_version}; PostgreSQL {pg}"


def deployment_env(cache_url: str) -> dict[str, str]:
    """The server's settings (see the docstring), set in this process too before Django starts: it
    refreshes the city stats in the shared cache and runs the in-process measurements alike."""
    return {
        "DEBUG": "false",
        "CACHE_URL": cache_url,
        "BEHIND_TLS_PROXY": "true",
        "THROTTLE_ANON": UNLIMITED,
        "THROTTLE_USER": UNLIMITED,
        "THROTTLE_RESEARCHER": UNLIMITED,
        "THROTTLE_EXPORT": UNLIMITED,
        "LOG_LEVEL": "WARNING",
    }


def with_server(env: dict[str, str], folder: Path, fn: Callable[[Gunicorn], Any]) -> Any:
    server = Gunicorn(env, folder / "gunicorn.log").start()
    try:
        return fn(server)
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", help="default postgres://postgres@127.0.0.1:5432/cw_bench_api")
    parser.add_argument("--cache-url", default=CACHE_DEFAULT, help="the server's CACHE_URL (shared by its workers)")
    parser.add_argument("--reload", action="store_true", help="rebuild the database even if it matches")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per endpoint per round")
    parser.add_argument("--export-runs", type=int, default=2)
    args = parser.parse_args()
    pb.terminate_on_sigterm()
    if shutil.which("wrk") is None:
        raise pb.BenchError("wrk is not installed: apt-get install -y wrk (make bench-api does it)")
    started = time.perf_counter()
    code = pb.code_fingerprint()
    machine = machine_line()
    print(machine, flush=True)

    url = pb.database_url(args.database_url, "cw_bench_api")
    if args.cache_url.startswith("redis"):
        pb.require_redis(args.cache_url)
    os.environ.update(deployment_env(args.cache_url))
    pb.configure(url, queue="bench-api", need_redis=False, migrate_now=False)
    # WhiteNoise warns that STATIC_ROOT (collectstatic's output) is missing; no API answer reads it.
    warnings.filterwarnings("ignore", message="No directory at", module="django.core.handlers.base")

    spec = dataset_spec()
    found = None if args.reload else marker(url)
    if found is not None and found["spec"] == spec:
        pb.use_database(url)
        pb.migrate()
        info, reused = found["info"], True
        print(f"Reusing {pb.db_name(url)} ({found['cameras']:,} cameras)", flush=True)
    else:
        print(f"Loading {TOTAL:,} cameras into {pb.db_name(url)} (COPY) ...", flush=True)
        info, reused = load(url, spec), False
        print(f"  loaded in {info['total_s']:.0f} s", flush=True)

    from mapapp.models import Camera, Neighbourhood

    lat, lon = published_positions()
    dataset = {
        "total": TOTAL,
        "published": len(lat),
        "outside": Camera.objects.published().filter(neighbourhood__isnull=True).count(),
        "hoods": Neighbourhood.objects.count(),
        "load": f"{info['generate_s']:.0f} s / {info['copy_s']:.0f} s / {info['stats_s']:.1f} s",
    }
    if len(lat) != PUBLISHED:
        raise pb.BenchError(f"{len(lat):,} published cameras, expected {PUBLISHED:,}")
    boxes = choose_boxes(lat, lon, np.random.default_rng(SEED + 2))
    del lat, lon
    sql = bbox_sql(boxes)
    in_process = measure_in_process(boxes)
    copied, copy_s = copy_baseline(url)

    env = dict(os.environ)  # configure() added DATABASE_URL and SECRET_KEY
    with tempfile.TemporaryDirectory(prefix="cw-bench-api-") as tmp:
        folder = Path(tmp)

        def exports(server: Gunicorn) -> tuple[list[ExportRun], int, int]:
            get_ok(server.port, "/api/v1/cameras/export/?format=csv&bbox=13.40,52.51,13.41,52.52")  # warm-up
            idle = max(proc_status(pid).get("VmRSS", 0) for pid in server.workers())
            runs = []
            for i in range(args.export_runs):
                print(f"Export {i + 1}/{args.export_runs} ...", flush=True)
                runs.append(export_once(server, "/api/v1/cameras/export/?format=csv"))
                if runs[-1].rows != PUBLISHED:
                    raise pb.BenchError(f"the export had {runs[-1].rows:,} rows, expected {PUBLISHED:,}")
                print(f"  {runs[-1].rows_s:,.0f} rows/s", flush=True)
            hwm = max(proc_status(pid).get("VmHWM", 0) for pid in server.workers())
            return runs, idle, hwm

        def pages(server: Gunicorn) -> tuple[Rounds, tuple[int, int, int], ColdStats, str, str]:
            wrk = Wrk(f"http://127.0.0.1:{server.port}", folder, args.duration)
            sizes = check_same_features(server.port, boxes)
            rounds = measure_pages(server, wrk, boxes, args.rounds)
            cold = measure_cold_stats(server)
            return rounds, sizes, cold, server.command(), " ".join(wrk.command())

        # The exports first, on a fresh server, so the workers' VmHWM is the export's.
        export_runs, idle_kb, hwm_kb = with_server(env, folder, exports)
        rounds, sizes, cold, server_cmd, wrk_cmd = with_server(env, folder, pages)

    report(
        Results(
            machine=machine,
            versions=versions(url),
            dataset=dataset,
            reused=reused,
            boxes=boxes,
            sql=sql,
            pages=rounds,
            sizes=sizes,
            exports=export_runs,
            hwm_kb=hwm_kb,
            rss_idle_kb=idle_kb,
            copy_rows=copied,
            copy_s=copy_s,
            cold=cold,
            in_process=in_process,
            server_cmd=server_cmd,
            wrk_cmd=wrk_cmd,
            rounds=args.rounds,
            duration=args.duration,
            cache_url=args.cache_url,
        )
    )
    print(f"\nTotal {time.perf_counter() - started:.0f} s")
    if pb.code_fingerprint() != code:
        print("WARNING: the application code (mapapp/, camerawatch/) changed during the run; rerun.", file=sys.stderr)
    # A missed target is a finding, printed above; like the other benchmarks this exits 0 for it.
    return 0


if __name__ == "__main__":
    sys.exit(main())
