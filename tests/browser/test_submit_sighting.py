"""A volunteer signs up and reports a camera by clicking on the map, in a real browser."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from mapapp.geo import distance_m
from mapapp.models import Sighting

pytestmark = pytest.mark.browser


def test_a_new_volunteer_reports_a_camera_by_clicking_the_map(browser_page, live_server):
    page = browser_page
    page.goto(f"{live_server.url}/signup/")
    page.fill("#id_username", "frank_realname")
    page.fill("#id_email", "frank@private.example")
    page.fill("#id_password1", "a-long-unusual-passphrase")
    page.fill("#id_password2", "a-long-unusual-passphrase")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/sightings/new/$"))

    page.wait_for_function("window.cameraWatchPicker !== undefined")
    # Zoom to street level, as a volunteer would before placing the pin.
    page.evaluate("window.cameraWatchPicker.map.setView([47.37690, 8.54170], 18, {animate: false})")
    box = page.locator("#picker-map").bounding_box()
    page_x, page_y = box["x"] + box["width"] * 0.62, box["y"] + box["height"] * 0.41
    # The geographic position under that exact screen pixel, as the map projects it.
    clicked = page.evaluate(
        """([px, py]) => {
            const el = document.getElementById('picker-map'), r = el.getBoundingClientRect();
            const p = window.cameraWatchPicker.map.containerPointToLatLng(
                [px - r.left - el.clientLeft, py - r.top - el.clientTop]);
            return [p.lat, p.lng];
        }""",
        [page_x, page_y],
    )
    page.mouse.click(page_x, page_y)
    page.wait_for_function("document.getElementById('id_lat').value !== ''")

    page.select_option("#id_camera_type", "dome")
    page.select_option("#id_camera_mount", "wall")
    page.fill("#id_direction", "135")
    page.fill("#id_operator", "Corner Shop")
    page.fill("#id_notes", "Above the shop door")
    assert "dark glass" in page.inner_text("#id_camera_type_helptext")
    page.click("#submit-sighting")
    page.wait_for_url(re.compile(r"/sightings/\d+/$"))

    assert "Your sighting" in page.inner_text("h1")
    sighting = Sighting.objects.get(reporter__username="frank_realname")
    assert distance_m((sighting.lat, sighting.lon), tuple(clicked)) < 1.0
    assert (sighting.camera_type, sighting.camera_mount, sighting.direction) == ("dome", "wall", 135)
    assert sighting.operator == "Corner Shop"
    tile_host = urlsplit(settings.TILE_URL).hostname
    assert page.outside_requests.hosts() <= {tile_host}, page.outside_requests
