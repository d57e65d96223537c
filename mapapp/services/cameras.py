"""Camera services: dedupe a sighting into a camera, split, merge and undo a merge.

The decisions are made by the pure core in mapapp.dedupe; these functions read its inputs from
the database, lock the area (see locks.py), and write the outcome with its history: every change
of a sighting's camera leaves an Assignment row (which camera, how, the score, when), and every
moderator action an AuditEvent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from .. import consensus, dedupe
from ..models import Assignment, AuditEvent, Camera, Profile, Sighting, Vote
from . import locks
from .audit import audit_record
from .evidence import ATTRIBUTES, consensus_params, expert_evidence, outcome_values, sighting_evidence, vote_evidence
from .neighbourhoods import neighbourhood_at

log = logging.getLogger(__name__)

# Candidate search reaches a little past the widest gate: camera centres are floats and the
# bbox is an approximation; the geodesic in dedupe.best_match makes the actual decision.
SEARCH_SLACK_M = 5.0


def dedupe_params() -> dedupe.Params:
    return dedupe.Params(
        radius_m=settings.DEDUPE_RADIUS_M,
        accuracy_cap_m=settings.DEDUPE_ACCURACY_CAP_M,
        direction_tolerance=settings.DEDUPE_DIRECTION_TOLERANCE,
        threshold=settings.DEDUPE_THRESHOLD,
    )


def lock_reach_m(params: dedupe.Params) -> float:
    """How far around a point a writer locks: two gates.

    A regroup touches the cameras whose centre is within one gate of the new sighting, and those
    cameras' sightings, which lie about one more gate out. Locking two gates makes any two
    writers whose work could overlap (within four gates of each other) share a cell.
    """
    return 2.0 * params.max_gate_m


@dataclass(frozen=True)
class ProcessResult:
    sighting_id: int
    camera_id: int
    founded: bool
    score: float | None


@dataclass(frozen=True)
class CameraChange:
    camera: Camera
    event_id: int


# --- Reading inputs for the pure core ----------------------------------------------------------


def _unknown_to_none(value: Any) -> Any:
    return None if value in dedupe.UNKNOWN_VALUES else value


def report_of(row: dict[str, Any] | Sighting) -> dedupe.Report:
    get = row.get if isinstance(row, dict) else lambda name: getattr(row, name)
    return dedupe.Report(
        id=get("id"),
        lat=get("lat"),
        lon=get("lon"),
        reporter=get("reporter_id"),
        accuracy_m=get("accuracy_m"),
        direction=get("direction"),
        camera_type=_unknown_to_none(get("camera_type")),
        camera_mount=_unknown_to_none(get("camera_mount")),
    )


MEMBER_FIELDS = (
    "id",
    "lat",
    "lon",
    "accuracy_m",
    "observed_at",
    "reporter_id",
    "camera_id",
    "pinned",
    "source",
    *ATTRIBUTES,
)


@dataclass
class Nearby:
    """Live cameras around a point and their processed sightings, as value dicts
    (read by processing._lock_and_read)."""

    cameras: list[dict[str, Any]]
    members: dict[int, list[dict[str, Any]]]

    def candidates(self) -> list[dedupe.Candidate]:
        """The cameras as the greedy matcher sees them: stored centre and consensus, reporters."""
        out = []
        for row in self.cameras:
            rows = self.members.get(row["id"], [])
            accuracies = sorted(r["accuracy_m"] for r in rows if r["accuracy_m"] is not None)
            out.append(
                dedupe.Candidate(
                    id=row["id"],
                    lat=row["lat"],
                    lon=row["lon"],
                    reporters=frozenset(r["reporter_id"] for r in rows),
                    accuracy_m=accuracies[len(accuracies) // 2] if accuracies else None,
                    direction=row["direction"],
                    camera_type=_unknown_to_none(row["camera_type"]),
                    camera_mount=_unknown_to_none(row["camera_mount"]),
                )
            )
        return out


# --- Camera state from its sightings --------------------------------------------------------------

SUMMARY_FIELDS = ("id", "lat", "lon", "accuracy_m", "observed_at", "reporter_id", "source", *ATTRIBUTES)


def summary_values(
    rows: list[dict[str, Any]],
    params: dedupe.Params,
    *,
    votes: tuple[consensus.VoteEvidence, ...] = (),
    expert: consensus.ExpertVerdict | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A camera's position, its neighbourhood, status, consensus attributes, agreement and counts.

    From its sightings' rows (SUMMARY_FIELDS) and, where anyone voted, its votes (the caller
    reads them: the dedupe task only for cameras that have any, see processing.py).
    """
    lat, lon = dedupe.robust_centre([(r["lat"], r["lon"], r["accuracy_m"]) for r in rows], params)
    outcome = consensus.decide(
        consensus.Evidence(now=now or timezone.now(), sightings=sighting_evidence(rows), votes=votes, expert=expert),
        consensus_params(),
    )
    values: dict[str, Any] = {"lat": lat, "lon": lon, **outcome_values(outcome)}
    # By attname: the dedupe task's SQL (roundtrips.Batch, processing._camera_row) keys columns so.
    values["neighbourhood_id"] = neighbourhood_at(lat, lon)
    values["sighting_count"] = len(rows)
    values["first_seen"] = min(r["observed_at"] for r in rows)
    values["last_seen"] = max(r["observed_at"] for r in rows)
    return values


def camera_refresh(*, camera_id: int, params: dedupe.Params | None = None, reason: str = "") -> bool:
    """Recompute a camera from its evidence: processed sightings, votes, a moderator's verdict.

    Also settles its votes' agreement (Vote.agrees) and recounts those voters' trust, and records
    a status change as an AuditEvent. False if no processed sighting is left: the camera then
    counts none and leaves the public map (its row stays, for links and history).
    """
    params = params or dedupe_params()
    camera = Camera.objects.select_for_update().get(pk=camera_id)
    rows = list(
        Sighting.objects.filter(camera_id=camera_id, status=Sighting.Status.PROCESSED)
        .order_by("pk")
        .values(*SUMMARY_FIELDS)
    )
    now = timezone.now()
    if not rows:
        Camera.objects.filter(pk=camera_id).update(sighting_count=0, updated_at=now)
        return False
    votes = list(Vote.objects.filter(camera_id=camera_id).select_related("voter__profile").order_by("pk"))
    cparams = consensus_params()
    values = summary_values(
        rows,
        params,
        votes=vote_evidence(votes, cparams),
        expert=expert_evidence(camera.expert_status, camera.expert_at),
        now=now,
    )
    values["confirm_count"] = sum(v.verdict == Vote.Verdict.CONFIRM for v in votes)
    values["not_there_count"] = sum(v.verdict == Vote.Verdict.NOT_THERE for v in votes)
    values["gone_count"] = sum(v.verdict == Vote.Verdict.GONE for v in votes)
    status_since = camera.status_changed_at
    if values["status"] != camera.status:
        values["status_changed_at"] = status_since = now
        audit_record(
            action="camera_status",
            target=camera,
            reason=reason or "Recomputed from its sightings and votes.",
            data={"from": camera.status, "to": values["status"]},
        )
    Camera.objects.filter(pk=camera_id).update(**values, updated_at=now)
    _settle_votes(votes, values["status"], status_since=status_since, now=now, params=cparams)
    return True


def _settle_votes(
    votes: list[Vote], status: str, *, status_since: datetime, now: datetime, params: consensus.Params
) -> None:
    """Record whether each vote agreed with the camera's status, once that is settled
    (consensus.vote_agreement), and recount the trust of every voter whose record changed."""
    changed = []
    for vote in votes:
        agrees = consensus.vote_agreement(
            vote.verdict, status, cast_at=vote.updated_at, status_since=status_since, now=now, params=params
        )
        if agrees != vote.agrees:
            vote.agrees = agrees
            changed.append(vote)
    if not changed:
        return
    Vote.objects.bulk_update(changed, ["agrees"])
    for voter_id in sorted({v.voter_id for v in changed}):
        tally = Vote.objects.filter(voter_id=voter_id).aggregate(
            agreed=Count("pk", filter=Q(agrees=True)), disagreed=Count("pk", filter=Q(agrees=False))
        )
        Profile.objects.filter(user_id=voter_id).update(**tally)


def _camera_from(sighting: Sighting, *, params: dedupe.Params, provenance: str = Camera.Provenance.VOLUNTEER) -> Camera:
    row = {name: getattr(sighting, name) for name in SUMMARY_FIELDS if name != "id"}
    return Camera.objects.create(provenance=provenance, **summary_values([row], params))


# --- The dedupe task's service lives in processing.py --------------------------------------------


def sightings_sweep(*, older_than_s: int | None = None, limit: int = 1000) -> list[int]:
    """Re-queue sightings stuck in pending; returns their ids.

    Safe to over-queue: the task claims a sighting only while it is pending, so a sighting whose
    first message was merely slow is processed once.
    """
    from ..tasks import dedupe_sighting

    older_than_s = settings.SWEEP_PENDING_AFTER_SECONDS if older_than_s is None else older_than_s
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    stuck = list(
        Sighting.objects.pending()
        .filter(submitted_at__lte=cutoff)
        .order_by("submitted_at")
        .values_list("pk", "lat", "lon")[:limit]
    )
    ids = [sighting_id for sighting_id, _, _ in stuck]
    for sighting_id, lat, lon in stuck:
        dedupe_sighting.delay(sighting_id, [lat, lon])
    if ids:
        log.warning("Sweeper re-queued %d pending sightings", len(ids))
    return ids


# --- Moderator actions: split, merge, undo -----------------------------------------------------


def _lock_cameras(*cameras: Camera, params: dedupe.Params) -> None:
    locks.lock_area([(c.lat, c.lon) for c in cameras], reach_m=lock_reach_m(params))
    list(Camera.objects.select_for_update().filter(pk__in=[c.pk for c in cameras]).order_by("pk").values("pk"))


def _move_sightings(
    moves: list[tuple[int, int | None, int]],
    *,
    kind: str,
    actor: AbstractBaseUser | None = None,
    pin: bool = False,
    now: Any = None,
) -> None:
    """Move sightings (id, from camera, to camera) and record each move as an Assignment.

    One UPDATE per destination camera, not per sighting, since a regroup or recluster moves many.
    """
    now = now or timezone.now()
    by_target: dict[int, list[int]] = {}
    for sighting_id, _, camera_id in moves:
        by_target.setdefault(camera_id, []).append(sighting_id)
    extra = {"pinned": True} if pin else {}
    for camera_id, ids in by_target.items():
        Sighting.objects.filter(pk__in=ids).update(camera_id=camera_id, **extra)
    Assignment.objects.bulk_create(
        Assignment(
            sighting_id=sighting_id,
            camera_id=camera_id,
            previous_camera_id=previous,
            kind=kind,
            actor=actor,
            created_at=now,
        )
        for sighting_id, previous, camera_id in moves
    )


def _retire(camera_id: int, *, into: int) -> None:
    """Make an emptied camera a tombstone that forwards to `into` (and forward its own tombstones)."""
    Camera.objects.filter(merged_into_id=camera_id).update(merged_into_id=into)
    Camera.objects.filter(pk=camera_id).update(merged_into_id=into, sighting_count=0, updated_at=timezone.now())


@transaction.atomic
def sighting_split(
    *, sighting_id: int, actor: AbstractBaseUser | None, reason: str, params: dedupe.Params | None = None
) -> CameraChange:
    """Move a sighting off its camera into a camera of its own. Undo: merge the new camera back."""
    params = params or dedupe_params()
    sighting = Sighting.objects.select_related("camera").get(pk=sighting_id)
    old = sighting.camera
    if old is None or sighting.status != Sighting.Status.PROCESSED:
        raise ValidationError("Only a processed sighting that belongs to a camera can be split off.")
    _lock_cameras(old, params=params)
    if not Sighting.objects.filter(camera=old, status=Sighting.Status.PROCESSED).exclude(pk=sighting.pk).exists():
        raise ValidationError("This sighting is already its camera's only sighting; there is nothing to split.")
    provenance = Camera.Provenance.OSM if sighting.source == Sighting.Source.IMPORT else Camera.Provenance.VOLUNTEER
    new = _camera_from(sighting, params=params, provenance=provenance)
    Sighting.objects.filter(pk=sighting.pk).update(camera=new, pinned=True)
    Assignment.objects.create(
        sighting=sighting, camera=new, previous_camera=old, kind=Assignment.Kind.SPLIT, actor=actor
    )
    camera_refresh(camera_id=old.pk, params=params)
    camera_refresh(camera_id=new.pk, params=params)
    event = audit_record(
        action="sighting_split",
        target=sighting,
        actor=actor,
        reason=reason,
        data={"from_camera": old.pk, "to_camera": new.pk},
    )
    return CameraChange(camera=Camera.objects.get(pk=new.pk), event_id=event.pk)


@transaction.atomic
def camera_merge(
    *,
    source_id: int,
    target_id: int,
    actor: AbstractBaseUser | None,
    reason: str,
    params: dedupe.Params | None = None,
) -> CameraChange:
    """Merge camera `source` into `target`: its sightings and votes move, and it becomes a tombstone.

    A volunteer who voted on both keeps their most recent vote; the other is deleted but kept in
    the audit record, so `camera_unmerge` can restore it. Moderators may merge against the dedupe
    rules (say, one volunteer's two reports that really are one camera): that is an expert's call.
    """
    params = params or dedupe_params()
    if source_id == target_id:
        raise ValidationError("A camera cannot be merged into itself.")
    source, target = Camera.objects.get(pk=source_id), Camera.objects.get(pk=target_id)
    _lock_cameras(source, target, params=params)
    source.refresh_from_db()
    target.refresh_from_db()
    if source.merged_into_id or target.merged_into_id:
        raise ValidationError("Only live cameras can be merged; one of these was already merged away.")
    moved = list(Sighting.objects.filter(camera=source).order_by("pk").values_list("pk", flat=True))
    _move_sightings([(pk, source.pk, target.pk) for pk in moved], kind=Assignment.Kind.MERGED, actor=actor, pin=True)
    votes_moved, votes_dropped = _move_votes(source_id=source.pk, target_id=target.pk)
    _retire(source.pk, into=target.pk)
    camera_refresh(camera_id=target.pk, params=params)
    event = audit_record(
        action="camera_merge",
        target=target,
        actor=actor,
        reason=reason,
        data={"source": source.pk, "sightings": moved, "votes_moved": votes_moved, "votes_dropped": votes_dropped},
    )
    return CameraChange(camera=Camera.objects.get(pk=target.pk), event_id=event.pk)


def _move_votes(*, source_id: int, target_id: int) -> tuple[list[int], list[dict[str, Any]]]:
    moved: list[int] = []
    dropped: list[dict[str, Any]] = []
    on_target = {v.voter_id: v for v in Vote.objects.filter(camera_id=target_id)}
    for vote in Vote.objects.filter(camera_id=source_id).order_by("pk"):
        other = on_target.get(vote.voter_id)
        if other is None:
            moved.append(vote.pk)
            continue
        loser = vote if other.updated_at >= vote.updated_at else other
        dropped.append(_vote_snapshot(loser))
        loser.delete()
        if loser is other:
            moved.append(vote.pk)
    Vote.objects.filter(pk__in=moved).update(camera_id=target_id)
    return moved, dropped


def _vote_snapshot(vote: Vote) -> dict[str, Any]:
    return {
        "camera": vote.camera_id,
        "voter": vote.voter_id,
        "verdict": vote.verdict,
        "corrections": vote.corrections,
        "created_at": vote.created_at.isoformat(),
        "updated_at": vote.updated_at.isoformat(),
    }


@transaction.atomic
def camera_unmerge(
    *, camera_id: int, actor: AbstractBaseUser | None, reason: str, params: dedupe.Params | None = None
) -> CameraChange:
    """Undo the merge (a moderator's or dedupe's automatic one) that retired `camera_id`.

    Its sightings and votes go back to it, with the same id, and the sightings are pinned there.

    Sightings moved on since the merge (split off by a moderator, reclustered) stay where they are.
    """
    params = params or dedupe_params()
    source = Camera.objects.get(pk=camera_id)
    if source.merged_into_id is None:
        raise ValidationError("This camera was not merged into another one.")
    # Look the merge up by its source, not by `merged_into`: a later merge of the target forwards
    # this tombstone to the newer camera, and such a chain is undone in reverse order.
    merge = (
        AuditEvent.objects.filter(
            action__in=("camera_merge", "camera_auto_merge"), target_type="camera", data__source=source.pk
        )
        .order_by("-created_at", "-pk")
        .first()
    )
    if merge is None:
        raise ValidationError("No merge record joins these two cameras, so there is nothing to undo.")
    target = Camera.objects.get(pk=merge.target_id)
    if target.merged_into_id is not None:
        raise ValidationError(
            f"Camera {target.pk}, which this camera was merged into, has since been merged away itself: "
            "undo that merge first."
        )
    _lock_cameras(source, target, params=params)
    back = list(
        Sighting.objects.filter(pk__in=merge.data["sightings"], camera=target)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not back:
        raise ValidationError("None of the merged sightings is still on that camera; nothing can go back.")
    # Pinned: a moderator has now decided these belong apart, and regrouping must not undo that.
    _move_sightings([(pk, target.pk, source.pk) for pk in back], kind=Assignment.Kind.UNMERGED, actor=actor, pin=True)
    Vote.objects.filter(pk__in=merge.data["votes_moved"], camera=target).update(camera=source)
    # A vote the merge dropped (its voter had voted on both) goes back to the camera it was on.
    for snapshot in merge.data["votes_dropped"]:
        if snapshot["camera"] in (source.pk, target.pk):
            Vote.objects.get_or_create(
                camera_id=snapshot["camera"],
                voter_id=snapshot["voter"],
                defaults={"verdict": snapshot["verdict"], "corrections": snapshot["corrections"]},
            )
    Camera.objects.filter(pk=source.pk).update(merged_into=None)
    camera_refresh(camera_id=source.pk, params=params)
    camera_refresh(camera_id=target.pk, params=params)
    event = audit_record(
        action="camera_unmerge",
        target=source,
        actor=actor,
        reason=reason,
        data={"from_camera": target.pk, "sightings": back, "merge_event": merge.pk},
    )
    return CameraChange(camera=Camera.objects.get(pk=source.pk), event_id=event.pk)
