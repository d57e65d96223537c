"""Votes, consensus status and moderation through the services (the web and API call these)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from mapapp import services, tasks
from mapapp.models import AuditEvent, Camera, HiddenReason, Profile, Sighting, Vote
from tests.conftest import _person

ZURICH = (47.3769, 8.5417)


def reported_camera(reporter: object) -> Camera:
    sighting = services.sighting_submit(reporter=reporter, data={"lat": ZURICH[0], "lon": ZURICH[1]}).sighting
    result = services.sighting_process(sighting_id=sighting.pk)
    return Camera.objects.get(pk=result.camera_id)


def test_two_confirmations_from_other_volunteers_verify_a_reported_camera(volunteer, second_volunteer):
    camera = reported_camera(volunteer)
    assert camera.status == Camera.Status.REPORTED
    third = _person("erin_realname")

    services.vote_cast(voter=second_volunteer, camera_id=camera.pk, verdict="confirm")
    assert Camera.objects.get(pk=camera.pk).status == Camera.Status.REPORTED
    services.vote_cast(voter=third, camera_id=camera.pk, verdict="confirm", corrections={"camera_type": "dome"})

    camera.refresh_from_db()
    assert camera.status == Camera.Status.VERIFIED
    assert camera.confirmations == 2
    assert camera.camera_type == "dome"


def test_the_reporter_cannot_vote_on_their_own_camera(volunteer):
    camera = reported_camera(volunteer)

    with pytest.raises(PermissionDenied, match="You reported this camera"):
        services.vote_cast(voter=volunteer, camera_id=camera.pk, verdict="confirm")
    assert not Vote.objects.exists()


def test_voting_again_replaces_the_earlier_vote(volunteer, second_volunteer):
    camera = reported_camera(volunteer)
    services.vote_cast(voter=second_volunteer, camera_id=camera.pk, verdict="confirm")
    services.vote_cast(voter=second_volunteer, camera_id=camera.pk, verdict="not_there")

    assert list(Vote.objects.values_list("verdict", flat=True)) == ["not_there"]


# --- Helpers for the lifecycle ---------------------------------------------------------------------

FIVE_METRES_NORTH = (ZURICH[0] + 0.000045, ZURICH[1])


def status_of(camera: Camera) -> str:
    return Camera.objects.values_list("status", flat=True).get(pk=camera.pk)


def independent_sighting(reporter: object, at: tuple[float, float] = FIVE_METRES_NORTH) -> Sighting:
    sighting = services.sighting_submit(reporter=reporter, data={"lat": at[0], "lon": at[1]}).sighting
    services.sighting_process(sighting_id=sighting.pk)
    return Sighting.objects.get(pk=sighting.pk)


def verified_camera(reporter: object, confirmer: object, sighter: object) -> Camera:
    """Reported by `reporter`, confirmed by `confirmer`'s vote and by `sighter` seeing it 5 m away."""
    camera = reported_camera(reporter)
    services.vote_cast(voter=confirmer, camera_id=camera.pk, verdict="confirm")
    assert independent_sighting(sighter).camera_id == camera.pk
    assert status_of(camera) == Camera.Status.VERIFIED
    return camera


def give_trust(user: object, *, agreed: int, disagreed: int = 0) -> None:
    """Stand in for a record of settled votes on other cameras (20 agreeing: weight 21/24 = 0.875).

    Set directly because building that history vote by vote would take 40 cameras. Note that the
    counters are recounted from the voter's Vote rows whenever one of their votes settles, so
    this stand-in lasts only until then, exactly as a real record would be replaced by the recount.
    """
    Profile.objects.filter(user=user).update(agreed=agreed, disagreed=disagreed)


@pytest.fixture
def erin(db: None) -> object:
    return _person("erin_realname")


# --- Reported -> verified ------------------------------------------------------------------------


def test_an_independent_sighting_5_m_away_counts_as_a_confirmation(volunteer, second_volunteer, erin):
    camera = reported_camera(volunteer)
    services.vote_cast(voter=second_volunteer, camera_id=camera.pk, verdict="confirm")
    assert status_of(camera) == Camera.Status.REPORTED

    sighting = independent_sighting(erin)

    camera.refresh_from_db()
    assert sighting.camera_id == camera.pk
    assert (camera.status, camera.confirmations, camera.sighting_count) == (Camera.Status.VERIFIED, 2, 2)


def test_a_status_change_is_recorded_as_a_camera_status_audit_event(volunteer, second_volunteer, erin):
    camera = verified_camera(volunteer, second_volunteer, erin)

    event = AuditEvent.objects.get(action="camera_status", target_id=camera.pk)
    assert event.target_type == "camera"
    assert event.data == {"from": "reported", "to": "verified"}


def test_settling_verified_counts_an_agreement_for_confirmers_and_a_disagreement_for_doubters(
    volunteer, second_volunteer, erin
):
    camera = reported_camera(volunteer)
    doubter = _person("frank_realname")
    services.vote_cast(voter=doubter, camera_id=camera.pk, verdict="not_there")
    services.vote_cast(voter=second_volunteer, camera_id=camera.pk, verdict="confirm")
    assert Profile.objects.get(user=second_volunteer).agreed == 0  # still only reported: nothing settled

    independent_sighting(erin)

    assert status_of(camera) == Camera.Status.VERIFIED
    assert Profile.objects.values_list("agreed", "disagreed").get(user=second_volunteer) == (1, 0)
    assert Profile.objects.values_list("agreed", "disagreed").get(user=doubter) == (0, 1)
    assert Profile.objects.values_list("agreed", "disagreed").get(user=erin) == (0, 0)  # a sighting is no vote


# --- Verified -> disputed ------------------------------------------------------------------------


def test_enough_not_there_votes_from_new_accounts_dispute_a_verified_camera(volunteer, second_volunteer, erin):
    """Confirmations weigh erin's sighting 1.0 plus bob's vote 0.4 (it helped verify the camera,
    so it agreed: 2/5). Disputed needs not-there minus confirm >= 1.0, so 2.4: the 10th new
    account (10 x 0.25 = 2.5). The doubters keep their full weight while they gather, because a
    vote cast after the camera was verified is not judged until the status has held 30 days."""
    camera = verified_camera(volunteer, second_volunteer, erin)
    statuses = []
    for i in range(10):
        services.vote_cast(voter=_person(f"doubter{i}"), camera_id=camera.pk, verdict="not_there")
        statuses.append(status_of(camera))

    assert statuses == [Camera.Status.VERIFIED] * 9 + [Camera.Status.DISPUTED]
    doubters = Profile.objects.filter(user__username__startswith="doubter")
    assert set(doubters.values_list("agreed", "disagreed")) == {(0, 0)}
    assert Vote.objects.filter(verdict="not_there", agrees__isnull=False).count() == 0


def age_votes(camera: Camera, days: int) -> None:
    """Move the camera's votes `days` into the past (no clock library installed)."""
    Vote.objects.filter(camera=camera).update(updated_at=timezone.now() - timedelta(days=days))


def test_a_lone_doubt_about_a_verified_camera_costs_nothing_until_the_status_has_held_30_days(
    volunteer, second_volunteer, erin
):
    camera = verified_camera(volunteer, second_volunteer, erin)
    doubter = _person("frank_realname")
    services.vote_cast(voter=doubter, camera_id=camera.pk, verdict="not_there")
    assert Profile.objects.values_list("agreed", "disagreed").get(user=doubter) == (0, 0)

    age_votes(camera, days=29)
    assert services.votes_due_cameras() == []
    age_votes(camera, days=30)
    assert services.votes_due_cameras() == [camera.pk]

    assert tasks.judge_due_votes() == 1

    assert status_of(camera) == Camera.Status.VERIFIED
    assert Profile.objects.values_list("agreed", "disagreed").get(user=doubter) == (0, 1)
    assert tasks.judge_due_votes() == 0  # idempotent: a judged vote is not selected again


def test_a_late_confirmation_of_a_verified_camera_is_credited_once_the_status_has_held(
    volunteer, second_volunteer, erin
):
    camera = verified_camera(volunteer, second_volunteer, erin)
    late = _person("gina_realname")
    services.vote_cast(voter=late, camera_id=camera.pk, verdict="confirm")
    assert Profile.objects.values_list("agreed", "disagreed").get(user=late) == (0, 0)

    age_votes(camera, days=30)
    tasks.judge_due_votes()

    assert Profile.objects.values_list("agreed", "disagreed").get(user=late) == (1, 0)


def test_a_doubt_the_crowd_later_upholds_is_never_counted_against_its_voter(volunteer, second_volunteer, erin):
    camera = verified_camera(volunteer, second_volunteer, erin)
    first_doubter = _person("frank_realname")
    services.vote_cast(voter=first_doubter, camera_id=camera.pk, verdict="not_there")
    age_votes(camera, days=31)
    tasks.judge_due_votes()
    assert Profile.objects.values_list("agreed", "disagreed").get(user=first_doubter) == (0, 1)

    # Others check and agree: frank (now 0.2) and 9 new accounts weigh 2.45 against 1.4.
    for i in range(9):
        services.vote_cast(voter=_person(f"doubter{i}"), camera_id=camera.pk, verdict="not_there")
    assert status_of(camera) == Camera.Status.DISPUTED

    # Disputed is an open question: the earlier judgement is withdrawn, not left standing.
    assert Profile.objects.values_list("agreed", "disagreed").get(user=first_doubter) == (0, 0)


# --- Verified -> removed -------------------------------------------------------------------------


def test_one_volunteer_saying_gone_cannot_remove_a_verified_camera_however_trusted(volunteer, second_volunteer, erin):
    camera = verified_camera(volunteer, second_volunteer, erin)
    trusted = _person("grace_realname")
    give_trust(trusted, agreed=1000)

    services.vote_cast(voter=trusted, camera_id=camera.pk, verdict="gone")

    assert status_of(camera) == Camera.Status.VERIFIED


def test_two_trusted_volunteers_saying_gone_after_the_last_confirmation_remove_it(volunteer, second_volunteer, erin):
    """grace and henry weigh 0.875 each. grace's gone vote alone leaves the camera verified (and is
    not judged yet: it came after the camera was verified); with henry's the two weigh 1.75."""
    camera = verified_camera(volunteer, second_volunteer, erin)
    grace, henry = _person("grace_realname"), _person("henry_realname")
    give_trust(grace, agreed=20)
    give_trust(henry, agreed=20)

    services.vote_cast(voter=grace, camera_id=camera.pk, verdict="gone")
    assert status_of(camera) == Camera.Status.VERIFIED
    services.vote_cast(voter=henry, camera_id=camera.pk, verdict="gone")

    assert status_of(camera) == Camera.Status.REMOVED
    assert Profile.objects.values_list("agreed", "disagreed").get(user=grace) == (1, 0)
    assert AuditEvent.objects.filter(action="camera_status", data__to="removed").count() == 1


def test_a_confirmation_after_the_gone_votes_keeps_the_camera(volunteer, second_volunteer, erin):
    camera = verified_camera(volunteer, second_volunteer, erin)
    grace, henry = _person("grace_realname"), _person("henry_realname")
    give_trust(grace, agreed=20)
    services.vote_cast(voter=grace, camera_id=camera.pk, verdict="gone")
    services.vote_cast(voter=second_volunteer, camera_id=camera.pk, verdict="confirm")  # seen again since
    give_trust(henry, agreed=20)

    services.vote_cast(voter=henry, camera_id=camera.pk, verdict="gone")

    assert status_of(camera) == Camera.Status.VERIFIED


# --- -> stale ------------------------------------------------------------------------------------


def age_evidence(camera: Camera, days: int) -> None:
    """Move every confirmation of the camera `days` into the past (no clock library installed)."""
    then = timezone.now() - timedelta(days=days)
    Sighting.objects.filter(camera=camera).update(observed_at=then)
    Vote.objects.filter(camera=camera).update(updated_at=then)
    Camera.objects.filter(pk=camera.pk).update(last_confirmed_at=then)


def test_a_verified_camera_nobody_confirmed_for_548_days_goes_stale(volunteer, second_volunteer, erin):
    camera = verified_camera(volunteer, second_volunteer, erin)
    fresh = independent_sighting(_person("ivan_realname"), at=(ZURICH[0] + 0.01, ZURICH[1])).camera  # 1.1 km away
    age_evidence(camera, days=548)

    assert tasks.mark_stale_cameras() == 1

    assert status_of(camera) == Camera.Status.STALE
    assert status_of(fresh) == Camera.Status.REPORTED
    assert AuditEvent.objects.filter(action="camera_status", target_id=camera.pk, data__to="stale").exists()
    assert tasks.mark_stale_cameras() == 0  # idempotent: a stale camera is not selected again


def test_a_camera_confirmed_547_days_ago_is_not_stale(volunteer, second_volunteer, erin):
    camera = verified_camera(volunteer, second_volunteer, erin)
    age_evidence(camera, days=547)

    assert tasks.mark_stale_cameras() == 0
    services.camera_refresh(camera_id=camera.pk)
    assert status_of(camera) == Camera.Status.VERIFIED


def test_a_new_confirmation_brings_a_stale_camera_back_to_verified(volunteer, second_volunteer, erin):
    camera = verified_camera(volunteer, second_volunteer, erin)
    age_evidence(camera, days=600)
    tasks.mark_stale_cameras()

    services.vote_cast(voter=second_volunteer, camera_id=camera.pk, verdict="confirm")

    assert status_of(camera) == Camera.Status.VERIFIED


# --- A moderator's verdict -----------------------------------------------------------------------


def test_an_expert_verdict_overrides_the_rules_is_audited_and_withdrawing_it_restores_them(volunteer, moderator):
    camera = reported_camera(volunteer)

    event = services.camera_expert_verdict(
        camera_id=camera.pk, actor=moderator, status="removed", reason="Visited: the pole is empty."
    )

    assert status_of(camera) == Camera.Status.REMOVED
    assert (event.action, event.actor, event.reason) == (
        "camera_expert_verdict",
        moderator,
        "Visited: the pole is empty.",
    )
    assert event.data == {"verdict": "removed", "from": "reported", "to": "removed"}

    services.camera_expert_verdict(camera_id=camera.pk, actor=moderator, status="", reason="Mistaken address.")

    assert status_of(camera) == Camera.Status.REPORTED
    assert Camera.objects.values_list("expert_status", "expert_at").get(pk=camera.pk) == ("", None)
    withdrawn = AuditEvent.objects.filter(action="camera_expert_verdict").latest("pk")
    assert withdrawn.data == {"verdict": "", "from": "removed", "to": "reported"}


def test_an_expert_verdict_needs_a_reason_and_a_known_status(volunteer, moderator):
    camera = reported_camera(volunteer)

    with pytest.raises(ValidationError):
        services.camera_expert_verdict(camera_id=camera.pk, actor=moderator, status="removed", reason=" ")
    with pytest.raises(ValidationError):
        services.camera_expert_verdict(camera_id=camera.pk, actor=moderator, status="gone", reason="Visited.")
    assert status_of(camera) == Camera.Status.REPORTED


# --- Bans and hiding ---------------------------------------------------------------------------------


def test_a_ban_hides_unverified_sightings_and_voids_votes_and_unban_restores_both(
    volunteer, second_volunteer, erin, moderator
):
    camera = reported_camera(volunteer)
    services.vote_cast(voter=second_volunteer, camera_id=camera.pk, verdict="confirm")
    services.vote_cast(voter=erin, camera_id=camera.pk, verdict="confirm")
    assert status_of(camera) == Camera.Status.VERIFIED
    elsewhere = independent_sighting(second_volunteer, at=(ZURICH[0] + 0.01, ZURICH[1]))  # 1.1 km north
    assert elsewhere.camera_id != camera.pk

    services.volunteer_ban(user_id=second_volunteer.pk, actor=moderator, reason="Fake reports.")

    camera.refresh_from_db()
    assert (camera.status, camera.confirmations) == (Camera.Status.REPORTED, 1)  # bob's vote weighs 0
    hidden = Sighting.objects.get(pk=elsewhere.pk)
    assert (hidden.status, hidden.hidden_reason) == (Sighting.Status.HIDDEN, HiddenReason.BAN)
    assert Camera.objects.get(pk=elsewhere.camera_id).sighting_count == 0

    services.volunteer_unban(user_id=second_volunteer.pk, actor=moderator, reason="Appeal accepted.")

    assert status_of(camera) == Camera.Status.VERIFIED
    assert Sighting.objects.get(pk=elsewhere.pk).status == Sighting.Status.PENDING  # queued to be placed again
    placed = services.sighting_process(sighting_id=elsewhere.pk)
    assert Camera.objects.get(pk=placed.camera_id).sighting_count == 1


def test_a_ban_keeps_sightings_in_verified_cameras(volunteer, second_volunteer, erin, moderator):
    camera = verified_camera(volunteer, second_volunteer, erin)

    services.volunteer_ban(user_id=erin.pk, actor=moderator, reason="Fake reports elsewhere.")

    assert Sighting.objects.get(reporter=erin).status == Sighting.Status.PROCESSED
    assert status_of(camera) == Camera.Status.VERIFIED


def test_hiding_a_sighting_takes_it_out_of_the_evidence_and_unhiding_puts_it_back(
    volunteer, second_volunteer, erin, moderator
):
    camera = verified_camera(volunteer, second_volunteer, erin)
    sighting = Sighting.objects.get(reporter=erin)

    services.sighting_hide(sighting_id=sighting.pk, actor=moderator, reason="Photo shows a lamp.")

    camera.refresh_from_db()
    assert (camera.status, camera.confirmations, camera.sighting_count) == (Camera.Status.REPORTED, 1, 1)
    assert AuditEvent.objects.filter(action="sighting_hide", target_id=sighting.pk, actor=moderator).exists()

    services.sighting_unhide(sighting_id=sighting.pk, actor=moderator, reason="It is a camera after all.")
    services.sighting_process(sighting_id=sighting.pk)

    camera.refresh_from_db()
    assert (camera.status, camera.confirmations, camera.sighting_count) == (Camera.Status.VERIFIED, 2, 2)
    assert AuditEvent.objects.filter(action="sighting_unhide", target_id=sighting.pk).exists()


def test_a_banned_reporters_sighting_cannot_be_unhidden_one_by_one(volunteer, second_volunteer, moderator):
    camera = reported_camera(second_volunteer)
    services.volunteer_ban(user_id=second_volunteer.pk, actor=moderator, reason="Fake reports.")

    with pytest.raises(ValidationError, match="lift the ban"):
        services.sighting_unhide(
            sighting_id=Sighting.objects.get(camera=camera).pk, actor=moderator, reason="Looks real."
        )


# --- Simultaneous votes (PostgreSQL: SQLite serialises all writers anyway) -------------------------


def _simultaneously(*calls) -> list[BaseException]:
    """Run each call in its own thread and database connection, released together by a barrier."""
    barrier = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(call) -> None:
        try:
            barrier.wait(timeout=10)
            call()
        except BaseException as exc:  # reported to the test, which fails on it
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a vote hung: a lock was never released"
    return errors


@pytest.fixture
def postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(f"concurrent votes need PostgreSQL row locks (this run uses {connection.vendor}); CI runs it")


@pytest.mark.django_db(transaction=True)
def test_one_volunteer_voting_twice_at_once_leaves_one_vote(postgresql_only, volunteer, second_volunteer):
    camera = reported_camera(volunteer)

    errors = _simultaneously(
        lambda: services.vote_cast(voter=second_volunteer, camera_id=camera.pk, verdict="confirm"),
        lambda: services.vote_cast(voter=second_volunteer, camera_id=camera.pk, verdict="not_there"),
    )

    assert errors == []
    assert Vote.objects.filter(camera=camera, voter=second_volunteer).count() == 1
    camera.refresh_from_db()
    verdict = Vote.objects.get().verdict
    assert (camera.confirm_count, camera.not_there_count) == ((1, 0) if verdict == "confirm" else (0, 1))


@pytest.mark.django_db(transaction=True)
def test_two_volunteers_voting_at_once_are_both_counted(postgresql_only, volunteer, second_volunteer):
    camera = reported_camera(volunteer)
    erin = _person("erin_realname")

    errors = _simultaneously(
        lambda: services.vote_cast(voter=second_volunteer, camera_id=camera.pk, verdict="confirm"),
        lambda: services.vote_cast(voter=erin, camera_id=camera.pk, verdict="confirm"),
    )

    assert errors == []
    camera.refresh_from_db()
    assert (camera.confirm_count, camera.confirmations, camera.status) == (2, 2, Camera.Status.VERIFIED)


def test_beat_reconsiders_stale_cameras_and_due_votes_every_hour(settings):
    from camerawatch.celery import app

    app.loader.import_default_modules()  # what `celery beat` and `celery worker` do at start
    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}

    for task in ("mapapp.tasks.mark_stale_cameras", "mapapp.tasks.judge_due_votes"):
        assert task in app.tasks
        assert schedule[task] <= 3600
