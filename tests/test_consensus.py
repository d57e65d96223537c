"""The consensus core without a database: lifecycle, attribute agreement, trust and the queue.

Volunteers are plain ids: Ana (1) reports, Ben (2), Cem (3), Dee (4) and Eve (5) check. Weights
default to 1.0 so the lifecycle rules read on their own; tests about trust pass real weights.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapapp import consensus
from mapapp.consensus import (
    CONFIRM,
    DISPUTED,
    GONE,
    MAJORITY,
    NOT_THERE,
    REMOVED,
    REPORTED,
    SPLIT,
    STALE,
    UNANIMOUS,
    VERIFIED,
    Evidence,
    ExpertVerdict,
    Outcome,
    Params,
    SightingEvidence,
    VoteEvidence,
    attribute_consensus,
    decide,
    queue_key,
    trust_weight,
    verdict_agrees,
    vote_agreement,
)
from mapapp.models import CameraStatus, VoteVerdict

ANA, BEN, CEM, DEE, EVE = 1, 2, 3, 4, 5
START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
NEW = trust_weight(0, 0)

FAST = settings(max_examples=60, deadline=None)


def day(n: float) -> datetime:
    return START + timedelta(days=n)


def sighting(who: int | None, on: float = 0, weight: float = 1.0, **attributes: object) -> SightingEvidence:
    return SightingEvidence(who, day(on), attributes, weight)


def vote(who: int, verdict: str, on: float, weight: float = 1.0, **corrections: object) -> VoteEvidence:
    return VoteEvidence(who, verdict, day(on), weight, corrections)


def outcome(
    *evidence: SightingEvidence | VoteEvidence,
    now: float = 30,
    expert: ExpertVerdict | None = None,
    params: Params = consensus.DEFAULT_PARAMS,
) -> Outcome:
    sightings = tuple(e for e in evidence if isinstance(e, SightingEvidence))
    votes = tuple(e for e in evidence if isinstance(e, VoteEvidence))
    return decide(Evidence(now=day(now), sightings=sightings, votes=votes, expert=expert), params)


REPORT = sighting(ANA, 0)


# --- Reported and verified -------------------------------------------------------------------------


def test_a_fresh_report_is_reported() -> None:
    result = outcome(REPORT)

    assert result.status == REPORTED
    assert result.confirmations == 0
    assert result.expert is False
    assert result.last_confirmed_at == day(0)


def test_two_independent_confirmations_verify_a_camera() -> None:
    result = outcome(REPORT, vote(BEN, CONFIRM, 1), vote(CEM, CONFIRM, 2))

    assert result.status == VERIFIED
    assert result.confirmations == 2
    assert result.weight_confirm == 2.0
    assert result.last_confirmed_at == day(2)


def test_one_confirmation_is_not_enough_to_verify() -> None:
    assert outcome(REPORT, vote(BEN, CONFIRM, 1)).status == REPORTED


def test_a_second_sighting_by_another_volunteer_counts_as_a_confirmation() -> None:
    result = outcome(REPORT, sighting(BEN, 3), vote(CEM, CONFIRM, 2))

    assert result.status == VERIFIED
    assert result.confirmations == 2
    assert result.last_confirmed_at == day(3)


def test_the_reporters_own_vote_is_ignored() -> None:
    result = outcome(REPORT, vote(ANA, CONFIRM, 1, camera_type="dome"), vote(BEN, CONFIRM, 2))

    assert result.status == REPORTED
    assert result.confirmations == 1
    assert result.attributes["camera_type"].n == 0


def test_the_reporters_own_gone_votes_are_ignored() -> None:
    result = outcome(REPORT, vote(ANA, GONE, 5), vote(BEN, GONE, 5))

    assert result.status == REPORTED
    assert result.weight_gone == 1.0


def test_the_reporter_seeing_their_camera_again_is_not_a_confirmation() -> None:
    result = outcome(REPORT, sighting(ANA, 10), vote(BEN, CONFIRM, 2))

    assert result.confirmations == 1
    assert result.last_confirmed_at == day(2)


def test_a_volunteer_who_sighted_and_confirmed_a_camera_counts_once() -> None:
    result = outcome(REPORT, sighting(BEN, 1), vote(BEN, CONFIRM, 2))

    assert result.status == REPORTED
    assert result.confirmations == 1


def test_the_earliest_sighting_makes_its_volunteer_the_reporter_whatever_the_input_order() -> None:
    result = outcome(sighting(BEN, 5), vote(ANA, CONFIRM, 6), sighting(ANA, 0))

    # Ana saw it first, so Ben's later sighting confirms it and Ana's vote is her own.
    assert result.confirmations == 1
    assert result.last_confirmed_at == day(5)


@pytest.mark.parametrize(("needed", "confirmers", "status"), [(1, 1, VERIFIED), (3, 2, REPORTED), (3, 3, VERIFIED)])
def test_the_number_of_confirmations_needed_is_configurable(needed: int, confirmers: int, status: str) -> None:
    votes = [vote(who, CONFIRM, 1) for who in (BEN, CEM, DEE)[:confirmers]]

    assert outcome(REPORT, *votes, params=Params(verify_confirmations=needed)).status == status


def test_an_imported_camera_is_verified_by_any_two_volunteers() -> None:
    result = outcome(sighting(None, 0), sighting(None, 1), sighting(BEN, 2), vote(CEM, CONFIRM, 3))

    assert result.status == VERIFIED
    assert result.confirmations == 2
    assert "imported" in result.reasons


def test_a_banned_volunteers_confirmation_does_not_count() -> None:
    result = outcome(REPORT, vote(BEN, CONFIRM, 1), vote(CEM, CONFIRM, 2, weight=trust_weight(50, 0, banned=True)))

    assert result.status == REPORTED
    assert result.confirmations == 1


def test_evidence_dated_after_now_is_not_counted() -> None:
    result = outcome(REPORT, vote(BEN, CONFIRM, 1), vote(CEM, CONFIRM, 40), now=30)

    assert result.status == REPORTED
    assert result.last_confirmed_at == day(1)


# --- Disputed --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("second_weight", "status"), [(0.5, DISPUTED), (0.25, REPORTED)])
def test_not_there_votes_dispute_a_camera_when_they_outweigh_confirmations_by_the_margin(
    second_weight: float, status: str
) -> None:
    result = outcome(
        REPORT,
        vote(BEN, CONFIRM, 1, weight=0.5),
        vote(CEM, NOT_THERE, 2),
        vote(DEE, NOT_THERE, 3, weight=second_weight),
    )

    # 1.5 - 0.5 is exactly the margin of 1.0 and disputes; 1.25 - 0.5 falls short.
    assert result.status == status


def test_one_new_account_cannot_dispute_a_report() -> None:
    assert outcome(REPORT, vote(BEN, NOT_THERE, 1, weight=NEW)).status == REPORTED


def test_four_new_accounts_saying_no_camera_here_dispute_an_unconfirmed_report() -> None:
    votes = [vote(who, NOT_THERE, 1, weight=NEW) for who in (BEN, CEM, DEE, EVE)]

    assert outcome(REPORT, *votes).status == DISPUTED


def test_a_disputed_camera_does_not_go_stale() -> None:
    result = outcome(REPORT, vote(BEN, NOT_THERE, 1), vote(CEM, NOT_THERE, 1), now=900)

    assert result.status == DISPUTED


# --- Removed ---------------------------------------------------------------------------------------


def test_two_gone_votes_after_the_last_confirmation_remove_a_camera() -> None:
    result = outcome(
        REPORT, vote(BEN, CONFIRM, 1), vote(CEM, CONFIRM, 2), vote(DEE, GONE, 100), vote(EVE, GONE, 101), now=200
    )

    assert result.status == REMOVED
    assert result.weight_gone == 2.0


def test_one_gone_vote_from_a_new_account_does_not_remove_a_verified_camera() -> None:
    result = outcome(REPORT, vote(BEN, CONFIRM, 1), vote(CEM, CONFIRM, 2), vote(DEE, GONE, 100, weight=NEW), now=200)

    assert result.status == VERIFIED
    assert "not enough to remove" in result.reasons


def test_no_single_volunteer_removes_a_camera_however_trusted() -> None:
    result = outcome(REPORT, vote(BEN, CONFIRM, 1), vote(CEM, CONFIRM, 2), vote(DEE, GONE, 100, weight=1.0), now=200)

    assert result.status == VERIFIED


def test_two_new_accounts_voting_gone_do_not_reach_the_removal_weight() -> None:
    result = outcome(REPORT, vote(DEE, GONE, 100, weight=NEW), vote(EVE, GONE, 100, weight=NEW), now=200)

    assert result.status == REPORTED


def test_gone_votes_older_than_a_later_confirmation_no_longer_count() -> None:
    result = outcome(
        REPORT, vote(BEN, CONFIRM, 1), vote(DEE, GONE, 100), vote(EVE, GONE, 101), vote(CEM, CONFIRM, 102), now=200
    )

    assert result.status == VERIFIED
    assert result.weight_gone == 0.0


def test_a_gone_vote_cast_at_the_same_moment_as_a_confirmation_does_not_count() -> None:
    result = outcome(REPORT, vote(DEE, GONE, 101), vote(EVE, GONE, 101), vote(BEN, CONFIRM, 101), now=200)

    assert result.status == REPORTED
    assert result.weight_gone == 0.0


def test_a_later_sighting_also_cancels_earlier_gone_votes() -> None:
    result = outcome(REPORT, vote(DEE, GONE, 100), vote(EVE, GONE, 101), sighting(BEN, 102), now=200)

    assert result.status == REPORTED


def test_a_volunteer_who_confirmed_and_later_voted_gone_counts_as_gone() -> None:
    # Ben saw it on day 1 and voted gone on day 100; his latest word is "gone".
    result = outcome(
        REPORT, sighting(BEN, 1), vote(CEM, CONFIRM, 2), vote(BEN, GONE, 100), vote(DEE, GONE, 101), now=200
    )

    assert result.status == REMOVED
    assert result.confirmations == 1


def test_removed_cameras_do_not_become_stale() -> None:
    result = outcome(REPORT, vote(DEE, GONE, 10), vote(EVE, GONE, 11), now=2000)

    assert result.status == REMOVED


# --- Stale -----------------------------------------------------------------------------------------


def test_a_camera_goes_stale_548_days_after_its_last_confirmation_and_not_at_547() -> None:
    evidence = (REPORT, vote(BEN, CONFIRM, 1), vote(CEM, CONFIRM, 2))

    assert outcome(*evidence, now=2 + 547).status == VERIFIED
    assert outcome(*evidence, now=2 + 547.99).status == VERIFIED
    assert outcome(*evidence, now=2 + 548).status == STALE


def test_a_never_confirmed_report_goes_stale_counting_from_the_report() -> None:
    assert outcome(REPORT, now=547).status == REPORTED
    assert outcome(REPORT, now=548).status == STALE


def test_a_new_confirmation_brings_a_stale_camera_back() -> None:
    result = outcome(REPORT, vote(BEN, CONFIRM, 1), vote(CEM, CONFIRM, 2), vote(DEE, CONFIRM, 600), now=700)

    assert result.status == VERIFIED
    assert result.confirmations == 3


def test_the_stale_period_is_configurable() -> None:
    evidence = (REPORT, vote(BEN, CONFIRM, 1), vote(CEM, CONFIRM, 2))

    assert outcome(*evidence, now=100, params=Params(stale_after_days=90)).status == STALE
    assert outcome(*evidence, now=100).status == VERIFIED


# --- Moderators ------------------------------------------------------------------------------------


def test_a_moderators_verdict_overrides_the_evidence_and_is_flagged() -> None:
    result = outcome(
        REPORT, vote(BEN, CONFIRM, 1), vote(CEM, CONFIRM, 2), expert=ExpertVerdict(REMOVED, day(5)), now=10
    )

    assert result.status == REMOVED
    assert result.expert is True
    assert result.evidence_status == VERIFIED
    assert "moderator" in result.reasons


def test_without_a_moderator_the_status_is_not_flagged_as_theirs() -> None:
    result = outcome(REPORT, vote(BEN, CONFIRM, 1), vote(CEM, CONFIRM, 2))

    assert result.expert is False
    assert result.evidence_status == result.status


def test_a_moderators_verified_holds_against_later_gone_votes() -> None:
    result = outcome(REPORT, vote(DEE, GONE, 20), vote(EVE, GONE, 21), expert=ExpertVerdict(VERIFIED, day(10)), now=30)

    assert result.status == VERIFIED
    assert result.expert is True
    assert result.evidence_status == REMOVED


def test_a_moderators_verified_sets_aside_gone_votes_cast_before_it() -> None:
    result = outcome(REPORT, vote(DEE, GONE, 5), vote(EVE, GONE, 6), expert=ExpertVerdict(VERIFIED, day(10)), now=30)

    assert result.evidence_status == REPORTED
    assert result.last_confirmed_at == day(10)


def test_a_moderators_verified_lapses_after_the_stale_period() -> None:
    expert = ExpertVerdict(VERIFIED, day(10))

    assert outcome(REPORT, expert=expert, now=10 + 547).status == VERIFIED
    lapsed = outcome(REPORT, expert=expert, now=10 + 548)
    assert lapsed.status == STALE
    assert lapsed.expert is False


def test_a_moderators_removal_never_lapses() -> None:
    result = outcome(REPORT, vote(BEN, CONFIRM, 1), expert=ExpertVerdict(REMOVED, day(2)), now=3000)

    assert result.status == REMOVED
    assert result.expert is True


# --- Reasons and order -----------------------------------------------------------------------------


def test_the_reasons_say_in_plain_words_why() -> None:
    verified = outcome(REPORT, vote(BEN, CONFIRM, 1), vote(CEM, CONFIRM, 2))
    removed = outcome(REPORT, vote(DEE, GONE, 10), vote(EVE, GONE, 11))

    assert verified.reasons == (
        "First reported in May 2024. Verified: 2 volunteers besides the reporter said it is there "
        "(2 needed), last in May 2024."
    )
    assert removed.reasons.startswith("First reported in May 2024. Removed: 2 volunteers (weight 2.00)")


verdicts = st.sampled_from([CONFIRM, NOT_THERE, GONE])
vote_lists = st.lists(
    st.builds(
        VoteEvidence,
        voter_id=st.integers(1, 6),
        verdict=verdicts,
        at=st.integers(0, 900).map(day),
        weight=st.sampled_from([0.0, 0.25, 0.5, 0.875, 1.0]),
        corrections=st.fixed_dictionaries({"camera_type": st.sampled_from(["dome", "fixed", "unknown"])}),
    ),
    max_size=8,
    unique_by=lambda v: v.voter_id,
)
sighting_lists = st.lists(
    st.builds(
        SightingEvidence,
        reporter_id=st.one_of(st.none(), st.integers(1, 6)),
        at=st.integers(0, 900).map(day),
        attributes=st.fixed_dictionaries({"direction": st.integers(0, 359)}),
    ),
    min_size=1,
    max_size=5,
)


@FAST
@given(sighting_lists, vote_lists, st.randoms(use_true_random=False))
def test_the_outcome_does_not_depend_on_the_order_evidence_arrives(
    sightings: list[SightingEvidence], votes: list[VoteEvidence], rnd: random.Random
) -> None:
    shuffled_s, shuffled_v = sightings[:], votes[:]
    rnd.shuffle(shuffled_s)
    rnd.shuffle(shuffled_v)

    a = decide(Evidence(now=day(1000), sightings=tuple(sightings), votes=tuple(votes)))
    b = decide(Evidence(now=day(1000), sightings=tuple(shuffled_s), votes=tuple(shuffled_v)))

    assert (a.status, a.confirmations, a.last_confirmed_at) == (b.status, b.confirmations, b.last_confirmed_at)
    assert a.attributes["camera_type"].value == b.attributes["camera_type"].value
    assert a.attributes["direction"].value == b.attributes["direction"].value


# --- Attributes ------------------------------------------------------------------------------------


def test_values_that_all_agree_are_unanimous() -> None:
    result = attribute_consensus("camera_type", [("dome", 1.0), ("dome", 0.25)])

    assert (result.value, result.share, result.label, result.n) == ("dome", 1.0, UNANIMOUS, 2)


def test_a_single_value_is_unanimous_and_says_it_is_one_report() -> None:
    result = attribute_consensus("camera_mount", [("wall", 0.25)])

    assert (result.value, result.label, result.n) == ("wall", UNANIMOUS, 1)


def test_more_than_half_the_weight_agreeing_is_a_majority() -> None:
    result = attribute_consensus("camera_type", [("dome", 1.0), ("dome", 1.0), ("fixed", 1.0)])

    assert (result.value, result.label) == ("dome", MAJORITY)
    assert result.share == pytest.approx(2 / 3)


def test_an_even_split_is_split_and_the_alphabetically_first_value_leads() -> None:
    result = attribute_consensus("camera_type", [("fixed", 1.0), ("dome", 1.0)])

    assert (result.value, result.share, result.label) == ("dome", 0.5, SPLIT)


def test_a_trusted_volunteer_outweighs_two_new_accounts() -> None:
    result = attribute_consensus("camera_type", [("dome", NEW), ("dome", NEW), ("fixed", 0.9)])

    assert result.value == "fixed"
    assert result.share == pytest.approx(0.9 / 1.4)
    assert result.label == MAJORITY


def test_unknown_and_blank_values_do_not_vote() -> None:
    result = attribute_consensus("zone", [("unknown", 1.0), ("", 1.0), (None, 1.0), ("  ", 1.0), ("shop", 0.25)])

    assert (result.value, result.share, result.label, result.n) == ("shop", 1.0, UNANIMOUS, 1)


def test_an_attribute_nobody_knew_has_no_value_and_no_label() -> None:
    result = attribute_consensus("operator", [("", 1.0), ("unknown", 1.0)])

    assert (result.value, result.share, result.label, result.n) == (None, 0.0, None, 0)


def test_operators_match_ignoring_case_and_spacing() -> None:
    result = attribute_consensus("operator", [("City Police", 1.0), ("city  police", 0.5), ("Acme", 1.0)])

    assert result.value == "City Police"
    assert result.share == pytest.approx(1.5 / 2.5)


def test_directions_of_350_and_10_degrees_average_to_north() -> None:
    result = attribute_consensus("direction", [(350, 1.0), (10, 1.0)])

    assert (result.value, result.label) == (0, UNANIMOUS)


def test_directions_within_45_degrees_of_their_mean_are_unanimous() -> None:
    assert attribute_consensus("direction", [(0, 1.0), (90, 1.0)]).label == UNANIMOUS
    assert attribute_consensus("direction", [(0, 1.0), (100, 1.0)]).label == SPLIT


def test_opposite_directions_are_split() -> None:
    result = attribute_consensus("direction", [(90, 1.0), (270, 1.0)])

    assert (result.value, result.share, result.label) == (90, 0.5, SPLIT)


def test_a_heavier_cluster_of_directions_is_a_majority_and_gives_its_mean() -> None:
    result = attribute_consensus("direction", [(10, 1.0), (20, 1.0), (200, 1.0)])

    assert (result.value, result.label) == (15, MAJORITY)
    assert result.share == pytest.approx(2 / 3)


def test_height_takes_the_weighted_median_and_agrees_within_20_percent() -> None:
    result = attribute_consensus("height", [(3.0, 1.0), (3.5, 1.0), (10.0, 1.0)])

    # Median 3.5 m; 20% of it is 0.7 m, so 3 m agrees and 10 m does not.
    assert (result.value, result.label) == (3.5, MAJORITY)
    assert result.share == pytest.approx(2 / 3)


def test_low_heights_agree_within_half_a_metre() -> None:
    assert attribute_consensus("height", [(2.0, 1.0), (2.5, 1.0)]).label == UNANIMOUS
    assert attribute_consensus("height", [(2.0, 1.0), (2.6, 1.0)]).label == SPLIT


def test_camera_angles_agree_within_15_degrees() -> None:
    assert attribute_consensus("camera_angle", [(30, 1.0), (45, 1.0)]).label == UNANIMOUS
    assert attribute_consensus("camera_angle", [(30, 1.0), (46, 1.0)]).label == SPLIT


def test_a_confirmations_corrections_count_but_a_gone_votes_do_not() -> None:
    result = outcome(
        sighting(ANA, 0, camera_type="dome"),
        vote(BEN, CONFIRM, 1, camera_type="fixed"),
        vote(CEM, CONFIRM, 2, camera_type="fixed"),
        vote(DEE, GONE, 3, camera_type="panning"),
    )

    assert result.attributes["camera_type"].value == "fixed"
    assert result.attributes["camera_type"].n == 3


def test_a_volunteers_latest_value_is_their_one_voice() -> None:
    result = outcome(sighting(ANA, 0, zone="shop"), sighting(BEN, 1, zone="bank"), vote(BEN, CONFIRM, 2, zone="shop"))

    assert (result.attributes["zone"].value, result.attributes["zone"].label, result.attributes["zone"].n) == (
        "shop",
        UNANIMOUS,
        2,
    )


def test_the_worked_example_in_the_docstring_holds() -> None:
    def on(y: int, m: int, d: int) -> datetime:
        return datetime(y, m, d, 12, tzinfo=UTC)

    ana, ben, cem, dee, eve = NEW, trust_weight(6, 2), NEW, NEW, trust_weight(40, 2)
    sightings = (
        SightingEvidence(ANA, on(2024, 5, 1), {"camera_type": "dome", "direction": 350, "height": 4}, ana),
        SightingEvidence(BEN, on(2024, 5, 3), {"camera_type": "dome", "direction": 10, "height": 5}, ben),
    )
    cem_confirms = VoteEvidence(CEM, CONFIRM, on(2024, 5, 20), cem, {"camera_type": "fixed"})
    dee_gone = VoteEvidence(DEE, GONE, on(2025, 6, 1), dee)
    eve_gone = VoteEvidence(EVE, GONE, on(2025, 8, 1), eve)
    ben_again = VoteEvidence(BEN, CONFIRM, on(2025, 7, 1), ben)

    def status(*votes: VoteEvidence, now: datetime) -> Outcome:
        return decide(Evidence(now=now, sightings=sightings, votes=votes))

    first = status(cem_confirms, now=on(2024, 6, 1))
    assert first.status == VERIFIED
    assert round(ben, 2) == 0.58
    attrs = first.attributes
    assert (attrs["camera_type"].value, round(attrs["camera_type"].share, 2)) == ("dome", 0.77)
    assert (attrs["camera_type"].label, attrs["camera_type"].n) == (MAJORITY, 3)
    assert (attrs["direction"].value, attrs["direction"].label) == (4, UNANIMOUS)
    assert (attrs["height"].value, attrs["height"].label) == (5.0, UNANIMOUS)
    # Cem's vote helped verify the camera: judged at once, an agreement.
    assert vote_agreement(CONFIRM, VERIFIED, cast_at=on(2024, 5, 20), status_since=on(2024, 5, 20), now=on(2024, 5, 20))
    assert status(cem_confirms, dee_gone, now=on(2025, 6, 2)).status == VERIFIED
    # Dee's came after: unjudged for 30 days, then a disagreement while the camera stays verified.
    dee_judged = {
        when: vote_agreement(GONE, VERIFIED, cast_at=on(2025, 6, 1), status_since=on(2024, 5, 20), now=on(2025, *when))
        for when in [(6, 30), (7, 1)]
    }
    assert dee_judged == {(6, 30): None, (7, 1): False}
    dee = trust_weight(0, 1)
    dee_gone = VoteEvidence(DEE, GONE, on(2025, 6, 1), dee)
    removed = status(cem_confirms, dee_gone, eve_gone, now=on(2025, 8, 2))
    assert (removed.status, round(dee, 2), round(removed.weight_gone, 2)) == (REMOVED, 0.2, 1.09)
    # Removed on 1 August: both gone votes helped decide it, so both now agree.
    assert vote_agreement(GONE, REMOVED, cast_at=on(2025, 6, 1), status_since=on(2025, 8, 1), now=on(2025, 8, 2))
    assert status(cem_confirms, dee_gone, eve_gone, ben_again, now=on(2025, 8, 2)).status == VERIFIED
    assert status(cem_confirms, now=on(2025, 11, 18)).status == VERIFIED
    assert status(cem_confirms, now=on(2025, 11, 19)).status == STALE


# --- Trust -----------------------------------------------------------------------------------------


def test_a_new_account_weighs_a_quarter() -> None:
    assert trust_weight(0, 0) == 0.25


@pytest.mark.parametrize(
    ("agreed", "disagreed", "weight"),
    [(3, 0, 4 / 7), (9, 1, 10 / 14), (20, 0, 21 / 24), (100, 0, 101 / 104), (0, 6, 0.1), (0, 20, 0.1)],
)
def test_trust_follows_the_published_formula(agreed: int, disagreed: int, weight: float) -> None:
    assert trust_weight(agreed, disagreed) == pytest.approx(weight)


def test_a_volunteer_who_is_usually_wrong_weighs_less_than_a_new_account() -> None:
    assert trust_weight(1, 9) < trust_weight(0, 0)


def test_a_banned_volunteer_weighs_nothing() -> None:
    assert trust_weight(500, 0, banned=True) == 0.0


def test_trust_bounds_are_configurable() -> None:
    params = Params(trust_min=0.2, trust_max=0.5)

    assert trust_weight(0, 50, params) == 0.2
    assert trust_weight(50, 0, params) == 0.5


def test_negative_verdict_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        trust_weight(-1, 0)


counts = st.integers(0, 100_000)


@FAST
@given(counts, counts)
def test_trust_stays_within_its_bounds_and_below_one_person(agreed: int, disagreed: int) -> None:
    weight = trust_weight(agreed, disagreed)

    assert consensus.DEFAULT_PARAMS.trust_min <= weight < 1.0


@FAST
@given(counts, counts)
def test_trust_rises_with_agreement_and_falls_with_disagreement(agreed: int, disagreed: int) -> None:
    weight = trust_weight(agreed, disagreed)

    assert trust_weight(agreed + 1, disagreed) >= weight
    assert trust_weight(agreed, disagreed + 1) <= weight


@pytest.mark.parametrize(
    ("verdict", "final", "agrees"),
    [
        (CONFIRM, VERIFIED, True),
        (NOT_THERE, VERIFIED, False),
        (GONE, VERIFIED, False),
        (GONE, REMOVED, True),
        (CONFIRM, REMOVED, None),
        (NOT_THERE, REMOVED, None),
        (CONFIRM, REPORTED, None),
        (NOT_THERE, DISPUTED, None),
        (GONE, STALE, None),
    ],
)
def test_a_verdict_agrees_only_with_a_settled_status_that_speaks_to_it(
    verdict: str, final: str, agrees: bool | None
) -> None:
    assert verdict_agrees(verdict, final) is agrees


SINCE = day(0)


def test_a_vote_cast_before_the_status_was_reached_is_judged_at_once() -> None:
    assert (
        vote_agreement(NOT_THERE, VERIFIED, cast_at=SINCE - timedelta(days=3), status_since=SINCE, now=SINCE) is False
    )
    assert vote_agreement(CONFIRM, VERIFIED, cast_at=SINCE, status_since=SINCE, now=SINCE) is True


def test_a_vote_challenging_a_status_is_not_judged_while_others_can_still_join_it() -> None:
    cast = SINCE + timedelta(days=100)

    assert vote_agreement(NOT_THERE, VERIFIED, cast_at=cast, status_since=SINCE, now=cast) is None
    assert vote_agreement(NOT_THERE, VERIFIED, cast_at=cast, status_since=SINCE, now=cast + timedelta(days=29)) is None


def test_a_challenge_the_status_outlasts_by_the_settle_period_is_judged_a_disagreement() -> None:
    cast = SINCE + timedelta(days=100)

    assert vote_agreement(NOT_THERE, VERIFIED, cast_at=cast, status_since=SINCE, now=cast + timedelta(days=30)) is False
    assert vote_agreement(CONFIRM, VERIFIED, cast_at=cast, status_since=SINCE, now=cast + timedelta(days=30)) is True


def test_the_settle_period_is_configurable() -> None:
    cast = SINCE + timedelta(days=100)
    params = Params(settle_after_days=7)

    assert (
        vote_agreement(GONE, VERIFIED, cast_at=cast, status_since=SINCE, now=cast + timedelta(days=7), params=params)
        is False
    )


def test_an_open_status_judges_no_vote_however_old() -> None:
    cast = SINCE - timedelta(days=400)

    assert vote_agreement(NOT_THERE, DISPUTED, cast_at=cast, status_since=SINCE, now=SINCE) is None
    assert vote_agreement(CONFIRM, REMOVED, cast_at=cast, status_since=SINCE, now=SINCE) is None


def test_verdict_agrees_refuses_unknown_words() -> None:
    with pytest.raises(ValueError, match="verdict"):
        verdict_agrees("maybe", VERIFIED)
    with pytest.raises(ValueError, match="status"):
        verdict_agrees(CONFIRM, "lost")


# --- The verification queue ------------------------------------------------------------------------


def test_the_queue_offers_the_nearest_camera_first() -> None:
    near = queue_key(status=VERIFIED, confirmations=5, last_confirmed_at=day(100), distance_m=50)
    far = queue_key(status=REPORTED, confirmations=0, last_confirmed_at=day(0), distance_m=400)

    assert sorted([far, near]) == [near, far]


def test_the_queue_offers_fewest_confirmations_then_oldest_confirmation() -> None:
    two = queue_key(status=VERIFIED, confirmations=2, last_confirmed_at=day(0))
    one_recent = queue_key(status=REPORTED, confirmations=1, last_confirmed_at=day(50))
    one_old = queue_key(status=REPORTED, confirmations=1, last_confirmed_at=day(10))

    assert sorted([two, one_recent, one_old]) == [one_old, one_recent, two]


def test_a_stale_camera_counts_as_unconfirmed_and_comes_before_newer_reports() -> None:
    stale = outcome(REPORT, vote(BEN, CONFIRM, 1), vote(CEM, CONFIRM, 2), now=600)
    fresh = decide(Evidence(now=day(600), sightings=(sighting(DEE, 590),)))
    once = decide(Evidence(now=day(600), sightings=(sighting(DEE, 10), sighting(EVE, 580))))

    def key(o: Outcome) -> tuple[float, int, float]:
        return queue_key(status=o.status, confirmations=o.confirmations, last_confirmed_at=o.last_confirmed_at)

    assert stale.status == STALE
    assert sorted([once, fresh, stale], key=key) == [stale, fresh, once]


# --- Parameters and agreement with the models ------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"verify_confirmations": 0},
        {"dispute_margin": 0},
        {"stale_after_days": -1},
        {"direction_tolerance": float("nan")},
        {"trust_min": 0.8, "trust_max": 0.5},
    ],
)
def test_params_refuse_values_that_would_break_the_rules(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="Params"):
        Params(**bad)


def test_evidence_refuses_unknown_verdicts_and_negative_weights() -> None:
    with pytest.raises(ValueError, match="verdict"):
        vote(BEN, "maybe", 1)
    with pytest.raises(ValueError, match="weight"):
        sighting(BEN, 1, weight=-0.5)


def test_statuses_verdicts_and_attributes_match_the_models() -> None:
    assert set(CameraStatus.values) <= set(consensus.STATUSES)
    assert set(VoteVerdict.values) == set(consensus.VERDICTS)
