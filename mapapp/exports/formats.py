"""Open-data formats for public camera rows: JSON, GeoJSON, CSV and OSM XML, streamed.

Shared by the API (mapapp/api/open_data.py) and the nightly bulk snapshots. Every writer takes an
iterable of rows, tuples in `columns` order as `mapapp.exports.public_rows(...).iterator()` yields
them (dicts keyed by column work too), and yields bytes chunks of about `chunk_rows` rows each. Nothing holds
more than one chunk, so a million cameras stream in constant memory; chunking keeps the number of
writes (and of orjson calls) per row small, which is most of what a fast export is.

The writers do not decide what is public: they print every column they are given. Which cameras
and which columns, with dates already cut to days, is mapapp/exports/__init__.py's job.

Decisions, so the formats agree with one another:
* Column names are our field names (`camera_type`, not `camera:type`) in JSON, GeoJSON and CSV:
  they are valid identifiers in R, pandas and SQL. Only OSM XML speaks OSM keys; the mapping is the
  OSM importer's own (`vocab.TAG_KEYS`), so an exported file imports back to the same values.
* Dates are ISO days (`2024-05-17`) and nothing finer: see mapapp/exports/__init__.py for why.
* CSV carries no licence text: a leading comment or an extra column breaks every CSV reader or
  pollutes the data. The licence travels in HTTP headers (`Link: <...>; rel="license"`) and in the
  bulk snapshot's manifest; `licence_headers()` builds the headers.
* OSM XML is for a mapper to review in JOSM, never for automatic upload: only cameras that are not
  in OSM yet (no `osm_id`) are written, as new nodes with negative ids (-camera id, so a node can
  be traced back), and the file says `upload="false"`, which makes JOSM warn before any upload.
  Cameras already in OSM are left out: without their OSM version JOSM could not upload a change to
  them anyway, and their ids are in the CSV and GeoJSON.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date
from itertools import chain, islice
from operator import itemgetter
from typing import Any

import orjson

from mapapp.vocab import ATTRIBUTE_FIELDS, TAG_KEYS

# --- The licence -------------------------------------------------------------------------------

LICENCE_ID = "ODbL-1.0"  # SPDX identifier
LICENCE_NAME = "Open Data Commons Open Database License (ODbL) v1.0"
LICENCE_URL = "https://opendatacommons.org/licenses/odbl/1-0/"
ATTRIBUTION = "© CameraWatch contributors, ODbL 1.0; includes data © OpenStreetMap contributors"
# HTTP header values should be ASCII (RFC 9110 treats anything else as opaque bytes).
ATTRIBUTION_ASCII = ATTRIBUTION.replace("©", "(c)")
LICENCE = {"id": LICENCE_ID, "name": LICENCE_NAME, "url": LICENCE_URL}


def citation(*, accessed: date, url: str) -> str:
    """The suggested citation, dated: the data changes daily, so a citation names the day it was read."""
    return (
        f"CameraWatch contributors. CameraWatch surveillance camera data. {url} "
        f"(accessed {accessed.isoformat()}). {LICENCE_NAME}, {LICENCE_URL}; includes data "
        "© OpenStreetMap contributors."
    )


def licence_members(*, accessed: date, url: str) -> dict[str, Any]:
    """`license`, `attribution` and `citation`, as top-level members of a JSON or GeoJSON document."""
    return {"license": LICENCE, "attribution": ATTRIBUTION, "citation": citation(accessed=accessed, url=url)}


def licence_headers() -> dict[str, str]:
    """HTTP headers carrying the licence, for formats with no place for it (CSV, OSM XML)."""
    return {"Link": f'<{LICENCE_URL}>; rel="license"', "X-Attribution": ATTRIBUTION_ASCII}


# --- Columns -----------------------------------------------------------------------------------

# The public camera columns, in CSV order. What each one means is in the API root's `columns`.
PUBLIC_COLUMNS: tuple[str, ...] = (
    "id",
    "lat",
    "lon",
    "status",
    *ATTRIBUTE_FIELDS,
    "confirmations",
    "contributors",
    "first_seen",
    "last_seen",
    "last_confirmed",
    "neighbourhood",
    "updated",
    "osm_id",
    "provenance",
)

# What each column means: the API root and the bulk snapshot's manifest print this.
COLUMN_DOCS: dict[str, str] = {
    "id": "CameraWatch camera id (stable; a merged camera's id forwards to the camera it became).",
    "lat": "Latitude, WGS 84 degrees.",
    "lon": "Longitude, WGS 84 degrees.",
    "status": "reported, verified, disputed or stale (removed cameras are not published).",
    "surveillance_type": "OSM surveillance:type: camera, ALPR, guard or gunshot_detector.",
    "camera_type": "OSM camera:type: fixed, dome, panning or unknown.",
    "camera_mount": "OSM camera:mount, e.g. wall, pole, street_lamp; unknown if nobody could tell.",
    "surveillance": "OSM surveillance: public, outdoor, indoor or unknown.",
    "zone": "OSM surveillance:zone, e.g. town, traffic, parking, shop.",
    "direction": "OSM camera:direction: degrees clockwise from north, 0-359; empty if unknown.",
    "operator": "OSM operator: free text as volunteers or OSM gave it.",
    "operator_type": "OSM operator:type: police, government, transit, business, residential or unknown.",
    "height": "OSM height: mounting height in metres; empty if unknown.",
    "camera_angle": "OSM camera:angle: tilt below horizontal in degrees (0 level, 90 straight down).",
    "confirmations": "Distinct volunteers besides the first reporter whose latest word is that it is there.",
    "contributors": "Volunteers who currently vouch for it: the first reporter (none for an OSM import) "
    "plus confirmations. Dissenting voters are not counted.",
    "first_seen": "Day (UTC) of the earliest visible sighting.",
    "last_seen": "Day (UTC) of the latest visible sighting.",
    "last_confirmed": "Day (UTC) it was last confirmed (the first report's day if nobody has yet).",
    "neighbourhood": "Slug of the neighbourhood it stands in; empty outside every loaded neighbourhood.",
    "updated": "Day (UTC) its public data last changed.",
    "osm_id": "OpenStreetMap node id if the camera came from OSM; empty otherwise.",
    "provenance": "volunteer, osm, or demo (fictional demo data: leave it out of any analysis).",
}

# Rows per yielded chunk: big enough that per-chunk costs vanish, small enough to start the
# response at once and keep memory flat.
CHUNK_ROWS = 1000

Row = Sequence[Any] | Mapping[str, Any]


def _tuples(rows: Iterable[Row], columns: Sequence[str]) -> Iterator[Sequence[Any]]:
    """The rows as sequences in `columns` order, whether they came as tuples or dicts."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return iter(())
    rows = chain((first,), rows)
    if isinstance(first, Mapping):
        pick = itemgetter(*columns)
        return (pick(row) for row in rows)
    return rows


def _chunks(rows: Iterator[Any], size: int) -> Iterator[list[Any]]:
    while chunk := list(islice(rows, size)):
        yield chunk


# --- JSON and GeoJSON ---------------------------------------------------------------------------


def _object_head(members: Mapping[str, Any], array_key: str) -> bytes:
    """`{"a":1,...,"<array_key>":[` with the members in front, so they stream before the rows."""
    body = orjson.dumps(dict(members)) if members else b"{}"
    return body[:-1] + (b"," if members else b"") + orjson.dumps(array_key) + b":["


def _array_items(objects: Iterator[list[Any]]) -> Iterator[bytes]:
    """Each chunk of objects as the inside of a JSON array, commas between the chunks."""
    first = True
    for chunk in objects:
        inner = orjson.dumps(chunk)[1:-1]
        yield inner if first else b"," + inner
        first = False


def json_chunks(
    rows: Iterable[Row],
    *,
    columns: Sequence[str] = PUBLIC_COLUMNS,
    members: Mapping[str, Any] | None = None,
    array_key: str = "results",
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[bytes]:
    """`{...members, "results": [{column: value, ...}, ...]}`: one object per row."""
    keys = tuple(columns)
    yield _object_head(members or {}, array_key)
    objects = (
        [dict(zip(keys, row, strict=True)) for row in chunk] for chunk in _chunks(_tuples(rows, keys), chunk_rows)
    )
    yield from _array_items(objects)
    yield b"]}"


def _feature_parts(columns: Sequence[str]) -> tuple[int, int, int, tuple[str, ...], Any]:
    """Where id, lat and lon are in a row, and the property names with a getter for their values
    (every column but lat and lon, which are the geometry)."""
    i_id, i_lat, i_lon = columns.index("id"), columns.index("lat"), columns.index("lon")
    kept = [i for i, name in enumerate(columns) if name not in ("lat", "lon")]
    # itemgetter returns a tuple only for two or more indexes.
    pick = itemgetter(*kept) if len(kept) > 1 else (lambda row: (row[kept[0]],))
    return i_id, i_lat, i_lon, tuple(columns[i] for i in kept), pick


def geojson_feature(row: Row, *, columns: Sequence[str] = PUBLIC_COLUMNS) -> dict[str, Any]:
    """One camera as a GeoJSON Feature (a plain dict, for orjson)."""
    (values,) = _tuples([row], columns)
    i_id, i_lat, i_lon, keys, pick = _feature_parts(tuple(columns))
    return {
        "type": "Feature",
        "id": values[i_id],
        "geometry": {"type": "Point", "coordinates": [values[i_lon], values[i_lat]]},
        "properties": dict(zip(keys, pick(values), strict=True)),
    }


def geojson_chunks(
    rows: Iterable[Row],
    *,
    columns: Sequence[str] = PUBLIC_COLUMNS,
    members: Mapping[str, Any] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[bytes]:
    """An RFC 7946 FeatureCollection of Points. `members` (licence, links) become foreign members
    at the top level, before `features`, so they stream first."""
    columns = tuple(columns)
    i_id, i_lat, i_lon, keys, pick = _feature_parts(columns)
    yield _object_head({"type": "FeatureCollection", **(members or {})}, "features")
    # The hot loop of every GeoJSON answer: one dict per row, written inline (a function call per
    # row would cost a fifth more) with [longitude, latitude] as RFC 7946 orders them.
    features = (
        [
            {
                "type": "Feature",
                "id": row[i_id],
                "geometry": {"type": "Point", "coordinates": [row[i_lon], row[i_lat]]},
                "properties": dict(zip(keys, pick(row), strict=False)),
            }
            for row in chunk
        ]
        for chunk in _chunks(_tuples(rows, columns), chunk_rows)
    )
    yield from _array_items(features)
    yield b"]}"


# --- CSV ---------------------------------------------------------------------------------------

# OWASP "CSV injection": a spreadsheet runs a cell starting with one of these as a formula
# (=HYPERLINK(...), +1, -1, @SUM(...)), and tab or CR can hide such a start.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A text value that a spreadsheet would take for a formula gets a leading single quote.

    Only text is touched: our numbers (a longitude of -0.12) are numbers, and the quote would
    corrupt them. Quoting of commas, quotes and newlines is the csv module's job.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_chunks(
    rows: Iterable[Row], *, columns: Sequence[str] = PUBLIC_COLUMNS, chunk_rows: int = CHUNK_ROWS
) -> Iterator[bytes]:
    """RFC 4180 CSV in UTF-8 (no byte-order mark), CRLF line ends, a header row of column names.

    Empty cells are null. Dates are ISO days, numbers as Python prints them.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    yield buffer.getvalue().encode()
    for chunk in _chunks(_tuples(rows, tuple(columns)), chunk_rows):
        buffer.seek(0)
        buffer.truncate()
        # csv_cell's rule, inlined: a call per cell would double the time of a page.
        writer.writerows(
            [("'" + v) if isinstance(v, str) and v.startswith(FORMULA_STARTS) else v for v in row] for row in chunk
        )
        yield buffer.getvalue().encode()


# --- OSM XML -----------------------------------------------------------------------------------

OSM_GENERATOR = "CameraWatch"
# The key each attribute is written to: the first (preferred) key the OSM importer reads it from.
OSM_KEYS: dict[str, str] = {name: TAG_KEYS[name][0] for name in ATTRIBUTE_FIELDS}
# Values that say nothing: OSM leaves such a tag out rather than tagging "unknown".
_NO_VALUE = (None, "", "unknown")
# Escapes for a double-quoted XML attribute, in one str.translate (C speed): markup characters,
# whitespace that attribute normalisation would flatten, and characters XML 1.0 cannot carry at
# all, not even as references (a free-text operator might hold one), which become U+FFFD.
_NOT_XML = [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF]
_XML_ATTRIBUTE = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
    | dict.fromkeys(_NOT_XML, "\ufffd")
)
_XML_NOTE = (
    "Cameras from CameraWatch that are not in OpenStreetMap yet, for a mapper to review in JOSM. "
    "Never upload this file automatically: check each camera on the ground or against imagery, and "
    "follow OSM's import guidelines. "
)


def _osm_value(value: Any) -> str:
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return text.translate(_XML_ATTRIBUTE)


def osm_xml_chunks(
    rows: Iterable[Row], *, columns: Sequence[str] = PUBLIC_COLUMNS, chunk_rows: int = CHUNK_ROWS
) -> Iterator[bytes]:
    """An OSM API 0.6 document for JOSM, one new `<node>` per camera without an osm_id.

    Tags: man_made=surveillance and each attribute with a value (see _NO_VALUE).
    """
    columns = tuple(columns)
    i_id, i_lat, i_lon = columns.index("id"), columns.index("lat"), columns.index("lon")
    i_osm = columns.index("osm_id")
    tagged = [(columns.index(name), f'  <tag k="{key}" v="') for name, key in OSM_KEYS.items() if name in columns]
    yield (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        f'<osm version="0.6" generator="{OSM_GENERATOR}" upload="false">\n'
        f"<!-- {_XML_NOTE}{ATTRIBUTION}, {LICENCE_URL} -->\n"
    ).encode()
    for chunk in _chunks(_tuples(rows, columns), chunk_rows):
        parts = []
        for row in chunk:
            if row[i_osm] is not None:
                continue
            parts.append(f'<node id="-{row[i_id]}" lat="{row[i_lat]:.7f}" lon="{row[i_lon]:.7f}">\n')
            parts.append('  <tag k="man_made" v="surveillance"/>\n')
            for i, opening in tagged:
                value = row[i]
                if value not in _NO_VALUE:
                    parts.append(f'{opening}{_osm_value(value)}"/>\n')
            parts.append("</node>\n")
        if parts:
            yield "".join(parts).encode()
    yield b"</osm>\n"
