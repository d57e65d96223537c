"""Properties of dedupe that must hold everywhere on Earth, checked with hypothesis.

Places are drawn from the whole globe with extra weight on the awkward parts: within about a
hundred metres of the antimeridian and of both poles. Positions come from geopy's geodesic
`destination`, which is independent of the ECEF arithmetic under test.
"""

from __future__ import annotations

import numpy as np
from geopy.distance import geodesic
from hypothesis import given, settings
from hypothesis import strategies as st

from mapapp import dedupe
from mapapp.dedupe import DEFAULT_PARAMS, Report

# geopy's geodesic takes tens of microseconds a call, so deadlines would only flake.
FAST = settings(max_examples=75, deadline=None)

latitudes = st.one_of(
    st.floats(-90.0, 90.0),
    st.floats(89.999, 90.0),  # within ~110 m of the North Pole
    st.floats(-90.0, -89.999),
)
longitudes = st.one_of(
    st.floats(-180.0, 180.0),
    st.floats(179.999, 180.0),  # within ~110 m of the antimeridian (at the equator)
    st.floats(-180.0, -179.999),
)
places = st.tuples(latitudes, longitudes)
bearings = st.floats(0.0, 360.0, exclude_max=True)


def moved(point: tuple[float, float], metres: float, bearing: float) -> tuple[float, float]:
    p = geodesic(meters=metres).destination(point, bearing)
    return p.latitude, p.longitude


def grouping(ids: list[int], labels: list[int]) -> set[frozenset[int]]:
    by_label: dict[int, set[int]] = {}
    for rid, label in zip(ids, labels, strict=True):
        by_label.setdefault(label, set()).add(rid)
    return {frozenset(members) for members in by_label.values()}


# --- Geometry ---------------------------------------------------------------------------------------


@FAST
@given(place=places, bearing=bearings, metres=st.floats(0.0, 1000.0))
def test_the_ecef_chord_equals_the_geodesic_below_a_kilometre(
    place: tuple[float, float], bearing: float, metres: float
) -> None:
    other = moved(place, metres, bearing)
    along_the_ellipsoid = geodesic(place, other).meters

    chord = dedupe.chord_m(*place, *other)

    assert abs(chord - along_the_ellipsoid) <= max(1e-6 * along_the_ellipsoid, 5e-6)


@FAST
@given(
    place=places,
    bearing=bearings,
    fraction=st.floats(0.0, 1.0),
    reach=st.floats(1.0, 100.0),
)
def test_two_sightings_within_two_reaches_always_share_a_lock(
    place: tuple[float, float], bearing: float, fraction: float, reach: float
) -> None:
    # A micrometre short of two reaches: at exactly two reaches the midpoint lies on both balls'
    # surfaces, where the last bit of an ECEF coordinate (a nanometre) decides.
    other = moved(place, fraction * (2 * reach - 1e-6), bearing)

    mine = dedupe.lock_keys(*place, reach)
    theirs = dedupe.lock_keys(*other, reach)

    assert set(mine) & set(theirs)
    assert mine == sorted(set(mine))
    assert theirs == sorted(set(theirs))


@FAST
@given(place=places)
def test_a_bounding_box_when_given_covers_the_reach_in_every_direction(place: tuple[float, float]) -> None:
    reach = DEFAULT_PARAMS.max_gate_m

    box = dedupe.bbox_around(*place, reach)

    if box is None:  # by design near the poles and across the antimeridian: callers query a band
        assert abs(place[0]) > 89.0 or abs(place[1]) > 179.0
        return
    min_lon, min_lat, max_lon, max_lat = box
    assert -180.0 <= min_lon < max_lon <= 180.0
    assert -90.0 < min_lat < max_lat < 90.0
    for bearing in range(0, 360, 10):
        lat, lon = moved(place, reach - 1e-5, bearing)
        assert min_lat <= lat <= max_lat
        assert min_lon <= lon <= max_lon


@st.composite
def clustered_points(draw: st.DrawFn) -> tuple[float, np.ndarray]:
    """Points in tight clumps (many close pairs) around places on the globe, some on cell corners."""
    # Besides any reach, the two that matter most: the smallest the settings allow (DEDUPE_RADIUS_M
    # >= 1 with DEDUPE_ACCURACY_CAP_M = 0) and the default widest gate.
    reach = draw(st.one_of(st.sampled_from([1.0, DEFAULT_PARAMS.max_gate_m]), st.floats(1.0, 100.0)))
    points = []
    for place in draw(st.lists(places, min_size=1, max_size=4)):
        origin = np.array(dedupe.ecef(*place), dtype=np.float64)
        if draw(st.booleans()):
            origin = np.round(origin / reach) * reach  # on a grid corner: pairs straddle cell faces
        spread = draw(st.sampled_from([0.5, 1.0, 2.0, 3.0])) * reach
        offsets = draw(st.lists(st.tuples(*[st.floats(-spread, spread)] * 3), min_size=1, max_size=20))
        points += [origin + np.array(offset) for offset in offsets]
    return reach, np.array(points)


@settings(FAST, max_examples=150)  # each example is cheap: one vectorised search and an O(N²) check
@given(clustered_points())
def test_the_grid_finds_exactly_the_pairs_brute_force_finds(case: tuple[float, np.ndarray]) -> None:
    reach, xyz = case
    within = {}
    for a in range(len(xyz)):  # every pair, with the same float arithmetic as the grid's final check
        for b, d in enumerate(np.sqrt(((xyz[a] - xyz[a + 1 :]) ** 2).sum(axis=1)).tolist(), start=a + 1):
            if d <= reach:
                within[(a, b)] = d
    # A pair a rounding error beyond the reach may compute as exactly `reach` (38 m + 1e-102 m is
    # 38.0) and still lie two cells apart; only pairs a micrometre inside must be found.
    clearly_within = {pair for pair, d in within.items() if d < reach - 1e-6}

    i, j, d = dedupe.candidate_pairs(xyz, reach)
    found = list(zip(i.tolist(), j.tolist(), strict=True))

    assert len(found) == len(set(found)), "a pair was reported twice"
    assert clearly_within - set(found) == set(), "the grid missed pairs within reach"
    assert set(found) - set(within) == set(), "the grid reported pairs beyond reach"
    assert all(d[k] == within[pair] for k, pair in enumerate(found))


# --- Clustering well-separated cameras -------------------------------------------------------------------


@st.composite
def separated_cameras(draw: st.DrawFn) -> tuple[list[Report], set[frozenset[int]]]:
    """1-5 cameras 250 m apart along a geodesic, each reported 1-4 times within 10 m by distinct volunteers.

    Volunteers recur across cameras, as on a real walk. Each camera has a direction and type that
    its reports either know (with ±10° of compass error) or leave unknown.
    """
    start, heading = draw(places), draw(bearings)
    n_cameras = draw(st.integers(1, 5))
    ids = iter(draw(st.lists(st.integers(1, 10**6), min_size=4 * n_cameras, max_size=4 * n_cameras, unique=True)))
    reports, truth = [], set()
    for k in range(n_cameras):
        spot = moved(start, 250.0 * k, heading)
        facing = draw(st.none() | bearings)
        kind = draw(st.sampled_from([None, "dome", "fixed", "panning"]))
        members = set()
        for volunteer in draw(st.lists(st.integers(1, 6), min_size=1, max_size=4, unique=True)):
            lat, lon = moved(spot, draw(st.floats(0.0, 10.0)), draw(bearings))
            direction = None
            if facing is not None and draw(st.booleans()):
                direction = (facing + draw(st.floats(-10.0, 10.0))) % 360.0
            rid = next(ids)
            reports.append(
                Report(
                    id=rid,
                    lat=lat,
                    lon=lon,
                    reporter=volunteer,
                    accuracy_m=draw(st.none() | st.floats(3.0, 30.0)),
                    direction=direction,
                    camera_type=kind if draw(st.booleans()) else draw(st.sampled_from([None, "unknown"])),
                )
            )
            members.add(rid)
        truth.add(frozenset(members))
    return reports, truth


@FAST
@given(data=st.data(), case=separated_cameras())
def test_the_arrival_order_does_not_change_the_cameras_found(
    data: st.DataObject, case: tuple[list[Report], set[frozenset[int]]]
) -> None:
    reports, truth = case
    arrived = data.draw(st.permutations(reports), label="arrival order")
    ids = [r.id for r in arrived]

    batch = dedupe.cluster(arrived)
    incremental = dedupe.replay(arrived)

    assert grouping(ids, batch) == truth
    assert grouping(ids, incremental) == truth
    assert batch == incremental  # both label a camera by its smallest report id
