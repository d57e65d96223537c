"""manage.py import_osm: OpenStreetMap surveillance nodes become cameras, each with one import sighting."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mapapp import imports, services
from mapapp.models import AuditEvent, Camera, Neighbourhood, Sighting

SWISS = "switzerland-osm/osm_surveillance_switzerland_overpass.json"
SWISS_NODES = 2144


def node(osm_id: int, lat: float = 47.37, lon: float = 8.54, **tags: str) -> dict[str, Any]:
    """An Overpass node; tag keys use "__" for ":" (camera__mount="wall")."""
    return {
        "type": "node",
        "id": osm_id,
        "lat": lat,
        "lon": lon,
        "tags": {k.replace("__", ":"): v for k, v in tags.items()},
    }


def write(tmp_path: Path, content: Any, name: str = "cameras.json") -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def run_import(path: Path, *args: str) -> str:
    out = io.StringIO()
    call_command("import_osm", str(path), *args, stdout=out)
    return out.getvalue()


def last_summary() -> dict[str, Any]:
    return AuditEvent.objects.filter(action="osm_import").latest("id").data


def row_counts() -> tuple[int, int, int]:
    return Camera.objects.count(), Sighting.objects.count(), Neighbourhood.objects.count()


# --- The real Swiss export ---------------------------------------------------------------------


@pytest.fixture
def swiss(datasets: Path) -> Path:
    return datasets / SWISS


@pytest.mark.datasets
@pytest.mark.django_db
def test_the_swiss_export_becomes_one_camera_and_one_import_sighting_per_node(swiss: Path) -> None:
    run_import(swiss)

    assert Camera.objects.filter(provenance=Camera.Provenance.OSM, sighting_count=1).count() == SWISS_NODES
    sightings = Sighting.objects.filter(source=Sighting.Source.IMPORT, status=Sighting.Status.PROCESSED)
    assert sightings.count() == SWISS_NODES
    assert {s.reporter.profile.handle for s in sightings.select_related("reporter__profile")} == {"OpenStreetMap"}
    # Each sighting belongs to the camera of its own node.
    pairs = set(sightings.values_list("client_id", "camera__osm_id"))
    assert pairs == {(f"osm-node-{osm_id}", osm_id) for osm_id in Camera.objects.values_list("osm_id", flat=True)}

    first = Camera.objects.get(osm_id=29773946)  # {"surveillance": "public"} at 47.2284849, 8.820002
    assert (first.lat, first.lon, first.surveillance, first.status) == (47.2284849, 8.820002, "public", "reported")
    assert first.surveillance_type == "camera"  # OSM's convention for a node without surveillance:type
    assert first.osm_tags == {"man_made": "surveillance", "surveillance": "public"}


@pytest.mark.datasets
@pytest.mark.django_db
def test_dirty_swiss_values_are_stored_as_unknown_counted_and_kept_raw(swiss: Path) -> None:
    output = run_import(swiss)

    summary = last_summary()
    assert summary["dirty_values"]["camera_mount"] == {"wall/ceiling": 3}
    assert summary["dirty_values"]["camera_type"]["dome;fixed"] == 1
    assert summary["dirty_values"]["surveillance"]["privat"] == 2
    assert summary["dirty_values"]["zone"]["Station"] == 6
    assert summary["outcomes"]["camera_mount"] == {"clean": 1374, "mapped": 38, "dirty": 3, "missing": 729}
    assert "'wall/ceiling' ×3" in output

    walls = Camera.objects.filter(**{"osm_tags__camera:mount": "wall/ceiling"})
    assert [c.camera_mount for c in walls] == ["unknown"] * 3
    assert set(Sighting.objects.filter(camera__in=walls).values_list("camera_mount", flat=True)) == {"unknown"}
    privat = Camera.objects.filter(osm_tags__surveillance="privat")
    assert [c.surveillance for c in privat] == ["unknown"] * 2


@pytest.mark.datasets
@pytest.mark.django_db
def test_reimporting_the_swiss_export_creates_nothing_and_counts_every_node_as_updated(swiss: Path) -> None:
    run_import(swiss)
    output = run_import(swiss)

    assert row_counts()[:2] == (SWISS_NODES, SWISS_NODES)
    summary = last_summary()
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (0, SWISS_NODES, SWISS_NODES)
    assert "0 created, 2,144 updated" in output


@pytest.mark.datasets
@pytest.mark.django_db
def test_a_node_changed_in_osm_is_updated_in_place_on_reimport(swiss: Path, tmp_path: Path) -> None:
    run_import(swiss)
    elements = json.loads(swiss.read_text())
    moved = next(e for e in elements if e["id"] == 29773946)
    moved["lat"] += 0.001
    moved["tags"]["camera:mount"] = "pole"

    run_import(write(tmp_path, elements))

    assert row_counts()[:2] == (SWISS_NODES, SWISS_NODES)
    camera = Camera.objects.get(osm_id=29773946)
    sighting = Sighting.objects.get(client_id="osm-node-29773946")
    assert (camera.lat, camera.camera_mount) == (sighting.lat, sighting.camera_mount) == (moved["lat"], "pole")
    assert camera.osm_tags["camera:mount"] == "pole"
    assert last_summary()["unchanged"] == SWISS_NODES - 1


@pytest.mark.datasets
@pytest.mark.django_db
def test_the_swiss_export_wrapped_as_overpass_prints_it_gives_the_same_cameras(swiss: Path, tmp_path: Path) -> None:
    wrapped = write(tmp_path, {"version": 0.6, "generator": "Overpass API", "elements": json.loads(swiss.read_text())})

    run_import(wrapped)
    assert row_counts()[:2] == (SWISS_NODES, SWISS_NODES)
    # The bare list then finds every camera already exactly as it would have made it.
    run_import(swiss)
    assert last_summary()["unchanged"] == SWISS_NODES


@pytest.mark.datasets
@pytest.mark.django_db
def test_the_swiss_export_as_geojson_gives_the_same_cameras(swiss: Path, tmp_path: Path) -> None:
    features = [
        {
            "type": "Feature",
            "id": f"node/{e['id']}",
            "geometry": {"type": "Point", "coordinates": [e["lon"], e["lat"]]},
            "properties": e["tags"],
        }
        for e in json.loads(swiss.read_text())
    ]
    geojson = write(tmp_path, {"type": "FeatureCollection", "features": features}, "cameras.geojson")

    run_import(geojson)
    assert row_counts()[:2] == (SWISS_NODES, SWISS_NODES)
    run_import(swiss)
    assert last_summary()["unchanged"] == SWISS_NODES


# --- Malformed files ---------------------------------------------------------------------------

MALFORMED = {
    "not JSON": ('[{"type": "node", "id": 1,', "not valid JSON"),
    "an object without elements": ({"version": 0.6, "nodes": []}, "expected Overpass JSON"),
    "an element without lat": ([node(1), {"type": "node", "id": 2, "lon": 8.5}], "element 1 (node 2): lat is missing"),
    "lat 95": ([node(1), node(2, lat=95)], "element 1 (node 2): lat 95 is outside -90..90"),
    "a string lat": ([node(1), node(2, lat="47.1")], "element 1 (node 2): lat must be a number, got '47.1'"),
    "an element without id": ([node(1), {"type": "node", "lat": 1, "lon": 2}], "element 1: id is missing"),
    "lon 181": ([node(1), node(2, lon=181)], "element 1 (node 2): lon 181 is outside -180..180"),
    "one node twice, differently": ([node(1), node(1, lat=46)], "element 1: node 1 also appears as element 0"),
}


@pytest.fixture
def previous_import(db: None, tmp_path: Path) -> Camera:
    """The database already holds node 1, as a wall camera."""
    run_import(write(tmp_path, [node(1, camera__mount="wall")], "earlier.json"))
    return Camera.objects.get(osm_id=1)


@pytest.mark.parametrize(("content", "message"), MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_file_is_rejected_by_name_and_changes_nothing(
    previous_import: Camera, tmp_path: Path, content: Any, message: str
) -> None:
    # Node 1 comes before the bad element and would move the camera if anything were half-written.
    if isinstance(content, list):
        content = [node(1, lat=10, camera__mount="pole"), *content[1:]]
    before = row_counts()

    with pytest.raises(CommandError, match="Nothing was imported") as excinfo:
        run_import(write(tmp_path, content))

    assert message in str(excinfo.value)
    assert "cameras.json" in str(excinfo.value)
    assert row_counts() == before
    camera = Camera.objects.get(osm_id=1)
    assert (camera.lat, camera.camera_mount) == (previous_import.lat, "wall")
    assert AuditEvent.objects.filter(action="osm_import").count() == 1


@pytest.mark.django_db
def test_a_missing_file_is_reported_as_unreadable(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="cannot be read"):
        run_import(tmp_path / "nope.json")


@pytest.mark.django_db
def test_an_import_that_fails_at_its_last_step_leaves_no_camera_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def audit_fails(**kwargs: Any) -> None:
        raise RuntimeError("audit table unavailable")

    monkeypatch.setattr(services, "audit_record", audit_fails)

    with pytest.raises(RuntimeError):
        run_import(write(tmp_path, [node(1), node(2)]))

    assert row_counts() == (0, 0, 0)


# --- Rules, on small files ---------------------------------------------------------------------


@pytest.mark.django_db
def test_compass_directions_are_translated_and_direction_lists_are_counted_as_dirty(tmp_path: Path) -> None:
    run_import(write(tmp_path, [node(1, camera__direction="NE"), node(2, camera__direction="70;240")]))

    assert Camera.objects.get(osm_id=1).direction == 45
    assert Camera.objects.get(osm_id=2).direction is None
    assert Sighting.objects.get(client_id="osm-node-2").direction is None
    summary = last_summary()
    assert summary["outcomes"]["direction"] == {"clean": 0, "mapped": 1, "dirty": 1, "missing": 0}
    assert summary["dirty_values"]["direction"] == {"70;240": 1}


@pytest.mark.django_db
def test_direction_falls_back_to_the_generic_key_but_camera_direction_wins(tmp_path: Path) -> None:
    run_import(write(tmp_path, [node(1, direction="120"), node(2, direction="120", camera__direction="300")]))

    assert Camera.objects.get(osm_id=1).direction == 120
    assert Camera.objects.get(osm_id=2).direction == 300


@pytest.mark.django_db
def test_operator_and_operator_type_come_from_their_osm_keys(tmp_path: Path) -> None:
    run_import(write(tmp_path, [node(1, operator="SBB CFF FFS", operator__type="public_transport")]))

    camera = Camera.objects.get(osm_id=1)
    assert (camera.operator, camera.operator_type) == ("SBB CFF FFS", "transit")


@pytest.mark.django_db
def test_surveillance_type_option_fills_in_nodes_without_one(tmp_path: Path) -> None:
    # DeFlock's files are bare {id, lat, lon, tags} with no type and no surveillance:type.
    alpr = [{"id": 1, "lat": 33.7, "lon": -84.4, "tags": {"direction": "75", "manufacturer": "Flock Safety"}}]
    output = run_import(write(tmp_path, [*alpr, node(2, surveillance__type="camera")]), "--surveillance-type", "ALPR")

    assert Camera.objects.get(osm_id=1).surveillance_type == "ALPR"
    assert Sighting.objects.get(client_id="osm-node-1").surveillance_type == "ALPR"
    assert Camera.objects.get(osm_id=2).surveillance_type == "camera"
    assert "missing ones set to ALPR" in output


@pytest.mark.django_db
def test_an_unknown_surveillance_type_option_is_rejected_with_the_choices(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="must be one of camera, ALPR, guard, gunshot_detector"):
        run_import(write(tmp_path, [node(1)]), "--surveillance-type", "drone")
    assert row_counts() == (0, 0, 0)


@pytest.mark.django_db
def test_ways_and_relations_are_skipped_and_counted(tmp_path: Path) -> None:
    way = {"type": "way", "id": 1, "center": {"lat": 47.0, "lon": 8.0}, "nodes": [5, 6], "tags": {"man_made": "x"}}
    output = run_import(write(tmp_path, {"elements": [node(1), way, {"type": "relation", "id": 9, "members": []}]}))

    assert Camera.objects.count() == 1
    assert last_summary()["skipped"] == 2
    assert "2 skipped (not nodes)" in output


@pytest.mark.django_db
def test_an_identical_node_repeated_in_one_file_is_imported_once(tmp_path: Path) -> None:
    run_import(write(tmp_path, [node(1), node(2), node(1)]))

    assert row_counts()[:2] == (2, 2)
    assert last_summary()["duplicates"] == 1


@pytest.mark.django_db
def test_geojson_takes_the_node_id_from_the_at_id_property_and_skips_other_geometries(tmp_path: Path) -> None:
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [8.5, 47.4]},
            "properties": {"@id": "node/77", "camera:type": "dome"},
        },
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[8, 47], [8.1, 47]]}, "properties": {}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [8, 47]}, "properties": {"@id": "way/5"}},
    ]
    run_import(write(tmp_path, {"type": "FeatureCollection", "features": features}))

    camera = Camera.objects.get()
    assert (camera.osm_id, camera.lat, camera.lon, camera.camera_type) == (77, 47.4, 8.5, "dome")
    assert camera.osm_tags == {"camera:type": "dome"}
    assert last_summary()["skipped"] == 2


@pytest.mark.django_db
def test_a_geojson_point_without_a_node_id_is_rejected(tmp_path: Path) -> None:
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [8.5, 47.4]}, "properties": {}}
    with pytest.raises(CommandError, match="feature 0: id is missing"):
        run_import(write(tmp_path, {"type": "FeatureCollection", "features": [feature]}))


@pytest.mark.django_db
def test_reimport_leaves_volunteer_verdicts_and_unchanged_cameras_alone(tmp_path: Path) -> None:
    path = write(tmp_path, [node(1), node(2)])
    run_import(path)
    Camera.objects.filter(osm_id=1).update(status=Camera.Status.VERIFIED, confirm_count=3, sighting_count=4)
    stamps = dict(Camera.objects.values_list("osm_id", "updated_at"))

    run_import(path)

    camera = Camera.objects.get(osm_id=1)
    assert (camera.status, camera.confirm_count, camera.sighting_count) == ("verified", 3, 4)
    # A "changed since" feed does not see an unchanged camera as changed.
    assert dict(Camera.objects.values_list("osm_id", "updated_at")) == stamps


@pytest.mark.django_db
def test_each_import_is_recorded_once_in_the_audit_log(tmp_path: Path) -> None:
    run_import(write(tmp_path, [node(1), node(2, camera__mount="wall/ceiling")]))

    event = AuditEvent.objects.get(action="osm_import")
    assert event.actor is None
    assert event.data["source"] == "cameras.json"
    assert (event.data["nodes"], event.data["created"]) == (2, 2)
    assert event.data["dirty_values"] == {"camera_mount": {"wall/ceiling": 1}}


@pytest.mark.django_db
def test_the_progress_bar_advances_batch_by_batch_to_the_number_of_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imports.osm, "BATCH_SIZE", 2)
    elements = imports.parse_osm([node(i, camera__mount="pole") for i in range(1, 6)])
    steps: list[int] = []

    summary = imports.osm_import(elements=elements, progress=steps.append)

    assert steps == [2, 2, 1]
    assert summary.created == 5
    # Every batch linked its sightings to its own cameras.
    assert all(s.client_id == f"osm-node-{s.camera.osm_id}" for s in Sighting.objects.select_related("camera"))
