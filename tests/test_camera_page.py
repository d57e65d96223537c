"""A camera's public page (/cameras/<id>/) and its map popup's JSON (/cameras/<id>/popup.json)."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from mapapp import services
from mapapp.maps import fov
from mapapp.models import Camera, Sighting
from tests.conftest import _person

ZURICH = (47.3769, 8.5417)
ELSEWHERE = (47.3900, 8.5100)
DOME = {"camera_type": "dome", "camera_mount": "wall", "direction": 90, "operator": "City Police"}
POPUP_FIELDS = {
    "id",
    "status",
    "status_label",
    "camera_type",
    "camera_mount",
    "operator",
    "operator_type",
    "direction",
    "labels",
    "photo",
    "url",
    "verify_url",
}


def jpeg() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 130, 140)).save(buffer, format="JPEG")
    return SimpleUploadedFile("IMG_alice_home.jpg", buffer.getvalue(), content_type="image/jpeg")


def seen(reporter: object, at: tuple[float, float] = ZURICH, *, photo: bool = False, **fields: object) -> Sighting:
    """A processed sighting, through the same services as the web form and the worker."""
    data = {"lat": at[0], "lon": at[1], **DOME, **fields}
    sighting = services.sighting_submit(reporter=reporter, data=data, photo=jpeg() if photo else None).sighting
    services.sighting_process(sighting_id=sighting.pk)
    return Sighting.objects.get(pk=sighting.pk)


def page(client: object, camera_id: int) -> str:
    response = client.get(reverse("camera_detail", args=[camera_id]))
    assert response.status_code == 200
    return response.content.decode()


def popup(client: object, camera_id: int) -> object:
    return client.get(reverse("camera_popup", args=[camera_id]))


def history(html: str) -> str:
    return html[html.index('id="history"') :]


@pytest.fixture
def erin(db: None) -> object:
    return _person("erin_realname")


@pytest.fixture
def verified_camera(volunteer, second_volunteer, erin) -> Camera:
    """Reported by alice, confirmed by bob and then erin: verified."""
    camera_id = seen(volunteer, photo=True, notes="Above the bakery door.").camera_id
    services.vote_cast(voter=second_volunteer, camera_id=camera_id, verdict="confirm")
    services.vote_cast(voter=erin, camera_id=camera_id, verdict="confirm", corrections={"camera_mount": "pole"})
    return Camera.objects.get(pk=camera_id)


# --- Who appears -----------------------------------------------------------------------------------


def test_the_page_names_volunteers_by_handle_and_never_by_username_or_email(
    verified_camera, volunteer, second_volunteer, erin, moderator, anonymous
):
    services.camera_expert_verdict(
        camera_id=verified_camera.pk, actor=moderator, status="disputed", reason="The photo shows a lamp"
    )

    html = page(anonymous, verified_camera.pk)

    for person in (volunteer, second_volunteer, erin):
        assert person.profile.handle in html
    for person in (volunteer, second_volunteer, erin, moderator):
        assert person.username not in html
        assert person.email not in html
    assert moderator.profile.handle not in html
    assert "private.example" not in html
    assert "IMG_alice_home" not in html  # the upload's own file name can name its owner


def test_a_moderators_verdict_is_shown_as_a_moderators_with_the_public_reason(verified_camera, moderator, anonymous):
    services.camera_expert_verdict(
        camera_id=verified_camera.pk, actor=moderator, status="disputed", reason="The photo shows a lamp"
    )

    entries = history(page(anonymous, verified_camera.pk))

    assert re.search(r"A moderator</strong>:\s*status Verified → Disputed", entries)
    assert "The photo shows a lamp" in entries
    assert "Why disputed (a moderator's decision)" in page(anonymous, verified_camera.pk)


def test_a_status_change_by_the_rules_says_so(verified_camera, anonymous):
    entries = history(page(anonymous, verified_camera.pk))

    assert re.search(r"The rules</strong>:\s*status Reported → Verified", entries)


# --- What stays hidden -------------------------------------------------------------------------------


def test_a_hidden_sighting_does_not_appear(volunteer, second_volunteer, moderator, anonymous):
    camera_id = seen(volunteer, notes="Seen from the tram stop.").camera_id
    hidden = seen(second_volunteer, notes="My neighbour's window is behind it.")
    assert hidden.camera_id == camera_id
    services.sighting_hide(sighting_id=hidden.pk, actor=moderator, reason="Describes a private home")

    html = page(anonymous, camera_id)

    assert "Seen from the tram stop." in html
    assert "neighbour" not in html
    assert second_volunteer.profile.handle not in html


def test_a_hidden_photo_does_not_appear_but_its_sighting_does(volunteer, second_volunteer, moderator, anonymous):
    shown = seen(volunteer, photo=True)
    hidden = seen(second_volunteer, photo=True)
    services.photo_hide(sighting_id=hidden.pk, actor=moderator, reason="A face is visible")

    html = page(anonymous, shown.camera_id)

    assert shown.photo.url in html
    assert hidden.photo.url not in html
    assert second_volunteer.profile.handle in html


def test_a_camera_whose_sightings_are_all_hidden_has_no_page(volunteer, moderator, anonymous):
    sighting = seen(volunteer)
    services.sighting_hide(sighting_id=sighting.pk, actor=moderator, reason="Fake report")

    assert anonymous.get(reverse("camera_detail", args=[sighting.camera_id])).status_code == 404
    assert popup(anonymous, sighting.camera_id).status_code == 404


def test_a_banned_volunteers_vote_leaves_the_history(verified_camera, second_volunteer, moderator, anonymous):
    services.volunteer_ban(user_id=second_volunteer.pk, actor=moderator, reason="Spam votes")

    assert second_volunteer.profile.handle not in page(anonymous, verified_camera.pk)


# --- Forwarding and missing cameras --------------------------------------------------------------------


def test_a_merged_camera_redirects_to_the_camera_it_became(volunteer, second_volunteer, moderator, anonymous):
    source = seen(volunteer, at=ELSEWHERE).camera_id
    target = seen(second_volunteer).camera_id
    services.camera_merge(source_id=source, target_id=target, actor=moderator, reason="One camera, two reports")

    response = anonymous.get(reverse("camera_detail", args=[source]))

    assert response.status_code == 302
    assert response["Location"] == reverse("camera_detail", args=[target])
    assert re.search(
        rf"A moderator</strong>:\s*<a [^>]*>Camera #{source} was merged into this one", page(anonymous, target)
    )


def test_an_unknown_camera_is_404(db, anonymous):
    assert anonymous.get(reverse("camera_detail", args=[987654])).status_code == 404
    assert popup(anonymous, 987654).status_code == 404


def test_a_removed_camera_keeps_its_page_and_says_it_is_removed(verified_camera, moderator, anonymous):
    services.camera_expert_verdict(camera_id=verified_camera.pk, actor=moderator, status="removed", reason="Gone")

    html = page(anonymous, verified_camera.pk)

    assert "This camera has been removed" in html
    assert 'id="verify-link"' not in html


# --- History, map and links --------------------------------------------------------------------------


def test_the_history_lists_the_report_the_votes_and_the_status_change_in_time_order(
    verified_camera, volunteer, second_volunteer, erin, anonymous
):
    entries = history(page(anonymous, verified_camera.pk))

    report = entries.index(volunteer.profile.handle)
    bobs_vote = entries.index(second_volunteer.profile.handle)
    erins_vote = entries.index(erin.profile.handle)
    verified = entries.index("Reported → Verified")
    assert report < bobs_vote < erins_vote < verified
    assert "voted “It is there”" in entries
    assert "Above the bakery door." in entries
    assert "Mounted on: Pole" in entries[erins_vote:verified]


def test_the_status_reason_explains_the_rules(verified_camera, anonymous):
    html = page(anonymous, verified_camera.pk)

    assert "Why verified" in html
    assert "2 volunteers besides the reporter said it is there" in html


def test_the_map_draws_the_field_of_view_from_the_stored_height_and_tilt(volunteer, anonymous):
    camera = Camera.objects.get(pk=seen(volunteer, height=10.0, camera_angle=45.0).camera_id)

    html = page(anonymous, camera.pk)

    ring = json.loads(re.search(r'<script id="camera-fov" type="application/json">(.*?)</script>', html).group(1))
    expected = fov.wedge(camera.lat, camera.lon, camera.direction, height=10.0, tilt=45.0)
    assert ring == [list(point) for point in expected]
    assert "reaching 10.0 m" in html
    assert "js/camera.js" in html
    assert "vendor/leaflet/leaflet.js" in html


def test_a_camera_without_a_direction_gets_no_wedge(volunteer, anonymous):
    camera_id = seen(volunteer, direction=None).camera_id

    html = page(anonymous, camera_id)

    assert '<script id="camera-fov" type="application/json">null</script>' in html
    assert "no field of view is drawn" in html


def test_the_page_links_to_verify_discuss_and_flag(verified_camera, second_volunteer, anonymous):
    from tests.conftest import client_for

    html = page(client_for(second_volunteer), verified_camera.pk)

    assert f"#camera-{verified_camera.pk}" in html
    assert reverse("camera_discussion", args=[verified_camera.pk]) in html
    assert reverse("camera_flag", args=[verified_camera.pk]) in html
    assert reverse("camera_flag", args=[verified_camera.pk]) not in page(anonymous, verified_camera.pk)


# --- Stored XSS ----------------------------------------------------------------------------------------

PAYLOADS = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>")


@pytest.mark.parametrize("payload", PAYLOADS)
def test_markup_in_the_operator_and_notes_is_shown_as_text(payload, volunteer, anonymous):
    camera_id = seen(volunteer, operator=payload, notes=f"Note: {payload}").camera_id

    html = page(anonymous, camera_id)

    assert payload not in html
    escaped = payload.replace("<", "&lt;").replace(">", "&gt;")
    assert escaped in html
    assert f"Note: {escaped}" in html


# --- The popup ---------------------------------------------------------------------------------------


def test_the_popup_has_the_fields_the_map_needs(verified_camera, anonymous):
    response = popup(anonymous, verified_camera.pk)

    data = response.json()
    assert set(data) >= POPUP_FIELDS
    assert data["id"] == verified_camera.pk
    assert (data["status"], data["status_label"]) == ("verified", "Verified")
    assert (data["camera_type"], data["direction"], data["operator"]) == ("dome", 90, "City Police")
    assert data["labels"] == {
        "camera_type": "unanimous",
        "camera_mount": "majority",  # alice's wall (a report) outweighs erin's pole (a correction)
        "direction": "unanimous",
        "operator": "unanimous",
    }
    assert data["url"] == reverse("camera_detail", args=[verified_camera.pk])
    assert data["verify_url"].startswith(reverse("verify"))
    assert data["photo"] == verified_camera.sightings.get().photo.url
    assert response["Cache-Control"] == "public, max-age=60"


def test_the_popup_sends_markup_as_raw_text_for_the_client_to_escape(volunteer, anonymous):
    camera_id = seen(volunteer, operator=PAYLOADS[0]).camera_id

    assert popup(anonymous, camera_id).json()["operator"] == PAYLOADS[0]


def test_the_popup_names_nobody(verified_camera, volunteer, second_volunteer, erin, anonymous):
    text = popup(anonymous, verified_camera.pk).content.decode()

    for person in (volunteer, second_volunteer, erin):
        assert person.username not in text
        assert person.profile.handle not in text
    assert "private.example" not in text


def test_the_popup_leaves_out_a_hidden_photo(volunteer, moderator, anonymous):
    sighting = seen(volunteer, photo=True)
    services.photo_hide(sighting_id=sighting.pk, actor=moderator, reason="A face is visible")

    assert popup(anonymous, sighting.camera_id).json()["photo"] is None


def test_the_popup_is_404_for_a_removed_or_merged_camera(verified_camera, volunteer, moderator, anonymous):
    services.camera_expert_verdict(camera_id=verified_camera.pk, actor=moderator, status="removed", reason="Gone")
    source = seen(volunteer, at=ELSEWHERE).camera_id
    target = seen(volunteer, at=(47.40, 8.52)).camera_id
    services.camera_merge(source_id=source, target_id=target, actor=moderator, reason="Same camera")

    assert popup(anonymous, verified_camera.pk).status_code == 404
    assert popup(anonymous, source).status_code == 404
    assert popup(anonymous, target).status_code == 200
