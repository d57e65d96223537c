"""Real data: Zürich's 34 quarters and the OpenStreetMap cameras around them, through the real loader
and the real OSM importer (../shared/datasets/switzerland-osm, see its README)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mapapp import geometry, imports, tasks
from mapapp.models import Camera, Neighbourhood
from mapapp.services.neighbourhoods import cameras_outside_count, neighbourhoods_assign_all

QUARTERS = "switzerland-osm/cth_zurich-city.geojson"
CAMERAS = "switzerland-osm/osm_surveillance_switzerland_overpass.json"

# Established once, by brute force over the files themselves (mapapp.geometry.contains against each
# of the 34 quarters, for every node of the 2023 export inside the quarters' bounding box). 224 is
# also the figure the datasets README gives for "inside Zürich city", found independently.
IN_BOUNDING_BOX = 273
INSIDE_ZURICH = 224
IN_ESCHER_WYSS = 33

pytestmark = [pytest.mark.datasets, pytest.mark.django_db]


def load_quarters(datasets: Path) -> imports.LoadSummary:
    features = imports.parse_neighbourhoods(imports.read_json(datasets / QUARTERS))
    return imports.neighbourhoods_load(features=features, source="cth_zurich-city.geojson")


def import_cameras_around_zurich(datasets: Path) -> None:
    """The Swiss export's nodes inside the quarters' bounding box (importing all 2,144 is slower)."""
    boxes = [geometry.bbox(f.geometry) for f in imports.parse_neighbourhoods(imports.read_json(datasets / QUARTERS))]
    min_lon, min_lat = min(b[0] for b in boxes), min(b[1] for b in boxes)
    max_lon, max_lat = max(b[2] for b in boxes), max(b[3] for b in boxes)
    elements = imports.parse_osm(imports.read_json(datasets / CAMERAS))
    nodes = [n for n in elements.nodes if min_lon <= n.lon <= max_lon and min_lat <= n.lat <= max_lat]
    imports.osm_import(elements=imports.OsmElements(nodes=nodes), source="osm_surveillance_switzerland_overpass.json")


def quarter_by_brute_force(lat: float, lon: float, quarters: list[Neighbourhood]) -> int | None:
    """The quarter holding a point, by ray casting over every quarter (no overlaps in this file)."""
    for q in quarters:
        if q.min_lon <= lon <= q.max_lon and q.min_lat <= lat <= q.max_lat and geometry.contains(q.polygon, lon, lat):
            return q.pk
    return None


def test_the_importer_places_each_camera_in_the_zurich_quarter_it_lies_in(datasets: Path) -> None:
    load_quarters(datasets)
    import_cameras_around_zurich(datasets)
    quarters = list(Neighbourhood.objects.all())
    cameras = list(Camera.objects.values_list("lat", "lon", "neighbourhood_id"))

    assert len(cameras) == IN_BOUNDING_BOX
    assert [hood for *_, hood in cameras] == [quarter_by_brute_force(lat, lon, quarters) for lat, lon, _ in cameras]
    assert sum(hood is not None for *_, hood in cameras) == INSIDE_ZURICH
    escher_wyss = Camera.objects.filter(neighbourhood__slug="escher-wyss").count()
    assert escher_wyss == IN_ESCHER_WYSS
    assert cameras_outside_count() == IN_BOUNDING_BOX - INSIDE_ZURICH
    # A full reassignment agrees with what the importer wrote, camera for camera.
    assert neighbourhoods_assign_all().as_dict() == {
        "assigned": INSIDE_ZURICH,
        "outside": IN_BOUNDING_BOX - INSIDE_ZURICH,
        "changed": 0,
    }


def test_loading_the_quarters_after_the_cameras_places_them_and_counts_them(datasets: Path) -> None:
    import_cameras_around_zurich(datasets)
    assert not Camera.objects.filter(neighbourhood__isnull=False).exists()

    summary = load_quarters(datasets)

    assert summary.cameras.as_dict() == {
        "assigned": INSIDE_ZURICH,
        "outside": IN_BOUNDING_BOX - INSIDE_ZURICH,
        "changed": INSIDE_ZURICH,
    }
    stats = Neighbourhood.objects.get(slug="escher-wyss").stats
    assert stats["cameras"] == IN_ESCHER_WYSS
    assert stats["by_status"]["reported"] == IN_ESCHER_WYSS  # imported cameras start as reported
    assert sum(Neighbourhood.objects.values_list("stats__cameras", flat=True)) == INSIDE_ZURICH


def test_the_escher_wyss_map_and_page_show_exactly_its_33_cameras(datasets: Path, client) -> None:
    load_quarters(datasets)
    import_cameras_around_zurich(datasets)
    tasks.refresh_maps()
    quarter = Neighbourhood.objects.get(name="Escher Wyss")
    inside = set(Camera.objects.public().filter(neighbourhood=quarter).values_list("pk", flat=True))

    html = client.get(f"/embed/neighbourhoods/{quarter.slug}/").content.decode()
    drawn = json.loads(re.search(r'id="cw-cameras">(.*?)</script>', html, re.S).group(1))
    page = client.get(f"/neighbourhoods/{quarter.slug}/").content.decode()

    assert len(inside) == IN_ESCHER_WYSS
    assert set(drawn["id"]) == inside
    assert f"<strong>{IN_ESCHER_WYSS}</strong> cameras" in page
