"""Verifying, discussing, flagging and moderating through the web pages, and the transparency page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from mapapp import services
from mapapp.models import AuditEvent, Camera, Comment, Flag, Sighting, Vote
from tests.conftest import _person, client_for

ZURICH = (47.3769, 8.5417)


def reported_camera(reporter: object, at: tuple[float, float] = ZURICH) -> Camera:
    sighting = services.sighting_submit(reporter=reporter, data={"lat": at[0], "lon": at[1]}).sighting
    result = services.sighting_process(sighting_id=sighting.pk)
    return Camera.objects.get(pk=result.camera_id)


def vote_url(camera: Camera) -> str:
    return reverse("camera_vote", args=[camera.pk])


def is_login_redirect(response: object) -> bool:
    return response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_the_queue_lists_a_camera_with_a_vote_form(volunteer, second_volunteer):
    camera = reported_camera(volunteer)

    response = client_for(second_volunteer).get(reverse("verify"), {"lat": ZURICH[0], "lon": ZURICH[1]})

    assert response.status_code == 200
    assert f'action="{vote_url(camera)}"' in response.content.decode()


def test_an_anonymous_visitor_sees_the_queue_but_is_asked_to_sign_in(volunteer, anonymous):
    camera = reported_camera(volunteer)

    page = anonymous.get(reverse("verify")).content.decode()

    assert f"Camera #{camera.pk}" in page
    assert "to verify this camera" in page
    assert vote_url(camera) not in page


def test_two_confirmations_through_the_form_verify_a_camera(volunteer, second_volunteer):
    camera = reported_camera(volunteer)
    third = _person("erin_realname")

    first = client_for(second_volunteer).post(vote_url(camera), {"verdict": "confirm"})
    assert first.status_code == 302
    assert first["Location"] == reverse("verify")
    assert Camera.objects.get(pk=camera.pk).status == Camera.Status.REPORTED
    client_for(third).post(vote_url(camera), {"verdict": "confirm", "camera_type": "dome"}, follow=True)

    camera.refresh_from_db()
    assert camera.status == Camera.Status.VERIFIED
    assert camera.camera_type == "dome"


def test_a_vote_shows_a_thank_you_message(volunteer, second_volunteer):
    camera = reported_camera(volunteer)

    response = client_for(second_volunteer).post(vote_url(camera), {"verdict": "confirm"}, follow=True)

    assert "your verdict on camera" in response.content.decode()


def test_the_reporter_gets_403_with_the_reason(volunteer):
    camera = reported_camera(volunteer)

    response = client_for(volunteer).post(vote_url(camera), {"verdict": "confirm"})

    assert response.status_code == 403
    assert "You reported this camera, so you cannot verify it" in response.content.decode()
    assert not Vote.objects.exists()


def test_an_anonymous_vote_is_sent_to_the_login_page(volunteer, anonymous):
    camera = reported_camera(volunteer)

    response = anonymous.post(vote_url(camera), {"verdict": "confirm"})

    assert is_login_redirect(response)
    assert not Vote.objects.exists()


def test_an_unknown_verdict_is_refused_with_400_and_no_vote(volunteer, second_volunteer):
    camera = reported_camera(volunteer)

    response = client_for(second_volunteer).post(vote_url(camera), {"verdict": "maybe"})

    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Vote.objects.exists()


def test_a_correction_with_a_gone_vote_is_refused_with_400(volunteer, second_volunteer):
    camera = reported_camera(volunteer)

    response = client_for(second_volunteer).post(vote_url(camera), {"verdict": "gone", "camera_type": "dome"})

    assert response.status_code == 400
    assert "Corrections can only come with a confirmation." in response.content.decode()
    assert not Vote.objects.exists()


def test_a_banned_volunteers_vote_is_refused(volunteer, second_volunteer, moderator):
    camera = reported_camera(volunteer)
    services.volunteer_ban(user_id=second_volunteer.pk, actor=moderator, reason="Spam votes")

    response = client_for(second_volunteer).post(vote_url(camera), {"verdict": "confirm"})

    assert response.status_code == 403
    assert "suspended by a moderator" in response.content.decode()
    assert not Vote.objects.exists()


def test_the_moderation_page_is_for_moderators_only(volunteer, moderator, anonymous):
    assert client_for(volunteer).get(reverse("moderate")).status_code == 403
    assert client_for(moderator).get(reverse("moderate")).status_code == 200
    assert is_login_redirect(anonymous.get(reverse("moderate")))


def test_the_moderation_page_lists_disputed_cameras_and_open_flags(volunteer, second_volunteer, moderator):
    disputed = reported_camera(volunteer)
    services.camera_expert_verdict(camera_id=disputed.pk, actor=moderator, status="disputed", reason="Looks odd")
    flagged = reported_camera(volunteer, at=(47.40, 8.55))
    services.flag_raise(flagger=second_volunteer, camera_id=flagged.pk, reason="Shop closed, camera gone")

    page = client_for(moderator).get(reverse("moderate")).content.decode()

    assert f'id="disputed-{disputed.pk}"' in page
    assert "Shop closed, camera gone" in page
    assert "bob_realname" not in page
    assert "private.example" not in page


def test_a_moderator_hides_a_sighting_and_it_is_audited(volunteer, moderator):
    camera = reported_camera(volunteer)
    sighting = camera.sightings.get()

    response = client_for(moderator).post(
        reverse("moderate_action"), {"action": "sighting_hide", "target": sighting.pk, "reason": "Shows a face"}
    )

    assert response.status_code == 302
    sighting.refresh_from_db()
    assert sighting.status == Sighting.Status.HIDDEN
    event = AuditEvent.objects.get(action="sighting_hide")
    assert (event.target_id, event.actor_id, event.reason) == (sighting.pk, moderator.pk, "Shows a face")


def test_a_moderator_bans_a_flagged_sightings_reporter_by_the_sighting(volunteer, second_volunteer, moderator):
    camera = reported_camera(volunteer)
    sighting = camera.sightings.get()
    services.flag_raise(flagger=second_volunteer, sighting_id=sighting.pk, reason="Fake report")

    page = client_for(moderator).get(reverse("moderate")).content.decode()
    assert "Ban its reporter" in page
    assert "alice_realname" not in page
    client_for(moderator).post(
        reverse("moderate_action"), {"action": "volunteer_ban", "target": sighting.pk, "reason": "Fake reports"}
    )

    volunteer.profile.refresh_from_db()
    assert volunteer.profile.banned_at is not None


def test_a_moderator_action_without_a_reason_is_refused_with_400(volunteer, moderator):
    sighting = reported_camera(volunteer).sightings.get()

    response = client_for(moderator).post(
        reverse("moderate_action"), {"action": "sighting_hide", "target": sighting.pk, "reason": " "}
    )

    assert response.status_code == 400
    assert Sighting.objects.get(pk=sighting.pk).status == Sighting.Status.PROCESSED


def test_a_comment_shows_the_authors_handle_and_never_the_username(volunteer, second_volunteer):
    camera = reported_camera(volunteer)
    url = reverse("camera_discussion", args=[camera.pk])

    response = client_for(second_volunteer).post(url, {"body": "The sign says City Police."}, follow=True)

    page = response.content.decode()
    assert "The sign says City Police." in page
    assert second_volunteer.profile.handle in page
    assert "bob_realname" not in page
    assert "private.example" not in page


def test_a_hidden_comment_is_gone_for_volunteers_but_marked_for_moderators(volunteer, second_volunteer, moderator):
    camera = reported_camera(volunteer)
    comment = services.comment_post(author=second_volunteer, camera_id=camera.pk, body="Rude remark")
    services.comment_hide(comment_id=comment.pk, actor=moderator, reason="Rude")
    url = reverse("camera_discussion", args=[camera.pk])

    assert "Rude remark" not in client_for(volunteer).get(url).content.decode()
    moderator_page = client_for(moderator).get(url).content.decode()
    assert "Rude remark" in moderator_page
    assert "hidden by a moderator" in moderator_page


def test_a_volunteer_flags_a_sighting(volunteer, second_volunteer):
    sighting = reported_camera(volunteer).sightings.get()

    response = client_for(second_volunteer).post(
        reverse("sighting_flag", args=[sighting.pk]), {"reason": "Wrong place"}
    )

    assert response.status_code == 302
    assert Flag.objects.open().get().sighting_id == sighting.pk


# --- Who may post what ---------------------------------------------------------------------------------

ENDPOINTS = ("vote", "flag", "comment", "moderate")
EXPECTED = {
    # role: status per endpoint, in ENDPOINTS order ("login" = redirect to the login page)
    "anonymous": ("login", "login", "login", "login"),
    "volunteer": (302, 302, 302, 403),
    "reporter": (403, 302, 302, 403),
    "moderator": (302, 302, 302, 302),
    "banned": (403, 403, 403, 403),
}


@pytest.mark.parametrize("role", EXPECTED)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_the_web_permission_matrix(role, endpoint, volunteer, second_volunteer, moderator, anonymous):
    camera = reported_camera(volunteer)
    users = {"volunteer": second_volunteer, "reporter": volunteer, "moderator": moderator}
    if role == "banned":
        users["banned"] = _person("mallory_realname")
        services.volunteer_ban(user_id=users["banned"].pk, actor=moderator, reason="Abuse")
    client = anonymous if role == "anonymous" else client_for(users[role])
    url, data = {
        "vote": (vote_url(camera), {"verdict": "confirm"}),
        "flag": (reverse("camera_flag", args=[camera.pk]), {"reason": "Please check"}),
        "comment": (reverse("camera_discussion", args=[camera.pk]), {"body": "Still there"}),
        "moderate": (
            reverse("moderate_action"),
            {"action": "expert_verdict", "target": camera.pk, "status": "verified", "reason": "Visited"},
        ),
    }[endpoint]

    response = client.post(url, data)

    expected = EXPECTED[role][ENDPOINTS.index(endpoint)]
    if expected == "login":
        assert is_login_redirect(response)
    else:
        assert response.status_code == expected
        assert not is_login_redirect(response)
    written = {
        "vote": Vote.objects.exists(),
        "flag": Flag.objects.exists(),
        "comment": Comment.objects.exists(),
        "moderate": AuditEvent.objects.filter(action="camera_expert_verdict").exists(),
    }[endpoint]
    assert written == (expected == 302)


# --- Transparency ----------------------------------------------------------------------------------------


def test_the_transparency_page_counts_activity_and_names_nobody(
    volunteer, second_volunteer, moderator, researcher, anonymous
):
    camera = reported_camera(volunteer)
    services.vote_cast(voter=second_volunteer, camera_id=camera.pk, verdict="confirm")
    services.comment_post(author=second_volunteer, camera_id=camera.pk, body="Seen today")
    services.flag_raise(flagger=researcher, camera_id=camera.pk, reason="Check the operator")
    services.sighting_hide(sighting_id=camera.sightings.get().pk, actor=moderator, reason="Blurry")

    response = anonymous.get(reverse("transparency"))

    page = response.content.decode()
    assert response.status_code == 200
    assert "sighting_hide" in page
    assert "How a camera&#x27;s status is decided" in page or "How a camera's status is decided" in page
    for person in (volunteer, second_volunteer, moderator, researcher):
        assert person.username not in page
        assert person.profile.handle not in page
    assert "private.example" not in page
