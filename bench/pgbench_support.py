"""Shared helpers for the benchmarks that need real PostgreSQL and Redis (incremental, e2e).

* `configure()` points Django at a bench database (created if missing, then migrated) and the
  Celery broker at Redis database 11, and fails loudly if either server cannot be reached: these
  benchmarks never fall back to SQLite or the filesystem broker.
* `stats()` and `print_table()`: percentiles over many samples and a fixed-width table.
* `city_layout()`: a synthetic city (the density model of bench_dedupe_batch.py: a dense
  downtown on a street grid, hotspot blobs, residential streets and two-camera poles).
* `Worker`: a real `celery -A camerawatch worker` child process (as tests/support.WorkerProcess
  starts one), which the kernel stops if the benchmark dies (PR_SET_PDEATHSIG).

Import this module before Django is set up; `configure()` sets DJANGO_SETTINGS_MODULE.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import math
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_DEFAULT = "postgres://postgres@127.0.0.1:5432/"
BROKER_DEFAULT = "redis://127.0.0.1:6379/11"

# The noise model of the dedupe issue (see bench/dedupe_sim.py): 5.7 m per axis, 8 m RMS.
GPS_SIGMA_M = 5.7
DIRECTION_SIGMA_DEG = 15.0
TYPES = ("fixed", "dome", "panning")
TYPE_P = (0.55, 0.35, 0.10)
MOUNTS = ("wall", "pole", "building", "ceiling", "street_lamp", "traffic_signal", "other")
MOUNT_P = (0.45, 0.20, 0.15, 0.08, 0.06, 0.04, 0.02)

# Centres of the cities the synthetic data is spread over (lat, lon).
CITIES = (
    ("New York", 40.7128, -74.0060),
    ("London", 51.5074, -0.1278),
    ("Paris", 48.8566, 2.3522),
    ("Berlin", 52.5200, 13.4050),
    ("Chicago", 41.8781, -87.6298),
    ("Los Angeles", 34.0522, -118.2437),
    ("Madrid", 40.4168, -3.7038),
    ("Amsterdam", 52.3676, 4.9041),
    ("San Francisco", 37.7749, -122.4194),
    ("Washington", 38.9072, -77.0369),
)


class BenchError(SystemExit):
    """A precondition failed (a server is down, a worker died): exit non-zero with a message."""

    def __init__(self, message: str) -> None:
        super().__init__(f"FATAL: {message}")


# --- Servers and Django -------------------------------------------------------------------------


def database_url(url: str | None, default_name: str) -> str:
    return url or PG_DEFAULT + default_name


def sibling_url(url: str, name: str) -> str:
    """The same server and credentials, another database name."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(name), parts.query, parts.fragment))


def db_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _conninfo(url: str, *, dbname: str | None = None) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql", "pgsql"}:
        raise BenchError(f"these benchmarks need PostgreSQL; got a {parts.scheme or '?'}:// DATABASE_URL")
    netloc_path = urlunsplit(("postgresql", parts.netloc, "/" + quote(dbname or db_name(url)), parts.query, ""))
    return netloc_path


def pg_connect(url: str, *, dbname: str | None = None, autocommit: bool = True) -> Any:
    import psycopg

    try:
        return psycopg.connect(_conninfo(url, dbname=dbname), autocommit=autocommit, connect_timeout=5)
    except psycopg.OperationalError as exc:
        where = urlsplit(url).hostname or "?"
        raise BenchError(f"PostgreSQL at {where}:{urlsplit(url).port or 5432} is unreachable: {exc}") from None


def ensure_database(url: str) -> bool:
    """Create the database named by `url` if missing (via the server's `postgres` database). True if created."""
    name = db_name(url)
    if not name:
        raise BenchError(f"DATABASE_URL {url!r} names no database")
    with pg_connect(url, dbname="postgres") as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return False
        conn.execute(f'CREATE DATABASE "{name}"')
        return True


def recreate_database(url: str) -> None:
    """Drop (kicking out any session) and create the bench database named by `url`."""
    name = db_name(url)
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        conn.close()
    with pg_connect(url, dbname="postgres") as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def clone_database(source_url: str, target_url: str) -> None:
    """Make `target` a copy of `source` (CREATE DATABASE ... TEMPLATE: a file copy, fast for small ones)."""
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        conn.close()
    with pg_connect(source_url, dbname="postgres") as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name(target_url)}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db_name(target_url)}" TEMPLATE "{db_name(source_url)}"')


def drop_database(url: str) -> None:
    with pg_connect(url, dbname="postgres") as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name(url)}" WITH (FORCE)')


def schema_fingerprint() -> str:
    """A hash of every migration file: a migration edited in place changes it, so a bench database
    migrated before the edit is rebuilt rather than reused with a stale schema."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted((ROOT / "mapapp" / "migrations").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def code_fingerprint() -> str:
    """A hash of the application code (mapapp/ and camerawatch/): a worker started after someone
    edited it runs other code than one started before, so a benchmark checks it did not change."""
    import hashlib

    digest = hashlib.sha256()
    for folder in ("mapapp", "camerawatch"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def require_redis(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3).ping()
    except Exception as exc:  # redis raises several types (ConnectionError, TimeoutError, ...)
        raise BenchError(f"Redis broker {url} is unreachable: {exc}") from None


def configure(
    db_url: str, *, broker_url: str = BROKER_DEFAULT, queue: str, need_redis: bool = True, migrate_now: bool = True
) -> None:
    """Point Django at `db_url` (created, and migrated unless told not to) and Celery at `broker_url`/`queue`.

    DEBUG is off unless the environment says otherwise, as on a production worker (DEBUG on would
    also record every query in memory).
    """
    ensure_database(db_url)
    if need_redis:
        require_redis(broker_url)
    os.environ["DJANGO_SETTINGS_MODULE"] = "camerawatch.settings"
    os.environ["DATABASE_URL"] = db_url
    os.environ["CELERY_BROKER_URL"] = broker_url
    os.environ["CELERY_QUEUE"] = queue
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", "bench-" + secrets.token_urlsafe(48))
    import django

    django.setup()
    if migrate_now:
        migrate()


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def use_database(url: str) -> None:
    """Switch Django's default connection to another database on the same server (closes it)."""
    from django.db import connection

    connection.close()
    connection.settings_dict["NAME"] = db_name(url)


# --- Statistics and tables ----------------------------------------------------------------------


@dataclass(frozen=True)
class Stats:
    n: int
    p50: float
    p90: float
    p99: float
    max: float
    mean: float

    def cells(self, fmt: str = "{:.2f}") -> list[str]:
        return [str(self.n), *(fmt.format(v) for v in (self.p50, self.p90, self.p99, self.max, self.mean))]


def stats(samples: Sequence[float]) -> Stats:
    if not len(samples):
        return Stats(0, math.nan, math.nan, math.nan, math.nan, math.nan)
    a = np.asarray(samples, dtype=np.float64)
    p50, p90, p99 = np.percentile(a, [50, 90, 99])
    return Stats(len(a), float(p50), float(p90), float(p99), float(a.max()), float(a.mean()))


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b and math.isfinite(a) and math.isfinite(b) else "n/a"


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]], *, left: int = 1) -> None:
    """A fixed-width table: the first `left` columns left-aligned, the rest right-aligned."""
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )

    print(f"\n{title}")
    print(line(cells[0]))
    print("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        print(line(row))
    sys.stdout.flush()


# --- A synthetic city ---------------------------------------------------------------------------


@dataclass
class Layout:
    """Cameras in a local plane around a city centre: metres east (x) and north (y)."""

    x: np.ndarray
    y: np.ndarray
    direction: np.ndarray  # degrees, always known for the true camera
    ctype: np.ndarray  # index into TYPES
    mount: np.ndarray  # index into MOUNTS
    side_m: float


# bench_dedupe_batch.py's full city: 333,334 cameras on 30 km x 30 km. Smaller cities keep its
# density field on a proportionally smaller area, so a camera's neighbourhood looks the same.
_REF_CAMERAS = 333_334
_REF_SIDE_M = 30_000.0


def _on_streets(rng: np.random.Generator, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Snap points onto building facades of a Manhattan-like grid (streets every 80 m, avenues
    every 250 m), 6-30 m from the centre line, on either side."""
    n = len(x)
    on_street = rng.random(n) < 0.7
    side = np.where(rng.random(n) < 0.5, -1.0, 1.0) * rng.uniform(6.0, 30.0, n)
    y_snap = np.round(y / 80.0) * 80.0 + side
    x_snap = np.round(x / 250.0) * 250.0 + side
    return np.where(on_street, x, x_snap), np.where(on_street, y_snap, y)


def city_side_m(n_cameras: int) -> float:
    return _REF_SIDE_M * math.sqrt(n_cameras / _REF_CAMERAS)


def city_points(
    rng: np.random.Generator, n: int, side_m: float, blobs: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """`n` points from the city's density field (no poles): downtown, hotspots, residential."""
    scale = side_m / _REF_SIDE_M
    half = side_m / 2.0
    blob_xy, blob_p, blob_sigma = blobs
    kind = rng.choice(3, n, p=[0.30 / 0.95, 0.35 / 0.95, 0.30 / 0.95])
    down = rng.normal(0.0, 2_400.0 * scale, (n, 2)) + np.array([-0.1, 0.15]) * side_m
    which = rng.choice(len(blob_p), n, p=blob_p)
    hot = blob_xy[which] + rng.normal(0.0, 1.0, (n, 2)) * blob_sigma[which, None]
    res = rng.uniform(-half, half, (n, 2))
    xy = np.where((kind == 0)[:, None], down, np.where((kind == 1)[:, None], hot, res))
    x, y = _on_streets(rng, xy[:, 0], xy[:, 1])
    return np.clip(x, -half, half), np.clip(y, -half, half)


def city_blobs(rng: np.random.Generator, n_cameras: int, side_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hotspots (stations, malls, campuses): long-tailed sizes, peak density 1,000-5,000 cameras/km²."""
    scale = side_m / _REF_SIDE_M
    half = side_m / 2.0
    n_blobs = max(1, round(800 * scale**2))
    blob_xy = rng.uniform(-half, half, (n_blobs, 2))
    weight = rng.pareto(1.5, n_blobs) + 1.0
    p = weight / weight.sum()
    expected = 0.35 * n_cameras * p
    peak = rng.uniform(1_000.0, 5_000.0, n_blobs) / 1e6  # per m²
    sigma = np.maximum(np.sqrt(expected / (2 * np.pi * peak)), 30.0)
    return blob_xy, p, sigma


def city_layout(rng: np.random.Generator, n_cameras: int) -> tuple[Layout, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """A city of `n_cameras` true cameras, 5% of them the second camera on a two-camera pole."""
    side = city_side_m(n_cameras)
    blobs = city_blobs(rng, n_cameras, side)
    n_pole = round(0.05 * n_cameras)
    n_single = n_cameras - n_pole
    x, y = city_points(rng, n_single, side, blobs)
    direction = rng.uniform(0.0, 360.0, n_cameras)
    ctype = rng.choice(len(TYPES), n_cameras, p=TYPE_P)
    mount = rng.choice(len(MOUNTS), n_cameras, p=MOUNT_P)
    # Two-camera poles: a second camera within 0.3 m of another, facing 90-180 degrees away.
    host = rng.choice(n_single, n_pole, replace=False)
    x = np.concatenate([x, x[host] + rng.normal(0.0, 0.3, n_pole)])
    y = np.concatenate([y, y[host] + rng.normal(0.0, 0.3, n_pole)])
    pole = np.arange(n_single, n_cameras)
    direction[pole] = (direction[host] + rng.uniform(90.0, 180.0, n_pole)) % 360.0
    ctype[host] = ctype[pole] = 0
    mount[host] = mount[pole] = MOUNTS.index("pole")
    return Layout(x, y, direction, ctype, mount, side), blobs


@dataclass
class Reports:
    """Sightings as columns; unknown values are NaN (numbers) or -1 (indices)."""

    lat: np.ndarray
    lon: np.ndarray
    acc: np.ndarray
    direction: np.ndarray
    ctype: np.ndarray
    mount: np.ndarray


def observe(rng: np.random.Generator, layout: Layout, cam: np.ndarray, centre: tuple[float, float]) -> Reports:
    """One volunteer's sighting of each camera in `cam` (indices; repeats allowed): GPS error
    sigma 5.7 m per axis; accuracy stated by 80% of phones (median 7 m); direction known 40%
    (15 degrees of noise); type known 70% (a tenth of those wrong); mount known 60%."""
    from mapapp.dedupe import metres_per_degree

    n = len(cam)
    m_lat, m_lon = metres_per_degree(centre[0])
    x = layout.x[cam] + rng.normal(0.0, GPS_SIGMA_M, n)
    y = layout.y[cam] + rng.normal(0.0, GPS_SIGMA_M, n)
    acc = np.where(rng.random(n) < 0.8, np.round(rng.lognormal(math.log(7.0), 0.5, n), 1), np.nan)
    direction = np.where(
        rng.random(n) < 0.4, np.round(layout.direction[cam] + rng.normal(0.0, DIRECTION_SIGMA_DEG, n)) % 360.0, np.nan
    )
    ctype = layout.ctype[cam].copy()
    wrong = rng.random(n) < 0.10
    ctype[wrong] = (ctype[wrong] + rng.integers(1, len(TYPES), int(wrong.sum()))) % len(TYPES)
    ctype[rng.random(n) >= 0.7] = -1
    mount = np.where(rng.random(n) < 0.6, layout.mount[cam], -1)
    return Reports(centre[0] + y / m_lat, centre[1] + x / m_lon, acc, direction, ctype, mount)


def to_local(lat: np.ndarray, lon: np.ndarray, centre: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    from mapapp.dedupe import metres_per_degree

    m_lat, m_lon = metres_per_degree(centre[0])
    return (np.asarray(lon) - centre[1]) * m_lon, (np.asarray(lat) - centre[0]) * m_lat


# --- Real Celery workers ------------------------------------------------------------------------


def wait_until(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Worker:
    """A real `celery -A camerawatch worker` process on the bench broker, consuming one queue.

    The command line is tests/support.WorkerProcess's. `extra_env` is added to the environment
    (DATABASE_URL, CELERY_BROKER_URL and CELERY_QUEUE come from this process's environment).
    """

    def __init__(
        self,
        *,
        queue: str,
        log_path: Path,
        name: str,
        concurrency: int = 1,
        loglevel: str = "info",
        extra_env: dict[str, str] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> None:
        self.queue = queue
        self.loglevel = loglevel
        self.settings = settings or {}
        self.log_path = log_path
        self.name = name
        self.concurrency = concurrency
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        env = {**os.environ, "CELERY_QUEUE": self.queue, **self.extra_env}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.write_bytes(b"")
        if self.settings:  # an experiment: Django settings overridden in the worker, then the same worker
            cmd = [sys.executable, "-c", _WORKER_WITH_SETTINGS, json.dumps(self.settings), "-Q", self.queue]
        else:
            cmd = [sys.executable, "-m", "celery", "-A", "camerawatch", "worker", "-Q", self.queue]
        cmd += ["--concurrency", str(self.concurrency), "-n", f"{self.name}-{os.getpid()}@%h", "-l", self.loglevel]
        cmd += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
            )
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        assert self.proc is not None
        if not wait_until(
            lambda: b" ready." in self.log_path.read_bytes() or self.proc.poll() is not None, timeout=timeout
        ):
            raise BenchError(f"Celery worker {self.name} did not start:\n{self.log()}")
        self.check_alive()

    def check_alive(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise BenchError(f"Celery worker {self.name} exited with {self.proc.returncode}:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)  # warm shutdown: finishes the task in hand
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            for child in _children(self.proc.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
            self.proc.kill()
            self.proc.wait(timeout=10)


_WORKER_WITH_SETTINGS = """
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "camerawatch.settings")
import django
django.setup()
from django.conf import settings
for name, value in json.loads(sys.argv[1]).items():
    setattr(settings, name, value)
from camerawatch.celery import app
app.worker_main(["worker", *sys.argv[2:]])
"""


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout
    return [int(p) for p in out.split()]


def terminate_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so `finally` blocks (worker and queue clean-up) run."""

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(f"terminated by signal {signum}")

    signal.signal(signal.SIGTERM, handler)


def purge_queue(queue: str) -> int:
    """Drop every message waiting in `queue` on the bench broker; returns how many."""
    from camerawatch.celery import app

    with app.connection_for_write() as conn:
        try:
            return conn.default_channel.queue_purge(queue) or 0
        except Exception as exc:  # a queue never declared raises on some transports
            if "NOT_FOUND" in str(exc):
                return 0
            raise
