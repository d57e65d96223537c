"""Services: every write to CameraWatch's data goes through a function here.

Views, serializers, management commands and tasks translate their input and call one of these.
Each takes keyword-only arguments, validates the domain rules (model validators and photo checks)
before touching the database, and writes atomically, so a rejected input leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import photos
from .handles import make_handle
from .models import AuditEvent, Profile, Sighting

log = logging.getLogger(__name__)

SIGHTING_INPUT_FIELDS = (
    "lat",
    "lon",
    "accuracy_m",
    "observed_at",
    "notes",
    *Sighting.ATTRIBUTE_FIELDS,
)
# Phones' clocks drift; a sighting "observed" a few minutes in the future is still plausible.
OBSERVED_AT_FUTURE_SLACK_S = 600


class IdempotencyConflict(Exception):
    """The client reused an idempotency key for a different sighting."""


@dataclass(frozen=True)
class SubmitResult:
    sighting: Sighting
    created: bool


# --- Accounts -------------------------------------------------------------------------------


def profile_ensure(*, user: AbstractBaseUser, is_system: bool = False) -> Profile:
    """The user's profile, created with a fresh unique handle if it does not exist yet.

    Accounts made outside sign-up (createsuperuser, the admin) get their handle on first use.
    """
    try:
        return user.profile
    except Profile.DoesNotExist:
        pass
    for _ in range(20):
        try:
            with transaction.atomic():
                return Profile.objects.create(user=user, handle=make_handle(), is_system=is_system)
        except IntegrityError:
            if Profile.objects.filter(user=user).exists():
                return Profile.objects.get(user=user)
    raise RuntimeError("Could not find a free handle after 20 tries")


@transaction.atomic
def volunteer_signup(*, username: str, email: str, password: str | None) -> AbstractBaseUser:
    """A new volunteer with a fresh handle. password=None makes an account nobody can log in to."""
    user = get_user_model().objects.create_user(username=username, email=email, password=password)
    profile_ensure(user=user)
    return user


def system_user(*, username: str, handle: str) -> AbstractBaseUser:
    """An account that owns machine-made records (imports, demo data). It cannot log in."""
    user, created = get_user_model().objects.get_or_create(username=username, defaults={"is_active": False})
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
        Profile.objects.create(user=user, handle=handle, is_system=True)
    return user


# --- Sightings ------------------------------------------------------------------------------


def _fingerprint(data: dict[str, Any], photo_bytes: bytes | None) -> str:
    canonical = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in sorted(data.items())}
    digest = hashlib.sha256(json.dumps(canonical, sort_keys=True, default=str).encode())
    if photo_bytes is not None:
        digest.update(hashlib.sha256(photo_bytes).digest())
    return digest.hexdigest()


def sighting_submit(
    *,
    reporter: AbstractBaseUser,
    data: dict[str, Any],
    photo: Any = None,
    source: str = Sighting.Source.WEB,
    client_id: str | None = None,
) -> SubmitResult:
    """Store a volunteer's sighting, then queue its processing once the row is committed.

    `data` holds the fields in SIGHTING_INPUT_FIELDS (unknown keys are an error). `photo` is an
    uploaded file; it is checked and re-encoded without EXIF before anything is written.

    Idempotency: with a `client_id`, a retry returns the first sighting (created=False) instead of
    storing a second one, also when two requests race (the unique constraint decides, and the
    loser reads the winner's row). Reusing a key for a different sighting raises
    IdempotencyConflict.

    Raises django ValidationError with per-field messages; nothing is stored in that case.
    """
    unknown = set(data) - set(SIGHTING_INPUT_FIELDS)
    if unknown:
        raise ValidationError({name: "Unknown field." for name in sorted(unknown)})
    client_id = (client_id or "").strip() or None
    if client_id and len(client_id) > Sighting._meta.get_field("client_id").max_length:
        raise ValidationError({"client_id": "Ensure this value has at most 64 characters."})

    clean_photo = None
    if photo is not None:
        try:
            clean_photo = photos.sanitise(photo)
        except photos.PhotoRejected as exc:
            raise ValidationError({"photo": str(exc)}) from None

    fields = {k: v for k, v in data.items() if v is not None}
    fingerprint = _fingerprint(fields, clean_photo.content if clean_photo else None)
    if client_id:
        existing = Sighting.objects.filter(reporter=reporter, client_id=client_id).first()
        if existing is not None:
            return _replay(existing, fingerprint)

    sighting = Sighting(reporter=reporter, source=source, client_id=client_id, fingerprint=fingerprint, **fields)
    sighting.full_clean(exclude=["reporter", "photo", "client_id"])
    if sighting.observed_at > timezone.now() + timedelta(seconds=OBSERVED_AT_FUTURE_SLACK_S):
        raise ValidationError({"observed_at": "This is in the future."})

    with transaction.atomic():
        try:
            with transaction.atomic():
                sighting.save()
        except IntegrityError:
            if client_id is None:
                raise
            existing = Sighting.objects.filter(reporter=reporter, client_id=client_id).first()
            if existing is None:
                raise
            return _replay(existing, fingerprint)
        if clean_photo is not None:
            # The file is written only once the row is ours, so a lost race leaves no orphan file.
            sighting.photo.save("photo.jpg", ContentFile(clean_photo.content), save=True)
        sighting_enqueue(sighting_id=sighting.pk)
    return SubmitResult(sighting=sighting, created=True)


def _replay(existing: Sighting, fingerprint: str) -> SubmitResult:
    if existing.fingerprint and existing.fingerprint != fingerprint:
        raise IdempotencyConflict("This client_id was already used for a different sighting.")
    return SubmitResult(sighting=existing, created=False)


def sighting_enqueue(*, sighting_id: int) -> None:
    """Queue processing after the surrounding transaction commits.

    The worker must never look for a row that is not committed yet. If the broker is down the
    sighting stays pending and is picked up later by the sweeper; the volunteer's request still
    succeeds (robust=True logs the error instead of raising it).
    """
    from .tasks import dedupe_sighting

    transaction.on_commit(lambda: dedupe_sighting.delay(sighting_id), robust=True)


def sighting_process(*, sighting_id: int) -> bool:
    """Mark a pending sighting processed. Returns False if there was nothing to do.

    The conditional UPDATE is the claim: of two workers that get the same message, only the one
    whose update matched a pending row does the work, so running this twice equals running it once.
    The Dedupe issue replaces the body with matching against cameras.
    """
    claimed = Sighting.objects.filter(pk=sighting_id, status=Sighting.Status.PENDING).update(
        status=Sighting.Status.PROCESSED, processed_at=timezone.now()
    )
    return claimed == 1


# --- Audit ----------------------------------------------------------------------------------


def audit_record(
    *,
    action: str,
    target: Any,
    actor: AbstractBaseUser | None = None,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        actor=actor,
        action=action,
        target_type=type(target).__name__.lower() if target is not None else "",
        target_id=getattr(target, "pk", None),
        reason=reason,
        data=data or {},
    )
