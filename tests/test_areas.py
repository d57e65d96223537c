"""The area index (mapapp/areas.py): which neighbourhood a point lies in. Pure: no database."""

from __future__ import annotations

import math
import random
from typing import Any

import shapely
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mapapp import geometry
from mapapp.areas import AreaIndex


def square(lon: float, lat: float, size: float = 1.0) -> list[list[float]]:
    return [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]


def polygon(*rings: list[list[float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": list(rings)}


def index(*areas: tuple[int, dict[str, Any]]) -> AreaIndex:
    """An index whose areas are measured the way the loader measures them."""
    return AreaIndex([(pk, geom, geometry.area_km2(geom)) for pk, geom in areas])


# --- Inside and outside ------------------------------------------------------------------------


def test_a_point_inside_a_square_is_found_and_one_outside_is_not() -> None:
    areas = index((7, polygon(square(8.0, 47.0))))

    assert areas.locate(47.5, 8.5) == 7
    assert areas.locate(47.5, 9.5) is None
    assert areas.locate(48.5, 8.5) is None


def test_latitude_comes_first_and_longitude_second() -> None:
    # A tall thin strip: swapping the two would miss it.
    strip = index((1, polygon([[8.0, 40.0], [8.1, 40.0], [8.1, 50.0], [8.0, 50.0], [8.0, 40.0]])))

    assert strip.locate(45.0, 8.05) == 1
    assert strip.locate(8.05, 45.0) is None


def test_a_point_in_a_hole_is_outside_and_the_ring_around_it_is_inside() -> None:
    ring_road = index((1, polygon(square(0, 0, 10), square(3, 3, 4))))

    assert ring_road.locate(5, 5) is None
    assert ring_road.locate(1, 1) == 1
    assert ring_road.locate(8, 8) == 1


def test_every_part_of_a_multipolygon_counts_and_the_gap_between_does_not() -> None:
    islands = {"type": "MultiPolygon", "coordinates": [[square(0, 0)], [square(5, 0)]]}
    areas = index((4, islands))

    assert areas.locate(0.5, 0.5) == 4
    assert areas.locate(0.5, 5.5) == 4
    assert areas.locate(0.5, 3) is None


def test_an_index_without_areas_places_nothing() -> None:
    empty = AreaIndex([])

    assert empty.locate(47.0, 8.0) is None
    assert empty.locate_many([47.0, 0.0], [8.0, 0.0]) == [None, None]
    assert empty.locate_many([], []) == []


# --- Overlaps and boundaries ---------------------------------------------------------------------


def test_where_areas_overlap_the_smallest_wins() -> None:
    city, old_town = (1, polygon(square(0, 0, 10))), (2, polygon(square(4, 4, 2)))

    for areas in (index(city, old_town), index(old_town, city)):
        assert areas.locate(5, 5) == 2
        assert areas.locate(1, 1) == 1


def test_equal_overlapping_areas_go_to_the_lowest_id_whatever_the_input_order() -> None:
    twins = [(pk, polygon(square(0, 0))) for pk in (31, 12, 20)]

    for _ in range(5):
        random.shuffle(twins)
        assert index(*twins).locate(0.5, 0.5) == 12


def test_a_point_on_the_edge_shared_by_two_quarters_belongs_to_one_of_them() -> None:
    # West and east meet along lon 1; equal areas, so the lower id takes the edge.
    areas = index((5, polygon(square(0, 0))), (3, polygon(square(1, 0))))

    assert areas.locate(0.5, 1.0) == 3
    assert areas.locate(0.5, 0.5) == 5
    assert areas.locate(0.5, 1.5) == 3


def test_the_outer_edge_and_corners_count_as_inside() -> None:
    areas = index((1, polygon(square(0, 0))))

    assert areas.locate(0.0, 0.5) == 1
    assert areas.locate(1.0, 1.0) == 1
    assert areas.locate(1.0 + 1e-9, 1.0) is None


def test_the_rim_of_a_hole_belongs_to_the_area_around_it_unless_an_enclave_fills_it() -> None:
    around = (1, polygon(square(0, 0, 10), square(3, 3, 4)))
    enclave = (2, polygon(square(3, 3, 4)))

    assert index(around).locate(3.0, 5.0) == 1
    assert index(around, enclave).locate(3.0, 5.0) == 2  # the smaller one
    assert index(around, enclave).locate(5.0, 5.0) == 2


# --- Invalid outlines ----------------------------------------------------------------------------


def test_a_self_intersecting_bow_tie_is_repaired_into_its_two_lobes() -> None:
    bow_tie = polygon([[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]])
    assert not shapely.geometry.shape(bow_tie).is_valid

    areas = AreaIndex([(9, bow_tie, 1.0)])

    assert areas.locate(1.0, 0.3) == 9  # left lobe (lat 1, lon 0.3)
    assert areas.locate(1.0, 1.7) == 9  # right lobe
    assert areas.locate(0.3, 1.0) is None  # below the crossing, between the lobes
    assert areas.locate_many([1.0, 0.3], [0.3, 1.0]) == [9, None]


def test_an_outline_with_no_area_matches_nothing_and_breaks_nothing() -> None:
    line = polygon([[0, 0], [1, 1], [2, 2], [0, 0]])

    areas = AreaIndex([(1, line, 0.0), (2, polygon(square(5, 5)), 1.0)])

    assert areas.locate(1, 1) is None
    assert areas.locate(5.5, 5.5) == 2


# --- Many at once, against brute force ----------------------------------------------------------


@st.composite
def star_polygons(draw: st.DrawFn) -> dict[str, Any]:
    """A simple polygon: vertices at distinct, sorted angles around a centre (star-shaped)."""
    cx = draw(st.floats(-1, 1))
    cy = draw(st.floats(-1, 1))
    angles = sorted(draw(st.sets(st.integers(0, 359), min_size=3, max_size=8)))
    ring = []
    for degrees in angles:
        r = draw(st.floats(0.2, 1.5))
        theta = math.radians(degrees)
        ring.append([cx + r * math.cos(theta), cy + r * math.sin(theta)])
    return polygon([*ring, ring[0]])


def brute_force(areas: list[tuple[int, dict[str, Any], float]], lat: float, lon: float) -> int | None:
    """The rule, spelled out: of the areas containing the point, the smallest, then the lowest id."""
    holding = [(km2, pk) for pk, geom, km2 in areas if geometry.contains(geom, lon, lat)]
    return min(holding)[1] if holding else None


@settings(max_examples=60, deadline=None)
@given(
    shapes=st.lists(star_polygons(), min_size=1, max_size=6),
    points=st.lists(st.tuples(st.floats(-3, 3), st.floats(-3, 3)), min_size=1, max_size=40),
)
def test_locate_many_agrees_with_locate_and_with_ray_casting_brute_force(
    shapes: list[dict[str, Any]], points: list[tuple[float, float]]
) -> None:
    areas = [(pk, geom, geometry.area_km2(geom)) for pk, geom in enumerate(shapes, start=1)]
    boundaries = shapely.union_all([shapely.geometry.shape(g).boundary for g in shapes])
    # Ray casting may put a point exactly on an edge either way; the index counts it inside.
    assume(all(shapely.distance(boundaries, shapely.Point(lon, lat)) > 1e-9 for lat, lon in points))
    built = AreaIndex(areas)

    many = built.locate_many([lat for lat, _ in points], [lon for _, lon in points])

    assert many == [built.locate(lat, lon) for lat, lon in points]
    assert many == [brute_force(areas, lat, lon) for lat, lon in points]
