"""The public map pages, their cached documents and the refresh that keeps them current."""

from __future__ import annotations

import json
import re

import pytest
from django.utils import timezone

from mapapp import services, tasks
from mapapp.imports.neighbourhoods import neighbourhoods_load, parse_neighbourhoods
from mapapp.maps import render
from mapapp.models import Camera, Neighbourhood, RenderedMap
from mapapp.services import maps as map_service
from mapapp.services.neighbourhoods import neighbourhoods_stats_refresh
from tests.conftest import _person

CENTRE = (47.3769, 8.5417)
CDN_HOSTS = ("cdn.jsdelivr.net", "cdnjs.cloudflare.com", "code.jquery.com", "netdna.bootstrapcdn.com", "unpkg.com")


def square(lat: float, lon: float, half: float) -> dict:
    ring = [[lon - half, lat - half], [lon + half, lat - half], [lon + half, lat + half], [lon - half, lat + half]]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def load_areas(*areas: tuple[str, dict]) -> None:
    document = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {"name": n}, "geometry": g} for n, g in areas],
    }
    neighbourhoods_load(features=parse_neighbourhoods(document), source="test")


def camera_at(reporter: object, lat: float, lon: float, **attributes: object) -> Camera:
    sighting = services.sighting_submit(reporter=reporter, data={"lat": lat, "lon": lon, **attributes}).sighting
    return Camera.objects.get(pk=services.sighting_process(sighting_id=sighting.pk).camera_id)


@pytest.fixture
def old_town(db: None) -> Neighbourhood:
    load_areas(("Old Town", square(*CENTRE, 0.01)), ("Harbour", square(CENTRE[0], CENTRE[1] + 0.03, 0.01)))
    return Neighbourhood.objects.get(slug="old-town")


def people(n: int) -> list[object]:
    return [_person(f"walker{i}_realname") for i in range(n)]


# --- The documents ---------------------------------------------------------------------------------


def test_script_json_cannot_close_its_script_element():
    text = render.script_json({"name": "</script><script>alert(1)</script>", "x": "<!--"})

    assert "</script" not in text
    assert "<!--" not in text
    assert json.loads(text) == {"name": "</script><script>alert(1)</script>", "x": "<!--"}


def test_a_neighbourhood_map_loads_only_our_assets_and_carries_no_user_text(old_town, volunteer):
    camera_at(volunteer, *CENTRE, operator="<img src=x onerror=alert(1)>", notes="<script>alert(2)</script>")

    html = map_service.neighbourhood_document(old_town)

    assert not any(host in html for host in CDN_HOSTS)
    assert "/static/vendor/leaflet/leaflet.js" in html
    assert "/static/js/cameramap.js" in html
    assert "onerror" not in html
    assert "alert(" not in html
    assert "Old Town" not in html  # the page around the map names it, as escaped template text


def test_the_camera_columns_round_positions_to_a_metre_and_encode_status_kind_and_reach():
    cams = [
        render.MapCamera(7, 47.123456, 8.654321, "verified", "dome", "camera", 90, None, None),
        render.MapCamera(8, -33.9, 151.2, "reported", "", "ALPR", None, None, None),
        render.MapCamera(9, 0.0, 0.0, "removed", "fixed", "camera", 10, None, None),
    ]

    cols = render.camera_columns(cams)

    assert cols["id"] == [7, 8]  # removed cameras are not on public maps
    assert cols["lat"] == [4712346, -3390000]
    assert cols["lon"] == [865432, 15120000]
    assert [render.STATUSES[s] for s in cols["s"]] == ["verified", "reported"]
    assert [render.KINDS[k] for k in cols["k"]] == ["dome", "alpr"]
    assert cols["d"] == [90, -1]
    assert cols["r"] == [187, 0]  # 5 m up, 15° down: 18.66 m, in decimetres


def test_the_overview_map_keeps_camera_data_out_of_the_document(old_town, volunteer):
    for i in range(5):
        camera_at(_person(f"p{i}"), CENTRE[0] + i * 0.001, CENTRE[1])
    neighbourhoods_stats_refresh()

    html = map_service.overview_document()

    areas = json.loads(re.search(r'id="cw-areas">(.*?)</script>', html).group(1))
    assert [(a["name"], a["cameras"]) for a in areas["areas"]] == [("Harbour", 0), ("Old Town", 5)]
    assert str(round(CENTRE[0] + 0.004, 5)) not in html
    assert not any(host in html for host in CDN_HOSTS)


# --- Pages -------------------------------------------------------------------------------------------


def test_the_home_page_lists_neighbourhoods_by_density_and_counts_cameras_outside_them(client, old_town, volunteer):
    camera_at(volunteer, *CENTRE)
    camera_at(volunteer, CENTRE[0] + 0.002, CENTRE[1])
    camera_at(volunteer, CENTRE[0] + 0.5, CENTRE[1])  # in no neighbourhood
    tasks.refresh_maps()

    page = client.get("/").content.decode()
    by_name = client.get("/?sort=name").content.decode()

    assert page.index("Old Town") < page.index("Harbour")  # 2 cameras beat 0
    assert by_name.index("Harbour") < by_name.index("Old Town")
    assert "1 camera lie outside every neighbourhood" in page
    assert 'src="/maps/overview/"' in page


def test_a_neighbourhood_page_shows_its_stats_and_frames_its_embeddable_map(client, old_town, volunteer):
    camera_at(volunteer, *CENTRE, camera_type="dome")
    tasks.refresh_maps()

    page = client.get("/neighbourhoods/old-town/")

    assert page.status_code == 200
    text = page.content.decode()
    assert "<h1>Old Town</h1>" in text
    assert 'src="/embed/neighbourhoods/old-town/"' in text
    assert re.search(r"<td>dome</td><td>1</td>", text)


def test_the_embed_map_may_be_framed_by_any_site_and_other_pages_may_not(client, old_town):
    embed = client.get("/embed/neighbourhoods/old-town/")
    page = client.get("/neighbourhoods/old-town/")

    assert embed.status_code == 200
    assert embed["Content-Security-Policy"] == "frame-ancestors *"
    assert "X-Frame-Options" not in embed
    assert page["X-Frame-Options"] == "DENY"


def test_an_unknown_neighbourhood_is_404(client, db):
    assert client.get("/neighbourhoods/atlantis/").status_code == 404
    assert client.get("/embed/neighbourhoods/atlantis/").status_code == 404


# --- Cameras by bounding box --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "bbox is required"),
        ("bbox=1,2,3", "needs 4 numbers"),
        ("bbox=a,b,c,d", "must be numbers"),
        ("bbox=8,47,9,nan", "finite"),
        ("bbox=8,48,9,47", "south <= north"),
        ("bbox=9,47,8,48", "west <= east"),
        ("bbox=8,47,9,48&zoom=99", "zoom must be"),
        ("bbox=8,47,9,48&zoom=x", "zoom must be"),
    ],
)
def test_a_bad_bbox_request_gets_a_400_that_says_what_is_wrong(client, db, query, message):
    response = client.get(f"/maps/cameras.json?{query}")

    assert response.status_code == 400
    assert message in response.json()["error"]


def test_a_small_box_returns_single_cameras_and_a_crowded_one_returns_cells(client, old_town, settings, monkeypatch):
    walkers = people(4)
    for i, person in enumerate(walkers):
        camera_at(person, CENTRE[0] + i * 0.001, CENTRE[1])
    box = f"{CENTRE[1] - 0.01},{CENTRE[0] - 0.01},{CENTRE[1] + 0.01},{CENTRE[0] + 0.01}"

    few = client.get(f"/maps/cameras.json?bbox={box}&zoom=16").json()
    monkeypatch.setattr("mapapp.views.maps.BBOX_POINT_LIMIT", 2)
    many = client.get(f"/maps/cameras.json?bbox={box}&zoom=12").json()

    assert few["kind"] == "cameras"
    assert few["count"] == 4
    assert len(few["cameras"]) == 4
    assert many["kind"] == "cells"
    assert sum(c[2] for c in many["cells"]) == 4


# --- The cache and its refresh --------------------------------------------------------------------------


def test_a_request_serves_the_stored_map_without_rendering_even_when_it_is_stale(client, old_town, volunteer):
    first = client.get("/embed/neighbourhoods/old-town/")
    stored = RenderedMap.objects.get(key="neighbourhood:old-town")
    camera_at(volunteer, *CENTRE)  # the map is now stale

    again = client.get("/embed/neighbourhoods/old-town/")

    assert again.content == first.content
    assert RenderedMap.objects.get(key="neighbourhood:old-town").built_at == stored.built_at
    assert again["ETag"] == first["ETag"]


def test_the_refresh_rebuilds_a_stale_map_once_and_then_nothing(client, old_town, volunteer):
    client.get("/embed/neighbourhoods/old-town/")
    camera = camera_at(volunteer, *CENTRE)

    assert tasks.refresh_maps() == 1
    assert tasks.refresh_maps() == 0
    html = client.get("/embed/neighbourhoods/old-town/").content.decode()
    assert f"{camera.pk}" in re.search(r'id="cw-cameras">(.*?)</script>', html).group(1)


def test_a_burst_of_100_camera_changes_costs_one_render_per_neighbourhood_touched(client, old_town, volunteer):
    client.get("/embed/neighbourhoods/old-town/")
    client.get("/embed/neighbourhoods/harbour/")
    client.get("/maps/overview/")
    cameras = [camera_at(volunteer, CENTRE[0] + 0.0001 * (i % 50), CENTRE[1] + 0.0005 * (i // 50)) for i in range(2)]
    for i in range(100):  # 100 changes to cameras of Old Town, as votes or merges would make
        Camera.objects.filter(pk=cameras[i % 2].pk).update(updated_at=timezone.now(), confirmations=i)

    result = map_service.maps_refresh()

    assert sorted(result.rendered) == ["neighbourhood:old-town", "overview"]
    assert map_service.maps_refresh().rendered == []


def test_stats_follow_the_cameras(old_town, volunteer, second_volunteer):
    camera_at(volunteer, *CENTRE, camera_type="dome")
    camera_at(second_volunteer, *CENTRE, camera_type="dome")  # the same camera, confirmed
    tasks.refresh_maps()

    stats = Neighbourhood.objects.get(pk=old_town.pk).stats

    assert stats["cameras"] == 1
    assert stats["by_type"] == {"dome": 1}
    assert stats["per_km2"] == pytest.approx(1 / old_town.area_km2)


def test_beat_refreshes_the_maps_on_the_debounce_interval(settings):
    from camerawatch.celery import app

    app.loader.import_default_modules()
    schedule = {e["task"]: e["schedule"] for e in settings.CELERY_BEAT_SCHEDULE.values()}

    assert "mapapp.tasks.refresh_maps" in app.tasks
    assert schedule["mapapp.tasks.refresh_maps"] == settings.MAP_REFRESH_SECONDS


def test_a_camera_whose_only_sighting_is_hidden_leaves_every_map(client, old_town, volunteer, moderator):
    camera = camera_at(volunteer, *CENTRE)
    sighting = camera.sightings.get()
    services.sighting_hide(sighting_id=sighting.pk, actor=moderator, reason="A private garden, not a street")
    box = f"{CENTRE[1] - 0.01},{CENTRE[0] - 0.01},{CENTRE[1] + 0.01},{CENTRE[0] + 0.01}"

    html = client.get("/embed/neighbourhoods/old-town/").content.decode()
    nearby = client.get(f"/maps/cameras.json?bbox={box}&zoom=16").json()

    assert json.loads(re.search(r'id="cw-cameras">(.*?)</script>', html).group(1))["id"] == []
    assert nearby["count"] == 0
    assert client.get(f"/cameras/{camera.pk}/popup.json").status_code == 404
