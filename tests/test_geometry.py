"""Pure geometry on GeoJSON: bounding boxes and areas on the Earth's surface."""

from __future__ import annotations

import math
from typing import Any

import pytest

from mapapp import geometry
from mapapp.geometry import GeometryError

R = 6_378_137.0


def band_km2(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Exact area of a lon/lat rectangle on the sphere: R²·Δλ·(sin φ2 - sin φ1)."""
    return R**2 * math.radians(lon2 - lon1) * (math.sin(math.radians(lat2)) - math.sin(math.radians(lat1))) / 1e6


def rect(lon1: float, lat1: float, lon2: float, lat2: float) -> list[list[float]]:
    return [[lon1, lat1], [lon2, lat1], [lon2, lat2], [lon1, lat2], [lon1, lat1]]


def polygon(*rings: list[list[float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": list(rings)}


def test_a_one_degree_square_at_the_equator_measures_about_12391_km2() -> None:
    area = geometry.area_km2(polygon(rect(0, 0, 1, 1)))

    assert area == pytest.approx(band_km2(0, 0, 1, 1), rel=1e-9)
    assert area == pytest.approx(12_391, abs=1)


def test_the_winding_direction_of_a_ring_does_not_change_its_area() -> None:
    clockwise = list(reversed(rect(0, 0, 1, 1)))

    assert geometry.area_km2(polygon(clockwise)) == pytest.approx(geometry.area_km2(polygon(rect(0, 0, 1, 1))))


def test_a_square_degree_shrinks_toward_the_poles() -> None:
    at_60 = geometry.area_km2(polygon(rect(8, 60, 9, 61)))

    assert at_60 == pytest.approx(band_km2(8, 60, 9, 61), rel=1e-9)
    assert at_60 < 0.5 * geometry.area_km2(polygon(rect(8, 0, 9, 1)))


def test_a_hole_is_subtracted_from_its_polygon() -> None:
    with_hole = polygon(rect(0, 0, 1, 1), rect(0.25, 0.25, 0.75, 0.75))

    expected = band_km2(0, 0, 1, 1) - band_km2(0.25, 0.25, 0.75, 0.75)
    assert geometry.area_km2(with_hole) == pytest.approx(expected, rel=1e-9)


def test_a_multipolygon_measures_the_sum_of_its_parts() -> None:
    multi = {"type": "MultiPolygon", "coordinates": [[rect(0, 0, 1, 1)], [rect(10, 47, 10.5, 47.5)]]}

    expected = band_km2(0, 0, 1, 1) + band_km2(10, 47, 10.5, 47.5)
    assert geometry.area_km2(multi) == pytest.approx(expected, rel=1e-9)


def test_the_bounding_box_spans_every_position_of_every_part() -> None:
    multi = {"type": "MultiPolygon", "coordinates": [[rect(8.5, 47.3, 8.6, 47.4)], [rect(7.4, 46.9, 7.5, 47.0)]]}

    assert geometry.bbox(multi) == (7.4, 46.9, 8.6, 47.4)
    assert geometry.bbox(polygon(rect(-1, -2, 3, 4))) == (-1, -2, 3, 4)


@pytest.mark.parametrize(
    ("geom", "message"),
    [
        ("Polygon", "must be an object"),
        ({"type": "Point", "coordinates": [8, 47]}, "must be Polygon or MultiPolygon, got 'Point'"),
        ({"type": "MultiPolygon", "coordinates": []}, "no coordinates"),
        ({"type": "Polygon", "coordinates": []}, "no rings"),
        ({"type": "Polygon"}, "no rings"),
        (polygon([[0, 0], [1, 0], [0, 0]]), "at least 4 positions"),
        (polygon([[0, 0], [1, 0], ["1", 1], [0, 0]]), "bad position"),
        (polygon([[0, 0], [1, 0], [math.nan, 1], [0, 0]]), "bad position"),
        (polygon([[0, 0], [1, 0], [1], [0, 0]]), "bad position"),
        (polygon(rect(0, 89, 1, 95)), "outside lon -180..180 / lat -90..90"),
        (polygon(rect(179, 0, 181, 1)), "outside lon -180..180 / lat -90..90"),
    ],
)
def test_a_geometry_that_is_not_a_usable_polygon_raises_geometry_error(geom: Any, message: str) -> None:
    with pytest.raises(GeometryError, match=message):
        geometry.area_km2(geom)
    with pytest.raises(GeometryError, match=message):
        geometry.bbox(geom)
