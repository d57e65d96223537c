"""End-to-end dedupe throughput: 10,000 sightings submitted, two real Celery workers on Redis and PostgreSQL.

    .venv/bin/python bench/bench_dedupe_e2e.py [--sightings 10000] [--cameras 3500]
        [--modes drain-2w,drain-1w,inproc,live-2w] [--submitters 1] [--worker-settings JSON]
        [--database-url postgres://postgres@127.0.0.1:5432/cw_bench_e2e] [--broker-url redis://127.0.0.1:6379/11]

Data. One synthetic city (New York, the density field of bench_dedupe_batch.py on the area that
3,500 cameras cover at that density, about 3 km x 3 km), each true camera sighted 2-3 times
(10,000 sightings) by distinct volunteers out of 50, with GPS error sigma 5.7 m per axis and
phone-grade attributes, submitted in random order through `services.sighting_submit`, the
function behind the web form and the API (it validates, stores the sighting and publishes
`dedupe_sighting` to the broker on commit).

The database is recreated and migrated at the start. Workers are real
`celery -A camerawatch worker --concurrency 1` processes (the command line of tests/support.py)
on a private queue (cw-bench-e2e) of Redis database 11. Modes, run in the order given:

* live-Nw: the headline. N workers are started, and ready, BEFORE the first submission; then all
  10,000 are submitted while they work. Reported: submit rate, throughput from the first
  submission to the last sighting processed, that time, and how long after the end of submission
  the last one was processed (with the backlog at that moment).
* drain-Nw: the workers' capacity. From a snapshot in which every sighting is submitted and none
  processed (submitted once, with no worker running: that is the "submit only" rate), every
  message is published again, then N workers are started; timed from the first sighting they
  finish to the last.
* inproc: the baseline without broker and workers: from the same snapshot, this process calls
  `services.sighting_process` for every sighting in submission order.

Ratios: drain-2w/drain-1w is the scaling from a second worker (on a 2-core machine the workers,
PostgreSQL and the poller share two cores); drain-1w/inproc is the cost of the broker and the
worker machinery per sighting. The cameras are checked against the truth (count, pairwise F1),
so a fast but wrong run shows, and every sighting must have been processed exactly once. With
--task-times (default) the workers log at debug level and the time each task logs for itself
("dedupe_sighting %s took %.3f ms") is collected from their logs. Workers are always stopped,
the queue purged and the snapshot dropped at the end, also on errors, Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pgbench_support as pb

SEED = 20240613
QUEUE = "cw-bench-e2e"
CITY = pb.CITIES[0]  # New York
TASK_TIME = re.compile(rb"dedupe_sighting (\d+) took ([0-9.]+) ms")


@dataclass
class Workload:
    data: list[dict[str, Any]]  # sighting_submit's `data`, in submission order
    reporter: list[int]  # volunteer index per sighting
    truth: np.ndarray  # true camera per sighting
    n_cameras: int


def make_workload(seed: int, n_sightings: int, n_cameras: int, n_volunteers: int) -> Workload:
    """n_cameras true cameras, ceil(n/c) or one fewer sightings each by distinct volunteers; shuffled."""
    rng = np.random.default_rng(seed)
    layout, _ = pb.city_layout(rng, n_cameras)
    per = math.ceil(n_sightings / n_cameras)
    if per > n_volunteers:
        raise pb.BenchError(f"{per} sightings per camera need at least {per} volunteers")
    count = np.full(n_cameras, per)
    count[rng.choice(n_cameras, per * n_cameras - n_sightings, replace=False)] -= 1
    cam = np.repeat(np.arange(n_cameras), count)
    who = np.concatenate([rng.choice(n_volunteers, k, replace=False) for k in count.tolist()])
    obs = pb.observe(rng, layout, cam, (CITY[1], CITY[2]))
    minutes_ago = rng.uniform(1, 60 * 24 * 30, len(cam))
    order = rng.permutation(len(cam))
    types = [*pb.TYPES, None]
    mounts = [*pb.MOUNTS, None]
    from django.utils import timezone

    now = timezone.now()
    data = []
    for i in order.tolist():
        acc, d = float(obs.acc[i]), float(obs.direction[i])
        data.append(
            {
                "lat": float(obs.lat[i]),
                "lon": float(obs.lon[i]),
                "accuracy_m": None if math.isnan(acc) else acc,
                "direction": None if math.isnan(d) else int(d),
                "camera_type": types[obs.ctype[i]],
                "camera_mount": mounts[obs.mount[i]],
                "observed_at": now - timedelta(minutes=float(minutes_ago[i])),
            }
        )
    return Workload(data=data, reporter=who[order].tolist(), truth=cam[order], n_cameras=n_cameras)


@dataclass
class Run:
    mode: str
    workers: int
    code: str = ""  # code fingerprint when the mode ended
    submit_s: float = math.nan
    submit_ms: list[float] = field(default_factory=list)
    first_to_last_s: float = math.nan  # first submit -> last processed
    after_submit_s: float = math.nan  # end of submission -> last processed
    busy_s: float = math.nan  # first processed -> last processed
    backlog: int = 0  # still pending when submission ended
    cameras: int = 0
    f1: float = math.nan
    precision: float = math.nan
    recall: float = math.nan
    assignments: int = 0
    retries: int = 0
    errors: int = 0
    task_ms: list[float] = field(default_factory=list)
    n: int = 0

    @property
    def throughput(self) -> float:
        return self.n / self.first_to_last_s if self.first_to_last_s else math.nan

    @property
    def busy_rate(self) -> float:
        return self.n / self.busy_s if self.busy_s else math.nan


def reset_data() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "TRUNCATE mapapp_assignment, mapapp_vote, mapapp_auditevent, mapapp_sighting, mapapp_camera "
            "RESTART IDENTITY CASCADE"
        )
    pb.purge_queue(QUEUE)


def submit_all(work: Workload, users: list[Any], submitters: int) -> tuple[list[int], list[float], float, float]:
    """sighting_submit every sighting (round-robin over `submitters` threads). Returns the sighting ids
    in submission order, per-call ms, and the wall-clock start and end (time.time())."""
    from django.db import connection

    from mapapp import services

    ids: list[int] = [0] * len(work.data)
    ms: list[float] = [0.0] * len(work.data)
    failures: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for i in range(k, len(work.data), submitters):
                started = time.perf_counter()
                result = services.sighting_submit(reporter=users[work.reporter[i]], data=work.data[i], source="api")
                ms[i] = (time.perf_counter() - started) * 1000
                ids[i] = result.sighting.pk
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
        finally:
            if submitters > 1:
                connection.close()

    start = time.time()
    if submitters == 1:
        worker(0)
    else:
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(submitters)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    end = time.time()
    if failures:
        raise failures[0]
    return ids, ms, start, end


def pending() -> int:
    from mapapp.models import Sighting

    return Sighting.objects.filter(status=Sighting.Status.PENDING).count()


def wait_processed(workers: list[pb.Worker], timeout: float) -> None:
    """Until no sighting is pending; fails if a worker dies or nothing moves for two minutes."""
    deadline = time.monotonic() + timeout
    last, last_change = pending(), time.monotonic()
    while last:
        time.sleep(0.1)
        for w in workers:
            w.check_alive()
        now = pending()
        if now != last:
            last, last_change = now, time.monotonic()
        if time.monotonic() - last_change > 120 or time.monotonic() > deadline:
            logs = "\n".join(w.log() for w in workers)
            raise pb.BenchError(f"{last} sightings still pending (stuck or too slow); worker logs:\n{logs}")


def outcome(run: Run, work: Workload, ids: list[int]) -> tuple[Any, Any]:
    from dedupe_sim import evaluate
    from django.db.models import Max, Min

    from mapapp.models import Assignment, Camera, Sighting

    span = Sighting.objects.aggregate(first=Min("processed_at"), last=Max("processed_at"))
    run.n = len(ids)
    run.busy_s = (span["last"] - span["first"]).total_seconds()
    run.cameras = Camera.objects.live().count()
    camera_of = dict(Sighting.objects.values_list("pk", "camera_id"))
    scores = evaluate(work.truth, [camera_of[i] for i in ids])
    run.f1, run.precision, run.recall = scores.f1, scores.precision, scores.recall
    run.assignments = Assignment.objects.filter(kind__in=["founded", "matched"]).count()
    return span["first"], span["last"]


@dataclass
class Snapshot:
    """Every sighting submitted and none processed, kept as a template database to restore from."""

    url: str
    ids: list[int]
    submit: Run


def take_snapshot(url: str, work: Workload, users: list[Any], args: argparse.Namespace) -> Snapshot:
    """Submit everything with no worker running (the submit rate alone), then copy the database."""
    reset_data()
    print(f"  submit only: submitting {len(work.data):,} sightings with no worker running ...", flush=True)
    run = Run(mode="submit only", workers=0)
    ids, run.submit_ms, t_first, t_end = submit_all(work, users, args.submitters)
    run.submit_s, run.n, run.backlog = t_end - t_first, len(ids), pending()
    pb.purge_queue(QUEUE)  # each mode re-publishes its own messages
    snap = pb.sibling_url(url, pb.db_name(url) + "_snapshot")
    pb.clone_database(url, snap)
    return Snapshot(url=snap, ids=ids, submit=run)


def restore(url: str, snap: Snapshot) -> float:
    """Back to "all submitted, none processed"; returns the seconds it took (not part of any figure)."""
    started = time.perf_counter()
    pb.clone_database(snap.url, url)
    pb.purge_queue(QUEUE)
    return time.perf_counter() - started


def make_workers(mode: str, n: int, args: argparse.Namespace, log_dir: Path) -> list[pb.Worker]:
    return [
        pb.Worker(
            queue=QUEUE,
            log_path=log_dir / f"{mode}-w{k + 1}.log",
            name=f"bench-{mode}-w{k + 1}",
            loglevel="debug" if args.task_times else "info",
            settings=args.worker_settings,
        )
        for k in range(n)
    ]


def start(workers: list[pb.Worker]) -> None:
    for w in workers:
        w.start()
    for w in workers:
        w.wait_ready()


def collect_logs(run: Run, workers: list[pb.Worker]) -> None:
    for w in workers:
        text = w.log_path.read_bytes()
        run.retries += text.count(b" retry: ")
        run.errors += len(re.findall(rb"\bERROR\b", text))
        run.task_ms += [float(m.group(2)) for m in TASK_TIME.finditer(text)]


def run_live(
    mode: str, n_workers: int, work: Workload, users: list[Any], args: argparse.Namespace, log_dir: Path
) -> Run:
    """Workers up and waiting, then every sighting submitted while they process."""
    run = Run(mode=mode, workers=n_workers)
    reset_data()
    workers = make_workers(mode, n_workers, args, log_dir)
    try:
        start(workers)
        print(f"  {mode}: submitting {len(work.data):,} sightings to {n_workers} running worker(s) ...", flush=True)
        ids, run.submit_ms, t_first, t_end = submit_all(work, users, args.submitters)
        run.submit_s = t_end - t_first
        run.backlog = pending()
        wait_processed(workers, args.timeout)
        _, last = outcome(run, work, ids)
        run.first_to_last_s = last.timestamp() - t_first
        run.after_submit_s = last.timestamp() - t_end
    finally:
        for w in workers:
            w.stop()
    collect_logs(run, workers)
    return run


def run_drain(
    mode: str, n_workers: int, work: Workload, snap: Snapshot, args: argparse.Namespace, log_dir: Path
) -> Run:
    """From the snapshot: every message published (as sighting_submit does on commit), then the
    workers started; timed from the first task they finish to the last (their capacity)."""
    from mapapp.tasks import dedupe_sighting

    run = Run(mode=mode, workers=n_workers, backlog=len(snap.ids))
    restore(pb.database_url(args.database_url, "cw_bench_e2e"), snap)
    for sid in snap.ids:
        dedupe_sighting.delay(sid)
    workers = make_workers(mode, n_workers, args, log_dir)
    print(f"  {mode}: {len(snap.ids):,} queued sightings, starting {n_workers} worker(s) ...", flush=True)
    try:
        start(workers)
        wait_processed(workers, args.timeout)
        outcome(run, work, snap.ids)
        run.first_to_last_s = run.busy_s
    finally:
        for w in workers:
            w.stop()
    collect_logs(run, workers)
    return run


def run_inproc(work: Workload, snap: Snapshot, args: argparse.Namespace) -> Run:
    """From the snapshot: services.sighting_process for every sighting, in submission order, here."""
    from mapapp import services

    run = Run(mode="inproc", workers=0, backlog=len(snap.ids))
    restore(pb.database_url(args.database_url, "cw_bench_e2e"), snap)
    print(f"  inproc: processing {len(snap.ids):,} sightings in this process ...", flush=True)
    for sid in snap.ids:
        started = time.perf_counter()
        services.sighting_process(sighting_id=sid)
        run.task_ms.append((time.perf_counter() - started) * 1000)
    outcome(run, work, snap.ids)
    run.first_to_last_s = run.busy_s
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", help="default postgres://postgres@127.0.0.1:5432/cw_bench_e2e (recreated)")
    parser.add_argument("--broker-url", default=pb.BROKER_DEFAULT)
    parser.add_argument("--sightings", type=int, default=10_000)
    parser.add_argument("--cameras", type=int, default=3_500, help="true cameras")
    parser.add_argument("--volunteers", type=int, default=50)
    parser.add_argument("--submitters", type=int, default=1, help="submitting threads in this process")
    parser.add_argument(
        "--modes",
        default="drain-2w,drain-1w,inproc,live-2w",
        help="comma-separated, run in this order: drain-Nw (N workers on a full queue), inproc (no broker), "
        "live-Nw (N workers running while the sightings are submitted)",
    )
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per mode")
    parser.add_argument(
        "--task-times",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="workers log at DEBUG so the in-task time of every dedupe_sighting is collected",
    )
    parser.add_argument(
        "--worker-settings",
        type=json.loads,
        default={},
        help="experiments: Django settings overridden in the workers, e.g. '{\"CELERY_DB_REUSE_MAX\": 1000}'",
    )
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for m in modes:
        if not re.fullmatch(r"(live|drain)-[1-9]\d*w|inproc", m):
            parser.error(f"unknown mode {m!r}")
    pb.terminate_on_sigterm()

    url = pb.database_url(args.database_url, "cw_bench_e2e")
    pb.configure(url, broker_url=args.broker_url, queue=QUEUE, migrate_now=False)
    pb.recreate_database(url)
    pb.use_database(url)
    pb.migrate()

    from django.conf import settings

    from mapapp import services

    users = [
        services.volunteer_signup(username=f"bench-volunteer-{k:02d}", email=f"v{k}@bench.invalid", password=None)
        for k in range(args.volunteers)
    ]
    work = make_workload(args.seed, args.sightings, args.cameras, args.volunteers)
    log_dir = pb.ROOT / "var" / "bench-e2e"
    print(
        f"{len(work.data):,} sightings of {work.n_cameras:,} cameras by {args.volunteers} volunteers; "
        f"broker {settings.CELERY_BROKER_URL} queue {QUEUE}; DEBUG={settings.DEBUG}; code {pb.code_fingerprint()}; "
        f"worker logs in {log_dir}"
        + (f"; worker settings {json.dumps(args.worker_settings)}" if args.worker_settings else ""),
        flush=True,
    )
    runs: list[Run] = []
    snap: Snapshot | None = None
    code = pb.code_fingerprint()
    try:
        if any(not m.startswith("live") for m in modes):
            snap = take_snapshot(url, work, users, args)
            runs.append(snap.submit)
        for mode in modes:
            kind, _, n = mode.partition("-")
            n_workers = int(n.rstrip("w")) if n else 0
            if kind == "live":
                runs.append(run_live(mode, n_workers, work, users, args, log_dir))
            elif kind == "drain":
                assert snap is not None
                runs.append(run_drain(mode, n_workers, work, snap, args, log_dir))
            else:
                assert snap is not None
                runs.append(run_inproc(work, snap, args))
            runs[-1].code = pb.code_fingerprint()
    finally:
        purged = pb.purge_queue(QUEUE)
        if purged:
            print(f"  purged {purged} messages left in {QUEUE}")
        if snap is not None:
            pb.drop_database(snap.url)
    report(runs, work, args)
    changed = [r.mode for r in runs if r.code and r.code != code]
    if changed:
        sys.stdout.flush()
        print(
            f"\nWARNING: the application code (mapapp/, camerawatch/) changed during the run (before the end of "
            f"{', '.join(changed)}); modes may have run different code. Rerun for comparable figures.",
            file=sys.stderr,
        )
    return 0 if all(r.errors == 0 and r.assignments == r.n for r in runs if r.mode != "submit only") else 1


def report(runs: list[Run], work: Workload, args: argparse.Namespace) -> None:
    def f(v: float | None, fmt: str = "{:.1f}") -> str:
        return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else fmt.format(v)

    rows = []
    for r in runs:
        if not r.submit_ms:
            continue
        sub = pb.stats(r.submit_ms)
        rows.append(
            [
                r.mode,
                str(r.workers),
                f(r.submit_s),
                f(len(r.submit_ms) / r.submit_s),
                f(sub.p50, "{:.2f}"),
                f(sub.p90, "{:.2f}"),
                f(sub.p99, "{:.2f}"),
                f"{r.backlog:,}",
            ]
        )
    pb.print_table(
        f"Submission: services.sighting_submit, {args.submitters} thread(s) in the bench process",
        ["mode", "workers running", "submit s", "submitted/s", "call p50 ms", "p90", "p99", "pending at end"],
        rows,
    )
    processed = [r for r in runs if r.mode != "submit only"]
    rows = []
    for r in processed:
        t = pb.stats(r.task_ms)
        rows.append(
            [
                r.mode,
                str(r.workers or "-"),
                f(r.first_to_last_s),
                f(r.throughput),
                f(r.after_submit_s),
                f(1000 / r.busy_rate, "{:.2f}") if r.busy_rate else "n/a",
                f(t.p50, "{:.2f}") if t.n else "-",
                f(t.p90, "{:.2f}") if t.n else "-",
                f(t.p99, "{:.2f}") if t.n else "-",
            ]
        )
    pb.print_table(
        "Processing. live: first submission -> last processed; drain/inproc: first -> last processed. "
        "In-task ms: the time each task logs (inproc: each sighting_process call)",
        ["mode", "workers", "time s", "sightings/s", "submit end->last s", "ms/sighting", "task p50", "p90", "p99"],
        rows,
    )
    rows = [
        [
            r.mode,
            f"{r.cameras:,}",
            f"{r.cameras / work.n_cameras:.3f}",
            f(r.precision, "{:.4f}"),
            f(r.recall, "{:.4f}"),
            f(r.f1, "{:.4f}"),
            f"{r.assignments:,}/{r.n:,}",
            str(r.retries),
            str(r.errors),
        ]
        for r in processed
    ]
    pb.print_table(
        f"Result vs the truth ({work.n_cameras:,} cameras) and worker health",
        ["mode", "cameras", "ratio", "precision", "recall", "pairwise F1", "processed once", "retries", "errors"],
        rows,
    )
    by = {r.mode: r for r in processed}
    rows = []
    for a, b, what in (
        ("drain-2w", "drain-1w", "scaling: 2 workers vs 1 (full queue)"),
        ("live-2w", "live-1w", "scaling: 2 workers vs 1 (live)"),
        ("drain-1w", "inproc", "broker + worker vs in-process, 1 at a time"),
        ("drain-2w", "inproc", "2 workers vs in-process sequential"),
        ("live-2w", "drain-2w", "2 workers: while submitting vs full queue"),
    ):
        if a in by and b in by:
            ra, rb = by[a], by[b]
            rows.append(
                [
                    what,
                    f(ra.throughput),
                    f(rb.throughput),
                    pb.ratio(ra.throughput, rb.throughput),
                    f(1000 / ra.throughput - 1000 / rb.throughput, "{:+.2f}"),
                ]
            )
    if rows:
        pb.print_table(
            "Ratios (A vs B)",
            ["comparison", "A sightings/s", "B sightings/s", "A/B", "ms/sighting A-B"],
            rows,
        )
    headline = by.get("live-2w") or by.get("drain-2w") or (processed[0] if processed else None)
    if headline is not None:
        since = "the first submission" if headline.mode.startswith("live") else "the first task"
        after = (
            f"; the last one {headline.after_submit_s:.1f} s after submission ended"
            if headline.mode.startswith("live")
            else ""
        )
        print(
            f"\nHeadline ({headline.mode}): {headline.n:,} sightings processed in {headline.first_to_last_s:.1f} s "
            f"from {since} ({headline.throughput:.1f} sightings/s){after}; "
            f"{headline.cameras:,} cameras for {work.n_cameras:,} true ones (pairwise F1 {headline.f1:.3f})."
        )


if __name__ == "__main__":
    sys.exit(main())
