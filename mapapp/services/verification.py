"""Verification services: votes, flags and the discussion thread; the queue's order.

The rules (mapapp/consensus) decide a camera's status; these functions write the evidence and
then recompute it (cameras.camera_refresh), in one transaction. Who may do what is checked here,
not in views, so the web form and the API enforce the same rules:

- A volunteer who has a sighting in a camera cannot vote on it: their sighting already is their
  voice (the first reporter's, or an independent confirmation), and nobody confirms their own
  report. To say it is gone, they flag it for a moderator.
- One vote per volunteer per camera (a database constraint); voting again replaces the vote.
  The camera's row is locked first, so two simultaneous votes, by one volunteer or by several,
  are applied one after the other and each recomputation sees the other's vote.
- A banned volunteer cannot vote, flag or comment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .. import consensus
from ..models import Camera, Comment, Flag, Profile, Sighting, Vote
from .cameras import camera_refresh
from .evidence import consensus_params

# What a confirmation may correct (the type, mount, direction and operator).
CORRECTABLE = ("camera_type", "camera_mount", "direction", "operator")
REASON_MAX = 1000


def _require_volunteer(user: AbstractBaseUser | None, doing: str) -> Profile:
    if user is None or not user.is_authenticated:
        raise PermissionDenied(f"Sign in to {doing}.")
    profile = Profile.objects.filter(user=user).first()
    if profile is None or profile.is_system:
        raise PermissionDenied(f"This account cannot {doing}.")
    if profile.banned_at is not None:
        raise PermissionDenied(f"This account is suspended by a moderator, so it cannot {doing}.")
    return profile


def _live_camera(camera_id: int, *, lock: bool = False) -> Camera:
    """The camera, following merges to the camera it now is; Camera.DoesNotExist if none."""
    for _ in range(20):
        qs = Camera.objects.select_for_update() if lock else Camera.objects
        camera = qs.get(pk=camera_id)
        if camera.merged_into_id is None:
            return camera
        camera_id = camera.merged_into_id
    raise Camera.DoesNotExist("merge chain too long")


def clean_corrections(verdict: str, corrections: dict[str, Any] | None) -> dict[str, Any]:
    """Validated corrections (model field validators, the OSM vocabulary); only with a confirmation."""
    corrections = {k: v for k, v in (corrections or {}).items() if v not in (None, "")}
    if not corrections:
        return {}
    if verdict != Vote.Verdict.CONFIRM:
        raise ValidationError({"verdict": "Corrections can only come with a confirmation."})
    unknown = sorted(set(corrections) - set(CORRECTABLE))
    if unknown:
        raise ValidationError({name: f"Only {', '.join(CORRECTABLE)} can be corrected." for name in unknown})
    cleaned, errors = {}, {}
    for name, value in corrections.items():
        field = Camera._meta.get_field(name)
        try:
            if name == "direction" and isinstance(value, float) and not math.isfinite(value):
                raise ValidationError("Enter a number of degrees from 0 to 359.")
            cleaned[name] = field.clean(value, None)
        except ValidationError as error:
            errors[name] = error.messages
    if errors:
        raise ValidationError(errors)
    return cleaned


@transaction.atomic
def vote_cast(
    *, voter: AbstractBaseUser, camera_id: int, verdict: str, corrections: dict[str, Any] | None = None
) -> Vote:
    """Record (or replace) a volunteer's verdict on a camera and recompute its status.

    Raises PermissionDenied (the reporter, a banned or signed-out user), ValidationError (an
    unknown verdict, bad corrections) or Camera.DoesNotExist.
    """
    _require_volunteer(voter, "verify cameras")
    if verdict not in Vote.Verdict.values:
        raise ValidationError({"verdict": f"Choose one of: {', '.join(Vote.Verdict.values)}."})
    cleaned = clean_corrections(verdict, corrections)
    camera = _live_camera(camera_id, lock=True)
    if Sighting.objects.filter(camera=camera, reporter=voter).exists():
        raise PermissionDenied(
            "You reported this camera, so you cannot verify it: another volunteer has to. "
            "If it has changed or gone, flag it for a moderator."
        )
    vote, _ = Vote.objects.update_or_create(
        camera=camera, voter=voter, defaults={"verdict": verdict, "corrections": cleaned}
    )
    camera_refresh(camera_id=camera.pk, reason=f"A volunteer voted: {verdict}.")
    return vote


def _reason(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": f"Say why you {what}."})
    if len(reason) > REASON_MAX:
        raise ValidationError({"reason": f"Keep it under {REASON_MAX} characters."})
    return reason


@transaction.atomic
def flag_raise(
    *, flagger: AbstractBaseUser, reason: str, camera_id: int | None = None, sighting_id: int | None = None
) -> Flag:
    """Ask a moderator to look at a camera or a sighting (exactly one), with a reason."""
    _require_volunteer(flagger, "flag")
    reason = _reason(reason, "are flagging this")
    if (camera_id is None) == (sighting_id is None):
        raise ValidationError("Flag either a camera or a sighting.")
    if camera_id is not None:
        return Flag.objects.create(camera=_live_camera(camera_id), flagger=flagger, reason=reason)
    sighting = Sighting.objects.exclude(status=Sighting.Status.HIDDEN).get(pk=sighting_id)
    return Flag.objects.create(sighting=sighting, flagger=flagger, reason=reason)


@transaction.atomic
def comment_post(*, author: AbstractBaseUser, camera_id: int, body: str) -> Comment:
    """Add to a camera's discussion thread."""
    _require_volunteer(author, "comment")
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "Write something first."})
    if len(body) > 2000:
        raise ValidationError({"body": "Keep it under 2000 characters."})
    return Comment.objects.create(camera=_live_camera(camera_id), author=author, body=body)


# --- The verification queue ---------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueEntry:
    camera: Camera
    distance_m: float | None


QUEUE_BAND_M = 100.0  # distances are compared in 100 m bands, so confirmations and age still matter


def verification_queue(
    *,
    near: tuple[float, float] | None = None,
    neighbourhood_id: int | None = None,
    user: AbstractBaseUser | None = None,
    limit: int = 20,
    pool: int = 2000,
) -> list[QueueEntry]:
    """Cameras needing confirmation: nearest first (in bands), then fewest current confirmations
    (a stale camera counts as having none), then oldest last confirmation (consensus.queue_key).

    Removed cameras are settled and left out; so are the cameras the user reported (they cannot
    vote on them). The `pool` nearest candidates are read and ordered here.
    """
    from ..geo import distance_m  # geopy lives in geo.py

    qs = Camera.objects.published()
    if neighbourhood_id is not None:
        qs = qs.filter(neighbourhood_id=neighbourhood_id)
    if user is not None and user.is_authenticated:
        qs = qs.exclude(sightings__reporter=user)
    if near is not None:
        lat, lon = near
        # A growing box around the point until it holds enough cameras (the lat/lon index serves it).
        for half in (0.005, 0.02, 0.08, 0.3, 1.5, 180.0):
            boxed = qs.in_bbox(lon - half, lat - half, lon + half, lat + half)
            candidates = list(boxed[:pool])
            if len(candidates) >= limit or half >= 180.0:
                break
    else:
        candidates = list(qs.order_by("confirmations", "last_confirmed_at")[:pool])

    entries = [
        QueueEntry(camera=c, distance_m=distance_m(near, (c.lat, c.lon)) if near is not None else None)
        for c in candidates
    ]

    def key(entry: QueueEntry) -> tuple[Any, ...]:
        band = None if entry.distance_m is None else math.floor(entry.distance_m / QUEUE_BAND_M)
        camera = entry.camera
        rank = consensus.queue_key(
            status=camera.status,
            confirmations=camera.confirmations,
            last_confirmed_at=camera.last_confirmed_at,
            distance_m=band,
        )
        return (rank, camera.pk)

    return sorted(entries, key=key)[:limit]


def stale_candidates(*, now: datetime | None = None) -> list[int]:
    """Cameras whose last confirmation is older than the stale period but not yet marked stale."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=consensus_params().stale_after_days)
    return list(
        Camera.objects.live()
        .filter(status__in=[Camera.Status.REPORTED, Camera.Status.VERIFIED], last_confirmed_at__lte=cutoff)
        .values_list("pk", flat=True)[:5000]
    )


def votes_due_cameras(*, now: datetime | None = None) -> list[int]:
    """Cameras with a vote whose settle period has ended unjudged (consensus.vote_agreement).

    Only votes the camera's status speaks to: any verdict on a verified camera, "gone" on a
    removed one; other votes stay unjudged, so they are never selected again and again.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=consensus_params().settle_after_days)
    removed = Q(camera__status=Camera.Status.REMOVED, verdict=Vote.Verdict.GONE)
    speaks = Q(camera__status=Camera.Status.VERIFIED) | removed
    due = Vote.objects.filter(speaks, agrees__isnull=True, updated_at__lte=cutoff)
    return sorted(set(due.values_list("camera_id", flat=True)[:5000]))
