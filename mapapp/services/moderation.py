"""Moderator actions: hide and unhide, ban and unban, expert verdicts, flags and comments.

Every action needs the `mapapp.moderate` permission (the moderator and admin groups), is
reversible, and writes an AuditEvent saying who did what, why and when. Split and merge live in
cameras.py and follow the same rules. Hiding never deletes: a hidden sighting keeps its row
(status "hidden", with the reason it was hidden), so unhiding restores it exactly, and a ban's
unban restores only what the ban hid.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from ..models import AuditEvent, Camera, Comment, Flag, HiddenReason, Profile, Sighting, Vote
from .audit import audit_record
from .cameras import camera_refresh
from .sightings import sighting_enqueue
from .verification import REASON_MAX

MODERATE = "mapapp.moderate"


def is_moderator(user: AbstractBaseUser | None) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and user.has_perm(MODERATE))


def _require_moderator(actor: AbstractBaseUser | None) -> None:
    if not is_moderator(actor):
        raise PermissionDenied("Only moderators can do this.")


def _why(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Moderator actions need a reason; it goes in the public audit record."})
    if len(reason) > REASON_MAX:
        raise ValidationError({"reason": f"Keep it under {REASON_MAX} characters."})
    return reason


def _hide(sighting: Sighting, why: str) -> int | None:
    """Hide one sighting; returns the camera to recompute (None if it had none)."""
    Sighting.objects.filter(pk=sighting.pk).update(status=Sighting.Status.HIDDEN, hidden_reason=why)
    return sighting.camera_id


def _unhide(sighting: Sighting) -> int | None:
    """Back to pending, off its old camera: the dedupe task places it again (on commit)."""
    Sighting.objects.filter(pk=sighting.pk).update(
        status=Sighting.Status.PENDING, hidden_reason="", camera=None, processed_at=None
    )
    sighting_enqueue(sighting_id=sighting.pk, at=(sighting.lat, sighting.lon))
    return sighting.camera_id


def _refresh(camera_ids: set[int | None], reason: str) -> None:
    for camera_id in sorted(c for c in camera_ids if c is not None):
        camera_refresh(camera_id=camera_id, reason=reason)


@transaction.atomic
def sighting_hide(*, sighting_id: int, actor: AbstractBaseUser, reason: str) -> AuditEvent:
    """Hide a sighting: it leaves its camera's evidence and every public page."""
    _require_moderator(actor)
    reason = _why(reason)
    sighting = Sighting.objects.select_for_update().get(pk=sighting_id)
    if sighting.status == Sighting.Status.HIDDEN:
        raise ValidationError("This sighting is already hidden.")
    _refresh({_hide(sighting, HiddenReason.MODERATOR)}, "A moderator hid one of its sightings.")
    return audit_record(
        action="sighting_hide", target=sighting, actor=actor, reason=reason, data={"camera": sighting.camera_id}
    )


@transaction.atomic
def sighting_unhide(*, sighting_id: int, actor: AbstractBaseUser, reason: str) -> AuditEvent:
    _require_moderator(actor)
    reason = _why(reason)
    sighting = Sighting.objects.select_for_update().get(pk=sighting_id)
    if sighting.status != Sighting.Status.HIDDEN:
        raise ValidationError("This sighting is not hidden.")
    if sighting.hidden_reason == HiddenReason.BAN:
        raise ValidationError("Its reporter is banned; lift the ban to restore their sightings.")
    _unhide(sighting)
    return audit_record(action="sighting_unhide", target=sighting, actor=actor, reason=reason)


@transaction.atomic
def photo_hide(*, sighting_id: int, actor: AbstractBaseUser, reason: str, hidden: bool = True) -> AuditEvent:
    """Hide (or, with hidden=False, show again) a sighting's photo; the sighting itself stays."""
    _require_moderator(actor)
    reason = _why(reason)
    sighting = Sighting.objects.select_for_update().get(pk=sighting_id)
    if not sighting.photo:
        raise ValidationError("This sighting has no photo.")
    Sighting.objects.filter(pk=sighting.pk).update(photo_hidden=hidden)
    return audit_record(action="photo_hide" if hidden else "photo_unhide", target=sighting, actor=actor, reason=reason)


@transaction.atomic
def volunteer_ban(*, user_id: int, actor: AbstractBaseUser, reason: str) -> AuditEvent:
    """Ban a volunteer: their votes stop counting and their unverified sightings are hidden.

    "Unverified" means pending, or in a camera that is not verified (a verified camera has been
    confirmed by others, so the ban does not take it off the map). Reversible: volunteer_unban.
    """
    _require_moderator(actor)
    reason = _why(reason)
    if user_id == actor.pk:
        raise ValidationError("You cannot ban yourself.")
    profile = Profile.objects.select_for_update().get(user_id=user_id)
    if profile.banned_at is not None:
        raise ValidationError("This volunteer is already banned.")
    Profile.objects.filter(pk=profile.pk).update(banned_at=timezone.now())
    hidden = list(
        # of=("self",): the exclude joins the nullable camera, and PostgreSQL refuses to lock that side.
        Sighting.objects.select_for_update(of=("self",))
        .filter(reporter_id=user_id, status__in=[Sighting.Status.PENDING, Sighting.Status.PROCESSED])
        .exclude(camera__status=Camera.Status.VERIFIED)
    )
    cameras = {_hide(s, HiddenReason.BAN) for s in hidden}
    cameras |= set(Vote.objects.filter(voter_id=user_id).values_list("camera_id", flat=True))
    _refresh(cameras, "A moderator banned a volunteer who reported or voted on it.")
    return audit_record(
        action="volunteer_ban",
        target=profile,
        actor=actor,
        reason=reason,
        data={"sightings_hidden": len(hidden), "cameras_recomputed": len(cameras - {None})},
    )


@transaction.atomic
def volunteer_unban(*, user_id: int, actor: AbstractBaseUser, reason: str) -> AuditEvent:
    """Lift a ban: the sightings it hid are placed again and the votes count again."""
    _require_moderator(actor)
    reason = _why(reason)
    profile = Profile.objects.select_for_update().get(user_id=user_id)
    if profile.banned_at is None:
        raise ValidationError("This volunteer is not banned.")
    Profile.objects.filter(pk=profile.pk).update(banned_at=None)
    restored = list(
        Sighting.objects.select_for_update().filter(
            reporter_id=user_id, status=Sighting.Status.HIDDEN, hidden_reason=HiddenReason.BAN
        )
    )
    for sighting in restored:
        _unhide(sighting)
    _refresh(set(Vote.objects.filter(voter_id=user_id).values_list("camera_id", flat=True)), "A ban was lifted.")
    return audit_record(
        action="volunteer_unban", target=profile, actor=actor, reason=reason, data={"sightings_restored": len(restored)}
    )


@transaction.atomic
def camera_expert_verdict(*, camera_id: int, actor: AbstractBaseUser, status: str, reason: str) -> AuditEvent:
    """A moderator's verdict overrides the computed status (status "" withdraws it)."""
    _require_moderator(actor)
    reason = _why(reason)
    if status and status not in Camera.Status.values:
        raise ValidationError({"status": f"Choose one of: {', '.join(Camera.Status.values)}."})
    camera = Camera.objects.select_for_update().get(pk=camera_id, merged_into__isnull=True)
    before = camera.status
    Camera.objects.filter(pk=camera.pk).update(expert_status=status, expert_at=timezone.now() if status else None)
    camera_refresh(camera_id=camera.pk, reason=f"A moderator's verdict: {status or 'withdrawn'}.")
    after = Camera.objects.values_list("status", flat=True).get(pk=camera.pk)
    return audit_record(
        action="camera_expert_verdict",
        target=camera,
        actor=actor,
        reason=reason,
        data={"verdict": status, "from": before, "to": after},
    )


@transaction.atomic
def flag_resolve(*, flag_id: int, actor: AbstractBaseUser, resolution: str) -> AuditEvent:
    _require_moderator(actor)
    resolution = _why(resolution)
    flag = Flag.objects.select_for_update().get(pk=flag_id)
    if flag.resolved_at is not None:
        raise ValidationError("This flag is already resolved.")
    Flag.objects.filter(pk=flag.pk).update(resolved_at=timezone.now(), resolved_by=actor, resolution=resolution)
    return audit_record(action="flag_resolve", target=flag, actor=actor, reason=resolution)


@transaction.atomic
def comment_hide(*, comment_id: int, actor: AbstractBaseUser, reason: str, hidden: bool = True) -> AuditEvent:
    _require_moderator(actor)
    reason = _why(reason)
    comment = Comment.objects.select_for_update().get(pk=comment_id)
    Comment.objects.filter(pk=comment.pk).update(hidden=hidden)
    return audit_record(
        action="comment_hide" if hidden else "comment_unhide", target=comment, actor=actor, reason=reason
    )
