"""From rows to the consensus core's Evidence, and from its Outcome back to a camera's columns.

Shared by the dedupe task's hot path (processing.py, which has the rows in hand and no votes to
read for a camera nobody voted on) and by camera_refresh (which reads everything). Sightings
weigh 1 each: a sighting is first-hand evidence, with a position and maybe a photo, and the
same-volunteer rule already keeps one person from confirming their own camera. Votes weigh by
their voter's trust (consensus/trust.py), and a banned volunteer's vote weighs nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.conf import settings

from .. import consensus
from ..models import Camera, CameraAttributes, Sighting

ATTRIBUTES = CameraAttributes.ATTRIBUTE_FIELDS


def consensus_params() -> consensus.Params:
    return consensus.Params(
        verify_confirmations=settings.CONSENSUS_VERIFY_CONFIRMATIONS,
        dispute_margin=settings.CONSENSUS_DISPUTE_MARGIN,
        removal_weight=settings.CONSENSUS_REMOVAL_WEIGHT,
        removal_min_voters=settings.CONSENSUS_REMOVAL_MIN_VOTERS,
        stale_after_days=settings.CONSENSUS_STALE_AFTER_DAYS,
        settle_after_days=settings.CONSENSUS_SETTLE_AFTER_DAYS,
        direction_tolerance=settings.DEDUPE_DIRECTION_TOLERANCE,
    )


def sighting_evidence(rows: Iterable[Mapping[str, Any]]) -> tuple[consensus.SightingEvidence, ...]:
    """Rows with reporter_id, source, observed_at and the attributes. Imports have no volunteer."""
    return tuple(
        consensus.SightingEvidence(
            reporter_id=None if r["source"] == Sighting.Source.IMPORT else r["reporter_id"],
            at=r["observed_at"],
            attributes={name: r[name] for name in ATTRIBUTES},
        )
        for r in rows
    )


def vote_evidence(votes: Iterable[Any], params: consensus.Params) -> tuple[consensus.VoteEvidence, ...]:
    """Votes with their voter's profile loaded (select_related("voter__profile"))."""
    out = []
    for vote in votes:
        profile = vote.voter.profile
        weight = consensus.trust_weight(profile.agreed, profile.disagreed, params, banned=profile.banned_at is not None)
        out.append(
            consensus.VoteEvidence(
                voter_id=vote.voter_id,
                verdict=vote.verdict,
                at=vote.updated_at,
                weight=weight,
                corrections=vote.corrections or {},
            )
        )
    return tuple(out)


def expert_evidence(status: str, at: datetime | None) -> consensus.ExpertVerdict | None:
    return consensus.ExpertVerdict(status, at) if status and at is not None else None


def outcome_values(outcome: consensus.Outcome) -> dict[str, Any]:
    """A camera's status, tallies and attribute columns from the consensus outcome."""
    values: dict[str, Any] = {
        "status": outcome.status,
        "confirmations": outcome.confirmations,
        "last_confirmed_at": outcome.last_confirmed_at,
    }
    for name, result in outcome.attributes.items():
        field = Camera._meta.get_field(name)
        value = result.value
        if value is None:
            value = None if field.null else field.get_default()
        elif name == "direction":
            value = round(float(value)) % 360
        values[name] = value
    values["agreement"] = {
        name: {"share": round(result.share, 3), "reports": result.n, "label": result.label}
        for name, result in outcome.attributes.items()
        if result.n
    }
    return values
