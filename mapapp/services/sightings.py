"""Sighting services: storing a volunteer's report and queuing its processing.

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

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import photos
from ..models import Sighting

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
        sighting_enqueue(sighting_id=sighting.pk, at=(sighting.lat, sighting.lon))
    return SubmitResult(sighting=sighting, created=True)


def _replay(existing: Sighting, fingerprint: str) -> SubmitResult:
    if existing.fingerprint and existing.fingerprint != fingerprint:
        raise IdempotencyConflict("This client_id was already used for a different sighting.")
    return SubmitResult(sighting=existing, created=False)


def sighting_enqueue(*, sighting_id: int, at: tuple[float, float] | None = None) -> None:
    """Queue processing after the surrounding transaction commits.

    `at`: the sighting's (lat, lon), sent along so the worker can lock its area in its first
    round trip (the worker checks it against the row; see processing._read_pending).

    The worker must never look for a row that is not committed yet. If the broker is down the
    sighting stays pending and is picked up later by the sweeper; the volunteer's request still
    succeeds (robust=True logs the error instead of raising it).
    """
    from ..tasks import dedupe_sighting

    hint = None if at is None else [float(at[0]), float(at[1])]
    transaction.on_commit(lambda: dedupe_sighting.delay(sighting_id, hint), robust=True)
