"""The fictional demo city: a plausible, reproducible map, seeded once and labelled as demo data."""

from __future__ import annotations

import itertools
import math
import random
import re
import statistics
from collections import Counter
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from mapapp import geometry, vocab
from mapapp.demo import DemoAlreadySeeded, DemoCity, demo_seed, generate_city
from mapapp.demo.generate import GRID_BEARING_DEG
from mapapp.models import AuditEvent, Camera, Neighbourhood, Sighting

M_PER_DEG = math.pi * 6_371_000 / 180  # a rough sphere on purpose: independent of the generator's projection


@pytest.fixture(scope="module")
def city() -> DemoCity:
    return generate_city()


@pytest.fixture(autouse=True)
def debug_on(settings: object) -> None:
    """`make run` is a DEBUG site; pytest-django turns DEBUG off unless told otherwise."""
    settings.DEBUG = True


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance between two (lat, lon) a few km apart."""
    dy = (a[0] - b[0]) * M_PER_DEG
    dx = (a[1] - b[1]) * M_PER_DEG * math.cos(math.radians(a[0]))
    return math.hypot(dx, dy)


def inside(ring: list[list[float]], lon: float, lat: float) -> bool:
    """Ray casting: is (lon, lat) inside the closed ring?"""
    hit = False
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
            hit = not hit
    return hit


def containing(city: DemoCity, lon: float, lat: float) -> list[int]:
    return [i for i, n in enumerate(city.neighbourhoods) if inside(n.polygon["coordinates"][0], lon, lat)]


def convex_hull(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Andrew's monotone chain, counter-clockwise, closed."""
    pts = sorted(set(points))

    def half(seq: list[tuple[float, float]]) -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        for p in seq:
            while (
                len(out) >= 2
                and (out[-1][0] - out[-2][0]) * (p[1] - out[-2][1]) - (out[-1][1] - out[-2][1]) * (p[0] - out[-2][0])
                <= 0
            ):
                out.pop()
            out.append(p)
        return out[:-1]

    hull = half(pts) + half(pts[::-1])
    return [*hull, hull[0]]


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def counts() -> tuple[int, ...]:
    return (
        Neighbourhood.objects.count(),
        Camera.objects.count(),
        Sighting.objects.count(),
        get_user_model().objects.count(),
        AuditEvent.objects.count(),
    )


# --- The generator -------------------------------------------------------------------------------


def test_the_same_seed_generates_the_same_city(city):
    assert generate_city(seed=2026) == city


def test_another_seed_generates_a_different_city(city):
    other = generate_city(seed=7)

    assert other != city
    assert [c.lat for c in other.cameras[:20]] != [c.lat for c in city.cameras[:20]]


def test_the_city_has_a_few_hundred_cameras_in_seven_fictional_neighbourhoods(city):
    assert 400 <= len(city.cameras) <= 600
    assert len(city.neighbourhoods) == 7
    assert "Northgate" in {n.name for n in city.neighbourhoods}
    assert all(n.slug.startswith("demo-") for n in city.neighbourhoods)


def test_neighbourhoods_are_closed_lon_lat_polygons_around_the_centre(city):
    lat0, lon0 = city.center
    for n in city.neighbourhoods:
        ring = n.polygon["coordinates"][0]
        geometry.polygons_of(n.polygon)  # raises on anything malformed
        assert n.polygon["type"] == "Polygon"
        assert ring[0] == ring[-1]
        assert all(abs(lon - lon0) < 0.03 and abs(lat - lat0) < 0.03 for lon, lat in ring)  # [lon, lat], not [lat, lon]


def test_every_camera_lies_inside_exactly_one_neighbourhood_the_one_it_is_assigned(city):
    for camera in city.cameras:
        assert containing(city, camera.lon, camera.lat) == [camera.neighbourhood]


def test_neighbourhoods_tile_the_city_without_overlaps_or_gaps(city):
    vertices = [tuple(p) for n in city.neighbourhoods for p in n.polygon["coordinates"][0]]
    lons, lats = [p[0] for p in vertices], [p[1] for p in vertices]
    steps = 120
    for i in range(steps + 1):
        for j in range(steps + 1):
            lon = min(lons) + (max(lons) - min(lons)) * (i + 0.37) / (steps + 1)
            lat = min(lats) + (max(lats) - min(lats)) * (j + 0.61) / (steps + 1)
            assert len(containing(city, lon, lat)) <= 1, (lon, lat)

    hull = {"type": "Polygon", "coordinates": [convex_hull(vertices)]}
    total = sum(geometry.area_km2(n.polygon) for n in city.neighbourhoods)
    assert total == pytest.approx(geometry.area_km2(hull), rel=1e-4)  # no overlaps, so equal area means no gaps
    assert 4.5 < total < 6.5  # roughly 2.5 km by 2 km


def test_cameras_cluster_at_street_intersections_not_uniformly(city):
    def to_nearest_crossing(lat: float, lon: float) -> float:
        return min(metres((lat, lon), crossing) for crossing in city.intersections)

    clustered = statistics.median(to_nearest_crossing(c.lat, c.lon) for c in city.cameras)
    rng = random.Random(1)
    lats, lons = [c.lat for c in city.cameras], [c.lon for c in city.cameras]
    uniform = []
    while len(uniform) < 500:
        lat, lon = rng.uniform(min(lats), max(lats)), rng.uniform(min(lons), max(lons))
        if containing(city, lon, lat):
            uniform.append(to_nearest_crossing(lat, lon))

    # Building corners of a 30 m avenue and an 18 m street are ~18 m from the crossing's centre.
    assert clustered < 25
    assert statistics.median(uniform) > 60


def test_the_commercial_core_is_denser_than_the_residential_districts(city):
    per_hood = Counter(c.neighbourhood for c in city.cameras)
    density = {i: per_hood[i] / geometry.area_km2(n.polygon) for i, n in enumerate(city.neighbourhoods)}
    core = [density[i] for i, n in enumerate(city.neighbourhoods) if n.character == "core"]
    residential = [density[i] for i, n in enumerate(city.neighbourhoods) if n.character == "residential"]

    assert min(core) > 1.5 * max(residential)


def test_every_attribute_value_is_in_the_osm_vocabulary(city):
    for attributes in [c.attributes for c in city.cameras] + [s.attributes for s in city.sightings]:
        for v in vocab.VOCABULARIES:
            assert attributes[v.field] in v.values
        assert attributes["direction"] is None or 0 <= attributes["direction"] <= 359
        assert attributes["height"] is None or 0.1 <= attributes["height"] <= vocab.HEIGHT_MAX_M


def test_the_attribute_mix_looks_like_a_real_city(city):
    cams = [c.attributes for c in city.cameras]
    operator_types = Counter(a["operator_type"] for a in cams)
    types = Counter(a["camera_type"] for a in cams)
    mounts = Counter(a["camera_mount"] for a in cams)
    known_direction = sum(a["direction"] is not None for a in cams) / len(cams)

    assert {"fixed", "dome", "panning"} <= set(types)
    assert len(mounts) >= 6
    assert set(operator_types) == {"business", "police", "government", "transit", "residential"}
    assert operator_types.most_common(1)[0] == ("business", operator_types["business"])
    assert operator_types["business"] > len(cams) / 2
    assert 0 < mounts["doorbell"] < len(cams) * 0.15
    assert 0.3 <= known_direction <= 0.5
    assert sum(bool(a["operator"]) for a in cams) > len(cams) * 0.2
    assert {"City DOT", "City Police Department"} <= {a["operator"] for a in cams}


def test_police_and_city_cameras_sit_on_poles_and_signals(city):
    public = [a for a in (c.attributes for c in city.cameras) if a["operator_type"] in {"police", "government"}]
    cameras = [a for a in public if a["surveillance_type"] != "gunshot_detector"]

    assert cameras
    assert all(a["camera_mount"] in {"pole", "street_lamp", "traffic_signal"} for a in cameras)


def test_the_few_licence_plate_readers_point_along_the_avenue(city):
    alprs = [c.attributes for c in city.cameras if c.attributes["surveillance_type"] == "ALPR"]

    assert 1 <= len(alprs) <= len(city.cameras) * 0.05
    for a in alprs:
        off_axis = (a["direction"] - GRID_BEARING_DEG) % 180
        assert min(off_axis, 180 - off_axis) < 15
        assert a["operator_type"] == "police"


def test_each_camera_is_seen_by_one_to_three_distinct_volunteers_close_to_it(city):
    by_camera: dict[int, list] = {}
    for s in city.sightings:
        by_camera.setdefault(s.camera, []).append(s)

    assert set(by_camera) == set(range(len(city.cameras)))
    for index, sightings in by_camera.items():
        camera = city.cameras[index]
        assert 1 <= len(sightings) <= 3
        assert len({s.volunteer for s in sightings}) == len(sightings)
        assert all(metres((s.lat, s.lon), (camera.lat, camera.lon)) < 30 for s in sightings)
        assert all(4 <= s.accuracy_m <= 15 for s in sightings)
    assert {s.volunteer for s in city.sightings} == set(range(5))


def test_sighting_positions_carry_realistic_gps_error(city):
    north = [(s.lat - city.cameras[s.camera].lat) * M_PER_DEG for s in city.sightings]

    assert 4.5 < statistics.pstdev(north) < 7  # about 5.7 m per axis
    assert abs(statistics.mean(north)) < 1  # no bias


def test_volunteers_sometimes_disagree_about_the_camera_type(city):
    wrong = sum(s.attributes["camera_type"] != city.cameras[s.camera].attributes["camera_type"] for s in city.sightings)

    assert 0.05 < wrong / len(city.sightings) < 0.15


# --- Seeding the database -----------------------------------------------------------------------


LOGIN = re.compile(r"^Demo login: username (\S+), password (\S+)$", re.MULTILINE)


def test_seeding_an_empty_database_adds_the_demo_city_and_prints_the_login(db, city):
    out = seed("--if-empty")

    assert LOGIN.search(out)
    assert Neighbourhood.objects.filter(is_demo=True, source="demo").count() == len(city.neighbourhoods)
    assert Camera.objects.filter(provenance="demo", neighbourhood__is_demo=True).count() == len(city.cameras)
    assert Sighting.objects.filter(status="processed", source="web", camera__isnull=False).count() == len(
        city.sightings
    )
    assert not Sighting.objects.filter(processed_at__isnull=True).exists()
    assert AuditEvent.objects.filter(action="demo_seed").count() == 1


def test_seeded_cameras_carry_their_sightings_count_and_dates(db):
    seed("--if-empty")

    for camera in Camera.objects.prefetch_related("sightings"):
        observed = [s.observed_at for s in camera.sightings.all()]
        assert camera.sighting_count == len(observed)
        assert (camera.first_seen, camera.last_seen) == (min(observed), max(observed))
    latest = Sighting.objects.latest("processed_at")
    assert latest.observed_at <= latest.submitted_at <= latest.processed_at
    assert latest.processed_at < Camera.objects.latest("created_at").created_at  # nothing in the future


def test_running_it_again_adds_nothing_and_still_prints_the_login(db):
    seed("--if-empty")
    before = counts()

    out = seed("--if-empty")

    assert counts() == before
    assert "not added" in out
    assert LOGIN.search(out)


def test_without_if_empty_it_still_refuses_to_seed_twice(db):
    seed()
    before = counts()

    out = seed()

    assert counts() == before
    assert "already" in out


def test_the_demo_user_can_log_in_with_the_printed_password(db):
    username, password = LOGIN.search(seed("--if-empty")).groups()

    assert Client().login(username=username, password=password)


def test_if_empty_leaves_a_database_with_real_cameras_alone(db):
    Camera.objects.create(lat=47.37, lon=8.54)

    out = seed("--if-empty")

    assert Camera.objects.count() == 1
    assert not Neighbourhood.objects.exists()
    assert not LOGIN.search(out)  # no demo account, so no login to show


def test_it_refuses_to_seed_a_site_with_debug_off(db, settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG is off"):
        seed("--if-empty")
    assert counts() == (0, 0, 0, 0, 0)


def test_force_seeds_even_with_debug_off(db, settings):
    settings.DEBUG = False

    seed("--if-empty", "--force")

    assert Camera.objects.filter(provenance="demo").exists()


def test_seeding_the_same_city_twice_directly_raises_and_changes_nothing(db, city):
    demo_seed(city=city)
    before = counts()

    with pytest.raises(DemoAlreadySeeded):
        demo_seed(city=city)
    assert counts() == before


def test_demo_volunteers_appear_under_pseudonymous_handles_and_cannot_log_in(db):
    seed("--if-empty")
    volunteers = get_user_model().objects.filter(username__startswith="demo_volunteer_").select_related("profile")

    assert volunteers.count() == 5
    for user in volunteers:
        handle = user.profile.handle
        assert user.username not in handle
        assert user.email.split("@")[0] not in handle
        assert "volunteer" not in handle
        assert not user.has_usable_password()
        assert user.sightings.exists()


@pytest.mark.django_db
def test_every_public_page_of_the_seeded_demo_city_renders(client: Client):
    from mapapp import tasks

    seed()
    tasks.refresh_maps()
    hood = Neighbourhood.objects.first()
    camera = Camera.objects.published().first()

    pages = [
        "/",
        "/maps/overview/",
        f"/neighbourhoods/{hood.slug}/",
        f"/embed/neighbourhoods/{hood.slug}/",
        f"/cameras/{camera.pk}/",
        f"/cameras/{camera.pk}/popup.json",
        "/verify/",
        "/transparency/",
        "/data/",
        "/api/v1/cameras/?format=geojson",
        "/api/v1/neighbourhoods/",
        "/api/v1/stats/",
    ]
    assert {url: client.get(url).status_code for url in pages} == dict.fromkeys(pages, 200)
    assert Camera.objects.published().filter(neighbourhood__isnull=True).count() == 0
    assert camera.agreement["camera_type"]["label"] in ("unanimous", "majority", "split")
