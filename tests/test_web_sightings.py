"""Submitting a sighting through the web form, and the reporter's sighting page."""

from __future__ import annotations

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from mapapp.models import Sighting
from tests.conftest import client_for

VALID = {
    "lat": "47.3769",
    "lon": "8.5417",
    "accuracy_m": "6",
    "surveillance_type": "camera",
    "camera_type": "dome",
    "camera_mount": "wall",
    "surveillance": "public",
    "zone": "entrance",
    "direction": "120",
    "operator": "Corner Shop",
    "operator_type": "business",
    "height": "3.5",
    "camera_angle": "15",
    "notes": "Above the door",
    "client_id": "form-0001",
}


def jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "navy").save(buffer, "JPEG")
    return buffer.getvalue()


def test_the_form_page_asks_anonymous_visitors_to_log_in(anonymous, db):
    response = anonymous.get(reverse("sighting_new"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_the_form_page_has_a_map_picker_location_search_photo_and_attribute_help(volunteer):
    page = client_for(volunteer).get(reverse("sighting_new")).content.decode()

    for element_id in ("picker-map", "use-my-location", "address-search", "id_photo", "id_lat", "id_lon"):
        assert f'id="{element_id}"' in page
    assert 'data-help="A half-sphere of dark glass' in page
    assert re.search(r'name="client_id" value="[0-9a-f]{32}"', page)


def test_the_form_page_loads_every_script_and_stylesheet_from_our_own_origin(volunteer):
    page = client_for(volunteer).get(reverse("sighting_new")).content.decode()

    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page)
    assert sources
    assert all(src.startswith("/static/") for src in sources), sources


def test_a_valid_sighting_is_stored_and_the_volunteer_lands_on_its_page(volunteer):
    client = client_for(volunteer)
    response = client.post(reverse("sighting_new"), VALID)

    sighting = Sighting.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("sighting_detail", args=[sighting.pk])
    assert (sighting.lat, sighting.lon, sighting.direction, sighting.camera_type) == (47.3769, 8.5417, 120, "dome")
    assert (sighting.reporter, sighting.source, sighting.status) == (volunteer, "web", "pending")
    page = client.get(response.url).content.decode()
    assert "waiting to be processed" in page


def test_submitting_the_same_form_twice_stores_one_sighting(volunteer):
    client = client_for(volunteer)
    first = client.post(reverse("sighting_new"), VALID)
    second = client.post(reverse("sighting_new"), VALID)

    assert first.url == second.url
    assert Sighting.objects.count() == 1


def test_a_photo_is_stored_re_encoded(volunteer):
    photo = SimpleUploadedFile("camera.jpg", jpeg_bytes(), content_type="image/jpeg")
    client_for(volunteer).post(reverse("sighting_new"), {**VALID, "photo": photo})

    sighting = Sighting.objects.get()
    assert sighting.photo.name.startswith("photos/")
    assert "camera" not in sighting.photo.name


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("lat", "91", "less than or equal to 90"),
        ("lat", "", "This field is required"),
        ("lon", "-181", "greater than or equal to -180"),
        ("lat", "nan", "Enter a number"),
        ("lon", "east", "Enter a number"),
        ("direction", "400", "less than or equal to 359"),
        ("camera_type", "spaceship", "Select a valid choice"),
        ("accuracy_m", "-3", "greater than or equal to 0"),
        ("camera_angle", "120", "less than or equal to 90"),
        ("observed_at", "2999-01-01T10:00", "in the future"),
    ],
)
def test_bad_input_is_explained_next_to_the_form_and_nothing_is_stored(volunteer, field, value, message):
    response = client_for(volunteer).post(reverse("sighting_new"), {**VALID, field: value})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert Sighting.objects.count() == 0


def test_a_file_that_is_not_an_image_is_refused_with_a_clear_message(volunteer, isolated_media):
    fake = SimpleUploadedFile("camera.jpg", b"%PDF-1.4 definitely not a photo", content_type="image/jpeg")
    response = client_for(volunteer).post(reverse("sighting_new"), {**VALID, "photo": fake})

    assert response.status_code == 200
    assert "not an image" in response.content.decode()
    assert Sighting.objects.count() == 0
    assert [p for p in isolated_media.rglob("*") if p.is_file()] == []


def test_only_the_reporter_can_open_a_sighting_page(volunteer, second_volunteer):
    client_for(volunteer).post(reverse("sighting_new"), VALID)
    url = reverse("sighting_detail", args=[Sighting.objects.get().pk])

    assert client_for(volunteer).get(url).status_code == 200
    assert client_for(second_volunteer).get(url).status_code == 404
