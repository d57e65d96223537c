"""The sighting form's helpers in a real browser: the photo's own position, and a geocoder outage."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest
from PIL import ExifTags, Image

from mapapp.models import Sighting
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

PHOTO_LAT, PHOTO_LON = 47.3712345, 8.5387654


def dms(degrees: float) -> tuple[float, float, float]:
    minutes = (degrees - int(degrees)) * 60
    return (float(int(degrees)), float(int(minutes)), (minutes - int(minutes)) * 60)


def photo_taken_at(lat: float, lon: float) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: dms(lat),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: dms(lon),
    }
    out = io.BytesIO()
    Image.new("RGB", (120, 90), "grey").save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def log_in(page, live_server, user):
    page.goto(f"{live_server.url}/accounts/login/?next=/sightings/new/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/sightings/new/$"))


def test_a_photo_with_gps_offers_its_position_and_the_stored_photo_has_none(
    browser_page, live_server, volunteer, tmp_path
):
    page = browser_page
    log_in(page, live_server, volunteer)
    photo = tmp_path / "IMG_1234.jpg"
    photo.write_bytes(photo_taken_at(PHOTO_LAT, PHOTO_LON))

    page.set_input_files("#id_photo", str(photo))
    page.wait_for_selector("#photo-position:not([hidden])")
    page.click("#use-photo-position")
    page.select_option("#id_camera_type", "fixed")
    page.click("#submit-sighting")
    page.wait_for_url(re.compile(r"/sightings/\d+/$"))

    sighting = Sighting.objects.get(reporter=volunteer)
    assert (round(sighting.lat, 6), round(sighting.lon, 6)) == (round(PHOTO_LAT, 6), round(PHOTO_LON, 6))
    stored = Image.open(sighting.photo.path)
    assert not stored.getexif()


def test_when_address_search_is_down_the_form_says_so_and_still_submits(browser_page, live_server, volunteer, settings):
    settings.NOMINATIM_URL = "http://127.0.0.1:9"  # the discard port: nothing listens there
    page = browser_page
    log_in(page, live_server, volunteer)

    page.fill("#address-search", "Bahnhofstrasse 1, Zürich")
    page.click("#address-search-go")
    page.wait_for_function("document.getElementById('search-status').textContent.includes('unavailable')")
    page.fill("#id_lat", "47.3700001")
    page.fill("#id_lon", "8.5400001")
    page.click("#submit-sighting")
    page.wait_for_url(re.compile(r"/sightings/\d+/$"))

    assert Sighting.objects.filter(reporter=volunteer, lat=47.3700001, lon=8.5400001).exists()


def test_the_time_a_volunteer_types_is_their_local_time_not_the_servers(browser_page, live_server, volunteer):
    page = browser_page
    log_in(page, live_server, volunteer)

    assert page.input_value("#id_observed_at") == "", "blank means 'just now'"
    page.fill("#id_lat", "40.7500000")
    page.fill("#id_lon", "-73.9900000")
    page.fill("#id_observed_at", "2026-11-20T10:00")  # 10:00 in New York (EST, UTC-5)
    page.click("#submit-sighting")
    page.wait_for_url(re.compile(r"/sightings/\d+/$"))

    observed = Sighting.objects.get(reporter=volunteer).observed_at
    assert observed == datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
