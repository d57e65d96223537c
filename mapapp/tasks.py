"""Celery tasks: thin, idempotent wrappers around services. They take ids, never model objects."""

from __future__ import annotations

import logging
import time

from celery import shared_task
from celery.signals import task_postrun
from django.db import OperationalError, connections

from . import services

log = logging.getLogger(__name__)


@task_postrun.connect
def _close_old_connections(**_: object) -> None:
    """After each task, as after a web request: drop a database connection that broke or expired.

    Workers otherwise keep their connection across tasks (settings.CELERY_DB_REUSE_MAX). A task
    run eagerly inside someone's transaction (a test, a request) leaves that connection alone.
    """
    for conn in connections.all(initialized_only=True):
        if not conn.in_atomic_block:
            conn.close_if_unusable_or_obsolete()


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    # A locked or restarting database, a deadlock victim or a serialisation failure is
    # transient: retry with exponential backoff (1 s, 2 s, 4 s ... up to a minute).
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=8,
)
def dedupe_sighting(sighting_id: int, at: list[float] | None = None) -> int | None:
    """Put one sighting into its camera. Safe to run twice: a processed sighting is left alone.

    `at` is the sighting's [lat, lon] when it was queued: a hint that lets the service lock and
    read the sighting's area in its first round trip. The service checks it against the row, so
    a stale or missing hint only costs a round trip (sightings_sweep and old messages send none).

    Returns the camera id, or None when there was nothing to do. The time the service took is
    logged at debug level; the incremental benchmark reads it from there (measured inside the task).
    """
    started = time.perf_counter()
    hint = (float(at[0]), float(at[1])) if at else None
    result = services.sighting_process(sighting_id=sighting_id, at=hint)
    log.debug("dedupe_sighting %s took %.3f ms", sighting_id, (time.perf_counter() - started) * 1000)
    return None if result is None else result.camera_id


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def sweep_pending_sightings() -> int:
    """Re-queue sightings stuck in pending (run every minute by beat). Returns how many."""
    return len(services.sightings_sweep())


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def mark_stale_cameras() -> int:
    """Recompute the cameras whose last confirmation has aged past the stale period (hourly, beat).

    Idempotent: a camera already stale is not selected again, and recomputing one is harmless.
    """
    from django.db import transaction

    ids = services.stale_candidates()
    for camera_id in ids:
        with transaction.atomic():
            services.camera_refresh(camera_id=camera_id, reason="Not confirmed for the stale period.")
    return len(ids)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def judge_due_votes() -> int:
    """Recompute the cameras holding votes whose settle period has just ended (hourly, beat).

    Idempotent: once judged a vote has `agrees` set and is not selected again.
    """
    from django.db import transaction

    ids = services.votes_due_cameras()
    for camera_id in ids:
        with transaction.atomic():
            services.camera_refresh(camera_id=camera_id, reason="A vote's settle period ended.")
    return len(ids)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def refresh_maps() -> int:
    """Rebuild the neighbourhood stats and cached maps whose cameras changed (beat, every
    MAP_REFRESH_SECONDS: the debounce interval, see mapapp/services/maps.py). Returns how many
    maps were rendered. Idempotent: with nothing changed it renders nothing."""
    from .exports import city_stats_refresh
    from .services.maps import maps_refresh

    rendered = len(maps_refresh().rendered)
    city_stats_refresh()  # /api/v1/stats/ then never computes on a request
    return rendered


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def reassign_neighbourhoods() -> int:
    """Put every live camera into the neighbourhood it lies in again, and refresh the stats.

    Queued by the neighbourhood loader, after twice AREA_INDEX_TTL_SECONDS: until then a worker
    may still place a camera it writes with the outlines it had cached before the load. Idempotent:
    it writes only cameras whose neighbourhood differs, so a second run changes nothing. Returns
    how many cameras changed neighbourhood.
    """
    from .services.neighbourhoods import neighbourhoods_assign_all, neighbourhoods_stats_refresh

    changed = neighbourhoods_assign_all().changed
    neighbourhoods_stats_refresh()
    return changed


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    # A database that is down or restarting at 03:00 is transient: retry with exponential backoff
    # (up to 1 s, 2 s, 4 s ... 10 min apart; about 17 minutes in all), then wait for tomorrow.
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=10,
)
def export_snapshot() -> str | None:
    """Write the open-data snapshot and prune old ones (beat, nightly at 03:00 UTC). Returns its version.

    Idempotent per version (the UTC minute): run again in the same minute, it returns the
    snapshot already written. While another worker or the command holds the snapshot lock, this
    one writes nothing and returns None. A worker killed mid-write publishes nothing: its folder
    has no manifest, and the next snapshot removes it (mapapp/exports/snapshots.py).
    """
    from .exports.snapshots import SnapshotBusy, snapshot_write

    try:
        snapshot = snapshot_write()
    except SnapshotBusy:
        log.info("export_snapshot: another snapshot is being written; skipped")
        return None
    log.info("export_snapshot: %s %s", snapshot.version, "written" if snapshot.created else "already there")
    return snapshot.version
