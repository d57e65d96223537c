"""How much a volunteer's vote weighs, and whether a verdict agreed with how a camera settled.

The weight is the posterior mean of the volunteer's agreement rate under a Beta(1, 3) prior,

    weight = clamp((agreed + 1) / (agreed + disagreed + 1 + 3), trust_min, trust_max)

that is, our estimate of how often this volunteer agrees with the final outcome, as if every
account had started with one agreeing and three disagreeing verdicts. Why this shape:

* A new account weighs 1/4. Twenty agreeing verdicts lift it to 21/24 = 0.875; it never reaches
  1.0 (the prior's three disagreements never wash out), so no one counts as more than one person
  and two votes are always needed to dispute or remove a camera.
* It rises with every agreement and falls with every disagreement. The product
  `rate × experience` sometimes suggested for this grows with *disagreements* too (each one adds
  experience); the prior already plays the part of experience, so that cannot happen here.
* A volunteer who is usually wrong sinks below a new account, to `trust_min` (0.1), not to zero:
  they may be right about their own street. A banned volunteer weighs 0 and is not counted at all.

When a verdict is judged (`vote_agreement`)
-------------------------------------------
A verdict is judged against a status only once that status has answered it. A vote cast before
the camera reached its status was part of the evidence that produced it, so it is judged at
once. A vote cast *after*, such as "no camera here" on a camera already verified, is a challenge
the crowd has not answered yet: it is judged only if the status still holds `settle_after_days`
(30) after the vote. Judging it at once would cut a dissenter's weight (to 1/5) before others
could join them, so honest dissent on a wrong "verified" would need more voices to form a
dispute than the published margin says, and the first doubters would be punished for being
early. Judging it later still counts a lone mistaken "not there" against its voter, and still
credits a late "it is there".
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .params import CONFIRM, DEFAULT_PARAMS, GONE, NOT_THERE, REMOVED, STATUSES, VERDICTS, VERIFIED, Params

# Only these statuses settle what a verdict should have been. "Reported", "stale" and "disputed"
# are open questions; so is a confirmation or not-there vote on a removed camera, which may have
# been true when it was cast (the camera was there, then it went).
_AGREES: dict[str, dict[str, bool]] = {
    VERIFIED: {CONFIRM: True, NOT_THERE: False, GONE: False},
    REMOVED: {GONE: True},
}


def trust_weight(agreed: int, disagreed: int, params: Params = DEFAULT_PARAMS, *, banned: bool = False) -> float:
    """A volunteer's vote weight from their record of settled verdicts (see the module docstring)."""
    if agreed < 0 or disagreed < 0:
        raise ValueError(f"verdict counts cannot be negative, got agreed={agreed}, disagreed={disagreed}")
    if banned:
        return 0.0
    a, b = params.trust_prior_agreed, params.trust_prior_disagreed
    rate = (agreed + a) / (agreed + disagreed + a + b)
    return min(params.trust_max, max(params.trust_min, rate))


def verdict_agrees(verdict: str, final_status: str) -> bool | None:
    """Whether a vote agreed with the camera's settled status; None when the status says nothing.

    The service calls this when a camera settles (verified or removed) to move each voter's
    agreed/disagreed counters; None means leave them alone.
    """
    if verdict not in VERDICTS:
        raise ValueError(f"unknown verdict {verdict!r}")
    if final_status not in STATUSES:
        raise ValueError(f"unknown status {final_status!r}")
    return _AGREES.get(final_status, {}).get(verdict)


def vote_agreement(
    verdict: str,
    status: str,
    *,
    cast_at: datetime,
    status_since: datetime,
    now: datetime,
    params: Params = DEFAULT_PARAMS,
) -> bool | None:
    """Whether a vote agreed with the camera's status, or None while that is not yet settled.

    Settled when the status speaks to the verdict (`verdict_agrees`) and either the vote came
    before the status was reached, or the status has held `settle_after_days` since the vote
    (see "When a verdict is judged" above).
    """
    agrees = verdict_agrees(verdict, status)
    if agrees is None:
        return None
    if cast_at <= status_since or now - cast_at >= timedelta(days=params.settle_after_days):
        return agrees
    return None
