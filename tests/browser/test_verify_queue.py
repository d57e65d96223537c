"""A volunteer confirms someone else's camera from the verification queue, in a real browser."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from mapapp import services
from mapapp.models import Camera, Vote
from tests.conftest import PASSWORD, _person

pytestmark = pytest.mark.browser

ZURICH = (47.3769, 8.5417)


def reported_camera(reporter: object) -> Camera:
    sighting = services.sighting_submit(
        reporter=reporter, data={"lat": ZURICH[0], "lon": ZURICH[1], "camera_type": "dome"}
    ).sighting
    return Camera.objects.get(pk=services.sighting_process(sighting_id=sighting.pk).camera_id)


def test_a_volunteer_confirms_a_camera_from_the_queue_and_corrects_its_mount(browser_page, live_server):
    page = browser_page
    camera = reported_camera(_person("alice_realname"))
    _person("bob_realname")

    page.goto(f"{live_server.url}/accounts/login/?next=/verify/%3Flat%3D{ZURICH[0]}%26lon%3D{ZURICH[1]}")
    page.fill("#id_username", "bob_realname")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/verify/"))

    entry = page.locator(f"#camera-{camera.pk}")
    # The small map is drawn by Leaflet served from our own origin, with the marker on it.
    entry.locator(".small-map.leaflet-container .leaflet-interactive").wait_for()
    assert "0 m away" in entry.inner_text()
    entry.locator("input[name=verdict][value=confirm]").check()
    entry.locator("summary").click()
    entry.locator("select[name=camera_mount]").select_option("pole")
    entry.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/verify/"))

    assert f"your verdict on camera #{camera.pk} is recorded" in page.inner_text("body")
    vote = Vote.objects.get(camera=camera)
    assert (vote.voter.username, vote.verdict, vote.corrections) == (
        "bob_realname",
        "confirm",
        {"camera_mount": "pole"},
    )
    tile_host = urlsplit(settings.TILE_URL).hostname
    assert page.outside_requests.hosts() <= {tile_host}, page.outside_requests
