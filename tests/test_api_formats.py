"""The open-data formats (mapapp/exports/formats.py): each one parses back to the rows it was given.

Pure functions on plain rows: no database. Hostile values (commas, quotes, newlines, formulas,
markup, control characters) travel through each format and come back as data, never as structure.
"""

from __future__ import annotations

import csv
import io
import json
import math
import xml.etree.ElementTree as ET
from datetime import date

import pytest

from mapapp.exports import formats
from mapapp.exports.formats import PUBLIC_COLUMNS
from mapapp.imports.osm import normalise_tags, parse_osm

HOSTILE = [
    "Müller, Meier & Co",
    'He said "hello"',
    "line one\nline two\r\nline three",
    '=HYPERLINK("http://x","y")',
    "+1",
    "-1",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
    "<script>alert(1)</script>",
    "]]></osm><!--",
]


def row(pk: int = 1, **values: object) -> tuple:
    base = {
        "id": pk,
        "lat": 47.3769,
        "lon": -8.5417,  # west of Greenwich: a negative number, which CSV must leave alone
        "status": "verified",
        "surveillance_type": "camera",
        "camera_type": "dome",
        "camera_mount": "wall",
        "surveillance": "public",
        "zone": "town",
        "direction": 0,  # north: a falsy value that is still a value
        "operator": "City Police",
        "operator_type": "police",
        "height": 3.5,
        "camera_angle": 15.0,
        "confirmations": 2,
        "contributors": 3,
        "first_seen": date(2024, 5, 17),
        "last_seen": date(2024, 6, 1),
        "last_confirmed": None,
        "neighbourhood": "old-town",
        "updated": date(2024, 6, 2),
        "osm_id": None,
        "provenance": "volunteer",
    }
    base.update(values)
    return tuple(base[c] for c in PUBLIC_COLUMNS)


def joined(chunks) -> bytes:
    return b"".join(chunks)


# --- GeoJSON -------------------------------------------------------------------------------------


def test_geojson_is_a_feature_collection_of_points_in_lon_lat_order():
    doc = json.loads(joined(formats.geojson_chunks([row(1), row(2, lat=-33.9, lon=151.2)])))

    assert doc["type"] == "FeatureCollection"
    assert [f["type"] for f in doc["features"]] == ["Feature", "Feature"]
    assert doc["features"][0]["geometry"] == {"type": "Point", "coordinates": [-8.5417, 47.3769]}
    assert doc["features"][1]["geometry"]["coordinates"] == [151.2, -33.9]
    assert doc["features"][1]["id"] == 2


def test_geojson_properties_keep_their_types_and_leave_the_position_to_the_geometry():
    (feature,) = json.loads(joined(formats.geojson_chunks([row(7)])))["features"]
    props = feature["properties"]

    assert set(props) == set(PUBLIC_COLUMNS) - {"lat", "lon"}
    assert props["id"] == 7
    assert props["direction"] == 0
    assert props["height"] == 3.5
    assert props["confirmations"] == 2
    assert props["first_seen"] == "2024-05-17"
    assert props["last_confirmed"] is None


def test_geojson_carries_the_licence_attribution_and_citation_at_the_top():
    members = formats.licence_members(accessed=date(2026, 1, 2), url="https://example.org/api/v1/")

    doc = json.loads(joined(formats.geojson_chunks([row()], members=members)))

    assert doc["license"]["url"] == "https://opendatacommons.org/licenses/odbl/1-0/"
    assert doc["license"]["id"] == "ODbL-1.0"
    assert doc["attribution"] == ("© CameraWatch contributors, ODbL 1.0; includes data © OpenStreetMap contributors")
    assert "accessed 2026-01-02" in doc["citation"]
    assert "https://example.org/api/v1/" in doc["citation"]


def test_an_empty_set_is_an_empty_but_valid_document_in_every_format():
    assert json.loads(joined(formats.geojson_chunks([]))) == {"type": "FeatureCollection", "features": []}
    assert json.loads(joined(formats.json_chunks([]))) == {"results": []}
    assert list(csv.reader(io.StringIO(joined(formats.csv_chunks([])).decode()))) == [list(PUBLIC_COLUMNS)]
    assert osm([]).findall("node") == []


def test_chunks_join_into_one_valid_document_whatever_the_chunk_size():
    rows = [row(i) for i in range(1, 8)]

    for size in (1, 2, 3, 7, 100):
        doc = json.loads(joined(formats.geojson_chunks(rows, chunk_rows=size)))
        listed = json.loads(joined(formats.json_chunks(rows, chunk_rows=size)))
        table = list(csv.DictReader(io.StringIO(joined(formats.csv_chunks(rows, chunk_rows=size)).decode())))

        assert [f["id"] for f in doc["features"]] == list(range(1, 8))
        assert [r["id"] for r in listed["results"]] == list(range(1, 8))
        assert [r["id"] for r in table] == [str(i) for i in range(1, 8)]


def test_the_writers_stream_lazily_from_a_generator():
    produced = []

    def rows():
        for i in range(1, 5001):
            produced.append(i)
            yield row(i)

    chunks = formats.geojson_chunks(rows(), chunk_rows=1000)
    next(chunks)  # the head
    next(chunks)  # the first thousand

    assert len(produced) <= 1001


def test_rows_may_be_dicts_instead_of_tuples():
    as_dict = dict(zip(PUBLIC_COLUMNS, row(5), strict=True))

    assert json.loads(joined(formats.json_chunks([as_dict])))["results"][0]["id"] == 5
    assert json.loads(joined(formats.geojson_chunks([as_dict])))["features"][0]["id"] == 5


# --- CSV -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("hostile", HOSTILE)
def test_csv_reads_back_hostile_text_as_one_cell_neutralised_for_spreadsheets(hostile):
    data = joined(formats.csv_chunks([row(operator=hostile)])).decode()

    header, values = list(csv.reader(io.StringIO(data, newline="")))
    cell = dict(zip(header, values, strict=True))["operator"]

    if hostile.startswith(("=", "+", "-", "@", "\t", "\r")):
        assert cell == "'" + hostile
    else:
        assert cell == hostile
    assert len(values) == len(PUBLIC_COLUMNS)


def test_csv_never_starts_a_text_cell_with_a_formula_character():
    data = joined(formats.csv_chunks([row(i, operator=h) for i, h in enumerate(HOSTILE, 1)])).decode()

    for values in list(csv.reader(io.StringIO(data, newline="")))[1:]:
        assert not any(cell.startswith(("=", "+", "@", "\t", "\r")) for cell in values)


def test_csv_leaves_negative_numbers_as_numbers():
    data = joined(formats.csv_chunks([row(lat=-33.9, lon=-70.6)])).decode()

    (record,) = csv.DictReader(io.StringIO(data, newline=""))

    assert float(record["lat"]) == -33.9
    assert float(record["lon"]) == -70.6


def test_csv_has_a_header_empty_cells_for_nulls_iso_days_and_crlf_lines():
    data = joined(formats.csv_chunks([row()])).decode()

    assert data.startswith(",".join(PUBLIC_COLUMNS) + "\r\n")
    (record,) = csv.DictReader(io.StringIO(data, newline=""))
    assert record["last_confirmed"] == ""
    assert record["osm_id"] == ""
    assert record["first_seen"] == "2024-05-17"
    assert record["direction"] == "0"
    assert not data.startswith("\ufeff")
    assert "#" not in data.splitlines()[0]


def test_the_csv_licence_travels_in_headers_not_in_the_file():
    headers = formats.licence_headers()

    assert headers["Link"] == '<https://opendatacommons.org/licenses/odbl/1-0/>; rel="license"'
    assert headers["X-Attribution"].isascii()
    assert "CameraWatch contributors" in headers["X-Attribution"]


# --- OSM XML -------------------------------------------------------------------------------------


def osm(rows) -> ET.Element:
    return ET.fromstring(joined(formats.osm_xml_chunks(rows)))  # noqa: S314 -- our own output, checked


def tags(node: ET.Element) -> dict[str, str]:
    return {t.get("k"): t.get("v") for t in node.findall("tag")}


def test_osm_xml_is_an_api_0_6_document_that_josm_warns_about_before_upload():
    root = osm([row(12)])

    assert root.tag == "osm"
    assert root.get("version") == "0.6"
    assert root.get("generator") == "CameraWatch"
    assert root.get("upload") == "false"
    (node,) = root.findall("node")
    assert node.get("id") == "-12"
    assert float(node.get("lat")) == 47.3769
    assert float(node.get("lon")) == -8.5417


def test_osm_xml_tags_use_the_osm_surveillance_keys():
    (node,) = osm([row()]).findall("node")

    assert tags(node) == {
        "man_made": "surveillance",
        "surveillance:type": "camera",
        "camera:type": "dome",
        "camera:mount": "wall",
        "surveillance": "public",
        "surveillance:zone": "town",
        "camera:direction": "0",
        "operator": "City Police",
        "operator:type": "police",
        "height": "3.5",
        "camera:angle": "15",
    }


def test_osm_xml_leaves_out_unknown_and_empty_values():
    (node,) = osm([row(camera_type="unknown", direction=None, operator="", height=None)]).findall("node")

    assert not {"camera:type", "camera:direction", "operator", "height"} & set(tags(node))


def test_osm_xml_leaves_out_cameras_that_osm_already_has():
    root = osm([row(1, osm_id=123456), row(2)])

    assert [n.get("id") for n in root.findall("node")] == ["-2"]


@pytest.mark.parametrize("hostile", [*HOSTILE, "bell\x07and\x00null"])
def test_osm_xml_escapes_hostile_text_into_a_tag_value(hostile):
    (node,) = osm([row(operator=hostile)]).findall("node")

    value = tags(node)["operator"]
    expected = hostile.replace("\x07", "\ufffd").replace("\x00", "\ufffd")
    assert value == expected
    assert len(node.findall("tag")) == 11


def test_an_exported_node_imports_back_to_the_same_attributes():
    camera = row(operator="Müller & Co", camera_mount="street_lamp", zone="parking", height=4.0, direction=270)
    (node,) = osm([camera]).findall("node")
    back = parse_osm([{"type": "node", "id": 1, "lat": 47.0, "lon": 8.0, "tags": tags(node)}])

    attributes = normalise_tags(back.nodes[0].tags).attributes

    expected = dict(zip(PUBLIC_COLUMNS, camera, strict=True))
    for name, value in attributes.items():
        assert value == expected[name] or (isinstance(value, float) and math.isclose(value, expected[name]))


def test_the_osm_xml_note_says_it_is_for_review_and_never_for_automatic_upload():
    text = joined(formats.osm_xml_chunks([])).decode()

    assert "review in JOSM" in text
    assert "Never upload this file automatically" in text
    assert "opendatacommons.org/licenses/odbl/1-0/" in text
