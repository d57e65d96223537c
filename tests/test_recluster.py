"""manage.py recluster: rebuild a region's cameras from its sightings, keeping ids, votes and history.

A bad state is made the honest way: sightings processed with a 1 m radius (as after a bad
parameter change) found one camera each where the default parameters would have made one.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from geopy.distance import geodesic

from mapapp import dedupe, services
from mapapp.models import Assignment, AuditEvent, Camera, Neighbourhood, Sighting, Vote
from tests.conftest import _person
from tests.support import BASE_DIR, dedupe_rows

ZURICH = (47.3769, 8.5417)
GENEVA = (46.2044, 6.1432)
TINY = dedupe.Params(radius_m=1)

Point = tuple[float, float]


def moved(point: Point, metres: float, bearing: float) -> Point:
    p = geodesic(meters=metres).destination(point, bearing)
    return p.latitude, p.longitude


def report(reporter: object, point: Point, *, params: dedupe.Params | None = None) -> services.ProcessResult:
    sighting = services.sighting_submit(reporter=reporter, data={"lat": point[0], "lon": point[1]}).sighting
    result = services.sighting_process(sighting_id=sighting.pk, params=params)
    assert result is not None
    return result


def bbox_around(point: Point, degrees: float = 0.01) -> str:
    lat, lon = point
    return f"{lon - degrees},{lat - degrees},{lon + degrees},{lat + degrees}"


def recluster(*args: str) -> str:
    out = io.StringIO()
    call_command("recluster", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def live_cameras() -> dict[int, set[int]]:
    """{camera id: its sighting ids} for every live camera."""
    cameras: dict[int, set[int]] = {pk: set() for pk in Camera.objects.live().values_list("pk", flat=True)}
    for pk, camera_id in Sighting.objects.filter(camera__isnull=False).values_list("pk", "camera_id"):
        cameras.setdefault(camera_id, set()).add(pk)
    return cameras


@pytest.fixture
def duplicated(volunteer, second_volunteer, researcher) -> dict[str, Any]:
    """One real camera seen three times, left as two cameras by a 1 m radius.

    The camera holding one sighting is the older (lower id), so keeping "the id that held most
    sightings" and "the lowest id" give different answers.
    """
    lone = report(researcher, moved(ZURICH, 8, 45), params=TINY)
    a = report(volunteer, ZURICH, params=TINY)
    b = report(second_volunteer, moved(ZURICH, 0.5, 180), params=TINY)
    assert a.camera_id == b.camera_id != lone.camera_id
    assert lone.camera_id < a.camera_id
    return {"small": lone.camera_id, "big": a.camera_id, "lone_sighting": lone.sighting_id}


def test_recluster_merges_duplicates_into_the_camera_that_held_most_sightings(duplicated):
    small, big = duplicated["small"], duplicated["big"]
    voter = _person("erin_realname")
    Vote.objects.create(camera_id=small, voter=voter, verdict="confirm")

    out = recluster("--bbox", bbox_around(ZURICH))

    assert live_cameras() == {big: set(Sighting.objects.values_list("pk", flat=True))}
    assert Camera.objects.get(pk=big).sighting_count == 3
    tombstone = Camera.objects.get(pk=small)
    assert (tombstone.merged_into_id, tombstone.sighting_count) == (big, 0)
    assert list(Vote.objects.values_list("camera_id", "voter__username")) == [(big, "erin_realname")]
    assignment = Assignment.objects.filter(sighting_id=duplicated["lone_sighting"]).latest("pk")
    assert (assignment.kind, assignment.camera_id, assignment.previous_camera_id) == ("reclustered", big, small)
    event = AuditEvent.objects.get(action="recluster")
    assert (event.data["cameras_before"], event.data["cameras_after"], event.data["retired"]) == (2, 1, [small])
    assert "3 sightings: 2 cameras before, 1 after; 1 sightings moved, 0 cameras created, 1 retired" in out


def test_a_second_recluster_moves_nothing(duplicated):
    recluster("--bbox", bbox_around(ZURICH))
    cameras = list(Camera.objects.order_by("pk").values())
    assignments = Assignment.objects.count()

    out = recluster("--bbox", bbox_around(ZURICH))

    assert "0 sightings moved, 0 cameras created, 0 retired" in out
    assert list(Camera.objects.order_by("pk").values()) == cameras
    assert Assignment.objects.count() == assignments


def test_recluster_leaves_a_sighting_a_moderator_split_off_where_they_put_it(
    volunteer, second_volunteer, researcher, moderator
):
    a = report(volunteer, ZURICH)
    report(second_volunteer, moved(ZURICH, 5, 90))
    split = report(researcher, moved(ZURICH, 5, 270))
    assert a.camera_id == split.camera_id
    own = services.sighting_split(sighting_id=split.sighting_id, actor=moderator, reason="a second camera").camera
    before = live_cameras()

    recluster("--bbox", bbox_around(ZURICH))

    assert live_cameras() == before
    assert Sighting.objects.get(pk=split.sighting_id).camera_id == own.pk


def test_recluster_keeps_a_camera_a_moderator_merged_against_the_rules(volunteer, moderator):
    # One volunteer's two reports 3 m apart are two cameras to dedupe; the moderator knows better.
    first = report(volunteer, ZURICH)
    second = report(volunteer, moved(ZURICH, 3, 0))
    services.camera_merge(source_id=second.camera_id, target_id=first.camera_id, actor=moderator, reason="one")
    before = live_cameras()

    recluster("--bbox", bbox_around(ZURICH))

    assert live_cameras() == before == {first.camera_id: {first.sighting_id, second.sighting_id}}


def square(lon: float, lat: float, size: float) -> dict[str, Any]:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def test_recluster_of_a_neighbourhood_only_touches_cameras_inside_it(volunteer, second_volunteer):
    # A 0.01° square around Zurich's spot; the second pair of duplicates is 2 km east, outside it.
    lat, lon = ZURICH
    Neighbourhood.objects.create(
        name="Altstadt",
        slug="altstadt",
        polygon=square(lon - 0.005, lat - 0.005, 0.01),
        min_lon=lon - 0.005,
        min_lat=lat - 0.005,
        max_lon=lon + 0.005,
        max_lat=lat + 0.005,
        area_km2=0.8,
    )
    outside = moved(ZURICH, 2000, 90)
    for spot in (ZURICH, outside):
        report(volunteer, spot, params=TINY)
        report(second_volunteer, moved(spot, 8, 0), params=TINY)
    assert Camera.objects.live().count() == 4

    out = recluster("--neighbourhood", "altstadt")

    assert "2 cameras before, 1 after" in out
    inside = Camera.objects.live().in_bbox(lon - 0.005, lat - 0.005, lon + 0.005, lat + 0.005)
    assert [c.sighting_count for c in inside] == [2]
    far = Camera.objects.live().in_bbox(*map(float, bbox_around(outside, 0.001).split(",")))
    assert sorted(c.sighting_count for c in far) == [1, 1]


def test_recluster_without_options_goes_through_every_camera_tile_by_tile(volunteer, second_volunteer):
    for spot in (ZURICH, GENEVA):
        report(volunteer, spot, params=TINY)
        report(second_volunteer, moved(spot, 8, 0), params=TINY)
    assert Camera.objects.live().count() == 4

    out = recluster()

    assert out.startswith("2 region(s), 4 sightings: 4 cameras before, 2 after")
    assert sorted(Camera.objects.live().values_list("sighting_count", flat=True)) == [2, 2]


def test_recluster_of_an_empty_map_says_so_and_changes_nothing(db):
    assert recluster().startswith("0 region(s), 0 sightings")
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("spelling", ["--bbox {}", "--bbox={}"])
def test_a_bbox_west_of_greenwich_works_in_either_spelling(volunteer, second_volunteer, spelling):
    berkeley = (37.8715, -122.2730)
    report(volunteer, berkeley, params=TINY)
    report(second_volunteer, moved(berkeley, 8, 0), params=TINY)

    out = recluster(*spelling.format(bbox_around(berkeley)).split(" "))

    assert "2 cameras before, 1 after" in out
    assert Camera.objects.live().count() == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bbox", "1,2,3"], "--bbox must be four numbers MINLON,MINLAT,MAXLON,MAXLAT, got '1,2,3'"),
        (["--bbox", "a,b,c,d"], "--bbox must be four numbers"),
        (["--bbox", "8.6,47.3,8.5,47.4"], "is not a box: need -180 <= MINLON < MAXLON <= 180"),
        (["--bbox", "8.5,47.4,8.6,47.3"], "-90 <= MINLAT < MAXLAT <= 90"),
        (["--bbox", "8.5,nan,8.6,47.4"], "--bbox must be finite numbers"),
        (["--neighbourhood", "nope"], "No neighbourhood with slug 'nope'"),
        (["--neighbourhood", "altstadt", "--bbox", "8.5,47.3,8.6,47.4"], "not allowed with argument"),
        (["--tile", "0"], "--tile must be between 0.001 and 10 degrees"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message_and_changes_nothing(duplicated, args, message):
    before = dedupe_rows()

    with pytest.raises(CommandError, match=re.escape(message)):
        recluster(*args)
    assert dedupe_rows() == before


def test_a_bad_bbox_on_the_command_line_prints_the_message_without_a_traceback():
    done = subprocess.run(
        [sys.executable, "manage.py", "recluster", "--bbox", "1,2,3"],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode != 0
    assert "--bbox must be four numbers" in done.stderr
    assert "Traceback" not in done.stderr
