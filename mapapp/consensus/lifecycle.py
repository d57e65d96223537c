"""A camera's status from its evidence, and its place in the verification queue.

The rules are explained for the public in the package docstring; the comments here say how the
edge cases fall.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .attributes import AttributeConsensus, attribute_consensus, known_value
from .params import (
    ATTRIBUTE_FIELDS,
    CONFIRM,
    DEFAULT_PARAMS,
    DISPUTED,
    GONE,
    NOT_THERE,
    REMOVED,
    REPORTED,
    STALE,
    STATUSES,
    VERDICTS,
    VERIFIED,
    Params,
)

SIGHTING = "sighting"


def _check_weight(weight: float) -> None:
    if not math.isfinite(weight) or weight < 0:
        raise ValueError(f"a weight must be a finite number >= 0, got {weight!r}")


@dataclass(frozen=True, slots=True)
class SightingEvidence:
    """One sighting of the camera. `reporter_id` is None for imports (no volunteer behind them).

    `at` is when the camera was seen (observed_at); `weight` the reporter's trust weight, which
    weighs their attribute values.
    """

    reporter_id: int | None
    at: datetime
    attributes: Mapping[str, object] = field(default_factory=dict)
    weight: float = 1.0

    def __post_init__(self) -> None:
        _check_weight(self.weight)


@dataclass(frozen=True, slots=True)
class VoteEvidence:
    """One volunteer's verdict; `corrections` (attribute values) count only with a confirmation."""

    voter_id: int
    verdict: str
    at: datetime
    weight: float = 1.0
    corrections: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}")
        _check_weight(self.weight)


@dataclass(frozen=True, slots=True)
class ExpertVerdict:
    status: str
    at: datetime

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    now: datetime
    sightings: tuple[SightingEvidence, ...] = ()
    votes: tuple[VoteEvidence, ...] = ()
    expert: ExpertVerdict | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "sightings", tuple(self.sightings))
        object.__setattr__(self, "votes", tuple(self.votes))


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str
    expert: bool  # the status is a moderator's verdict, not the rules' result
    evidence_status: str  # what the rules alone say (differs from `status` under an override)
    confirmations: int  # distinct volunteers, other than the reporter, who currently say "it is there"
    weight_confirm: float
    weight_not_there: float
    weight_gone: float  # only gone votes cast after the last confirmation
    last_confirmed_at: datetime | None  # the first report when nobody has confirmed it yet
    reasons: str
    attributes: dict[str, AttributeConsensus]


@dataclass(frozen=True, slots=True)
class _Act:
    who: object  # a volunteer id, or ("import", i) for an imported sighting
    kind: str  # SIGHTING or a verdict
    at: datetime
    weight: float
    values: Mapping[str, object]


def decide(evidence: Evidence, params: Params = DEFAULT_PARAMS) -> Outcome:
    """The camera's status, tallies, reasons and attribute consensus, recomputed from scratch."""
    now = evidence.now
    # Evidence dated in the future is a clock error; counting it would keep a camera fresh forever.
    sightings = sorted(
        (s for s in evidence.sightings if s.at <= now),
        key=lambda s: (s.at, s.reporter_id is None, s.reporter_id or 0),
    )
    reporter = sightings[0].reporter_id if sightings else None
    first_at = sightings[0].at if sightings else None

    acts: list[_Act] = []
    for i, s in enumerate(sightings):
        who = s.reporter_id if s.reporter_id is not None else ("import", i)
        acts.append(_Act(who, SIGHTING, s.at, s.weight, s.attributes))
    for v in evidence.votes:
        # The reporter cannot vote on their own camera; the service refuses it, and so do we.
        if v.at <= now and (reporter is None or v.voter_id != reporter):
            acts.append(_Act(v.voter_id, v.verdict, v.at, v.weight, v.corrections if v.verdict == CONFIRM else {}))
    # Time order; at the same instant a vote comes after a sighting (it is the considered verdict),
    # and the rest of the key only makes the order total, so arrival order never matters.
    acts.sort(key=lambda a: (a.at, a.kind != SIGHTING, a.kind, a.weight, sorted(map(repr, a.values.items()))))

    # One volunteer, one voice: their latest act is what they say now.
    latest: dict[object, _Act] = {}
    for act in acts:
        if act.weight > 0 and isinstance(act.who, int) and act.who != reporter:
            latest[act.who] = act
    confirmers = [a for a in latest.values() if a.kind in (SIGHTING, CONFIRM)]
    not_there = [a for a in latest.values() if a.kind == NOT_THERE]

    last_confirmed = max((a.at for a in confirmers), default=first_at)
    expert = evidence.expert
    if expert is not None and expert.status == VERIFIED and expert.at <= now:
        # A moderator's "verified" is a confirmation in time: it resets the stale clock and the
        # gone votes, though it adds no volunteer to the count.
        last_confirmed = expert.at if last_confirmed is None else max(last_confirmed, expert.at)
    # A gone vote at the same instant as a confirmation loses: benefit of the doubt.
    gone = [a for a in latest.values() if a.kind == GONE and (last_confirmed is None or a.at > last_confirmed)]

    tally = _Tally(
        confirmations=len(confirmers),
        weight_confirm=sum(a.weight for a in confirmers),
        weight_not_there=sum(a.weight for a in not_there),
        gone_voters=len(gone),
        weight_gone=sum(a.weight for a in gone),
        last_confirmed_at=last_confirmed,
    )
    evidence_status, why = _rules(tally, now, params)
    status, from_expert = evidence_status, False
    if expert is not None:
        if expert.status == VERIFIED and _stale(tally, now, params):
            # Even a moderator's "verified" ages: cameras get taken down, and nobody has looked since.
            why = f"A moderator verified it in {_day(expert.at)}, but that has lapsed. {why}"
        else:
            status, from_expert = expert.status, True
            why = f"Set to {expert.status} by a moderator in {_day(expert.at)}, overriding the rules. Without it: {why}"

    reported = (
        f"First reported in {_day(first_at)}{' (imported, no volunteer reporter)' if reporter is None else ''}. "
        if first_at is not None
        else ""
    )
    return Outcome(
        status=status,
        expert=from_expert,
        evidence_status=evidence_status,
        confirmations=tally.confirmations,
        weight_confirm=tally.weight_confirm,
        weight_not_there=tally.weight_not_there,
        weight_gone=tally.weight_gone,
        last_confirmed_at=last_confirmed,
        reasons=reported + why,
        attributes=_attributes(acts, params),
    )


@dataclass(frozen=True, slots=True)
class _Tally:
    confirmations: int
    weight_confirm: float
    weight_not_there: float
    gone_voters: int
    weight_gone: float
    last_confirmed_at: datetime | None


def _stale(t: _Tally, now: datetime, params: Params) -> bool:
    return t.last_confirmed_at is not None and now - t.last_confirmed_at >= timedelta(days=params.stale_after_days)


def _rules(t: _Tally, now: datetime, params: Params) -> tuple[str, str]:
    """The status the evidence gives, first rule that applies, and the reason in plain words."""
    last = _day(t.last_confirmed_at) if t.last_confirmed_at else "never"
    if t.gone_voters >= params.removal_min_voters and t.weight_gone >= params.removal_weight:
        return REMOVED, (
            f"Removed: {t.gone_voters} volunteers (weight {t.weight_gone:.2f}) said it is gone since it was last "
            f"confirmed in {last}; {params.removal_min_voters} volunteers and weight {params.removal_weight:.2f} "
            "are needed."
        )
    pending = ""
    if t.gone_voters:
        pending += (
            f" {t.gone_voters} 'gone' vote{' is' if t.gone_voters == 1 else 's are'} not enough to remove it "
            f"(weight {t.weight_gone:.2f} since the last confirmation)."
        )
    if t.weight_not_there:
        pending += f" 'No camera here' weighs {t.weight_not_there:.2f}, not enough to dispute it."
    if t.weight_not_there - t.weight_confirm >= params.dispute_margin:
        return DISPUTED, (
            f"Disputed: 'no camera here' weighs {t.weight_not_there:.2f} against {t.weight_confirm:.2f} for "
            f"'it is there', a margin of at least {params.dispute_margin:.2f}."
        )
    if _stale(t, now, params):
        return STALE, (
            f"Stale: last confirmed in {last}, {params.stale_after_days} or more days ago; it is back at the "
            "front of the verification queue."
        ) + pending
    counted = (
        f"{t.confirmations} volunteer{'s' if t.confirmations != 1 else ''} besides the reporter said it is there "
        f"({params.verify_confirmations} needed), last in {last}."
    )
    if t.confirmations >= params.verify_confirmations:
        return VERIFIED, f"Verified: {counted}{pending}"
    return REPORTED, f"Reported: {counted}{pending}"


def _attributes(acts: list[_Act], params: Params) -> dict[str, AttributeConsensus]:
    """Each voice's latest known value per attribute (acts come in time order), then consensus."""
    result: dict[str, AttributeConsensus] = {}
    for name in ATTRIBUTE_FIELDS:
        voices: dict[object, tuple[object, float]] = {}
        for act in acts:
            raw = act.values.get(name)
            if act.weight > 0 and known_value(name, raw) is not None:
                voices[act.who] = (raw, act.weight)
        result[name] = attribute_consensus(name, voices.values(), params)
    return result


def queue_key(
    *, status: str, confirmations: int, last_confirmed_at: datetime | None, distance_m: float | None = None
) -> tuple[float, int, float]:
    """Sort key for the verification queue (ascending): nearest, fewest confirmations, oldest.

    A stale camera counts as having no current confirmations, so it joins the never-confirmed
    ones; and since its last confirmation is over 18 months old while a younger report is not
    stale, it sorts ahead of them (a report that old is stale too). Distances rarely tie, so a
    caller who wants confirmations to matter round the distance into bands (say 100 m) first.
    Removed cameras do not belong in the queue; the caller leaves them out.
    """
    current = 0 if status == STALE else confirmations
    when = last_confirmed_at.timestamp() if last_confirmed_at is not None else -math.inf
    return (distance_m if distance_m is not None else 0.0, current, when)


def _day(when: datetime | None) -> str:
    """A month, not a day: reasons are public, and a day next to a volunteer's handle on the
    camera page would date their walk (see mapapp/views/cameras.py)."""
    return when.strftime("%B %Y") if when is not None else "never"
