"""manage.py load_neighbourhoods: named GeoJSON polygons become neighbourhoods."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mapapp.models import AuditEvent, Camera, Neighbourhood, Sighting

ZURICH = "switzerland-osm/cth_zurich-city.geojson"


def square(lon: float, lat: float, size: float = 0.01) -> list[list[float]]:
    return [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]


def area(name: str, lon: float = 8.5, lat: float = 47.3, size: float = 0.01, **props: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"name": name, **props},
        "geometry": {"type": "Polygon", "coordinates": [square(lon, lat, size)]},
    }


def write(tmp_path: Path, content: Any, name: str = "areas.geojson") -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def load(path: Path, *args: str) -> str:
    out = io.StringIO()
    call_command("load_neighbourhoods", str(path), *args, stdout=out)
    return out.getvalue()


def slugs() -> dict[str, str]:
    return dict(Neighbourhood.objects.values_list("slug", "name"))


# --- The real Zürich quarters ------------------------------------------------------------------


@pytest.mark.datasets
@pytest.mark.django_db
def test_zurichs_34_quarters_load_with_their_areas_and_bounding_boxes(datasets: Path) -> None:
    output = load(datasets / ZURICH)

    assert Neighbourhood.objects.count() == 34
    total = sum(Neighbourhood.objects.values_list("area_km2", flat=True))
    assert 88 < total < 95  # the city measures 87.9 km²; these outlines give about 91.8
    escher_wyss = Neighbourhood.objects.get(slug="escher-wyss")
    assert escher_wyss.name == "Escher Wyss"
    assert escher_wyss.source == "cth_zurich-city.geojson"
    assert escher_wyss.polygon["type"] == "MultiPolygon"
    # Escher Wyss lies in Zürich's Kreis 5, west of the main station (8.54 E, 47.38 N).
    assert 8.49 < escher_wyss.min_lon < escher_wyss.max_lon < 8.54
    assert 47.37 < escher_wyss.min_lat < escher_wyss.max_lat < 47.40
    assert "34 created, 0 updated" in output


@pytest.mark.datasets
@pytest.mark.django_db
def test_reloading_zurich_updates_the_same_34_quarters(datasets: Path) -> None:
    load(datasets / ZURICH)
    before = slugs()

    output = load(datasets / ZURICH)

    assert slugs() == before
    assert "0 created, 34 updated" in output


# --- Rules, on small files ---------------------------------------------------------------------


@pytest.mark.django_db
def test_reloading_a_changed_outline_updates_its_polygon_bbox_and_area(tmp_path: Path) -> None:
    load(write(tmp_path, collection(area("Seefeld", size=0.01))))
    small = Neighbourhood.objects.get(slug="seefeld")

    load(write(tmp_path, collection(area("Seefeld", size=0.02))))

    big = Neighbourhood.objects.get(slug="seefeld")
    assert big.pk == small.pk
    assert big.area_km2 == pytest.approx(4 * small.area_km2, rel=0.01)
    assert big.max_lon == pytest.approx(8.52)
    assert big.polygon["coordinates"][0][1] == [8.52, 47.3]


@pytest.mark.django_db
def test_the_name_field_option_picks_the_property_holding_the_name(tmp_path: Path) -> None:
    feature = area("ignored", quartier="Hottingen")

    load(write(tmp_path, collection(feature)), "--name-field", "quartier")

    assert slugs() == {"hottingen": "Hottingen"}


@pytest.mark.django_db
def test_names_that_slugify_alike_get_numbered_slugs_that_stay_put_on_reload(tmp_path: Path) -> None:
    path = write(tmp_path, collection(area("St. Johann"), area("St Johann", lon=8.6), area("Zürich-West")))

    load(path)
    load(path)

    assert slugs() == {"st-johann": "St. Johann", "st-johann-2": "St Johann", "zurich-west": "Zürich-West"}


@pytest.mark.django_db
def test_another_citys_quarter_of_the_same_name_does_not_overwrite_the_first(tmp_path: Path) -> None:
    load(write(tmp_path, collection(area("Altstadt", lon=7.59, lat=47.55)), "basel.geojson"))
    bern = write(tmp_path, collection(area("Altstadt", lon=7.45, lat=46.95)), "bern.geojson")

    load(bern)
    load(bern)

    rows = dict(Neighbourhood.objects.values_list("slug", "source"))
    assert rows == {"altstadt": "basel.geojson", "altstadt-2": "bern.geojson"}
    assert Neighbourhood.objects.get(slug="altstadt").min_lon == 7.59


@pytest.mark.django_db
def test_each_load_is_recorded_in_the_audit_log(tmp_path: Path) -> None:
    load(write(tmp_path, collection(area("Enge"), area("Wollishofen", lat=47.34))))

    event = AuditEvent.objects.get(action="neighbourhoods_load")
    assert (event.data["source"], event.data["created"], event.data["updated"]) == ("areas.geojson", 2, 0)


# --- Malformed files ---------------------------------------------------------------------------

point = {"type": "Feature", "properties": {"name": "Bellevue"}, "geometry": {"type": "Point", "coordinates": [8.5, 47]}}
bad_lat = area("Nowhere")
bad_lat["geometry"]["coordinates"][0][2] = [8.51, 95]
MALFORMED = {
    "not JSON": ('{"type": "FeatureCollection", "features": [', "not valid JSON"),
    "not a FeatureCollection": ({"type": "Feature"}, "expected a GeoJSON FeatureCollection"),
    "a feature without the name field": (
        collection(area("Enge"), area("", lat=47.35)),
        "feature 1: property 'name' is missing or empty",
    ),
    "a point, not a polygon": (
        collection(area("Enge"), point),
        "feature 1 (Bellevue): geometry type must be Polygon or MultiPolygon, got 'Point'",
    ),
    "a latitude of 95": (collection(area("Enge"), bad_lat), "feature 1 (Nowhere): position [8.51, 95] is outside"),
    "a ring of three positions": (
        collection(
            area("Enge"),
            {**area("Tri"), "geometry": {"type": "Polygon", "coordinates": [[[8, 47], [8.1, 47], [8, 47]]]}},
        ),
        "feature 1 (Tri): a ring needs at least 4 positions",
    ),
}


@pytest.mark.parametrize(("content", "message"), MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_file_is_rejected_by_feature_and_changes_nothing(
    db: None, tmp_path: Path, content: Any, message: str
) -> None:
    # Enge exists already. The bad file has the same name (so the same source) and a valid Enge first,
    # which would move it if anything were half-written.
    load(write(tmp_path, collection(area("Enge", lon=8.53)), "earlier.geojson"))
    before = (Neighbourhood.objects.count(), Camera.objects.count(), Sighting.objects.count())

    with pytest.raises(CommandError, match="Nothing was loaded") as excinfo:
        load(write(tmp_path, content, "earlier.geojson"))

    assert message in str(excinfo.value)
    assert (Neighbourhood.objects.count(), Camera.objects.count(), Sighting.objects.count()) == before
    assert Neighbourhood.objects.get(slug="enge").min_lon == 8.53
