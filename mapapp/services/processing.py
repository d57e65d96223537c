"""The dedupe task's service: put a pending sighting into its camera, in three or four round trips.

The decisions are the pure core's (`dedupe.regroup`, or `dedupe.best_match` where a moderator
has pinned sightings nearby). This module is about doing the database work fast, since the task
has a latency budget (issue 3: p50 5 ms, p99 25 ms with a million cameras):

1. Read the pending sighting (and, on PostgreSQL, relax commit durability, see below).
2. One batch (roundtrips.Batch): the area locks, then re-read the sighting's status, the live
   cameras within the widest gate and their processed sightings. The reads come after the locks
   in the same batch, so they see every write of a worker that held an overlapping lock.
3. Only if a new camera is founded: INSERT it (its id is needed by what follows).
4. One batch of writes: the sighting processed (a conditional UPDATE: if it is no longer pending,
   say a moderator rejected it meanwhile, everything is rolled back), moved sightings, the changed
   cameras' summaries (computed from the rows read in step 2: they are every processed sighting of
   those cameras, so nothing needs reading again), and the Assignment history rows.
Then COMMIT. Rare side effects (a regroup emptied a camera: its votes move, it becomes a
tombstone, an AuditEvent is written) use the ORM; they are not on the hot path.

**Commit durability.** The task's transaction sets `synchronous_commit = off` (PostgreSQL,
this transaction only): COMMIT returns without waiting for the WAL flush, which otherwise is
often the largest single cost. What it risks is bounded and recovered: if the *database server*
crashes in the ~0.6 s before the flush, the last dedupe results are lost as a whole (the
transaction is atomic, so never half), their sightings are still `pending` (the sighting itself
was committed durably when it was submitted), and the sweeper re-queues them. Dedupe results are
derived data; submissions, votes and moderator actions keep full durability.

The SQL is written here for the fixed shapes the task needs; column names and value adaptation
come from the models (`_meta`, `get_db_prep_save`), so it follows the schema.
tests/test_dedupe_service.py and test_dedupe_workers.py run it on SQLite and, in CI, PostgreSQL.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.db import DataError, OperationalError, connection, transaction
from django.utils import timezone

from .. import dedupe
from ..models import Assignment, AuditEvent, Camera, Sighting
from . import locks
from .audit import audit_record
from .cameras import (
    MEMBER_FIELDS,
    SEARCH_SLACK_M,
    Nearby,
    ProcessResult,
    _move_votes,
    _retire,
    camera_refresh,
    dedupe_params,
    lock_reach_m,
    report_of,
    summary_values,
)
from .roundtrips import Batch, columns, dicts, table

CAMERA_FIELDS = (
    "id",
    "lat",
    "lon",
    "direction",
    "camera_type",
    "camera_mount",
    # Whether anyone voted on it (then its status needs its votes: camera_refresh), and its status.
    "status",
    "confirm_count",
    "not_there_count",
    "gone_count",
    "expert_status",
)
NOT_CLAIMED = "22012"  # division_by_zero: what a guarded claim raises when it matches no row


def sighting_process(
    *, sighting_id: int, params: dedupe.Params | None = None, at: tuple[float, float] | None = None
) -> ProcessResult | None:
    """Put a pending sighting into its camera, regrouping the cameras around it (dedupe.regroup).

    Returns None when there is nothing to do (already processed, rejected or missing), so running
    it twice equals running it once. Race-free: the area lock (locks.py) serialises every worker
    whose sighting could touch the same cameras, and the sighting is claimed with a conditional
    UPDATE (still pending, still at the position the decision used): if another worker got there
    first, or the sighting was edited or rejected meanwhile, the claim updates no row and the
    whole attempt is rolled back. A moved sighting is then tried again at its new position.

    Where a moderator has placed a sighting (pinned) among the nearby cameras, the area is not
    regrouped, since that would overrule the moderator; the sighting joins the best-scoring
    camera instead (dedupe.best_match), as a greedy matcher would.
    """
    params = params or dedupe_params()
    # Outside any transaction (a worker), the COMMIT can go out with the writes: one round trip
    # fewer (see _apply_groups). Inside a caller's transaction it is theirs to commit.
    own_transaction = not connection.in_atomic_block and connection.vendor == "postgresql"
    for _ in range(3):
        try:
            with transaction.atomic():
                row, reserved_id, around = _read_pending(sighting_id, params, at)
                if row is None:
                    return None
                if at is not None and around is None:
                    # The hint is stale (the sighting was moved after it was queued): this attempt
                    # locked the wrong area, so undo it and lock the sighting's real one.
                    transaction.set_rollback(True)
                    at = (row["lat"], row["lon"])
                    continue
                around = around or _lock_and_read(row, params)
                result = _decide_and_write(row, around, params, reserved_id, commit=own_transaction)
                if result is not None:
                    return result
                transaction.set_rollback(True)  # not claimed: undo this attempt, then look again
        except DataError as error:
            if getattr(error.__cause__, "sqlstate", None) != NOT_CLAIMED:
                raise
            # Not claimed, detected by the guarded claim (the writes and COMMIT were skipped and
            # the transaction rolled back): look again.
    raise OperationalError(f"sighting {sighting_id} changed under three attempts to process it; retrying later")


def _decide_and_write(
    row: dict[str, Any], around: Nearby, params: dedupe.Params, reserved_id: int | None = None, *, commit: bool = False
) -> ProcessResult | None:
    report = report_of(row)
    candidates = {c.id: c for c in around.candidates()}
    if any(m["pinned"] for rows in around.members.values() for m in rows):
        match = dedupe.best_match(report, candidates.values(), params)
        groups = [dedupe.Group(camera_id=match.camera_id if match else None, reports=[report])]
        members = {match.camera_id: around.members[match.camera_id]} if match else {}
    else:
        members = {cid: rows for cid, rows in around.members.items() if rows}
        groups = dedupe.regroup(report, {cid: [report_of(m) for m in rs] for cid, rs in members.items()}, params)
    return _apply_groups(
        row,
        groups,
        members=members,
        candidates=candidates,
        cameras={c["id"]: c for c in around.cameras},
        params=params,
        reserved_id=reserved_id,
        commit=commit,
    )


# --- Reads ----------------------------------------------------------------------------------------


def _read_pending(
    sighting_id: int, params: dedupe.Params, at: tuple[float, float] | None = None
) -> tuple[dict[str, Any] | None, int | None, Nearby | None]:
    """The pending sighting's row, a camera id reserved in case it founds one, and its area.

    `at` is where the sighting was when it was queued. With it, the area's locks and reads join
    this first round trip (the row is read after the locks); the area is returned only if the
    row is still at `at`, so a stale hint costs a retry, never a wrong decision. Without it, the
    area is None and the caller locks and reads it at the row's position (a second round trip).

    Reserving the id here (PostgreSQL) lets a founding sighting write its new camera in the same
    round trip as everything else; when it joins a camera instead, the id is skipped (ids have
    gaps anyway: a rolled-back insert skips one too). SQLite has no sequences and no round trips.
    """
    batch = Batch()
    reserve_at = None
    if connection.vendor == "postgresql":
        # For this transaction only: commit without waiting for the WAL flush (see the module
        # docstring), and generic plans from the first run, since the task's statements have
        # fixed shapes that the indexes serve whatever the values (no planning per execution).
        batch.add(
            "SELECT set_config('synchronous_commit', 'off', true), "
            "set_config('plan_cache_mode', 'force_generic_plan', true)"
        )
        reserve_at = batch.add("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [Camera._meta.db_table])
    area_at = _queue_area(batch, at[0], at[1], params) if at is not None else None
    at_row = batch.select(Sighting, MEMBER_FIELDS, where="id = %s AND status = %s", params=[sighting_id, "pending"])
    results = batch.run()
    rows = results[at_row].rows
    reserved = results[reserve_at].rows[0][0] if reserve_at is not None else None
    row = dicts(Sighting, MEMBER_FIELDS, rows)[0] if rows else None
    around = None
    if row is not None and area_at is not None and (row["lat"], row["lon"]) == tuple(at):
        around = _area(results[area_at].rows, row["lat"], row["lon"], params)
    return row, reserved, around


def _lock_and_read(row: dict[str, Any], params: dedupe.Params) -> Nearby:
    """Lock the area, then (same round trip) read the live cameras around it and their sightings."""
    batch = Batch()
    at = _queue_area(batch, row["lat"], row["lon"], params)
    return _area(batch.run()[at].rows, row["lat"], row["lon"], params)


def _queue_area(batch: Batch, lat: float, lon: float, params: dedupe.Params) -> int:
    """Queue the area locks, then the read of the live cameras around (lat, lon) with their sightings.

    The read comes after the locks, so it sees every write of a worker that held an overlapping
    lock. Returns the read's index in the batch's results (for `_area`).
    """
    locks.lock_area([(lat, lon)], reach_m=lock_reach_m(params), batch=batch)
    reach = params.max_gate_m + SEARCH_SLACK_M
    camera, sighting = table(Camera), table(Sighting)
    near, box = _near(camera, reach, lat, lon)
    # One statement: each camera in the box with each of its processed sightings (a camera with
    # none comes once, with NULLs), served by camera_lat_lon_idx and the sightings' camera index.
    return batch.add(
        f"SELECT {columns(Camera, CAMERA_FIELDS)}, {columns(Sighting, MEMBER_FIELDS)} FROM {camera}"  # noqa: S608
        f" LEFT JOIN {sighting} ON {sighting}.camera_id = {camera}.id AND {sighting}.status = %s"
        f" WHERE {camera}.merged_into_id IS NULL AND {near} ORDER BY {camera}.id, {sighting}.id",
        ["processed", *box],
    )


def _area(rows: list[tuple[Any, ...]], lat: float, lon: float, params: dedupe.Params) -> Nearby:
    """The cameras within reach of (lat, lon) and their sightings, from `_queue_area`'s rows."""
    reach = params.max_gate_m + SEARCH_SLACK_M
    width = len(CAMERA_FIELDS)
    cameras: dict[int, dict[str, Any]] = {}
    members: dict[int, list[dict[str, Any]]] = {}
    for c in dicts(Camera, CAMERA_FIELDS, [r[:width] for r in rows]):
        # The box is a square; the gate is a circle (and the chord is exact enough to trim by).
        if c["id"] not in cameras and dedupe.chord_m(lat, lon, c["lat"], c["lon"]) <= reach:
            cameras[c["id"]] = c
    for member in dicts(Sighting, MEMBER_FIELDS, [r[width:] for r in rows if r[width] is not None]):
        if member["camera_id"] in cameras:
            members.setdefault(member["camera_id"], []).append(member)
    return Nearby(cameras=list(cameras.values()), members=members)


def _near(on: str, reach: float, lat: float, lon: float) -> tuple[str, list[float]]:
    """A condition on table `on`'s (lat, lon) covering `reach` around a point (its index serves it)."""
    box = dedupe.bbox_around(lat, lon, reach)
    if box is None:  # near a pole or across the antimeridian: a latitude band, all longitudes
        dlat = reach / dedupe.metres_per_degree(lat)[0]
        return f"{on}.lat >= %s AND {on}.lat <= %s", [lat - dlat, lat + dlat]
    min_lon, min_lat, max_lon, max_lat = box
    return f"{on}.lat >= %s AND {on}.lat <= %s AND {on}.lon >= %s AND {on}.lon <= %s", [
        min_lat,
        max_lat,
        min_lon,
        max_lon,
    ]


# --- Writes -------------------------------------------------------------------------------------


def _apply_groups(
    new: dict[str, Any],
    groups: list[dedupe.Group],
    *,
    members: dict[int, list[dict[str, Any]]],
    candidates: dict[int, dedupe.Candidate],
    cameras: dict[int, dict[str, Any]],
    params: dedupe.Params,
    reserved_id: int | None = None,
    commit: bool = False,
) -> ProcessResult | None:
    """Write a regrouping: the new sighting processed, moved sightings, new and retired cameras.

    `commit` (PostgreSQL, the caller's own transaction): queue the COMMIT in the same batch as the
    writes, unless a camera is retired (that runs after the batch, through the ORM). The claim is
    then guarded so that, were it to match no row, it fails with division by zero (NOT_CLAIMED):
    in pipeline mode the statements after a failed one are skipped, COMMIT included, and the
    transaction ends rolled back, so nothing of a lost claim is ever committed.
    """
    now = timezone.now()
    batch = Batch()
    rows_by_id = {m["id"]: m for rows in members.values() for m in rows} | {new["id"]: {**new, "camera_id": None}}
    final: dict[int, int] = {}
    for group in groups:
        rows = [rows_by_id[r.id] for r in group.reports]
        camera_id = group.camera_id
        if camera_id is None:
            imported = all(r["source"] == Sighting.Source.IMPORT for r in rows)
            provenance = Camera.Provenance.OSM if imported else Camera.Provenance.VOLUNTEER
            values = {**summary_values(rows, params), "provenance": provenance}
            if reserved_id is not None:  # with the id reserved, the INSERT joins the batch below
                camera_id, reserved_id = reserved_id, None
                batch.insert(Camera, [_camera_row(values, now, camera_id)])
            else:  # SQLite, or a second new camera: written now, since what follows needs its id
                insert = Batch()
                at = insert.insert(Camera, [_camera_row(values, now)], returning="id")
                camera_id = insert.run()[at].rows[0][0]
        for r in rows:
            final[r["id"]] = camera_id
    camera_id = final[new["id"]]
    # Members outside every group (the greedy path passes only the new report) stay where they are.
    moved = [
        (m["id"], m["camera_id"], final[m["id"]])
        for m in rows_by_id.values()
        if m["id"] != new["id"] and m["id"] in final and m["camera_id"] != final[m["id"]]
    ]
    kept = {g.camera_id for g in groups if g.camera_id is not None}
    touched = ({camera_id} | {c for move in moved for c in move[1:]}) & kept

    retired = sorted(set(members) - kept)
    # A camera someone voted on (or a moderator judged) needs its votes for its status: those are
    # refreshed through the ORM after the batch (rare: most cameras have no votes yet).
    voted = {cid for cid in touched if _judged(cameras.get(cid))}
    commit = commit and not retired and not voted
    claimed = batch.update(
        Sighting,
        {"camera_id": camera_id, "status": Sighting.Status.PROCESSED, "processed_at": now},
        where="id = %s AND status = %s AND lat = %s AND lon = %s",
        params=[new["id"], Sighting.Status.PENDING, new["lat"], new["lon"]],
        guard=commit,
    )
    by_target: dict[int, list[int]] = {}
    for sighting_id, _, target in moved:
        by_target.setdefault(target, []).append(sighting_id)
    for target, ids in sorted(by_target.items()):
        batch.update(Sighting, {"camera_id": target}, where=f"id IN ({', '.join(['%s'] * len(ids))})", params=ids)
    members_of: dict[int, list[dict[str, Any]]] = {}
    for r in rows_by_id.values():
        members_of.setdefault(final.get(r["id"], r["camera_id"]), []).append(r)
    status_changes = []
    for cid in sorted(touched - voted):
        values = {**summary_values(members_of[cid], params, now=now), "updated_at": now}
        before = cameras[cid]["status"] if cid in cameras else values["status"]
        if values["status"] != before:
            values["status_changed_at"] = now
            status_changes.append(_status_event(cid, before, values["status"], now))
        batch.update(Camera, values, where="id = %s", params=[cid])
    candidate = candidates.get(camera_id)
    report = report_of(new)
    score = dedupe.score(report, candidate, params) if candidate is not None else None
    distance = dedupe.chord_m(new["lat"], new["lon"], candidate.lat, candidate.lon) if candidate else None
    history = [
        {
            "sighting_id": new["id"],
            "camera_id": camera_id,
            "previous_camera_id": None,
            "kind": Assignment.Kind.MATCHED if candidate is not None else Assignment.Kind.FOUNDED,
            "score": None if score is None else round(score, 4),
            "distance_m": None if distance is None else round(distance, 2),
            "created_at": now,
        },
        *(
            {
                "sighting_id": sid,
                "camera_id": target,
                "previous_camera_id": previous,
                "kind": Assignment.Kind.REGROUPED,
                "score": None,
                "distance_m": None,
                "created_at": now,
            }
            for sid, previous, target in moved
        ),
    ]
    batch.insert(Assignment, history)
    batch.insert(AuditEvent, status_changes)
    if commit:
        batch.add("COMMIT", prepare=False)
    if batch.run()[claimed].rowcount != 1:
        return None  # not ours to claim any more: the caller rolls this attempt back

    for old in retired:
        voted.add(_retire_regrouped(old, members[old], final))
    for cid in sorted(voted & kept):
        camera_refresh(camera_id=cid, params=params, reason="A new sighting changed its evidence.")
    return ProcessResult(sighting_id=new["id"], camera_id=camera_id, founded=candidate is None, score=score)


def _camera_row(values: dict[str, Any], now: Any, camera_id: int | None = None) -> dict[str, Any]:
    """A new camera's row: each field's default (as the ORM would use) where `values` has none."""
    row = {f.attname: f.get_default() for f in Camera._meta.concrete_fields if not f.primary_key}
    row.update(values, created_at=now, updated_at=now)
    return row if camera_id is None else {"id": camera_id, **row}


def _judged(camera: dict[str, Any] | None) -> bool:
    """Whether a camera's status depends on more than its sightings (votes, an expert verdict)."""
    if camera is None:
        return False
    return bool(camera["confirm_count"] or camera["not_there_count"] or camera["gone_count"] or camera["expert_status"])


def _status_event(camera_id: int, before: str, after: str, now: Any) -> dict[str, Any]:
    """An AuditEvent row for a status the rules changed (no actor: the dedupe worker)."""
    return {
        "actor_id": None,
        "action": "camera_status",
        "target_type": "camera",
        "target_id": camera_id,
        "reason": "A new sighting changed its evidence.",
        "data": {"from": before, "to": after},
        "created_at": now,
    }


def _retire_regrouped(old: int, rows: list[dict[str, Any]], final: dict[int, int]) -> int:
    """A camera the regroup emptied: its votes go to the camera that took most of its sightings.

    Returns that camera (the heir), whose status the caller recomputes with the votes it got.
    """
    went_to = Counter(final[m["id"]] for m in rows)
    heir = min(went_to, key=lambda c: (-went_to[c], c))
    votes_moved, votes_dropped = _move_votes(source_id=old, target_id=heir)
    _retire(old, into=heir)
    audit_record(
        action="camera_auto_merge",
        target=Camera(pk=heir),
        reason="A new sighting showed these reports describe one camera (dedupe regroup).",
        data={
            "source": old,
            "sightings": [m["id"] for m in rows],
            "votes_moved": votes_moved,
            "votes_dropped": votes_dropped,
        },
    )
    return heir
