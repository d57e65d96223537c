"""The vocabulary of consensus (statuses, verdicts, labels) and its tunable numbers.

Kept free of Django: the status and verdict strings equal `CameraStatus` and `VoteVerdict` in
models.py (tests/test_consensus.py checks they do not drift), and the settings layer builds
`Params` from env variables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from ..vocab import ATTRIBUTE_FIELDS

__all__ = ["ATTRIBUTE_FIELDS"]  # re-exported: the attributes consensus is computed for

REPORTED, VERIFIED, DISPUTED, REMOVED, STALE = "reported", "verified", "disputed", "removed", "stale"
STATUSES = (REPORTED, VERIFIED, DISPUTED, REMOVED, STALE)

CONFIRM, NOT_THERE, GONE = "confirm", "not_there", "gone"
VERDICTS = (CONFIRM, NOT_THERE, GONE)

# Amnesty's agreement labels. An attribute nobody knew has label None.
UNANIMOUS, MAJORITY, SPLIT = "unanimous", "majority", "split"

NUMERIC_FIELDS = frozenset({"height", "camera_angle"})


@dataclass(frozen=True, slots=True)
class Params:
    """Every number the rules use; the defaults are the published ones (see the package docstring)."""

    # Distinct volunteers other than the reporter who must say "it is there".
    verify_confirmations: int = 2
    # Not-there weight must exceed confirmation weight by this much: the benefit of the doubt
    # the original report earns. 1.0 is more than any one volunteer's weight.
    dispute_margin: float = 1.0
    # Gone votes since the last confirmation must reach this weight *and* come from this many
    # volunteers, so no single account, however trusted, removes a camera.
    removal_weight: float = 1.0
    removal_min_voters: int = 2
    # 18 months: a camera nobody has confirmed for this long goes back to the verification queue.
    stale_after_days: int = 548
    # A vote cast after its camera reached a status is judged against it only if the status still
    # holds this long after the vote: the time others get to join a dissent (consensus/trust.py).
    settle_after_days: int = 30
    # Directions within this many degrees of the (circular) mean agree.
    direction_tolerance: float = 45.0
    # Heights agree within 20% of the median, and never closer than 0.5 m: guessed from the
    # pavement, 4 m and 5 m are the same answer.
    height_tolerance: float = 0.2
    height_tolerance_m: float = 0.5
    # Tilts (camera:angle, 0-90) agree within this many degrees of the median.
    angle_tolerance: float = 15.0
    # Beta prior for a volunteer's agreement rate: as if every account started with 1 verdict
    # that agreed and 3 that did not, so a new account weighs 1/4.
    trust_prior_agreed: float = 1.0
    trust_prior_disagreed: float = 3.0
    trust_min: float = 0.1
    trust_max: float = 1.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"Params.{f.name} must be a finite number >= 0, got {value!r}")
        positive = ("verify_confirmations", "dispute_margin", "removal_weight", "removal_min_voters")
        for name in (*positive, "stale_after_days", "settle_after_days", "trust_prior_agreed", "trust_prior_disagreed"):
            if getattr(self, name) <= 0:
                raise ValueError(f"Params.{name} must be > 0, got {getattr(self, name)!r}")
        if not self.trust_min <= self.trust_max:
            raise ValueError(f"Params.trust_min ({self.trust_min}) must not exceed trust_max ({self.trust_max})")


DEFAULT_PARAMS = Params()
