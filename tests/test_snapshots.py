"""Open-data snapshots: three gzip files and a manifest that tells the truth about them, written from one
state of the database, never half-published, pruned, listed and served on /data/, naming nobody.

The city is built through the real services (sightings submitted and processed, a vote, a moderator
hiding a sighting) by people with distinctive usernames and emails at distinctive times, so that
every byte of every file can be searched for them.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
import subprocess
import sys
import threading
import tracemalloc
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connections
from django.test import Client

from mapapp import services
from mapapp.exports import formats
from mapapp.exports.snapshots import (
    FILES,
    BadFilter,
    SnapshotBusy,
    SnapshotError,
    snapshot_write,
    snapshots_list,
)
from mapapp.models import Camera, Sighting
from tests.conftest import _person
from tests.test_map_pages import load_areas, square

OLD_TOWN = (47.3769, 8.5417)
HARBOUR = (47.3769, 8.5717)
HIDDEN_SPOT = (47.381234, 8.547654)
ALICE_AT = datetime(2024, 5, 17, 13, 37, 42, 123456, tzinfo=UTC)
BOB_AT = datetime(2024, 5, 18, 7, 8, 9, tzinfo=UTC)
NOTES = "I live above the bakery, flat 3"
NOW = datetime(2026, 11, 22, 3, 0, 7, tzinfo=UTC)
VERSION = "2026-11-22T0300Z"
TIME_OF_DAY = re.compile(rb"\d{2}:\d{2}")
NAMES = [spec.name for spec in FILES]


@pytest.fixture(autouse=True)
def snapshot_root(settings, tmp_path: Path) -> Path:
    settings.SNAPSHOT_ROOT = tmp_path / "snapshots"
    settings.SNAPSHOT_BASE_URL = "https://cameras.example.org"
    return settings.SNAPSHOT_ROOT


def seen(reporter: object, at: tuple[float, float], when: datetime, **fields: object) -> Sighting:
    data = {"lat": at[0], "lon": at[1], "observed_at": when, "camera_type": "dome", **fields}
    sighting = services.sighting_submit(reporter=reporter, data=data).sighting
    services.sighting_process(sighting_id=sighting.pk)
    return Sighting.objects.get(pk=sighting.pk)


@pytest.fixture
def city(volunteer, second_volunteer, moderator) -> dict[str, object]:
    """Three volunteer cameras (two in the Old Town, one in the Harbour), one from OSM, and one whose
    only sighting a moderator hid."""
    load_areas(("Old Town", square(*OLD_TOWN, 0.01)), ("Harbour", square(*HARBOUR, 0.01)))
    erin = _person("erin_realname")
    first = seen(volunteer, OLD_TOWN, ALICE_AT, notes=NOTES, operator='City Police, "Unit 3"')
    seen(second_volunteer, (OLD_TOWN[0] + 0.00002, OLD_TOWN[1]), BOB_AT)  # joins the first camera
    second = seen(second_volunteer, (OLD_TOWN[0] + 0.003, OLD_TOWN[1]), BOB_AT, camera_type="fixed")
    harbour = seen(volunteer, HARBOUR, ALICE_AT)
    services.vote_cast(voter=erin, camera_id=first.camera_id, verdict="confirm")
    hidden = seen(volunteer, HIDDEN_SPOT, ALICE_AT)
    services.sighting_hide(sighting_id=hidden.pk, actor=moderator, reason="Shows the reporter's house")
    osm = Camera.objects.create(
        lat=OLD_TOWN[0] - 0.002, lon=OLD_TOWN[1], sighting_count=1, provenance=Camera.Provenance.OSM, osm_id=4242
    )
    assert Camera.objects.get(pk=first.camera_id).confirmations >= 1  # the data really has volunteers in it
    return {
        "volunteer_cameras": sorted([first.camera_id, second.camera_id, harbour.camera_id]),
        "osm_camera": osm.pk,
        "hidden_camera": hidden.camera_id,
        "people": [volunteer, second_volunteer, moderator, erin],
    }


def unpacked(snapshot, name: str) -> bytes:
    return gzip.decompress((snapshot.path / name).read_bytes())


def xml(data: bytes) -> ET.Element:
    return ET.fromstring(data)  # noqa: S314 -- our own output, parsed to check it is well-formed


def entry(snapshot, name: str) -> dict:
    return next(f for f in snapshot.files if f["name"] == name)


def listed() -> list[str]:
    return [s.version for s in snapshots_list()]


def on_disk(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) if root.exists() else []


def public_camera(**values: object) -> Camera:
    return Camera(lat=values.pop("lat", 47.0), lon=values.pop("lon", 8.0), sighting_count=1, **values)


# --- The files and their manifest ---------------------------------------------------------------


def test_a_snapshot_has_three_gzip_files_whose_manifest_tells_their_rows_sizes_and_checksums(city):
    snapshot = snapshot_write(now=NOW)

    assert snapshot.created
    assert snapshot.version == VERSION
    assert sorted(p.name for p in snapshot.path.iterdir()) == sorted([*NAMES, "manifest.json"])
    for f in snapshot.files:
        data = (snapshot.path / f["name"]).read_bytes()
        assert data[:2] == b"\x1f\x8b", f"{f['name']} is not gzip"
        assert f["bytes"] == len(data)
        assert f["sha256"] == hashlib.sha256(data).hexdigest()
    geojson = json.loads(unpacked(snapshot, "cameras.geojson.gz"))
    records = list(csv.DictReader(io.StringIO(unpacked(snapshot, "cameras.csv.gz").decode(), newline="")))
    nodes = xml(unpacked(snapshot, "cameras.osm.gz")).findall("node")
    assert entry(snapshot, "cameras.geojson.gz")["rows"] == len(geojson["features"]) == 4
    assert entry(snapshot, "cameras.csv.gz")["rows"] == len(records) == 4
    assert entry(snapshot, "cameras.osm.gz")["rows"] == len(nodes) == 3  # the OSM camera is in OSM already


def test_the_manifest_carries_the_licence_citation_filters_precision_and_columns(city):
    manifest = snapshot_write(now=NOW).manifest

    assert manifest["version"] == VERSION
    assert manifest["generated_at"] == "2026-11-22T03:00:07Z"
    assert manifest["license"] == {"id": "ODbL-1.0", "name": formats.LICENCE_NAME, "url": formats.LICENCE_URL}
    assert manifest["attribution"] == formats.ATTRIBUTION
    assert manifest["citation"] == formats.citation(
        accessed=NOW.date(), url=f"https://cameras.example.org/data/{VERSION}/manifest.json"
    )
    assert manifest["filters"] == {}
    assert manifest["public_date_precision"] == settings.PUBLIC_DATE_PRECISION == "month"
    assert [c["name"] for c in manifest["columns"]] == list(formats.PUBLIC_COLUMNS)
    assert all(c["description"] for c in manifest["columns"])
    assert [(f["format"], f["media_type"]) for f in manifest["files"]] == [
        ("geojson", "application/geo+json"),
        ("csv", "text/csv"),
        ("osm", "application/vnd.openstreetmap.data+xml"),
    ]


def test_the_geojson_is_a_feature_collection_of_lon_lat_points_with_the_licence(city):
    snapshot = snapshot_write(now=NOW)

    doc = json.loads(unpacked(snapshot, "cameras.geojson.gz"))

    assert doc["type"] == "FeatureCollection"
    assert doc["license"]["url"] == formats.LICENCE_URL
    assert doc["citation"] == snapshot.manifest["citation"]
    assert doc["snapshot"] == VERSION
    by_id = {f["id"]: f for f in doc["features"]}
    assert sorted(by_id) == sorted([*city["volunteer_cameras"], city["osm_camera"]])
    harbour = Camera.objects.get(pk=city["volunteer_cameras"][-1])
    assert by_id[harbour.pk]["geometry"] == {"type": "Point", "coordinates": [harbour.lon, harbour.lat]}
    assert 8 < by_id[harbour.pk]["geometry"]["coordinates"][0] < 9  # longitude first (RFC 7946)
    assert by_id[harbour.pk]["properties"]["neighbourhood"] == "harbour"


def test_the_csv_reads_back_with_the_csv_module(city):
    snapshot = snapshot_write(now=NOW)

    reader = csv.reader(io.StringIO(unpacked(snapshot, "cameras.csv.gz").decode(), newline=""))
    header, *rows = list(reader)
    records = [dict(zip(header, row, strict=True)) for row in rows]

    assert tuple(header) == formats.PUBLIC_COLUMNS
    assert [int(r["id"]) for r in records] == sorted([*city["volunteer_cameras"], city["osm_camera"]])
    assert 'City Police, "Unit 3"' in {r["operator"] for r in records}
    assert {r["first_seen"] for r in records if r["provenance"] == "volunteer"} == {"2024-05-01"}


def test_the_osm_xml_parses_and_holds_only_the_cameras_osm_does_not_have(city):
    snapshot = snapshot_write(now=NOW)

    root = xml(unpacked(snapshot, "cameras.osm.gz"))

    assert root.tag == "osm"
    assert root.get("upload") == "false"
    assert sorted(-int(n.get("id")) for n in root.findall("node")) == city["volunteer_cameras"]


def test_no_file_names_a_volunteer_or_gives_a_time(city):
    people = city["people"]
    forbidden = [p.username for p in people] + [p.email for p in people] + [p.profile.handle for p in people]
    forbidden += [NOTES, "Shows the reporter's house", str(HIDDEN_SPOT[0]), str(HIDDEN_SPOT[1])]
    forbidden += ["2024-05-17", "2024-05-18", "13:37", "07:08", ALICE_AT.isoformat()[:16]]  # days, under "month"
    forbidden += [str(int(ALICE_AT.timestamp())), str(int(BOB_AT.timestamp()))]

    snapshot = snapshot_write(now=NOW)

    manifest = (snapshot.path / "manifest.json").read_bytes()
    documents = {name: unpacked(snapshot, name) for name in NAMES} | {"manifest.json": manifest}
    for name, data in documents.items():
        lowered = data.lower()
        for secret in forbidden:
            assert secret.lower().encode() not in lowered, f"{name} leaks {secret!r}"
        for field in (b'"reporter"', b'"username"', b'"email"', b"user_id", b"reporter_id", b"handle"):
            assert field not in lowered, f"{name} has a {field!r} field"
    for name in NAMES:
        assert not TIME_OF_DAY.search(documents[name]), f"{name} gives a time of day"
    # The manifest's one time is the snapshot's own.
    assert not TIME_OF_DAY.search(manifest.replace(b"2026-11-22T03:00:07Z", b""))


# --- One state of the database, nothing half-written ---------------------------------------------


def test_all_three_files_come_from_one_state_of_the_database(transactional_db):
    Camera.objects.bulk_create([public_camera(lat=47.0 + i * 1e-4) for i in range(3000)])
    added = threading.Event()
    failures: list[BaseException] = []

    def add_a_camera() -> None:  # another process's commit, on a connection of its own
        try:
            Camera.objects.create(lat=46.0, lon=7.0, sighting_count=1)
        except BaseException as exc:
            failures.append(exc)
        finally:
            connections.close_all()

    def while_writing(name: str, rows: int) -> None:
        if name == "cameras.geojson.gz" and rows > 0 and not added.is_set():  # its query is under way
            writer = threading.Thread(target=add_a_camera)
            writer.start()
            writer.join(timeout=20)
            assert not writer.is_alive(), "the snapshot's read transaction blocked a writer"
            added.set()

    snapshot = snapshot_write(now=NOW, progress=while_writing)

    assert added.is_set()
    assert not failures, failures
    assert Camera.objects.count() == 3001  # the camera was committed while the files were written...
    assert [f["rows"] for f in snapshot.files] == [3000, 3000, 3000]  # ...and is in none of them
    later = snapshot_write(now=NOW + timedelta(minutes=1))
    assert [f["rows"] for f in later.files] == [3001, 3001, 3001]


@pytest.mark.parametrize("failure", [RuntimeError("disk trouble"), KeyboardInterrupt()])
def test_a_failure_mid_write_leaves_no_folder_and_lists_nothing(city, snapshot_root, failure):
    geojson_was_in_place = []

    def fail_in_the_csv(name: str, rows: int) -> None:
        if name == "cameras.csv.gz":
            geojson_was_in_place.append((snapshot_root / VERSION / "cameras.geojson.gz").exists())
            raise failure

    with pytest.raises(type(failure)):
        snapshot_write(now=NOW, progress=fail_in_the_csv)

    assert geojson_was_in_place == [True]  # it failed mid-write, with a finished file already there
    assert on_disk(snapshot_root) == []
    assert listed() == []
    assert Client().get(f"/data/{VERSION}/cameras.geojson.gz").status_code == 404


def test_a_killed_writers_folder_is_never_listed_and_the_next_snapshot_removes_it(city, snapshot_root):
    leftover = snapshot_root / "2026-11-21T0300Z"
    leftover.mkdir(parents=True)
    (leftover / "cameras.geojson.gz").write_bytes(gzip.compress(b'{"type":"FeatureCollection","features":['))

    assert listed() == []
    assert Client().get("/data/2026-11-21T0300Z/cameras.geojson.gz").status_code == 404

    snapshot_write(now=NOW)

    assert on_disk(snapshot_root) == [VERSION]


# --- Versions, the lock, pruning ----------------------------------------------------------------


def test_a_second_snapshot_in_the_same_minute_returns_the_first_untouched(city):
    first = snapshot_write(now=NOW)
    stamps = {name: (first.path / name).stat().st_mtime_ns for name in [*NAMES, "manifest.json"]}

    again = snapshot_write(now=NOW + timedelta(seconds=40))

    assert not again.created
    assert again.manifest == first.manifest
    assert {name: (first.path / name).stat().st_mtime_ns for name in stamps} == stamps


def test_a_second_snapshot_in_the_same_minute_with_other_filters_is_refused(city):
    snapshot_write(now=NOW)

    with pytest.raises(SnapshotError, match="already exists with other filters"):
        snapshot_write(now=NOW, filters={"neighbourhood": "harbour"})


def test_while_another_process_writes_a_snapshot_no_second_one_is_written(city, snapshot_root):
    snapshot_root.mkdir(parents=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time\n"
            f"f = open({str(snapshot_root / '.lock')!r}, 'a'); fcntl.flock(f, fcntl.LOCK_EX)\n"
            "print('locked', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline() == b"locked\n"
        with pytest.raises(SnapshotBusy):
            snapshot_write(now=NOW)
        from mapapp.tasks import export_snapshot

        assert export_snapshot.apply().get() is None
        assert on_disk(snapshot_root) == []
    finally:
        holder.kill()
        holder.wait()

    assert snapshot_write(now=NOW).created  # the lock dies with its process


def test_only_the_newest_snapshot_keep_snapshots_stay(city, settings, snapshot_root):
    settings.SNAPSHOT_KEEP = 2
    versions = [snapshot_write(now=NOW + timedelta(days=day)).version for day in range(4)]

    assert listed() == [versions[3], versions[2]]
    assert on_disk(snapshot_root) == [versions[2], versions[3]]


# --- Filters --------------------------------------------------------------------------------------


def test_a_neighbourhood_snapshot_holds_only_its_cameras_and_says_so(city):
    snapshot = snapshot_write(now=NOW, filters={"neighbourhood": "harbour", "status": None})

    records = list(csv.DictReader(io.StringIO(unpacked(snapshot, "cameras.csv.gz").decode(), newline="")))
    assert [int(r["id"]) for r in records] == [city["volunteer_cameras"][-1]]
    assert snapshot.manifest["filters"] == {"neighbourhood": "harbour"}
    assert "not the whole city" in Client().get("/data/").content.decode()


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"neighbourhood": "atlantis"}, "No neighbourhood has this slug"),
        ({"status": "removed"}, "removed is not a public status"),
        ({"status": "verified,bogus"}, "bogus is not a public status"),
        ({"camera_typ": "dome"}, "Unknown filter camera_typ"),
        ({"neighbourhood": ""}, "has no value"),
    ],
)
def test_a_bad_filter_is_refused_before_anything_is_written(city, snapshot_root, filters, message):
    with pytest.raises(BadFilter, match=message):
        snapshot_write(now=NOW, filters=filters)

    assert not snapshot_root.exists()


# --- The command and the task ----------------------------------------------------------------------


def test_the_command_writes_a_snapshot_and_prints_its_summary(city):
    out = io.StringIO()

    call_command("export_snapshot", "--status", "reported,verified", stdout=out)

    (snapshot,) = snapshots_list()
    text = out.getvalue()
    assert f"Snapshot {snapshot.version} written" in text
    assert "filters: status=reported,verified" in text
    for f in snapshot.files:
        assert f"{f['name']}" in text
        assert f"{f['rows']:,} rows" in text
        assert f"sha256 {f['sha256']}" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--neighbourhood", "atlantis"], "neighbourhood: No neighbourhood has this slug"),
        (["--status", "removed"], "status: removed is not a public status; choose from reported"),
    ],
)
def test_the_command_refuses_bad_input_clearly_and_writes_nothing(city, snapshot_root, args, message):
    with pytest.raises(CommandError, match=message) as refused:
        call_command("export_snapshot", *args, stdout=io.StringIO())

    assert "Nothing was written." in str(refused.value)
    assert not snapshot_root.exists()


def test_the_task_writes_a_snapshot(city):
    from mapapp.tasks import export_snapshot

    version = export_snapshot.apply().get()

    assert listed() == [version]


def test_the_snapshot_is_scheduled_nightly_at_three_by_beat():
    import mapapp.tasks  # noqa: F401 (registers the tasks)
    from camerawatch.celery import app

    (entry,) = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "mapapp.tasks.export_snapshot"]

    assert entry["schedule"] == crontab(hour=3, minute=0)
    assert "mapapp.tasks.export_snapshot" in app.tasks
    assert str(app.timezone) == "UTC"


# --- /data/ -----------------------------------------------------------------------------------------


def test_the_data_page_lists_snapshots_newest_first_with_their_files(city):
    older = snapshot_write(now=NOW - timedelta(days=1))
    newer = snapshot_write(now=NOW)

    page = Client().get("/data/")

    html = page.content.decode()
    assert page.status_code == 200
    assert html.index(newer.version) < html.index(older.version)
    for snapshot in (newer, older):
        assert f'href="/data/{snapshot.version}/manifest.json"' in html
        for f in snapshot.files:
            assert f'href="/data/{snapshot.version}/{f["name"]}"' in html
            assert f["sha256"] in html
    assert formats.LICENCE_URL in html
    assert "CameraWatch contributors, ODbL 1.0" in html
    assert f"https://cameras.example.org/data/{newer.version}/manifest.json (accessed 2026-11-22)" in html
    assert 'href="/api/v1/"' in html
    assert 'href="/api/docs/"' in html


def test_the_data_page_says_when_there_is_no_snapshot_yet(db):
    page = Client().get("/data/")

    assert page.status_code == 200
    assert 'id="no-snapshots"' in page.content.decode()


def test_every_page_links_to_the_data_page(db):
    assert '<a href="/data/">Data</a>' in Client().get("/transparency/").content.decode()


def test_a_file_downloads_as_the_gzip_file_the_manifest_describes(city):
    snapshot = snapshot_write(now=NOW)
    f = entry(snapshot, "cameras.csv.gz")

    response = Client().get(f"/data/{VERSION}/cameras.csv.gz")

    body = b"".join(response.streaming_content)
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/gzip"
    assert "Content-Encoding" not in response
    assert response["Content-Disposition"] == f'attachment; filename="camerawatch-{VERSION}-cameras.csv.gz"'
    assert int(response["Content-Length"]) == f["bytes"]
    assert hashlib.sha256(body).hexdigest() == f["sha256"]
    assert 'rel="license"' in response["Link"]
    assert gzip.decompress(body).startswith(b"id,lat,lon,")


def test_the_manifest_is_served_as_json(city):
    snapshot = snapshot_write(now=NOW)

    response = Client().get(f"/data/{VERSION}/manifest.json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert json.loads(b"".join(response.streaming_content)) == snapshot.manifest


@pytest.mark.parametrize(
    "path",
    [
        f"/data/{VERSION}/..%2F..%2Fsecret.txt",
        f"/data/{VERSION}/%2E%2E%2Fsecret.txt",
        f"/data/{VERSION}/../manifest.json",
        "/data/..%2Fsecret.txt/manifest.json",
        "/data/../secret.txt",
        f"/data/{VERSION}/not-listed.txt",
        f"/data/{VERSION}/cameras.csv.gz.tmp",
        "/data/2099-01-01T0000Z/manifest.json",
        "/data/.lock/manifest.json",
    ],
)
def test_only_files_a_manifest_lists_are_served(city, snapshot_root, path):
    snapshot_write(now=NOW)
    # Real files that a traversal or a name off the list would reach.
    (snapshot_root.parent / "secret.txt").write_text("not public")
    (snapshot_root / VERSION / "not-listed.txt").write_text("not public")
    (snapshot_root / VERSION / "cameras.csv.gz.tmp").write_text("not public")

    response = Client().get(path)

    assert response.status_code == 404
    assert b"not public" not in (b"".join(response.streaming_content) if response.streaming else response.content)


# --- Memory -----------------------------------------------------------------------------------------


def traced_peaks(now: datetime) -> dict[str, int]:
    """The most memory Python held at once while writing each file of a snapshot (tracemalloc, bytes)."""
    peaks: dict[str, int] = {}

    def note(name: str, rows: int) -> None:
        peaks[name] = max(peaks.get(name, 0), tracemalloc.get_traced_memory()[1])
        tracemalloc.reset_peak()

    tracemalloc.start()
    try:
        snapshot_write(now=now, progress=note)
        peaks["all"] = max(tracemalloc.get_traced_memory()[1], *peaks.values())
    finally:
        tracemalloc.stop()
    return peaks


def test_four_times_the_cameras_take_no_more_memory_to_write(db):
    """Constant memory: the peak stops growing once the buffers (a fetch of 2,000 rows, a chunk of
    1,000 per format) are full, at about 6 MB by 5,000 cameras. Holding the rows (26 MB for 20,000)
    or any one file whole (the CSV is 2.8 MB unpacked, the GeoJSON 11 MB) would grow with them."""

    def add(n: int) -> None:
        Camera.objects.bulk_create(
            [public_camera(lat=47.0 + i * 1e-5, operator=f"Operator {i % 50}", zone="town") for i in range(n)],
            batch_size=2000,
        )

    add(5_000)
    snapshot_write(now=NOW - timedelta(minutes=1))  # untraced: first-time imports and the URLconf
    small = traced_peaks(NOW)
    add(15_000)

    big = traced_peaks(NOW + timedelta(minutes=1))

    (snapshot, *_) = snapshots_list()
    assert [f["rows"] for f in snapshot.files] == [20_000, 20_000, 20_000]
    assert big["all"] < 20 * 1024 * 1024, f"peak {big['all'] / 1e6:.1f} MB"
    for name in NAMES:  # per file, so that no file can hide behind a bigger one's buffers
        grown = big[name] - small[name]
        assert grown < 1024 * 1024, (
            f"{name}: {small[name] / 1e6:.1f} MB for 5,000 cameras, {grown / 1e6:.1f} MB more for 20,000"
        )
