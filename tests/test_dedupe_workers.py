"""Dedupe under real concurrency: two Celery worker processes on the configured broker and database.

Each test commits its data (transactional_db), because the workers are other processes with
their own database connections. On PostgreSQL the area locks serialise workers whose sightings
could meet in one camera; on SQLite, BEGIN IMMEDIATE does (see mapapp/services/locks.py).

Every worker is started and ready before a burst is published, and a burst is stored in one
transaction so that all its messages reach the broker together, at commit. Queuing a burst first
and booting the workers afterwards let a fast-booting worker drain the whole burst before a slow
one was up (it happened on a loaded CI machine, where boots were 11 s apart): the test then proved
nothing about two workers. The embedded filesystem broker writes message files atomically
(camerawatch/broker.py), so publishing while workers poll is safe on every broker.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from geopy.distance import geodesic

from camerawatch.celery import app
from mapapp import services
from mapapp.models import Assignment, Camera, Sighting
from mapapp.services import locks
from mapapp.tasks import sweep_pending_sightings
from tests.conftest import _person
from tests.support import WorkerProcess, wait_until

ZURICH = (47.3769, 8.5417)

Point = tuple[float, float]


def moved(point: Point, metres: float, bearing: float) -> Point:
    p = geodesic(meters=metres).destination(point, bearing)
    return p.latitude, p.longitude


def places(count: int, *, spacing_m: float = 400) -> list[Point]:
    """`count` camera positions on a grid, `spacing_m` apart: far beyond any dedupe gate."""
    rows = []
    for i in range(count):
        row_start = moved(ZURICH, spacing_m * (i // 5), 180)
        rows.append(moved(row_start, spacing_m * (i % 5), 90))
    return rows


def noisy(point: Point, rng: random.Random, *, within_m: float = 8) -> Point:
    """Where a phone puts a volunteer standing at `point`: up to `within_m` off, any direction."""
    return moved(point, within_m * rng.random() ** 0.5, rng.uniform(0, 360))


class Workers:
    """Worker processes on the test queue; the fixture stops every one it started."""

    def __init__(self, queue: str, folder: Path) -> None:
        self.queue = queue
        self.folder = folder
        self.started: list[WorkerProcess] = []

    def start(self, *names: str) -> list[WorkerProcess]:
        made = [WorkerProcess(queue=self.queue, log_path=self.folder / f"{n}.log", name=n) for n in names]
        self.started += made
        with ThreadPoolExecutor(len(made)) as pool:  # each takes seconds to boot; boot them together
            return list(pool.map(lambda w: w.start(), made))

    def log(self) -> str:
        return "\n".join(f"--- {w.name} ---\n{w.log()}" for w in self.started)

    def stop(self) -> None:
        if self.started:
            with ThreadPoolExecutor(len(self.started)) as pool:  # each waits for a warm shutdown
                list(pool.map(lambda w: w.stop(), self.started))


@pytest.fixture
def workers(transactional_db: None, private_task_queue: str, tmp_path: Path) -> Iterator[Workers]:
    app.control.purge()
    pool = Workers(private_task_queue, tmp_path / "workers")
    try:
        yield pool
    finally:
        pool.stop()


def volunteers(count: int) -> list[object]:
    return [_person(f"walker{i}_realname") for i in range(count)]


def submit(reporter: object, point: Point) -> int:
    return services.sighting_submit(reporter=reporter, data={"lat": point[0], "lon": point[1]}).sighting.pk


def processed() -> int:
    return Sighting.objects.filter(status=Sighting.Status.PROCESSED).count()


def pending_ids() -> list[int]:
    return sorted(Sighting.objects.pending().values_list("pk", flat=True))


def cameras_as_groups() -> set[frozenset[int]]:
    """Each live camera as the set of its sighting ids."""
    groups: dict[int, set[int]] = {pk: set() for pk in Camera.objects.live().values_list("pk", flat=True)}
    for pk, camera_id in Sighting.objects.filter(camera__isnull=False).values_list("pk", "camera_id"):
        groups.setdefault(camera_id, set()).add(pk)
    return {frozenset(ids) for ids in groups.values()}


def queued(queue: str) -> int:
    """Messages waiting on the broker (not those a worker has taken and not yet acknowledged)."""
    with app.connection_for_write() as conn:
        return conn.default_channel.queue_declare(queue=queue).message_count


def settled(read: Callable[[], object], *, quiet: float = 1.0, timeout: float = 60) -> object:
    """Wait until `read()` has returned the same value for `quiet` seconds, and return it."""
    deadline = time.monotonic() + timeout
    value, since = read(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = read()
        if now != value:
            value, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return value


def full_log(worker: WorkerProcess) -> str:
    return worker.log_path.read_text(errors="replace")


def cameras_made_by(worker: WorkerProcess) -> set[int]:
    """Camera ids the worker's dedupe tasks returned, read from its log."""
    return set(map(int, re.findall(r"dedupe_sighting\[[-0-9a-f]+\] succeeded in [0-9.e-]+s: (\d+)", full_log(worker))))


def in_hand(worker: WorkerProcess) -> set[str]:
    """Ids of the dedupe tasks the worker has received and not finished, read from its log."""
    log = full_log(worker)
    received = set(re.findall(r"dedupe_sighting\[([-0-9a-f]+)\] received", log))
    return received - set(re.findall(r"dedupe_sighting\[([-0-9a-f]+)\] (?:succeeded|retry|raised)", log))


def burst(spots: list[Point], people: list[object], *, seed: int) -> dict[int, int]:
    """Every volunteer reports every spot once, with GPS noise, in a shuffled order.

    The reports are stored in one transaction, so their messages are published together at commit.
    Returns {sighting id: index of the spot it shows}.
    """
    rng = random.Random(seed)
    reports = [(spot, person) for spot in range(len(spots)) for person in people]
    rng.shuffle(reports)
    with transaction.atomic():
        return {submit(person, noisy(spots[spot], rng)): spot for spot, person in reports}


def expected_groups(truth: dict[int, int]) -> set[frozenset[int]]:
    by_spot: dict[int, set[int]] = {}
    for sighting_id, spot in truth.items():
        by_spot.setdefault(spot, set()).add(sighting_id)
    return {frozenset(ids) for ids in by_spot.values()}


@pytest.mark.worker
def test_two_workers_turn_200_shuffled_sightings_of_20_cameras_into_exactly_20_cameras(workers):
    spots, people = places(20), volunteers(10)
    first, second = workers.start("w1", "w2")

    truth = burst(spots, people, seed=20240521)

    assert wait_until(lambda: processed() == 200, timeout=90), f"{processed()}/200 processed\n{workers.log()}"
    assert Camera.objects.live().count() == 20
    assert cameras_as_groups() == expected_groups(truth)
    assert sorted(Camera.objects.values_list("sighting_count", flat=True)) == [10] * 20
    assert Assignment.objects.count() == 200  # each sighting was placed once, by one worker
    assert Assignment.objects.filter(kind="founded").count() == 20
    assert cameras_made_by(first), f"w1 did no work\n{workers.log()}"
    assert cameras_made_by(second), f"w2 did no work\n{workers.log()}"


@pytest.mark.worker
def test_two_sightings_of_one_new_camera_arriving_together_make_exactly_one_camera(workers):
    first, second = workers.start("w1", "w2")
    alice, bob = volunteers(2)

    for spot in places(10):
        with transaction.atomic():  # both messages are published together, at commit
            pair = [submit(alice, spot), submit(bob, moved(spot, 5, 45))]
        assert wait_until(lambda: not pending_ids(), timeout=30), workers.log()
        cameras = set(Sighting.objects.filter(pk__in=pair).values_list("camera_id", flat=True))
        assert len(cameras) == 1, f"the pair {pair} founded cameras {cameras}\n{workers.log()}"

    assert Camera.objects.live().count() == 10
    assert sorted(Camera.objects.values_list("sighting_count", flat=True)) == [2] * 10
    # The race was on: for several pairs, each idle worker took one of the two messages.
    raced = cameras_made_by(first) & cameras_made_by(second)
    assert len(raced) >= 3, f"only {len(raced)} pairs were handled by both workers\n{workers.log()}"


@pytest.mark.worker
def test_a_worker_killed_mid_task_in_a_burst_loses_no_sighting_and_duplicates_no_camera(workers):
    spots, people = places(15), volunteers(10)
    doomed, survivor = workers.start("w1", "w2")
    truth = burst(spots, people, seed=7)

    assert wait_until(lambda: processed() >= 30, timeout=60), workers.log()
    with transaction.atomic():
        # Hold every dedupe task back, as a recluster does, so that the crash is sure to hit the
        # doomed worker with a sighting in hand rather than between two messages.
        locks.lock_everything()
        assert wait_until(lambda: bool(in_hand(doomed)), timeout=30), workers.log()
        doomed.kill9()
        at_the_crash = processed()
    assert at_the_crash < 150, "the burst was over before the crash; the test proves nothing"

    workers.start("w3")
    assert wait_until(lambda: queued(workers.queue) == 0, timeout=60), workers.log()
    stuck = settled(pending_ids)
    # Late acks and a prefetch of one: the killed worker held exactly the message it was running.
    # Redis hands it out again only after the visibility timeout (an hour); the filesystem broker
    # never does. That is the sweeper's job.
    assert len(stuck) == 1, f"{len(stuck)} sightings stuck after the crash\n{workers.log()}"

    assert services.sightings_sweep(older_than_s=0) == stuck
    assert wait_until(lambda: processed() == 150, timeout=60), f"{pending_ids()} still pending\n{workers.log()}"
    assert Camera.objects.live().count() == 15
    assert cameras_as_groups() == expected_groups(truth)
    assert Assignment.objects.count() == 150
    assert "succeeded" in survivor.log()


@pytest.mark.worker
def test_the_periodic_sweep_run_by_a_worker_rescues_a_sighting_whose_message_was_lost(workers):
    workers.start("w1")
    (alice,) = volunteers(1)
    # Stored ten minutes ago, but its message never reached the broker (it was down at commit).
    lost = Sighting.objects.create(
        reporter=alice, lat=ZURICH[0], lon=ZURICH[1], submitted_at=timezone.now() - timedelta(minutes=10)
    )

    sweep_pending_sightings.delay()  # what beat sends every minute

    assert wait_until(lambda: not pending_ids(), timeout=30), workers.log()
    lost.refresh_from_db()
    assert lost.status == Sighting.Status.PROCESSED
    assert lost.camera is not None


def test_beat_runs_the_pending_sightings_sweeper_every_minute():
    app.loader.import_default_modules()  # what `celery beat` and `celery worker` do at start
    entries = {entry["task"]: entry for entry in settings.CELERY_BEAT_SCHEDULE.values()}

    assert "mapapp.tasks.sweep_pending_sightings" in entries
    assert "mapapp.tasks.sweep_pending_sightings" in app.tasks
    assert entries["mapapp.tasks.sweep_pending_sightings"]["schedule"] <= settings.SWEEP_PENDING_AFTER_SECONDS
