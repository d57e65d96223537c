"""Field-of-view wedges (mapapp/maps/fov.py), checked against the WGS-84 geodesic that geopy uses."""

from __future__ import annotations

import itertools
import math

import pytest
from geographiclib.geodesic import Geodesic
from geopy.distance import geodesic

from mapapp.maps import fov

ZURICH = (47.3769, 8.5417)
DEFAULT_REACH = 5 / math.tan(math.radians(15))  # 18.66 m
# Coordinates are rounded to 7 decimals (about 1 cm), which is up to 0.03° of bearing at 18 m.
DEGREES = 0.05


def bearing(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Initial bearing from a to b on the ellipsoid, 0-360 clockwise from north."""
    return Geodesic.WGS84.Inverse(a[0], a[1], b[0], b[1])["azi1"] % 360


def arc(ring: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return ring[1:-1]


def middle(ring: list[tuple[float, float]]) -> tuple[float, float]:
    points = arc(ring)
    assert len(points) % 2 == 1, "the tests use an even number of steps, so one arc point sits on the axis"
    return points[len(points) // 2]


def clockwise_span(start: float, end: float) -> float:
    return (end - start) % 360


# --- reach ---------------------------------------------------------------------------------------


def test_the_default_camera_reaches_18_66_metres():
    assert fov.reach_m() == pytest.approx(18.66, abs=0.005)
    assert (fov.DEFAULT_ANGLE, fov.DEFAULT_HEIGHT, fov.DEFAULT_TILT) == (85, 5, 15)


def test_a_10_metre_camera_tilted_45_degrees_reaches_10_metres():
    assert fov.reach_m(10, 45) == pytest.approx(10)


def test_a_stored_height_or_tilt_replaces_only_its_own_default():
    assert fov.reach_m(height=10) == pytest.approx(2 * DEFAULT_REACH)
    assert fov.reach_m(tilt=30) == pytest.approx(5 / math.tan(math.radians(30)))


def test_a_horizontal_camera_is_capped_instead_of_reaching_forever():
    assert fov.reach_m(tilt=0) == fov.MAX_REACH_M
    assert fov.reach_m(5, 1) == fov.MAX_REACH_M
    assert fov.reach_m(5, -10) == fov.MAX_REACH_M  # looking up: never meets the ground


def test_a_camera_looking_straight_down_still_gets_a_visible_wedge():
    assert fov.reach_m(tilt=90) == fov.MIN_REACH_M
    assert fov.reach_m(5, 89) == fov.MIN_REACH_M


@pytest.mark.parametrize(("height", "tilt"), [(0, None), (-3, None), (math.nan, None), (None, math.inf)])
def test_an_impossible_stored_value_falls_back_to_the_default(height, tilt):
    assert fov.reach_m(height, tilt) == pytest.approx(DEFAULT_REACH)


# --- wedge ---------------------------------------------------------------------------------------


def test_a_wedge_is_a_closed_ring_starting_and_ending_at_the_camera():
    ring = fov.wedge(*ZURICH, 90, steps=8)

    assert ring[0] == ring[-1] == pytest.approx(ZURICH)
    assert len(ring) == 8 + 1 + 2


def test_a_north_facing_wedges_arc_midpoint_is_due_north_at_the_reach():
    ring = fov.wedge(*ZURICH, 0)

    tip = middle(ring)
    assert geodesic(ZURICH, tip).meters == pytest.approx(DEFAULT_REACH, rel=0.01)
    assert tip[1] == pytest.approx(ZURICH[1], abs=1e-7)
    assert tip[0] > ZURICH[0]


def test_an_east_facing_wedges_arc_midpoint_is_due_east_at_the_reach():
    ring = fov.wedge(*ZURICH, 90)

    tip = middle(ring)
    assert geodesic(ZURICH, tip).meters == pytest.approx(DEFAULT_REACH, rel=0.01)
    assert bearing(ZURICH, tip) == pytest.approx(90, abs=DEGREES)


def test_every_arc_point_is_at_the_reach():
    for point in arc(fov.wedge(*ZURICH, 123, height=8, tilt=20)):
        assert geodesic(ZURICH, point).meters == pytest.approx(8 / math.tan(math.radians(20)), rel=0.001)


def test_a_wedge_facing_350_degrees_wraps_through_north_from_307_5_to_32_5():
    ring = fov.wedge(*ZURICH, 350)

    points = arc(ring)
    assert bearing(ZURICH, points[0]) == pytest.approx(307.5, abs=DEGREES)
    assert bearing(ZURICH, points[-1]) == pytest.approx(32.5, abs=DEGREES)
    assert bearing(ZURICH, middle(ring)) == pytest.approx(350, abs=DEGREES)
    steps = [clockwise_span(bearing(ZURICH, a), bearing(ZURICH, b)) for a, b in itertools.pairwise(points)]
    assert all(0 < step < 10 for step in steps), "the arc runs clockwise, one small step at a time"


@pytest.mark.parametrize("angle", [30, 85, 120])
def test_a_wedges_angular_span_equals_its_angle(angle):
    points = arc(fov.wedge(*ZURICH, 200, angle=angle))

    span = clockwise_span(bearing(ZURICH, points[0]), bearing(ZURICH, points[-1]))
    assert span == pytest.approx(angle, abs=DEGREES)


def test_a_stored_height_and_tilt_change_how_far_the_wedge_reaches():
    tip = middle(fov.wedge(*ZURICH, 45, height=10, tilt=45))

    assert geodesic(ZURICH, tip).meters == pytest.approx(10, rel=0.01)


def test_a_missing_or_impossible_angle_draws_the_default_85_degrees():
    for angle in (None, 0, -20, 400, math.nan):
        points = arc(fov.wedge(*ZURICH, 0, angle=angle))
        span = clockwise_span(bearing(ZURICH, points[0]), bearing(ZURICH, points[-1]))
        assert span == pytest.approx(85, abs=DEGREES)


@pytest.mark.parametrize("lat", [0.0, -33.9, 60.0, 85.0, 89.9999, 90.0, -90.0])
def test_a_wedge_anywhere_on_earth_is_finite_and_at_the_reach(lat):
    ring = fov.wedge(lat, 8.5, 30)

    assert all(math.isfinite(c) for point in ring for c in point)
    for point in arc(ring):
        assert geodesic((lat, 8.5), point).meters == pytest.approx(DEFAULT_REACH, rel=0.01)


def test_a_wedge_on_the_antimeridian_does_not_jump_across_the_world():
    ring = fov.wedge(0.0, 179.99995, 90)

    assert all(abs(lon - 179.99995) < 0.001 for _, lon in ring)
    assert max(lon for _, lon in ring) > 180


def test_a_wedge_needs_at_least_one_arc_segment_and_a_real_direction():
    with pytest.raises(ValueError, match="arc segment"):
        fov.wedge(*ZURICH, 0, steps=0)
    with pytest.raises(ValueError, match="finite"):
        fov.wedge(*ZURICH, math.nan)
