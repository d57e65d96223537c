"""Translate between the sighting API's JSON/multipart bodies and the sighting service.

Input fields come from the Sighting model, so its validators (finite numbers, ranges, the OSM
vocabulary choices, max lengths) apply before the service runs its own `full_clean`. The output
never names the reporter: a volunteer's username, email or user id must not leak through the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from mapapp.models import Sighting, Vote
from mapapp.services import CORRECTABLE, SIGHTING_INPUT_FIELDS


class SightingInputSerializer(serializers.ModelSerializer):
    # The idempotency key. Stated here rather than inherited, because the model's column is
    # excluded from the service's full_clean: without this limit a 65-character key would reach
    # the database (a DataError on PostgreSQL, silently stored on SQLite).
    client_id = serializers.CharField(max_length=64, required=False, allow_null=True, allow_blank=True)
    # A plain file: mapapp.photos is the one judge of what counts as an acceptable image, so a
    # second opinion from DRF's ImageField would only give the client two different messages.
    photo = serializers.FileField(required=False, allow_null=True)

    class Meta:
        model = Sighting
        fields = (*SIGHTING_INPUT_FIELDS, "client_id", "photo")

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        # DRF drops unknown keys silently, so a typo such as `camera_typ` would store "unknown"
        # and answer 201. Unknown keys are reported together with any other field errors.
        unknown = {}
        if isinstance(data, Mapping):
            unknown = {name: ["Unknown field."] for name in data if name not in self.fields}
        try:
            attrs = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({**unknown, **exc.detail}) from None
        if unknown:
            raise serializers.ValidationError(unknown)
        return attrs


class SightingOutputSerializer(serializers.ModelSerializer):
    # With the request in the serializer context this renders an absolute URL; null without a photo.
    photo = serializers.ImageField(read_only=True, use_url=True)

    class Meta:
        model = Sighting
        # Deliberately no reporter, client_id or fingerprint.
        fields = (
            "id",
            "status",
            "camera",
            "lat",
            "lon",
            *Sighting.ATTRIBUTE_FIELDS,
            "notes",
            "observed_at",
            "submitted_at",
            "accuracy_m",
            "source",
            "photo",
        )
        read_only_fields = fields


class VoteInputSerializer(serializers.Serializer):
    """A verdict on a camera, with optional corrections (only with "confirm").

    Corrections may come as top-level keys (`{"verdict": "confirm", "camera_type": "dome"}`) or
    under "corrections"; the values pass through raw, because the vote service is the one judge
    of what a valid correction is (model validators, the OSM vocabulary), for the web form too.
    """

    verdict = serializers.ChoiceField(
        choices=Vote.Verdict.choices,
        error_messages={"invalid_choice": f"Choose one of: {', '.join(Vote.Verdict.values)}."},
    )
    corrections = serializers.DictField(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in CORRECTABLE:
            self.fields[name] = serializers.JSONField(required=False, allow_null=True)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        # As with sightings: a typo such as `camera_typ` must not be dropped silently.
        unknown = {}
        if isinstance(data, Mapping):
            allowed = ", ".join(("verdict", *CORRECTABLE, "corrections"))
            unknown = {name: [f"Unknown field; send only {allowed}."] for name in data if name not in self.fields}
        try:
            attrs = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({**unknown, **exc.detail}) from None
        if unknown:
            raise serializers.ValidationError(unknown)
        corrections = dict(attrs.pop("corrections", None) or {})
        top_level = {name: attrs.pop(name) for name in CORRECTABLE if name in attrs}
        twice = sorted(set(corrections) & set(top_level))
        if twice:
            raise serializers.ValidationError(
                {name: ["Given both at the top level and under corrections; send it once."] for name in twice}
            )
        return {"verdict": attrs["verdict"], "corrections": {**corrections, **top_level}}


class VoteOutputSerializer(serializers.Serializer):
    """The vote as stored and the camera as it now stands (the vote may have changed its status).

    The caller passes the vote with its camera re-read after the service's recomputation.
    """

    def to_representation(self, vote: Vote) -> dict[str, Any]:
        camera = vote.camera
        return {
            "verdict": vote.verdict,
            "corrections": vote.corrections,
            "camera": {
                "id": camera.pk,
                "status": camera.status,
                "confirmations": camera.confirmations,
                "agreement": camera.agreement,
            },
        }
