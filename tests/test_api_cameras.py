"""The open-data API: cameras (filters, cursors, formats, export), neighbourhoods, stats and the root.

Cameras are written straight to the table here (the values each test needs, quickly);
tests/test_api_privacy.py builds its data through the real sighting services instead.
"""

from __future__ import annotations

import base64
import csv
import io
import itertools
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from mapapp.exports.formats import PUBLIC_COLUMNS
from mapapp.models import Camera, Neighbourhood
from mapapp.services.neighbourhoods import neighbourhoods_stats_refresh
from tests.conftest import api_client_for

URL = "/api/v1/cameras/"
EXPORT = "/api/v1/cameras/export/"
ZURICH = (47.3769, 8.5417)
_ids = itertools.count(1)


def square(lat: float, lon: float, half: float) -> dict:
    ring = [[lon - half, lat - half], [lon + half, lat - half], [lon + half, lat + half], [lon - half, lat + half]]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def area(name: str, lat: float = ZURICH[0], lon: float = ZURICH[1], half: float = 0.01) -> Neighbourhood:
    return Neighbourhood.objects.create(
        name=name,
        slug=name.lower().replace(" ", "-"),
        polygon=square(lat, lon, half),
        min_lon=lon - half,
        min_lat=lat - half,
        max_lon=lon + half,
        max_lat=lat + half,
        area_km2=1.5,
    )


def camera(*, updated: datetime | None = None, **values: object) -> Camera:
    """A public camera (one visible sighting) with these values; `updated` sets updated_at."""
    values.setdefault("lat", ZURICH[0])
    values.setdefault("lon", ZURICH[1])
    cam = Camera.objects.create(sighting_count=1, **values)
    if updated is not None:
        Camera.objects.filter(pk=cam.pk).update(updated_at=updated)
    return cam


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [r["id"] for r in response.json()["results"]]


def get(params: dict | None = None, *, client: APIClient | None = None, url: str = URL, **extra):
    return (client or APIClient()).get(url, params or {}, **extra)


def xml(data: bytes) -> ET.Element:
    return ET.fromstring(data)  # noqa: S314 -- our own output, parsed to check it is well-formed


def content(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


# --- The list --------------------------------------------------------------------------------------


def test_anyone_can_list_public_cameras_as_json_with_the_licence(db):
    a, b = camera(), camera(lat=47.38)

    body = get().json()

    assert [r["id"] for r in body["results"]] == [a.pk, b.pk]
    assert list(body["results"][0]) == list(PUBLIC_COLUMNS)
    assert body["license"]["id"] == "ODbL-1.0"
    assert "OpenStreetMap contributors" in body["attribution"]
    assert f"(accessed {timezone.now().date().isoformat()})" in body["citation"]
    assert "http://testserver/api/v1/" in body["citation"]
    assert body["next"] is None


def test_removed_merged_and_fully_hidden_cameras_are_not_published(db):
    shown = camera()
    camera(status=Camera.Status.REMOVED)
    camera(merged_into=shown)
    hidden = camera()
    Camera.objects.filter(pk=hidden.pk).update(sighting_count=0)  # every sighting hidden by moderators

    assert ids(get()) == [shown.pk]


@override_settings(PUBLIC_DATE_PRECISION="day")  # an operator's choice; the default is month
def test_a_camera_row_has_days_not_times_and_counts_not_people(db):
    hood = area("Old Town")
    cam = camera(
        neighbourhood=hood,
        confirmations=2,
        first_seen=datetime(2024, 5, 17, 23, 59, 58, tzinfo=UTC),
        last_seen=datetime(2024, 6, 1, 0, 0, 1, tzinfo=UTC),
        last_confirmed_at=datetime(2024, 6, 1, 12, 0, tzinfo=UTC),
        updated=datetime(2024, 6, 2, 8, 30, tzinfo=UTC),
    )

    (result,) = get().json()["results"]

    assert result["id"] == cam.pk
    assert result["first_seen"] == "2024-05-17"
    assert result["last_seen"] == "2024-06-01"
    assert result["last_confirmed"] == "2024-06-01"
    assert result["updated"] == "2024-06-02"
    assert result["neighbourhood"] == "old-town"
    assert result["contributors"] == 3  # the reporter and two confirmations
    assert result["provenance"] == "volunteer"


def test_an_osm_import_counts_no_volunteer_for_the_import_itself(db):
    camera(provenance=Camera.Provenance.OSM, osm_id=42, confirmations=1)

    (result,) = get().json()["results"]

    assert result["contributors"] == 1
    assert result["osm_id"] == 42


# --- Filters ---------------------------------------------------------------------------------------

BASE = {
    "status": "reported",
    "surveillance_type": "camera",
    "camera_type": "fixed",
    "camera_mount": "wall",
    "operator_type": "business",
    "zone": "shop",
}


@pytest.fixture
def varied(db) -> dict[str, Camera]:
    """One baseline camera and, for each filter, one camera that differs in just that."""
    hood = area("Old Town")
    area("Harbour", lon=ZURICH[1] + 0.05)
    old = datetime(2024, 1, 1, tzinfo=UTC)
    return {
        "base": camera(**BASE, updated=old),
        "bbox": camera(**BASE, lat=48.2, lon=16.37, updated=old),
        "neighbourhood": camera(**BASE, neighbourhood=hood, updated=old),
        "status": camera(**{**BASE, "status": "verified"}, updated=old),
        "surveillance_type": camera(**{**BASE, "surveillance_type": "ALPR"}, updated=old),
        "camera_type": camera(**{**BASE, "camera_type": "dome"}, updated=old),
        "camera_mount": camera(**{**BASE, "camera_mount": "pole"}, updated=old),
        "operator_type": camera(**{**BASE, "operator_type": "police"}, updated=old),
        "zone": camera(**{**BASE, "zone": "traffic"}, updated=old),
        "updated_since": camera(**BASE, updated=datetime(2025, 3, 1, 10, tzinfo=UTC)),
        "min_confirmations": camera(**BASE, confirmations=3, updated=old),
    }


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("bbox", "16.3,48.1,16.4,48.3"),
        ("neighbourhood", "old-town"),
        ("status", "verified"),
        ("surveillance_type", "ALPR"),
        ("camera_type", "dome"),
        ("camera_mount", "pole"),
        ("operator_type", "police"),
        ("zone", "traffic"),
        ("updated_since", "2025-01-01"),
        ("min_confirmations", "2"),
    ],
)
def test_each_filter_alone_finds_exactly_the_camera_that_matches(varied, param, value):
    assert ids(get({param: value})) == [varied[param].pk]


def test_the_baseline_matches_every_filter_it_shares_values_with(varied):
    found = set(ids(get({**BASE, "min_confirmations": "0", "bbox": "8.4,47.3,8.7,47.5"})))

    assert varied["base"].pk in found
    assert varied["bbox"].pk not in found


def test_filters_combine_with_and(varied):
    both = camera(**{**BASE, "camera_type": "dome", "operator_type": "police"})

    assert ids(get({"camera_type": "dome", "operator_type": "police"})) == [both.pk]
    assert set(ids(get({"camera_type": "dome"}))) == {varied["camera_type"].pk, both.pk}
    assert ids(get({"camera_type": "dome", "operator_type": "police", "zone": "traffic"})) == []


def test_a_filter_takes_several_values_separated_by_commas(varied):
    found = ids(get({"camera_type": "dome,fixed", "status": "verified,reported", "bbox": "8.4,47.3,8.7,47.5"}))

    assert varied["camera_type"].pk in found
    assert varied["base"].pk in found
    assert varied["bbox"].pk not in found


@override_settings(PUBLIC_DATE_PRECISION="day")  # an operator's choice; the default is month
def test_updated_since_with_a_time_counts_the_whole_day(db):
    morning = camera(updated=datetime(2025, 3, 1, 6, 0, tzinfo=UTC))
    camera(updated=datetime(2025, 2, 28, 23, 0, tzinfo=UTC))

    # A client bisecting the minute of a change learns nothing: the time is cut to its day.
    assert ids(get({"updated_since": "2025-03-01T18:00:00Z"})) == [morning.pk]
    assert ids(get({"updated_since": "2025-03-01"})) == [morning.pk]
    assert ids(get({"updated_since": "2025-03-02"})) == []


@pytest.mark.parametrize(
    ("params", "field", "says"),
    [
        ({"bbox": "8.5,47.3,8.6"}, "bbox", "4 numbers"),
        ({"bbox": "a,b,c,d"}, "bbox", "must be numbers"),
        ({"bbox": "8.5,47.4,8.6,47.3"}, "bbox", "south <= north"),
        ({"bbox": "8.6,47.3,8.5,47.4"}, "bbox", "west <= east"),
        ({"bbox": "8.5,47.3,8.6,nan"}, "bbox", "finite"),
        ({"status": "removed"}, "status", "choose from reported, verified"),
        ({"camera_type": "bogus"}, "camera_type", "choose from fixed, dome"),
        ({"camera_type": "dome,bogus"}, "camera_type", "bogus is not a camera_type"),
        ({"neighbourhood": "atlantis"}, "neighbourhood", "No neighbourhood has this slug"),
        ({"updated_since": "yesterday"}, "updated_since", "ISO date"),
        ({"updated_since": "2024-02-30"}, "updated_since", "ISO date"),
        ({"min_confirmations": "-1"}, "min_confirmations", "0 or more"),
        ({"min_confirmations": "two"}, "min_confirmations", "whole number"),
        ({"ordering": "lat"}, "ordering", "Order by one of: id, -id"),
        ({"page_size": "0"}, "page_size", "from 1 to 10000"),
        ({"page_size": "100001"}, "page_size", "from 1 to 10000"),
        ({"page_size": "all"}, "page_size", "/api/v1/cameras/export/"),
        ({"cursor": "not-a-cursor"}, "cursor", "not one the API gave out"),
        ({"camera_typ": "dome"}, "camera_typ", "Unknown parameter"),
        ({"format": "xls"}, "format", "Unknown format 'xls'"),
    ],
)
def test_bad_input_is_a_400_that_names_the_parameter_and_says_what_is_wrong(db, params, field, says):
    response = get(params)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    messages = response.json()[field]
    assert any(says in message for message in messages), messages


def test_a_bad_filter_is_a_json_400_even_when_csv_was_asked_for(db):
    response = get({"bbox": "nonsense", "format": "csv"})

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "bbox" in response.json()


# --- Cursor pagination ---------------------------------------------------------------------------


def walk(params: dict, *, between=lambda page: None) -> list[int]:
    """Every id over all pages, following `next`, calling `between` after each page."""
    seen: list[int] = []
    client = APIClient()
    response = client.get(URL, params)
    for page in itertools.count():
        assert page < 500, "the walk never ended"
        body = response.json()
        assert response.status_code == 200, body
        seen += [r["id"] for r in body["results"]]
        if body["next"] is None:
            return seen
        between(page)
        response = client.get(body["next"])


@pytest.mark.parametrize("ordering", ["id", "-id", "confirmations", "-confirmations", "updated", "-updated"])
def test_a_cursor_walk_sees_every_camera_once_while_cameras_are_added_between_pages(db, ordering):
    day = datetime(2025, 1, 1, 12, tzinfo=UTC)
    # Few distinct sort values, so most cameras tie and only the id breaks the tie.
    original = [camera(confirmations=i % 3, updated=day + timedelta(days=i % 4)).pk for i in range(40)]
    added: list[int] = []

    def add_three(page: int) -> None:
        for k in range(3):
            added.append(camera(confirmations=(page + k) % 4, updated=day + timedelta(days=(page + k) % 5)).pk)

    seen = walk({"ordering": ordering, "page_size": 7}, between=add_three)

    assert len(seen) == len(set(seen)), "a camera came twice"
    assert set(original) <= set(seen), "a camera was skipped"
    assert set(seen) <= set(original) | set(added)


def test_pages_follow_the_ordering_with_the_id_breaking_ties(db):
    cams = [camera(confirmations=c) for c in (1, 0, 2, 1, 0, 2)]
    by_confirmations = sorted(cams, key=lambda c: (-c.confirmations, c.pk))

    assert walk({"ordering": "-confirmations", "page_size": 2}) == [c.pk for c in by_confirmations]
    assert walk({"ordering": "-id", "page_size": 4}) == sorted((c.pk for c in cams), reverse=True)


def test_the_next_link_keeps_the_filters_and_the_page_size(db):
    cams = [camera(camera_type="dome") for _ in range(5)]
    camera(camera_type="fixed")

    first = get({"camera_type": "dome", "page_size": 2})
    second = APIClient().get(first.json()["next"])

    assert "camera_type=dome" in first.json()["next"]
    assert ids(second) == [cams[2].pk, cams[3].pk]
    assert f'<{first.json()["next"]}>; rel="next"' in first["Link"]
    assert 'rel="license"' in first["Link"]


def test_a_cursor_says_no_more_than_the_rows_do(db):
    camera(updated=datetime(2025, 3, 1, 10, 11, 12, tzinfo=UTC))
    camera(updated=datetime(2025, 3, 1, 10, 11, 13, tzinfo=UTC))

    nxt = get({"ordering": "updated", "page_size": 1}).json()["next"]
    raw = nxt.split("cursor=")[1].split("&")[0]
    decoded = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()

    assert "2025-03-01" in decoded
    assert "10:11" not in decoded


def test_a_cursor_from_another_ordering_is_refused(db):
    for _ in range(3):
        camera()
    nxt = get({"ordering": "updated", "page_size": 1}).json()["next"]

    response = APIClient().get(nxt.replace("ordering=updated", "ordering=-id"))

    assert response.status_code == 400
    assert "ordering=updated" in response.json()["cursor"][0]


def test_a_page_is_two_queries_however_many_cameras_it_holds(db, django_assert_max_num_queries):
    hood = area("Old Town")
    Camera.objects.bulk_create(
        [Camera(lat=ZURICH[0] + i * 1e-5, lon=ZURICH[1], sighting_count=1, neighbourhood=hood) for i in range(300)]
    )

    with django_assert_max_num_queries(2):  # the neighbourhood slug check and the page itself
        response = get({"neighbourhood": "old-town", "format": "geojson"})

    assert len(json.loads(response.content)["features"]) == 300


# --- Formats ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("how", "content_type"),
    [
        ({"format": "json"}, "application/json"),
        ({"format": "geojson"}, "application/geo+json"),
        ({"format": "csv"}, "text/csv; charset=utf-8"),
        ({"format": "osm"}, "application/vnd.openstreetmap.data+xml; charset=utf-8"),
        ({"HTTP_ACCEPT": "application/geo+json"}, "application/geo+json"),
        ({"HTTP_ACCEPT": "text/csv"}, "text/csv; charset=utf-8"),
        ({"HTTP_ACCEPT": "application/xml"}, "application/vnd.openstreetmap.data+xml; charset=utf-8"),
        ({"HTTP_ACCEPT": "text/html,application/xhtml+xml,*/*;q=0.8"}, "application/json"),
    ],
)
def test_the_format_comes_from_the_query_or_the_accept_header(db, how, content_type):
    camera()
    params = {k: v for k, v in how.items() if not k.startswith("HTTP_")}
    headers = {k: v for k, v in how.items() if k.startswith("HTTP_")}

    response = APIClient().get(URL, params, **headers)

    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert 'rel="license"' in response["Link"]


def test_an_unacceptable_accept_header_is_a_406(db):
    response = APIClient().get(URL, HTTP_ACCEPT="image/png")

    assert response.status_code == 406


def test_a_geojson_page_has_points_in_lon_lat_order_and_a_next_member(db):
    for i in range(3):
        camera(lat=47.0 + i, lon=8.0)

    doc = get({"format": "geojson", "page_size": 2}).json()

    assert doc["type"] == "FeatureCollection"
    assert doc["features"][0]["geometry"] == {"type": "Point", "coordinates": [8.0, 47.0]}
    assert doc["next"].startswith("http://testserver/api/v1/cameras/?")
    assert doc["license"]["url"] == "https://opendatacommons.org/licenses/odbl/1-0/"


def test_a_csv_page_reads_back_with_the_csv_module(db):
    camera(operator='=HYPERLINK("http://x","y"), and "more"\nbelow')

    response = get({"format": "csv"})
    (record,) = csv.DictReader(io.StringIO(response.content.decode(), newline=""))

    assert record["operator"] == '\'=HYPERLINK("http://x","y"), and "more"\nbelow'
    assert response["X-Attribution"].startswith("(c) CameraWatch contributors")


def test_an_osm_page_holds_only_cameras_osm_does_not_have(db):
    new = camera(camera_type="dome")
    camera(provenance=Camera.Provenance.OSM, osm_id=99)

    root = xml(get({"format": "osm"}).content)

    assert [n.get("id") for n in root.findall("node")] == [f"-{new.pk}"]


# --- Export ---------------------------------------------------------------------------------------


def test_the_export_streams_every_matching_camera_in_one_response(db):
    Camera.objects.bulk_create(
        [Camera(lat=47.0 + i * 1e-4, lon=8.0, sighting_count=1, camera_type="dome") for i in range(2500)]
    )
    Camera.objects.bulk_create([Camera(lat=47.0, lon=8.0, sighting_count=1, camera_type="fixed") for _ in range(10)])

    response = get({"format": "csv", "camera_type": "dome"}, url=EXPORT)

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Disposition"].startswith('attachment; filename="camerawatch-cameras-')
    records = list(csv.DictReader(io.StringIO(content(response).decode(), newline="")))
    assert len(records) == 2500
    assert {r["camera_type"] for r in records} == {"dome"}
    assert [int(r["id"]) for r in records] == sorted(int(r["id"]) for r in records)


@pytest.mark.parametrize("kind", ["json", "geojson", "osm"])
def test_the_export_speaks_every_format(db, kind):
    cams = [camera(lat=47.0 + i * 0.001) for i in range(3)]

    data = content(get({"format": kind}, url=EXPORT))

    if kind == "osm":
        assert len(xml(data).findall("node")) == 3
    elif kind == "geojson":
        assert [f["id"] for f in json.loads(data)["features"]] == [c.pk for c in cams]
    else:
        assert [r["id"] for r in json.loads(data)["results"]] == [c.pk for c in cams]


def test_the_export_takes_no_paging_parameters(db):
    response = get({"page_size": "10"}, url=EXPORT)

    assert response.status_code == 400
    assert "Unknown parameter" in response.json()["page_size"][0]


# --- Detail ----------------------------------------------------------------------------------------


def test_one_camera_in_each_format(db):
    cam = camera(camera_type="dome")
    url = f"{URL}{cam.pk}/"

    assert get(url=url).json()["id"] == cam.pk
    feature = get({"format": "geojson"}, url=url).json()
    assert feature["type"] == "Feature"
    assert feature["license"]["id"] == "ODbL-1.0"
    (record,) = csv.DictReader(io.StringIO(get({"format": "csv"}, url=url).content.decode(), newline=""))
    assert record["camera_type"] == "dome"
    assert xml(get({"format": "osm"}, url=url).content).find("node").get("id") == f"-{cam.pk}"


def test_a_camera_osm_already_has_is_found_but_its_osm_xml_has_no_node(db):
    cam = camera(provenance=Camera.Provenance.OSM, osm_id=4242)

    assert get(url=f"{URL}{cam.pk}/").json()["osm_id"] == 4242
    response = get({"format": "osm"}, url=f"{URL}{cam.pk}/")
    assert response.status_code == 200
    assert xml(response.content).findall("node") == []


def test_an_unpublished_camera_is_404_and_a_merged_one_forwards(db):
    survivor = camera()
    merged = camera(merged_into=survivor)
    removed = camera(status=Camera.Status.REMOVED)

    assert get(url=f"{URL}{removed.pk}/").status_code == 404
    assert get(url=f"{URL}999999/").status_code == 404
    forwarded = get({"format": "geojson"}, url=f"{URL}{merged.pk}/")
    assert forwarded.status_code == 302
    assert forwarded["Location"] == f"{URL}{survivor.pk}/?format=geojson"


# --- Neighbourhoods and stats ----------------------------------------------------------------------


@pytest.fixture
def two_areas(db) -> tuple[Neighbourhood, Neighbourhood]:
    old_town, harbour = area("Old Town"), area("Harbour", lon=ZURICH[1] + 0.05)
    camera(neighbourhood=old_town, status="verified", camera_type="dome")
    camera(neighbourhood=old_town, status="reported", camera_type="fixed")
    camera(neighbourhood=harbour, status="verified", camera_type="dome")
    camera(status="reported", camera_type="panning")  # outside both
    neighbourhoods_stats_refresh()
    return old_town, harbour


@override_settings(PUBLIC_DATE_PRECISION="day")  # an operator's choice; the default is month
def test_neighbourhoods_list_with_their_stats_and_links(two_areas):
    body = get(url="/api/v1/neighbourhoods/").json()

    harbour, old_town = body["results"]
    assert old_town["slug"] == "old-town"
    assert old_town["cameras"] == 2
    assert old_town["by_status"]["verified"] == 1
    assert old_town["by_type"] == {"dome": 1, "fixed": 1}
    assert old_town["verified_share"] == 0.5
    assert old_town["last_update"] == timezone.now().date().isoformat()
    assert old_town["cameras_url"].endswith("/api/v1/cameras/?neighbourhood=old-town")
    assert harbour["cameras"] == 1
    assert "polygon" not in old_town
    assert body["license"]["id"] == "ODbL-1.0"


def test_neighbourhoods_as_geojson_are_polygons_with_stats(two_areas):
    doc = get({"format": "geojson"}, url="/api/v1/neighbourhoods/").json()

    assert doc["type"] == "FeatureCollection"
    assert {f["geometry"]["type"] for f in doc["features"]} == {"Polygon"}
    assert {f["properties"]["slug"]: f["properties"]["cameras"] for f in doc["features"]} == {
        "old-town": 2,
        "harbour": 1,
    }


def test_one_neighbourhood_and_an_unknown_one(two_areas):
    one = get(url="/api/v1/neighbourhoods/old-town/").json()

    assert one["cameras"] == 2
    assert one["geometry"]["type"] == "Polygon"
    assert get(url="/api/v1/neighbourhoods/atlantis/").status_code == 404


def test_city_stats_add_up_the_neighbourhoods_and_the_cameras_outside_them(two_areas):
    stats = get(url="/api/v1/stats/").json()

    assert stats["cameras"] == 4
    assert stats["cameras_in_neighbourhoods"] == 3
    assert stats["cameras_outside_neighbourhoods"] == 1
    assert stats["by_status"]["verified"] == 2
    assert stats["by_status"]["reported"] == 2
    assert stats["by_type"] == {"dome": 2, "fixed": 1, "panning": 1}
    assert stats["verified_share"] == 0.5
    assert stats["neighbourhoods"] == 2
    assert stats["license"]["id"] == "ODbL-1.0"


def test_city_stats_read_no_camera_rows_inside_neighbourhoods(two_areas, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):  # the neighbourhoods' stored stats, the cameras outside
        assert get(url="/api/v1/stats/").status_code == 200


# --- Root, tokens, dates ---------------------------------------------------------------------------


def test_the_root_lists_the_endpoints_formats_licence_and_limits(db):
    body = get(url="/api/v1/").json()

    for name in ("cameras", "camera", "cameras_export", "neighbourhoods", "stats"):
        assert body["endpoints"][name].startswith("http://testserver/api/v1/")
    assert set(body["formats"]) >= {"json", "geojson", "csv", "osm"}
    assert set(body["columns"]) == set(PUBLIC_COLUMNS)
    assert set(body["filters"]) == {
        "bbox",
        "neighbourhood",
        "status",
        "surveillance_type",
        "camera_type",
        "camera_mount",
        "operator_type",
        "zone",
        "updated_since",
        "min_confirmations",
    }
    assert body["license"]["url"] == "https://opendatacommons.org/licenses/odbl/1-0/"
    assert body["rate_limits"]["yours"] == "anon"


def test_a_token_is_accepted_and_a_made_up_one_refused(researcher):
    camera()

    assert get(client=api_client_for(researcher)).status_code == 200
    assert get(url="/api/v1/", client=api_client_for(researcher)).json()["rate_limits"]["yours"] == "researcher"
    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    assert get(client=stranger).status_code == 401


def test_the_open_data_api_is_read_only(volunteer):
    cam = camera()

    assert api_client_for(volunteer).post(URL, {"lat": 1, "lon": 2}, format="json").status_code == 405
    assert api_client_for(volunteer).delete(f"{URL}{cam.pk}/").status_code == 405


def test_public_dates_are_months_by_default(settings):
    assert settings.PUBLIC_DATE_PRECISION == "month"


@override_settings(PUBLIC_DATE_PRECISION="month")
def test_with_month_precision_dates_are_the_first_of_their_month_and_filters_follow(db):
    cam = camera(
        first_seen=datetime(2024, 5, 17, 9, tzinfo=UTC),
        updated=datetime(2025, 3, 20, 10, tzinfo=UTC),
    )

    (result,) = get().json()["results"]

    assert result["first_seen"] == "2024-05-01"
    assert result["updated"] == "2025-03-01"
    assert ids(get({"updated_since": "2025-03-31"})) == [cam.pk]
    assert ids(get({"updated_since": "2025-04-01"})) == []
