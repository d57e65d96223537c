"""Every camera gets its neighbourhood, and each neighbourhood's stats follow its cameras."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from celery.signals import before_task_publish
from django.core.management import call_command
from django.utils import timezone

from mapapp import imports, services, tasks
from mapapp.imports import LoadSummary
from mapapp.models import Camera, Neighbourhood
from mapapp.services.neighbourhoods import (
    area_index,
    cameras_outside_count,
    neighbourhood_at,
    neighbourhood_stats,
    neighbourhoods_assign_all,
    neighbourhoods_stats_refresh,
    stats_from,
)

# Two made-up quarters side by side, each 0.01° square (about 0.84 km² at this latitude).
ENGE = (8.53, 47.36)  # south-west corner (lon, lat)
SEEFELD = (8.54, 47.36)
IN_ENGE = (47.365, 8.535)  # (lat, lon)
IN_SEEFELD = (47.365, 8.545)
FAR_AWAY = (46.95, 7.45)  # Bern
THREE_METRES_NORTH = 0.000027


def square(lon: float, lat: float, size: float = 0.01) -> list[list[float]]:
    return [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]


def area(name: str, corner: tuple[float, float]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"name": name},
        "geometry": {"type": "Polygon", "coordinates": [square(*corner)]},
    }


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def load(*features: dict[str, Any]) -> LoadSummary:
    parsed = imports.parse_neighbourhoods(collection(*features))
    return imports.neighbourhoods_load(features=parsed, source="quarters.geojson")


def hood(slug: str) -> Neighbourhood:
    return Neighbourhood.objects.get(slug=slug)


def reported_camera(reporter: object, at: tuple[float, float]) -> Camera:
    """A camera as volunteers make them: a sighting submitted, then processed by the dedupe service."""
    sighting = services.sighting_submit(reporter=reporter, data={"lat": at[0], "lon": at[1]}).sighting
    return Camera.objects.get(pk=services.sighting_process(sighting_id=sighting.pk).camera_id)


def neighbourhood_of(camera: Camera) -> str | None:
    hood_id = Camera.objects.values_list("neighbourhood_id", flat=True).get(pk=camera.pk)
    return None if hood_id is None else Neighbourhood.objects.get(pk=hood_id).slug


# --- Placing cameras ------------------------------------------------------------------------------


def test_a_camera_founded_by_the_dedupe_service_lands_in_its_neighbourhood(volunteer):
    load(area("Enge", ENGE), area("Seefeld", SEEFELD))

    assert neighbourhood_of(reported_camera(volunteer, IN_ENGE)) == "enge"
    assert neighbourhood_of(reported_camera(volunteer, IN_SEEFELD)) == "seefeld"


def test_a_sighting_joining_a_camera_writes_the_cameras_neighbourhood_again(volunteer, second_volunteer):
    load(area("Enge", ENGE))
    camera = reported_camera(volunteer, IN_ENGE)
    Camera.objects.filter(pk=camera.pk).update(neighbourhood=None)  # as a worker with old outlines would

    joined = reported_camera(second_volunteer, (IN_ENGE[0] + THREE_METRES_NORTH, IN_ENGE[1]))

    assert joined.pk == camera.pk
    assert neighbourhood_of(camera) == "enge"


def test_a_camera_outside_every_neighbourhood_has_none_and_is_counted_outside(volunteer):
    load(area("Enge", ENGE))
    inside = reported_camera(volunteer, IN_ENGE)
    outside = reported_camera(volunteer, FAR_AWAY)

    summary = neighbourhoods_assign_all()

    assert (neighbourhood_of(inside), neighbourhood_of(outside)) == ("enge", None)
    assert (summary.assigned, summary.outside, summary.changed) == (1, 1, 0)
    assert cameras_outside_count() == 1


def test_reloading_a_moved_outline_reassigns_every_camera(volunteer, second_volunteer):
    load(area("Enge", ENGE), area("Seefeld", SEEFELD))
    west = reported_camera(volunteer, IN_ENGE)
    east = reported_camera(second_volunteer, IN_SEEFELD)
    bern = reported_camera(volunteer, FAR_AWAY)

    # Enge moves onto Seefeld's ground (Seefeld is not in this file and stays), and Bern is added.
    summary = load(area("Enge", SEEFELD), area("Bern", (FAR_AWAY[1] - 0.005, FAR_AWAY[0] - 0.005)))

    # East now lies in both Enge and Seefeld, equal squares: the lower id (Enge, loaded first) takes it.
    assert [neighbourhood_of(c) for c in (west, east, bern)] == [None, "enge", "bern"]
    assert summary.cameras.as_dict() == {"assigned": 2, "outside": 1, "changed": 3}
    # The stats were refreshed in the same load.
    assert (hood("enge").stats["cameras"], hood("seefeld").stats["cameras"], hood("bern").stats["cameras"]) == (1, 0, 1)


def test_the_load_command_reports_how_many_cameras_it_placed(volunteer, tmp_path: Path):
    reported_camera(volunteer, IN_ENGE)
    reported_camera(volunteer, FAR_AWAY)
    path = tmp_path / "quarters.geojson"
    path.write_text(json.dumps(collection(area("Enge", ENGE))))
    out = io.StringIO()

    call_command("load_neighbourhoods", str(path), stdout=out)

    assert "Cameras: 1 in a neighbourhood, 1 outside every one; 1 changed neighbourhood." in out.getvalue()


def test_reassigning_twice_writes_nothing_the_second_time(volunteer):
    load(area("Enge", ENGE))
    camera = reported_camera(volunteer, IN_ENGE)
    before = Camera.objects.values_list("updated_at", flat=True).get(pk=camera.pk)

    summary = neighbourhoods_assign_all()

    assert summary.changed == 0
    assert Camera.objects.values_list("updated_at", flat=True).get(pk=camera.pk) == before


# --- Workers holding old outlines ---------------------------------------------------------------


def test_a_process_keeps_its_outlines_for_the_ttl_then_notices_a_change(db, settings):
    settings.AREA_INDEX_TTL_SECONDS = 3600
    load(area("Enge", ENGE))
    enge = hood("enge")
    assert neighbourhood_at(*IN_ENGE) == enge.pk
    # Another process reloads Enge onto Seefeld's ground. This process is not told; it sees only
    # the saved row, when it next checks.
    enge.polygon = area("Enge", SEEFELD)["geometry"]
    enge.save()

    assert neighbourhood_at(*IN_ENGE) == enge.pk  # within the TTL: the outline it cached
    settings.AREA_INDEX_TTL_SECONDS = 0
    assert neighbourhood_at(*IN_ENGE) is None
    assert neighbourhood_at(*IN_SEEFELD) == enge.pk
    assert area_index() is area_index()  # checking again, unchanged, does not rebuild


def test_a_load_queues_a_second_reassignment_after_twice_the_ttl(db, settings, django_capture_on_commit_callbacks):
    settings.AREA_INDEX_TTL_SECONDS = 30
    published: list[tuple[str, Any]] = []

    def record(sender: str, headers: dict[str, Any], **_: Any) -> None:
        published.append((sender, headers.get("eta")))

    before_task_publish.connect(record, weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            load(area("Enge", ENGE))
            assert published == []  # nothing before the commit
    finally:
        before_task_publish.disconnect(record)

    [(task, eta)] = published
    assert task == "mapapp.tasks.reassign_neighbourhoods"
    delay = datetime.fromisoformat(eta) - timezone.now()
    assert timedelta(seconds=55) < delay <= timedelta(seconds=60)


def test_the_second_reassignment_corrects_a_camera_placed_with_old_outlines(volunteer):
    load(area("Enge", ENGE))
    camera = reported_camera(volunteer, IN_ENGE)
    Camera.objects.filter(pk=camera.pk).update(neighbourhood=None)  # what a worker with old outlines wrote

    assert tasks.reassign_neighbourhoods() == 1
    assert neighbourhood_of(camera) == "enge"
    assert tasks.reassign_neighbourhoods() == 0


# --- Stats ------------------------------------------------------------------------------------------

T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def camera_at(at: tuple[float, float], *, updated: datetime, **fields: Any) -> Camera:
    """A camera row standing for one visible sighting (stats count published cameras only)."""
    camera = Camera.objects.create(lat=at[0], lon=at[1], **{"sighting_count": 1, **fields})
    Camera.objects.filter(pk=camera.pk).update(updated_at=updated)  # auto_now would say "now"
    return camera


def enge_with_cameras() -> Neighbourhood:
    """Enge with four public cameras, one removed and one merged away; Seefeld with one camera."""
    load(area("Enge", ENGE), area("Seefeld", SEEFELD))
    enge = hood("enge")
    first = camera_at(IN_ENGE, updated=T0, status="verified", camera_type="dome", camera_mount="wall")
    for minutes, fields in [
        (1, {"status": "reported", "camera_type": "dome", "camera_mount": "pole", "operator_type": "police"}),
        (2, {"status": "reported", "camera_type": "fixed", "camera_mount": "wall", "operator_type": "business"}),
        (3, {"status": "stale", "camera_type": "fixed", "camera_mount": "wall", "operator_type": "business"}),
        # Neither of these counts: a removed camera, and the tombstone of a merge (both changed last).
        (10, {"status": "removed", "camera_type": "panning"}),
        (11, {"status": "verified", "camera_type": "panning", "merged_into": first}),
    ]:
        camera_at(IN_ENGE, updated=T0 + timedelta(minutes=minutes), **fields)
    camera_at(IN_SEEFELD, updated=T0 + timedelta(minutes=30), status="verified")
    Camera.objects.filter(lon=IN_ENGE[1]).update(neighbourhood=enge)
    Camera.objects.filter(lon=IN_SEEFELD[1]).update(neighbourhood=hood("seefeld"))
    return enge


def test_a_neighbourhoods_stats_count_its_public_cameras(db):
    enge = enge_with_cameras()

    assert neighbourhoods_stats_refresh() == 2

    enge.refresh_from_db()
    assert enge.stats == {
        "cameras": 4,
        "by_status": {"reported": 2, "verified": 1, "disputed": 0, "stale": 1},
        "by_type": {"dome": 2, "fixed": 2},
        "by_mount": {"wall": 3, "pole": 1},
        "by_operator_type": {"unknown": 1, "police": 1, "business": 2},
        "per_km2": pytest.approx(4 / enge.area_km2),
        "verified_share": 0.25,
        "last_update": "2025-05-01T12:03:00+00:00",
    }
    assert round(enge.stats["per_km2"], 2) == 4.77  # 4 cameras on 0.8393 km²
    assert enge.stats_updated_at is not None
    assert hood("seefeld").stats["cameras"] == 1


def test_stats_ignore_removed_and_merged_cameras(db):
    enge = enge_with_cameras()
    Camera.objects.filter(status="removed").update(status="reported")  # the removed one comes back

    stats = neighbourhood_stats(enge)

    assert stats["cameras"] == 5
    assert stats["by_type"] == {"dome": 2, "fixed": 2, "panning": 1}  # still not the merged one
    assert stats["last_update"] == "2025-05-01T12:10:00+00:00"


def test_refreshing_some_neighbourhoods_leaves_the_others_alone(db):
    enge_with_cameras()

    enge_before = hood("enge").stats  # as the load left it, before these cameras existed

    assert neighbourhoods_stats_refresh([hood("seefeld").pk]) == 1

    assert hood("enge").stats == enge_before
    assert enge_before["cameras"] == 0
    assert hood("seefeld").stats["by_status"]["verified"] == 1


def test_a_stats_refresh_does_not_move_the_neighbourhoods_updated_at(db):
    enge = enge_with_cameras()

    neighbourhoods_stats_refresh()

    assert hood("enge").updated_at == enge.updated_at


def test_an_empty_neighbourhood_has_zero_cameras_and_no_ratios():
    stats = stats_from([], area_km2=0.0)

    assert stats["cameras"] == 0
    assert (stats["per_km2"], stats["verified_share"], stats["last_update"]) == (None, None, None)


def test_blank_attribute_values_count_as_unknown():
    row = {"status": "reported", "camera_type": "", "camera_mount": "", "operator_type": "", "n": 3, "latest": T0}

    stats = stats_from([row], area_km2=1.5)

    assert stats["by_type"] == stats["by_mount"] == stats["by_operator_type"] == {"unknown": 3}
    assert stats["per_km2"] == 2.0
