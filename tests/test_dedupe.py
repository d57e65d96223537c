"""Dedupe without a database: the matching rules, a camera's centre and consensus, lock keys, clustering.

Positions are made with geopy's geodesic `destination`, so every distance in these tests is a real
distance on the WGS-84 ellipsoid, measured independently of the ECEF arithmetic under test. The
property tests (hypothesis) live in test_dedupe_properties.py.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from geopy.distance import geodesic

from mapapp import dedupe
from mapapp.dedupe import DEFAULT_PARAMS, Candidate, Params, Report

ZURICH = (47.3779, 8.5403)
ANTIMERIDIAN_EAST = (10.0, 179.99995)  # ~5.5 m west of the antimeridian
ANTIMERIDIAN_WEST = (10.0, -179.99995)  # ~5.5 m east of it: the two are ~11 m apart
GATE = DEFAULT_PARAMS.radius_m  # the gate when nobody states an accuracy


def moved(point: tuple[float, float], metres: float, bearing: float) -> tuple[float, float]:
    p = geodesic(meters=metres).destination(point, bearing)
    return p.latitude, p.longitude


def metres_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    return geodesic(a, b).meters


def report(rid: int, point: tuple[float, float], reporter: int, **attrs: object) -> Report:
    return Report(id=rid, lat=point[0], lon=point[1], reporter=reporter, **attrs)


def camera(cid: int, point: tuple[float, float], *reporters: int, **attrs: object) -> Candidate:
    return Candidate(id=cid, lat=point[0], lon=point[1], reporters=frozenset(reporters), **attrs)


def grouping(reports: list[Report], labels: list[int]) -> set[frozenset[int]]:
    """Labels as a set of cameras, each the set of its report ids: comparable whatever the label values."""
    by_label: dict[int, set[int]] = {}
    for r, label in zip(reports, labels, strict=True):
        by_label.setdefault(label, set()).add(r.id)
    return {frozenset(ids) for ids in by_label.values()}


# --- Scoring: distance and the same-volunteer rule ------------------------------------------------


def test_two_reports_8_m_apart_by_different_volunteers_are_one_camera() -> None:
    a = report(1, ZURICH, reporter=1)
    b = report(2, moved(ZURICH, 8, 70), reporter=2)

    assert dedupe.score(a, b) is not None
    assert dedupe.score(a, b) > DEFAULT_PARAMS.threshold
    assert dedupe.best_match(b, [camera(1, ZURICH, 1)]) is not None


def test_two_reports_40_m_apart_by_different_volunteers_are_two_cameras() -> None:
    a = report(1, ZURICH, reporter=1)
    b = report(2, moved(ZURICH, 40, 70), reporter=2)

    assert dedupe.score(a, b) is None
    assert dedupe.best_match(b, [camera(1, ZURICH, 1)]) is None


def test_two_reports_by_the_same_volunteer_are_two_cameras() -> None:
    a = report(1, ZURICH, reporter=7)
    b = report(2, moved(ZURICH, 3, 0), reporter=7)

    assert not dedupe.compatible(a, b)
    assert dedupe.score(a, b) is None


def test_a_volunteer_never_joins_a_camera_they_already_reported_even_on_top_of_it() -> None:
    theirs = camera(1, ZURICH, 3, 7)  # reported by volunteers 3 and 7
    someone_elses = camera(2, moved(ZURICH, 20, 180), 4)

    match = dedupe.best_match(report(9, moved(ZURICH, 1, 90), reporter=7), [theirs, someone_elses])

    assert match is not None
    assert match.camera_id == 2  # further away, but the only camera volunteer 7 has not reported
    assert dedupe.best_match(report(9, moved(ZURICH, 1, 90), reporter=7), [theirs]) is None


def test_nearer_reports_score_higher_and_a_report_beyond_the_gate_scores_nothing() -> None:
    a, b = report(1, ZURICH, 1), report(2, ZURICH, 2)
    scores = [dedupe.score_at(d, a, b) for d in (0.0, 5.0, 10.0, 20.0, GATE)]

    assert all(s is not None for s in scores)
    assert scores == sorted(scores, reverse=True)
    assert len(set(scores)) == len(scores)
    assert dedupe.score_at(GATE + 0.01, a, b) is None


def test_score_measures_the_geodesic_distance_that_score_at_is_given() -> None:
    a = report(1, ZURICH, 1, direction=90.0, camera_type="dome")
    b = report(2, moved(ZURICH, 13, 200), 2, direction=100.0, camera_type="fixed")

    assert dedupe.score(a, b) == pytest.approx(dedupe.score_at(metres_between(ZURICH, (b.lat, b.lon)), a, b))


# --- Scoring: directions ---------------------------------------------------------------------------


def test_two_alprs_on_one_pole_facing_opposite_lanes_are_two_cameras() -> None:
    east = report(1, ZURICH, 1, direction=90.0)
    west = report(2, moved(ZURICH, 2, 0), 2, direction=270.0)

    assert not dedupe.compatible(east, west)
    assert dedupe.score(east, west) is None
    assert dedupe.best_match(west, [camera(1, ZURICH, 1, direction=90.0)]) is None


def test_two_reports_whose_directions_differ_by_30_degrees_are_one_camera() -> None:
    a = report(1, ZURICH, 1, direction=10.0)
    b = report(2, moved(ZURICH, 2, 0), 2, direction=40.0)

    assert dedupe.score(a, b) is not None
    assert dedupe.best_match(b, [camera(1, ZURICH, 1, direction=10.0)]) is not None


def test_directions_either_side_of_north_are_close_not_opposite() -> None:
    a = report(1, ZURICH, 1, direction=350.0)
    b = report(2, moved(ZURICH, 2, 0), 2, direction=15.0)

    assert dedupe.angle_between(350.0, 15.0) == pytest.approx(25.0)
    assert dedupe.score(a, b) is not None


def test_agreeing_directions_are_evidence_for_one_camera() -> None:
    a = report(1, ZURICH, 1, direction=10.0)
    b_point = moved(ZURICH, 12, 0)

    with_directions = dedupe.score(a, report(2, b_point, 2, direction=30.0))
    without = dedupe.score(a, report(2, b_point, 2))

    assert with_directions is not None
    assert without is not None
    assert with_directions > without


def test_the_direction_tolerance_is_configurable() -> None:
    a = report(1, ZURICH, 1, direction=10.0)
    b = report(2, moved(ZURICH, 2, 0), 2, direction=40.0)
    c = report(3, moved(ZURICH, 2, 0), 3, direction=100.0)

    assert dedupe.score(a, b, Params(direction_tolerance=20.0)) is None
    assert dedupe.score(a, b, Params(direction_tolerance=30.0)) is not None
    assert dedupe.score(a, c, Params(direction_tolerance=90.0)) is not None
    assert dedupe.score(a, c) is None


# --- Scoring: unknown and conflicting attributes ------------------------------------------------------


@pytest.mark.parametrize("unknown", [None, "unknown", ""])
def test_an_unknown_attribute_neither_adds_to_nor_subtracts_from_the_score(unknown: object) -> None:
    a_point, b_point = ZURICH, moved(ZURICH, 11, 33)
    plain = dedupe.score(report(1, a_point, 1), report(2, b_point, 2))
    a = report(1, a_point, 1, camera_type="dome", camera_mount="pole", direction=80.0)
    b = report(2, b_point, 2, camera_type=unknown, camera_mount=unknown, direction=unknown)
    both_unknown = report(1, a_point, 1, camera_type=unknown, camera_mount=unknown, direction=unknown)

    assert plain is not None
    assert dedupe.compatible(a, b)
    assert dedupe.score(a, b) == pytest.approx(plain)
    assert dedupe.score(b, a) == pytest.approx(plain)
    assert dedupe.score(both_unknown, b) == pytest.approx(plain)


@pytest.mark.parametrize("attribute", ["camera_type", "camera_mount"])
def test_a_conflicting_attribute_still_joins_a_camera_right_on_top_of_it(attribute: str) -> None:
    here = camera(1, ZURICH, 1, **{attribute: "a"})

    match = dedupe.best_match(report(2, moved(ZURICH, 1, 45), 2, **{attribute: "b"}), [here])

    assert match is not None
    assert match.camera_id == 1


@pytest.mark.parametrize("attribute", ["camera_type", "camera_mount"])
def test_a_conflicting_attribute_does_not_join_a_camera_near_the_gate(attribute: str) -> None:
    there = camera(1, ZURICH, 1, **{attribute: "a"})
    point = moved(ZURICH, 20, 45)

    assert dedupe.best_match(report(2, point, 2, **{attribute: "a"}), [there]) is not None
    assert dedupe.best_match(report(2, point, 2, **{attribute: "b"}), [there]) is None


def test_of_two_nearby_cameras_the_one_with_the_agreeing_type_wins() -> None:
    point = ZURICH
    dome_nearer = camera(1, moved(point, 3, 0), 1, camera_type="dome")
    fixed_further = camera(2, moved(point, 8, 180), 2, camera_type="fixed")

    for candidates in ([dome_nearer, fixed_further], [fixed_further, dome_nearer]):
        match = dedupe.best_match(report(3, point, 3, camera_type="fixed"), candidates)
        assert match is not None
        assert match.camera_id == 2


# --- Scoring: reported GPS accuracy ---------------------------------------------------------------------


def test_a_stated_gps_accuracy_widens_the_gate() -> None:
    far = moved(ZURICH, GATE + 5, 120)
    here = camera(1, ZURICH, 1)

    assert dedupe.best_match(report(2, far, 2), [here]) is None
    assert dedupe.best_match(report(2, far, 2, accuracy_m=10.0), [here]) is not None
    assert dedupe.best_match(report(2, far, 2), [camera(1, ZURICH, 1, accuracy_m=10.0)]) is not None


def test_the_gate_widens_only_up_to_the_accuracy_cap() -> None:
    cap = DEFAULT_PARAMS.accuracy_cap_m
    beyond_cap = moved(ZURICH, GATE + cap + 3, 120)
    within_cap = moved(ZURICH, GATE + cap - 3, 120)
    here = camera(1, ZURICH, 1)

    assert dedupe.gate_m(5000.0, None) == dedupe.gate_m(cap, None) == DEFAULT_PARAMS.max_gate_m
    assert dedupe.gate_m(None, None) < dedupe.gate_m(cap / 2, None) < dedupe.gate_m(cap, None)
    assert dedupe.best_match(report(2, within_cap, 2, accuracy_m=5000.0), [here]) is not None
    assert dedupe.best_match(report(2, beyond_cap, 2, accuracy_m=5000.0), [here]) is None


def test_the_accuracy_cap_is_configurable() -> None:
    point = moved(ZURICH, GATE + 20, 300)
    here = camera(1, ZURICH, 1)

    assert dedupe.best_match(report(2, point, 2, accuracy_m=30.0), [here]) is None
    assert dedupe.best_match(report(2, point, 2, accuracy_m=30.0), [here], Params(accuracy_cap_m=30.0)) is not None


def test_a_nonsense_accuracy_does_not_narrow_or_break_the_gate() -> None:
    assert dedupe.gate_m(-10.0, None) == dedupe.gate_m(None, None)
    assert dedupe.gate_m(math.nan, None) == dedupe.gate_m(None, None)
    assert dedupe.gate_m(math.inf, 4.0) == dedupe.gate_m(4.0, None)


# --- best_match: choosing among cameras ----------------------------------------------------------------


def test_the_nearest_of_several_cameras_wins() -> None:
    near = camera(5, moved(ZURICH, 4, 10), 1)
    middle = camera(2, moved(ZURICH, 9, 100), 2)
    far = camera(1, moved(ZURICH, 18, 200), 3)

    match = dedupe.best_match(report(9, ZURICH, 4), [far, middle, near])

    assert match is not None
    assert match.camera_id == 5
    assert match.distance_m == pytest.approx(4.0, abs=1e-6)


def test_an_exact_tie_goes_to_the_lowest_camera_id_in_any_order() -> None:
    point = moved(ZURICH, 6, 250)
    twins = [camera(cid, point, 10 + cid, camera_type="dome") for cid in (7, 3, 12)]

    for order in itertools.permutations(twins):
        match = dedupe.best_match(report(1, ZURICH, 1, camera_type="dome"), order)
        assert match is not None
        assert match.camera_id == 3


def test_the_choice_does_not_depend_on_the_order_candidates_were_read() -> None:
    candidates = [
        camera(1, moved(ZURICH, 12, 0), 1, camera_type="fixed"),
        camera(2, moved(ZURICH, 7, 90), 2, camera_type="dome"),
        camera(3, moved(ZURICH, 5, 180), 3, direction=200.0),
        camera(4, moved(ZURICH, 15, 270), 4, direction=30.0),
    ]
    sighting = report(9, ZURICH, 9, camera_type="dome", direction=25.0)

    results = {dedupe.best_match(sighting, order) for order in itertools.permutations(candidates)}

    assert len(results) == 1
    assert next(iter(results)) is not None


def test_nothing_passing_the_threshold_founds_a_new_camera() -> None:
    here = camera(1, moved(ZURICH, 10, 0), 1)
    sighting = report(2, ZURICH, 2)

    assert dedupe.best_match(sighting, [here]) is not None
    assert dedupe.best_match(sighting, [here], Params(threshold=0.95)) is None
    assert dedupe.best_match(sighting, []) is None


# --- The antimeridian and the poles ---------------------------------------------------------------------


def test_two_reports_either_side_of_the_antimeridian_are_one_camera() -> None:
    assert metres_between(ANTIMERIDIAN_EAST, ANTIMERIDIAN_WEST) == pytest.approx(11.0, abs=0.1)
    a = report(1, ANTIMERIDIAN_EAST, 1)
    b = report(2, ANTIMERIDIAN_WEST, 2)

    assert dedupe.score(a, b) is not None
    match = dedupe.best_match(b, [camera(1, ANTIMERIDIAN_EAST, 1)])
    assert match is not None
    assert match.distance_m == pytest.approx(11.0, abs=0.1)


@pytest.mark.parametrize("pole", [90.0, -90.0])
def test_every_longitude_at_a_pole_is_the_same_place(pole: float) -> None:
    a = report(1, (pole, 0.0), 1)
    b = report(2, (pole, 123.0), 2)

    assert dedupe.score(a, b) == pytest.approx(dedupe.score_at(0.0, a, b))
    match = dedupe.best_match(b, [camera(1, (pole, -77.0), 1)])
    assert match is not None
    assert match.distance_m == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("pole", [90.0, -90.0])
def test_two_reports_either_side_of_a_pole_are_one_camera(pole: float) -> None:
    near = 89.9999 if pole > 0 else -89.9999  # ~11 m from the pole
    a, b = (near, 0.0), (near, 180.0)

    assert metres_between(a, b) == pytest.approx(22.3, abs=0.1)
    assert dedupe.score(report(1, a, 1), report(2, b, 2)) is not None
    assert dedupe.best_match(report(2, b, 2), [camera(1, a, 1)]) is not None


# --- robust_centre -------------------------------------------------------------------------------


def test_one_far_off_report_moves_the_centre_much_less_than_the_mean_would() -> None:
    close = [moved(ZURICH, 2, bearing) for bearing in (0, 90, 180, 270)]
    stray = moved(ZURICH, 60, 45)
    points = [*close, stray]

    mean = (sum(p[0] for p in points) / 5, sum(p[1] for p in points) / 5)
    centre = dedupe.robust_centre([(lat, lon, None) for lat, lon in points])

    assert metres_between(mean, ZURICH) == pytest.approx(12.0, abs=0.2)
    assert metres_between(centre, ZURICH) < metres_between(mean, ZURICH) / 3


def test_the_far_off_report_cannot_win_by_arriving_first() -> None:
    close = [moved(ZURICH, 2, bearing) for bearing in (0, 90, 180, 270)]
    stray = moved(ZURICH, 60, 45)

    centre = dedupe.robust_centre([(lat, lon, None) for lat, lon in [stray, *close]])

    assert metres_between(centre, ZURICH) < 4.0


def test_the_centre_leans_towards_the_report_with_the_better_accuracy() -> None:
    sharp, vague = ZURICH, moved(ZURICH, 10, 90)

    centre = dedupe.robust_centre([(*vague, 20.0), (*sharp, 2.0)])

    assert metres_between(centre, sharp) < 1.0
    assert metres_between(centre, vague) > 9.0


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param(ZURICH, moved(ZURICH, 14, 60), id="city"),
        pytest.param(ANTIMERIDIAN_EAST, ANTIMERIDIAN_WEST, id="antimeridian"),
        pytest.param((-33.86, 151.21), moved((-33.86, 151.21), 20, 300), id="southern-hemisphere"),
        pytest.param((89.9999, 0.0), (89.9999, 180.0), id="either-side-of-the-north-pole"),
        pytest.param((-89.9999, 45.0), (-89.9999, -135.0), id="either-side-of-the-south-pole"),
    ],
)
def test_two_reports_of_equal_accuracy_are_centred_at_their_midpoint(
    a: tuple[float, float], b: tuple[float, float]
) -> None:
    half = metres_between(a, b) / 2

    centre = dedupe.robust_centre([(*a, 5.0), (*b, 5.0)])

    assert -90.0 <= centre[0] <= 90.0
    assert -180.0 <= centre[1] <= 180.0
    assert metres_between(centre, a) == pytest.approx(half, abs=0.05)
    assert metres_between(centre, b) == pytest.approx(half, abs=0.05)


def test_a_centre_across_the_antimeridian_stays_between_the_reports() -> None:
    points = [ANTIMERIDIAN_EAST, ANTIMERIDIAN_WEST, moved(ANTIMERIDIAN_EAST, 3, 0), moved(ANTIMERIDIAN_WEST, 3, 180)]

    centre = dedupe.robust_centre([(lat, lon, None) for lat, lon in points])

    assert abs(centre[1]) > 179.9999  # on the antimeridian, not at the Greenwich meridian
    assert max(metres_between(centre, p) for p in points) < 8.0


def test_a_centre_near_the_pole_stays_among_the_reports() -> None:
    points = [(90.0, 0.0), (89.9999, 0.0), (89.9999, 180.0)]  # the pole and 11 m either side of it

    centre = dedupe.robust_centre([(lat, lon, None) for lat, lon in points])

    assert metres_between(centre, (90.0, 0.0)) < 2.0


def test_a_centre_needs_at_least_one_report() -> None:
    with pytest.raises(ValueError, match="at least one"):
        dedupe.robust_centre([])


# --- attribute_consensus -------------------------------------------------------------------------


def test_the_weighted_majority_wins_with_its_share() -> None:
    rows = [{"camera_type": "dome"}, {"camera_type": "dome"}, {"camera_type": "fixed"}]

    by_count = dedupe.attribute_consensus(rows, ["camera_type"])["camera_type"]
    by_weight = dedupe.attribute_consensus(rows, ["camera_type"], weights=[1.0, 1.0, 3.0])["camera_type"]

    assert (by_count.value, by_count.share, by_count.known) == ("dome", pytest.approx(2 / 3), 3)
    assert (by_weight.value, by_weight.share, by_weight.known) == ("fixed", pytest.approx(3 / 5), 3)


def test_a_tie_goes_to_the_alphabetically_first_value_whatever_the_order() -> None:
    values = ["fixed", "dome", "panning", "fixed", "dome"]

    results = {
        dedupe.attribute_consensus([{"camera_type": v} for v in order], ["camera_type"])["camera_type"]
        for order in itertools.permutations(values)
    }

    assert results == {dedupe.Consensus("dome", 2 / 5, 5)}


def test_unknown_values_are_ignored_by_the_consensus() -> None:
    rows = [{"camera_mount": v} for v in (None, "unknown", "", "pole", "unknown", None)]

    mount = dedupe.attribute_consensus(rows, ["camera_mount"])["camera_mount"]

    assert (mount.value, mount.share, mount.known) == ("pole", 1.0, 1)


def test_an_attribute_nobody_knew_has_no_value_and_no_share() -> None:
    rows = [{"camera_type": None, "direction": "unknown"}, {}]

    result = dedupe.attribute_consensus(rows, ["camera_type", "direction"])

    assert result["camera_type"] == dedupe.Consensus(None, 0.0, 0)
    assert result["direction"] == dedupe.Consensus(None, 0.0, 0)


def test_directions_either_side_of_north_average_to_north_not_south() -> None:
    direction = dedupe.attribute_consensus([{"direction": 350}, {"direction": 10}], ["direction"])["direction"]

    assert dedupe.angle_between(direction.value, 0.0) < 1.0
    assert direction.share == 1.0
    assert dedupe.angle_between(dedupe.circular_mean([350.0, 10.0]), 0.0) < 1e-9


def test_the_direction_share_counts_the_reports_within_the_tolerance() -> None:
    rows = [{"direction": d} for d in (350, 10, 20, 180)]

    direction = dedupe.attribute_consensus(rows, ["direction"])["direction"]

    # The circular mean of 350, 10 and 20 is about 6.7°; the report facing 180° disagrees.
    assert dedupe.angle_between(direction.value, 6.67) <= 0.5
    assert direction.share == pytest.approx(3 / 4)
    assert direction.known == 4


def test_the_direction_consensus_follows_the_largest_agreeing_group() -> None:
    rows = [{"direction": d} for d in (90, 100, 80, 270, 280)]

    direction = dedupe.attribute_consensus(rows, ["direction"])["direction"]

    assert dedupe.angle_between(direction.value, 90.0) <= 0.5
    assert direction.share == pytest.approx(3 / 5)


def test_a_camera_built_from_its_reports_carries_their_consensus() -> None:
    reports = [
        report(1, ZURICH, 1, direction=350.0, camera_type="dome"),
        report(2, moved(ZURICH, 4, 90), 2, direction=10.0, camera_type="dome"),
        report(3, moved(ZURICH, 4, 270), 3, direction=None, camera_type="fixed"),
    ]

    built = dedupe.candidate_from(42, reports)

    assert built.id == 42
    assert built.reporters == {1, 2, 3}
    assert built.camera_type == "dome"
    assert dedupe.angle_between(built.direction, 0.0) < 1.0
    assert metres_between((built.lat, built.lon), ZURICH) < 2.0


# --- lock_keys and bbox_around -------------------------------------------------------------------


@pytest.mark.parametrize(
    "point",
    [ZURICH, ANTIMERIDIAN_EAST, ANTIMERIDIAN_WEST, (90.0, 0.0), (-90.0, 17.0), (89.99999, -179.99999), (0.0, 0.0)],
)
def test_lock_keys_are_sorted_distinct_few_and_fit_a_postgres_bigint(point: tuple[float, float]) -> None:
    keys = dedupe.lock_keys(*point, DEFAULT_PARAMS.max_gate_m)

    assert keys == sorted(set(keys))
    assert 1 <= len(keys) <= 8
    assert all(0 < k < 2**63 for k in keys)
    assert dedupe.lock_keys(*point, DEFAULT_PARAMS.max_gate_m) == keys


def test_sightings_either_side_of_the_antimeridian_share_a_lock() -> None:
    reach = DEFAULT_PARAMS.max_gate_m

    assert set(dedupe.lock_keys(*ANTIMERIDIAN_EAST, reach)) & set(dedupe.lock_keys(*ANTIMERIDIAN_WEST, reach))


def test_sightings_either_side_of_a_pole_share_a_lock() -> None:
    reach = DEFAULT_PARAMS.max_gate_m

    assert set(dedupe.lock_keys(89.9999, 0.0, reach)) & set(dedupe.lock_keys(89.9999, 180.0, reach))
    assert set(dedupe.lock_keys(-90.0, 0.0, reach)) & set(dedupe.lock_keys(-89.9999, 90.0, reach))


def test_sightings_a_kilometre_apart_never_wait_for_each_other() -> None:
    reach = DEFAULT_PARAMS.max_gate_m

    for bearing in range(0, 360, 15):
        there = moved(ZURICH, 1000, bearing)
        assert not set(dedupe.lock_keys(*ZURICH, reach)) & set(dedupe.lock_keys(*there, reach))


@pytest.mark.parametrize(
    "point", [ANTIMERIDIAN_EAST, ANTIMERIDIAN_WEST, (90.0, 0.0), (-90.0, 0.0), (89.9999, 10.0), (-89.9999, 10.0)]
)
def test_there_is_no_bounding_box_across_the_antimeridian_or_at_a_pole(point: tuple[float, float]) -> None:
    assert dedupe.bbox_around(*point, DEFAULT_PARAMS.max_gate_m) is None


@pytest.mark.parametrize("point", [ZURICH, (0.0, 0.0), (-33.86, 151.21), (78.22, 15.65), (10.0, 179.99)])
def test_the_bounding_box_covers_the_reach_in_every_direction_and_not_much_more(point: tuple[float, float]) -> None:
    reach = DEFAULT_PARAMS.max_gate_m

    box = dedupe.bbox_around(*point, reach)

    assert box is not None
    min_lon, min_lat, max_lon, max_lat = box
    for bearing in range(0, 360, 5):
        # Ten micrometres inside the reach: the box is built from the local scale of a degree, which
        # is exact to about a micrometre over 40 m; the gate, not the box, decides at that level.
        lat, lon = moved(point, reach - 1e-5, bearing)
        assert min_lat <= lat <= max_lat
        assert min_lon <= lon <= max_lon
    assert metres_between((min_lat, point[1]), (max_lat, point[1])) < 2.2 * reach
    assert metres_between((point[0], min_lon), (point[0], max_lon)) < 2.2 * reach


# --- cluster and replay ----------------------------------------------------------------------------


def test_three_reports_of_one_camera_by_three_volunteers_become_one_camera() -> None:
    reports = [report(10 + v, moved(ZURICH, 6, 120 * v), v) for v in (1, 2, 3)]

    assert grouping(reports, dedupe.cluster(reports)) == {frozenset({11, 12, 13})}
    assert grouping(reports, dedupe.replay(reports)) == {frozenset({11, 12, 13})}


def test_three_reports_by_the_same_volunteer_stay_three_cameras() -> None:
    reports = [report(10 + k, moved(ZURICH, 3, 120 * k), 5) for k in (1, 2, 3)]

    assert grouping(reports, dedupe.cluster(reports)) == {frozenset({11}), frozenset({12}), frozenset({13})}
    assert grouping(reports, dedupe.replay(reports)) == {frozenset({11}), frozenset({12}), frozenset({13})}


def test_a_cluster_is_labelled_by_its_smallest_report_id() -> None:
    reports = [report(rid, moved(ZURICH, 5, rid * 40), rid) for rid in (30, 12, 25)]

    assert dedupe.cluster(reports) == [12, 12, 12]
    assert dedupe.replay(reports) == [12, 12, 12]


def test_two_alprs_on_one_pole_stay_two_cameras_when_each_is_reported_twice() -> None:
    pole = ZURICH
    reports = [
        report(1, moved(pole, 1, 0), 1, direction=90.0, camera_type="fixed"),
        report(2, moved(pole, 1, 180), 1, direction=270.0, camera_type="fixed"),
        report(3, moved(pole, 2, 90), 2, direction=95.0, camera_type="fixed"),
        report(4, moved(pole, 2, 270), 2, direction=265.0, camera_type="fixed"),
        report(5, moved(pole, 1, 45), 3, direction=85.0),
    ]
    lanes = {frozenset({1, 3, 5}), frozenset({2, 4})}

    assert grouping(reports, dedupe.cluster(reports)) == lanes
    assert grouping(reports, dedupe.replay(reports)) == lanes


def test_a_dense_tangle_clusters_the_same_for_any_arrival_order_and_on_every_run() -> None:
    rng = np.random.default_rng(20240601)
    reports = [
        report(
            rid,
            moved(ZURICH, float(rng.uniform(0, 30)), float(rng.uniform(0, 360))),
            int(rng.integers(1, 6)),
            direction=[None, 0.0, 90.0, 180.0][int(rng.integers(0, 4))],
            camera_type=["dome", "fixed", None][int(rng.integers(0, 3))],
        )
        for rid in range(1, 41)
    ]
    by_id = dict(zip([r.id for r in reports], dedupe.cluster(reports), strict=True))

    for seed in range(5):
        shuffled = [reports[k] for k in np.random.default_rng(seed).permutation(len(reports))]
        assert dict(zip([r.id for r in shuffled], dedupe.cluster(shuffled), strict=True)) == by_id
    assert dedupe.cluster(reports) == [by_id[r.id] for r in reports]
    assert 1 < len(set(by_id.values())) < len(reports)  # the tangle really merges some and splits some


def test_no_camera_in_a_cluster_holds_two_reports_by_one_volunteer_or_opposed_directions() -> None:
    rng = np.random.default_rng(7)
    reports = [
        report(
            rid,
            moved(ZURICH, float(rng.uniform(0, 20)), float(rng.uniform(0, 360))),
            int(rng.integers(1, 5)),
            direction=[None, 0.0, 180.0][int(rng.integers(0, 3))],
        )
        for rid in range(1, 31)
    ]

    for labels in (dedupe.cluster(reports), dedupe.replay(reports)):
        for members in grouping(reports, labels):
            chosen = [r for r in reports if r.id in members]
            assert len({r.reporter for r in chosen}) == len(chosen)
            directions = [r.direction for r in chosen if r.direction is not None]
            assert all(dedupe.angle_between(x, y) <= 45.0 for x in directions for y in directions)


def test_nothing_to_cluster_gives_no_labels() -> None:
    assert dedupe.cluster([]) == []
    assert dedupe.replay([]) == []


@pytest.mark.parametrize(
    "spot",
    [
        pytest.param((10.0, 180.0), id="antimeridian"),  # the reports fall on both sides of it
        pytest.param((90.0, 0.0), id="north-pole"),
        pytest.param((-90.0, 0.0), id="south-pole"),
        pytest.param((89.99995, 135.0), id="beside-the-north-pole"),
    ],
)
def test_reports_at_the_antimeridian_and_the_poles_cluster_like_anywhere_else(spot: tuple[float, float]) -> None:
    one_camera = [report(v, moved(spot, 6, 120 * v + 15), v) for v in (1, 2, 3)]
    same_volunteer = [report(10 + k, moved(spot, 6, 120 * k + 15), 9) for k in (1, 2, 3)]

    for labels in (dedupe.cluster(one_camera), dedupe.replay(one_camera)):
        assert grouping(one_camera, labels) == {frozenset({1, 2, 3})}
    for labels in (dedupe.cluster(same_volunteer), dedupe.replay(same_volunteer)):
        assert len(grouping(same_volunteer, labels)) == 3


def test_cluster_and_replay_agree_on_well_separated_cameras() -> None:
    reports = []
    for k in range(6):
        spot = moved(ZURICH, 300 * k, 75)
        reports += [report(10 * k + v, moved(spot, 7, 90 * v), v, camera_type="dome") for v in range(1, 1 + k % 4 + 1)]

    assert dedupe.cluster(reports) == dedupe.replay(reports)
    assert len(set(dedupe.cluster(reports))) == 6


def test_a_small_radius_still_merges_two_reports_a_couple_of_metres_apart() -> None:
    """Settings allow any radius from 1 m (DEDUPE_RADIUS_M) and a cap of 0; the grid must not lose pairs then."""
    small = Params(radius_m=3.0, accuracy_cap_m=0.0)
    points = [(0.0, 90.0 + k * 0.0001) for k in range(40)]  # along the equator, 11 m apart, at lon 90°
    reports = []
    for k, point in enumerate(points):
        reports += [report(2 * k, point, 1), report(2 * k + 1, moved(point, 2, 37 * k), 2)]

    assert dedupe.cluster(reports, small) == dedupe.replay(reports, small)
    assert len(set(dedupe.cluster(reports, small))) == len(points)
