"""Consensus: how CameraWatch decides a camera's status and attributes. Pure: plain values in and out.

No ORM, no Celery, no settings here. The service gathers a camera's sightings, votes and any
moderator verdict into an `Evidence`, calls `decide`, and stores the `Outcome`; the settings
layer builds `Params` from env variables. A status is always recomputed from the evidence, never
edited by hand. What follows is written for the public transparency page.

How a camera's status is decided
================================
Every camera starts as **reported**. The volunteer who reported it first is *the reporter*;
their own votes on it are not counted (nobody can confirm their own report). A camera imported
from OpenStreetMap has no volunteer reporter.

*Saying "it is there"* means a "confirm" vote, or reporting the camera yourself later: a second
sighting by a different volunteer counts as a confirmation at the moment it was seen. Each
volunteer has one voice: if you confirmed a camera and later vote "gone", what counts is "gone".
A camera's *last confirmation* is the latest such statement, or its first report if nobody has
confirmed it yet.

Votes are weighed by how often the voter has agreed with how cameras finally settled (below).
The rules are applied in this order, and the first that holds decides:

1. **Removed**: volunteers voted "gone" *after* the last confirmation, at least 2 of them with a
   total weight of at least 1.0. A "gone" vote followed by someone confirming the camera no
   longer counts: the later visit saw it. One new account (weight 0.25) cannot remove a verified
   camera, and nor can any single volunteer, however trusted.
2. **Disputed**: the weight of "no camera here" votes exceeds the weight of confirmations by at
   least 1.0 (the benefit of the doubt a report earns). Example: four new accounts saying "no
   camera here" (4 × 0.25) against no confirmations.
3. **Stale**: the last confirmation is 548 days (18 months) old or more, so nobody has seen the
   camera lately. A stale camera goes to the front of the verification queue. Removed and
   disputed cameras do not go stale: the first is settled, the second already asks for checks.
4. **Verified**: at least 2 volunteers other than the reporter currently say it is there.
5. Otherwise it stays **reported**.

A moderator may set a status after checking (a photo, a visit). Their verdict overrides these
rules and is shown as a moderator's decision, with one exception: a moderator's "verified" ages
like a confirmation, so 548 days after it (and after the last confirmation) the rules apply again.

The verification queue offers the nearest cameras first, then those with the fewest
confirmations (a stale camera counts as having none), then those confirmed longest ago.

How much a vote weighs
======================
A volunteer's weight is our estimate of how often they agree with how cameras settle, as if
every account had started with 1 agreeing and 3 disagreeing verdicts:

    weight = (agreed + 1) / (agreed + disagreed + 4), kept between 0.1 and 1.0

A new account weighs 0.25; after 20 agreeing verdicts, 21/24 = 0.875; it approaches but never
reaches 1.0. Someone usually wrong sinks to 0.1; a banned account weighs 0. A vote *agrees* when
the camera is verified and the vote said "it is there", or the camera is removed and the vote
said "gone". Other outcomes (still reported, stale, disputed) change nobody's record.

A vote is judged only once the status has answered it: at once if it was cast before the camera
reached that status (it helped decide it), otherwise only if the status still holds 30 days
after the vote. So saying "no camera here" about a verified camera does not cost you weight
while others still have time to check and agree with you; it costs you only if, a month on,
nobody has.

How attributes are agreed
=========================
Each attribute (type, mount, direction, operator, height, ...) takes the weighted majority of
the values volunteers gave, in their reports and in corrections sent with a confirmation, one
voice per volunteer (their latest). "Not sure" and blanks do not vote. Each gets a label:
*unanimous* when every value agrees (even a single one: we show how many reports there were),
*majority* when more than half the weight agrees, *split* otherwise. Directions agree within 45°
and are averaged around the compass (350° and 10° average to 0°); heights agree within 20% (at
least 0.5 m) and camera tilts within 15° of the weighted median.

A worked example
================
Ana (a new account, weight 0.25) reports a dome camera on 1 May 2024, facing 350°, 4 m up. Ben
(6 agreeing and 2 disagreeing verdicts: 7/12 = 0.58) reports it too on 3 May: a dome facing
10°, 5 m up. Cem (new, 0.25) confirms it on 20 May and says it is a fixed camera.

* Status: Ben's report and Cem's vote are 2 confirmations besides Ana's, so it is **verified**.
* Type: dome weighs 0.25 + 0.58 = 0.83 against fixed 0.25; dome wins with 77% of the weight, a
  **majority** (3 values).
* Direction: 350° and 10° are 20° apart, so they agree; the weighted average leans to Ben's
  heavier 10°: 4°, **unanimous** (2 values).
* Height: the weighted median is Ben's 5 m; Ana's 4 m is within 20% of it: **unanimous**.

Cem's confirmation helped verify it, so it agrees: Cem now has 1 agreeing verdict (2/5 = 0.4).

On 1 June 2025 Dee (new, 0.25) votes "gone": one vote from one account, so it stays verified.
Her vote came after the camera was verified, so it is not judged yet. On 1 July, 30 days on, the
camera is still verified: her vote is judged a disagreement, and she weighs 1/5 = 0.2. On 1
August 2025 Eve (40 agreeing, 2 disagreeing: 41/46 = 0.89) also votes "gone". Two volunteers
with 0.2 + 0.89 = 1.09 ≥ 1.0 since the last confirmation: the camera is **removed**. Both "gone"
votes helped decide that, so both now agree, and Dee's disagreement is replaced by an agreement:
a judgement always follows the camera's current status.

Had Ben confirmed it again on 1 July 2025, Dee's earlier vote would no longer count, and Eve's
alone could not remove it. Had nobody voted at all, it would have turned **stale** on 19 November
2025, 548 days after Cem's confirmation.
"""

from __future__ import annotations

from .attributes import AttributeConsensus, attribute_consensus, circular_mean, known_value, weighted_median
from .lifecycle import Evidence, ExpertVerdict, Outcome, SightingEvidence, VoteEvidence, decide, queue_key
from .params import (
    ATTRIBUTE_FIELDS,
    CONFIRM,
    DEFAULT_PARAMS,
    DISPUTED,
    GONE,
    MAJORITY,
    NOT_THERE,
    REMOVED,
    REPORTED,
    SPLIT,
    STALE,
    STATUSES,
    UNANIMOUS,
    VERDICTS,
    VERIFIED,
    Params,
)
from .trust import trust_weight, verdict_agrees, vote_agreement

__all__ = [
    "ATTRIBUTE_FIELDS",
    "CONFIRM",
    "DEFAULT_PARAMS",
    "DISPUTED",
    "GONE",
    "MAJORITY",
    "NOT_THERE",
    "REMOVED",
    "REPORTED",
    "SPLIT",
    "STALE",
    "STATUSES",
    "UNANIMOUS",
    "VERDICTS",
    "VERIFIED",
    "AttributeConsensus",
    "Evidence",
    "ExpertVerdict",
    "Outcome",
    "Params",
    "SightingEvidence",
    "VoteEvidence",
    "attribute_consensus",
    "circular_mean",
    "decide",
    "known_value",
    "queue_key",
    "trust_weight",
    "verdict_agrees",
    "vote_agreement",
    "weighted_median",
]
