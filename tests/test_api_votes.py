"""The vote API: a volunteer's verdict on a camera over HTTP, with the service's rules and messages."""

from __future__ import annotations

import pytest

from mapapp import services
from mapapp.models import Camera, Vote
from tests.conftest import _person, api_client_for

ZURICH = (47.3769, 8.5417)


def reported_camera(reporter: object) -> Camera:
    sighting = services.sighting_submit(reporter=reporter, data={"lat": ZURICH[0], "lon": ZURICH[1]}).sighting
    return Camera.objects.get(pk=services.sighting_process(sighting_id=sighting.pk).camera_id)


def url(camera_id: int) -> str:
    return f"/api/v1/cameras/{camera_id}/votes/"


def vote(user: object | None, camera_id: int, payload: dict):
    return api_client_for(user).post(url(camera_id), payload, format="json")


@pytest.fixture
def camera(volunteer) -> Camera:
    return reported_camera(volunteer)


def test_a_first_vote_is_created_and_voting_again_replaces_it(camera, second_volunteer):
    first = vote(second_volunteer, camera.pk, {"verdict": "confirm", "camera_type": "dome"})

    assert first.status_code == 201, first.json()
    assert first.json() == {
        "verdict": "confirm",
        "corrections": {"camera_type": "dome"},
        "camera": {
            "id": camera.pk,
            "status": "reported",
            "confirmations": 1,
            "agreement": first.json()["camera"]["agreement"],
        },
    }
    assert first.json()["camera"]["agreement"]["camera_type"]["label"] == "unanimous"

    second = vote(second_volunteer, camera.pk, {"verdict": "not_there"})

    assert second.status_code == 200, second.json()
    assert (second.json()["verdict"], second.json()["corrections"]) == ("not_there", {})
    assert second.json()["camera"]["confirmations"] == 0
    assert list(Vote.objects.values_list("verdict", flat=True)) == ["not_there"]


def test_the_second_confirmation_answers_with_the_camera_now_verified(camera, second_volunteer):
    vote(second_volunteer, camera.pk, {"verdict": "confirm"})

    response = vote(_person("erin_realname"), camera.pk, {"verdict": "confirm"})

    assert response.status_code == 201
    assert response.json()["camera"]["status"] == "verified"
    assert response.json()["camera"]["confirmations"] == 2


def test_corrections_may_also_come_under_a_corrections_object(camera, second_volunteer):
    response = vote(second_volunteer, camera.pk, {"verdict": "confirm", "corrections": {"direction": 90}})

    assert response.status_code == 201, response.json()
    assert Vote.objects.get().corrections == {"direction": 90}


def test_the_reporter_is_refused_with_the_reason(camera, volunteer):
    response = vote(volunteer, camera.pk, {"verdict": "confirm"})

    assert response.status_code == 403
    assert response.json()["detail"].startswith("You reported this camera, so you cannot verify it")
    assert not Vote.objects.exists()


def test_an_anonymous_client_must_authenticate(camera):
    response = vote(None, camera.pk, {"verdict": "confirm"})

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")
    assert not Vote.objects.exists()


@pytest.mark.parametrize("verdict", ["yes", "", None, "CONFIRM"])
def test_an_unknown_verdict_is_refused_and_nothing_is_written(camera, second_volunteer, verdict):
    response = vote(second_volunteer, camera.pk, {"verdict": verdict})

    assert response.status_code == 400
    assert "verdict" in response.json()
    assert not Vote.objects.exists()


def test_a_missing_verdict_is_refused(camera, second_volunteer):
    response = vote(second_volunteer, camera.pk, {"camera_type": "dome"})

    assert response.status_code == 400
    assert response.json()["verdict"] == ["This field is required."]


def test_an_unknown_key_is_refused_by_name(camera, second_volunteer):
    response = vote(second_volunteer, camera.pk, {"verdict": "confirm", "camera_typ": "dome"})

    assert response.status_code == 400
    assert response.json()["camera_typ"][0].startswith("Unknown field; send only verdict, camera_type")
    assert not Vote.objects.exists()


@pytest.mark.parametrize("direction", [400, -1, "north", "NaN", "inf", 12.5e9])
def test_a_direction_that_is_not_a_compass_bearing_is_refused(camera, second_volunteer, direction):
    response = vote(second_volunteer, camera.pk, {"verdict": "confirm", "direction": direction})

    assert response.status_code == 400, response.json()
    assert "direction" in response.json()
    assert not Vote.objects.exists()


def test_an_unknown_camera_type_is_refused(camera, second_volunteer):
    response = vote(second_volunteer, camera.pk, {"verdict": "confirm", "camera_type": "periscope"})

    assert response.status_code == 400
    assert "camera_type" in response.json()


@pytest.mark.parametrize("verdict", ["not_there", "gone"])
def test_corrections_only_come_with_a_confirmation(camera, second_volunteer, verdict):
    response = vote(second_volunteer, camera.pk, {"verdict": verdict, "camera_type": "dome"})

    assert response.status_code == 400
    assert response.json() == {"verdict": ["Corrections can only come with a confirmation."]}
    assert not Vote.objects.exists()


def test_the_same_correction_given_twice_is_refused(camera, second_volunteer):
    payload = {"verdict": "confirm", "direction": 90, "corrections": {"direction": 180}}

    response = vote(second_volunteer, camera.pk, payload)

    assert response.status_code == 400
    assert "direction" in response.json()


def test_a_missing_camera_is_not_found(second_volunteer):
    response = vote(second_volunteer, 999_999, {"verdict": "confirm"})

    assert response.status_code == 404
    assert not Vote.objects.exists()


def test_a_banned_volunteer_is_refused_with_the_reason(camera, second_volunteer, moderator):
    services.volunteer_ban(user_id=second_volunteer.pk, actor=moderator, reason="Spam reports.")

    response = vote(second_volunteer, camera.pk, {"verdict": "confirm"})

    assert response.status_code == 403
    assert "suspended by a moderator" in response.json()["detail"]
    assert not Vote.objects.exists()
