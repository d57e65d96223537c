"""The public maps in a real browser: markers draw from our origin alone, and no stored text runs.

Every host but ours is blocked by the fixture (tests/browser/conftest.py) and recorded; the
tile server's requests are the only ones allowed to have been attempted. Each test saves a
screenshot of its page type under test-artifacts/.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.conf import settings

from mapapp import services, tasks
from mapapp.imports.neighbourhoods import neighbourhoods_load, parse_neighbourhoods
from mapapp.models import Camera, Neighbourhood
from tests.browser.conftest import ARTIFACTS
from tests.conftest import _person

pytestmark = pytest.mark.browser

CENTRE = (47.3769, 8.5417)
# Each payload sets a flag if it ever runs; the page must show it as text instead.
IMG_PAYLOAD = '<img src=x onerror="window.__pwned=1">'
SCRIPT_PAYLOAD = "<script>window.__pwned=2</script>"
NAME_PAYLOAD = '<svg onload="window.__pwned=3">Old Town'


def square(lat: float, lon: float, half: float) -> dict:
    ring = [[lon - half, lat - half], [lon + half, lat - half], [lon + half, lat + half], [lon - half, lat + half]]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def load_area(name: str) -> Neighbourhood:
    document = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {"name": name}, "geometry": square(*CENTRE, 0.004)}],
    }
    neighbourhoods_load(features=parse_neighbourhoods(document), source="browser-test")
    return Neighbourhood.objects.get()


def report(reporter: object, lat: float, lon: float, **attributes: object) -> Camera:
    sighting = services.sighting_submit(reporter=reporter, data={"lat": lat, "lon": lon, **attributes}).sighting
    return Camera.objects.get(pk=services.sighting_process(sighting_id=sighting.pk).camera_id)


def shot(page: object, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"page-{name}.png"), full_page=True)


def only_tiles_were_requested_elsewhere(page: object) -> None:
    tile_host = urlsplit(settings.TILE_URL).hostname
    assert page.outside_requests.hosts() <= {tile_host}, page.outside_requests


def frame_of(page: object, selector: str) -> object:
    return page.locator(selector).element_handle().content_frame()


def nothing_ran(page: object, frame: object) -> None:
    assert page.evaluate("window.__pwned") is None
    assert frame.evaluate("window.__pwned") is None


def test_stored_payloads_in_notes_operator_and_names_show_as_text_and_never_run(browser_page, live_server):
    page = browser_page
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    hood = load_area(NAME_PAYLOAD)
    camera = report(
        _person("mallory_realname"), *CENTRE, operator=IMG_PAYLOAD, notes=SCRIPT_PAYLOAD, camera_type="dome"
    )
    tasks.refresh_maps()

    page.goto(f"{live_server.url}/neighbourhoods/{hood.slug}/")
    frame = frame_of(page, "#neighbourhood-frame")
    frame.wait_for_function("document.documentElement.dataset.markersDrawn === '1'")
    frame.locator(".cw-marker").first.click()
    popup = frame.locator(".cw-popup table")
    popup.wait_for()

    assert IMG_PAYLOAD in popup.inner_text()  # shown literally, as text
    assert frame.locator(".cw-popup img[src='x']").count() == 0
    assert NAME_PAYLOAD in page.locator("h1").inner_text()
    nothing_ran(page, frame)
    shot(page, "neighbourhood")

    page.goto(f"{live_server.url}/")
    overview = frame_of(page, "#overview-frame")
    overview.wait_for_function("document.documentElement.dataset.areasDrawn === '1'")
    overview.locator(".folium-map").hover()  # the map's centre is inside the only neighbourhood
    tooltip = overview.locator(".cw-tooltip")
    tooltip.wait_for()
    assert NAME_PAYLOAD in tooltip.inner_text()
    nothing_ran(page, overview)
    shot(page, "home")

    page.goto(f"{live_server.url}/cameras/{camera.pk}/")
    page.wait_for_load_state("networkidle")
    assert IMG_PAYLOAD in page.inner_text("body")
    assert page.evaluate("window.__pwned") is None
    shot(page, "camera")

    assert dialogs == []
    only_tiles_were_requested_elsewhere(page)


def test_the_embedded_map_draws_clustered_markers_and_fields_of_view_from_our_origin_alone(browser_page, live_server):
    page = browser_page
    hood = load_area("Old Town")
    walkers = [_person(f"walker{i}_realname") for i in range(30)]
    for i, person in enumerate(walkers):  # 30 cameras about 67 m apart on a 6 x 5 grid, all facing north
        lat, lon = CENTRE[0] - 0.0012 + (i // 6) * 0.0006, CENTRE[1] - 0.00225 + (i % 6) * 0.0009
        report(person, lat, lon, direction=0, camera_type="fixed")

    page.goto(f"{live_server.url}/embed/neighbourhoods/{hood.slug}/")
    page.wait_for_function("document.documentElement.dataset.markersDrawn === '30'")
    page.locator(".marker-cluster, .cw-marker").first.wait_for()
    clustered = page.locator(".marker-cluster").count()
    page.evaluate(f"window.cameraWatchMap.map.setView([{CENTRE[0]}, {CENTRE[1]}], 18, {{animate: false}})")
    page.wait_for_function("window.cameraWatchMap.fov.getLayers().length > 0")
    wedges = page.evaluate("window.cameraWatchMap.fov.getLayers().length")

    assert clustered >= 1  # at the zoom that fits the neighbourhood, neighbours cluster
    assert 1 <= wedges <= 30
    assert page.locator(".leaflet-control-layers-overlays").inner_text().count("Heat map") == 1
    assert "OpenStreetMap" in page.locator(".leaflet-control-attribution").inner_text()
    assert page.locator(".leaflet-control-scale").count() == 1
    shot(page, "embed")
    only_tiles_were_requested_elsewhere(page)


def test_the_overview_toggle_shows_every_camera_loaded_by_bounding_box(browser_page, live_server):
    page = browser_page
    load_area("Old Town")
    for i in range(3):
        report(_person(f"walker{i}_realname"), CENTRE[0] + i * 0.001, CENTRE[1])
    tasks.refresh_maps()

    page.goto(f"{live_server.url}/")
    overview = frame_of(page, "#overview-frame")
    overview.wait_for_function("document.documentElement.dataset.areasDrawn === '1'")
    assert overview.evaluate("document.documentElement.dataset.cameraLayer") is None  # off until asked
    overview.get_by_label("All cameras (clustered)").check()
    overview.wait_for_function("document.documentElement.dataset.cameraLayer === 'cameras'")

    assert overview.evaluate("document.documentElement.dataset.cameraCount") == "3"
    assert overview.evaluate("window.cameraWatchMap.cameras.getLayers()[0].getLayers().length") == 3
    only_tiles_were_requested_elsewhere(page)
