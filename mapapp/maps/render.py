"""Build the public map documents with folium, small enough for a city of 25,000+ cameras.

Why not a folium `Marker` per camera: each one is ~400 bytes of generated JavaScript plus a
Python object, so 25,000 make an 11 MB page that takes seconds to build (bench/bench_maps.py
measures that baseline). Here folium builds the frame (tiles, boundary, layer control, scale)
and the cameras travel as one compact columnar JSON block, about 30 bytes a camera:

    {"lat": [4737691, ...], "lon": [854173, ...],   # degrees × 1e5 (1.1 m), integers
     "id": [...], "s": [status index], "k": [kind index],
     "d": [direction or -1], "r": [field-of-view reach in dm, 0 without a direction]}

static/js/cameramap.js turns that into clustered markers (coloured by status, shaped by kind),
the heat layer and the field-of-view wedges, so the data is sent once and drawn three ways.
Popups fetch /cameras/<id>/popup.json when opened and build their content with textContent:
no user-supplied string (operator, notes, a neighbourhood's name) is ever in the document, so
none can execute. The JSON block itself is escaped for a <script> element.

The city overview carries no per-camera data at all: a choropleth of the neighbourhoods (their
stored stats) plus an optional clustered layer that loads /maps/cameras.json for the visible
bounding box, aggregated on the server when the box holds too many cameras. It stays the same
size at 250,000 cameras as at 2,500.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import folium
import shapely
import shapely.geometry
from branca.element import MacroElement
from jinja2 import Template

from ..geometry import bbox
from . import fov
from .assets import local_map

# Public statuses, in the order of the "s" column (removed cameras are not on public maps).
STATUSES = ("reported", "verified", "disputed", "stale")
# Marker shapes ("k" column): the camera kind a resident can tell apart in the street.
KINDS = ("unknown", "fixed", "dome", "panning", "alpr")
STATUS_COLOURS = {"reported": "#d97706", "verified": "#15803d", "disputed": "#b91c1c", "stale": "#6b7280"}
# The choropleth's classes (cameras per km²) and colours, light to dark.
DENSITY_STEPS = (0, 5, 20, 50, 100, 200)
DENSITY_COLOURS = ("#fff7ec", "#fdd49e", "#fc8d59", "#e34a33", "#b30000", "#7f0000")
COORD_SCALE = 100_000


@dataclass(frozen=True, slots=True)
class MapCamera:
    """What a public map needs of one camera: no user text, no people."""

    id: int
    lat: float
    lon: float
    status: str
    camera_type: str = ""
    surveillance_type: str = ""
    direction: int | None = None
    height: float | None = None
    camera_angle: float | None = None

    @property
    def kind(self) -> str:
        if self.surveillance_type == "ALPR":
            return "alpr"
        return self.camera_type if self.camera_type in KINDS else "unknown"


def script_json(value: object) -> str:
    """JSON that is safe inside a <script> element: no "</script>", "<!--" or U+2028 can break out."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def camera_columns(cameras: Iterable[MapCamera]) -> dict[str, list[int]]:
    """The compact columnar form described in the module docstring."""
    cols: dict[str, list[int]] = {"lat": [], "lon": [], "id": [], "s": [], "k": [], "d": [], "r": []}
    status_index = {s: i for i, s in enumerate(STATUSES)}
    kind_index = {k: i for i, k in enumerate(KINDS)}
    for c in cameras:
        if c.status not in status_index:
            continue
        cols["lat"].append(round(c.lat * COORD_SCALE))
        cols["lon"].append(round(c.lon * COORD_SCALE))
        cols["id"].append(c.id)
        cols["s"].append(status_index[c.status])
        cols["k"].append(kind_index[c.kind])
        if c.direction is None:
            cols["d"].append(-1)
            cols["r"].append(0)
        else:
            cols["d"].append(int(c.direction) % 360)
            cols["r"].append(round(fov.reach_m(height=c.height, tilt=c.camera_angle) * 10))
    return cols


class _Call(MacroElement):
    """Our script's entry point, called after folium's map and layer control exist.

    `args` are JavaScript expressions (folium variable names or escaped JSON), never user text.
    """

    _template = Template(
        """
        {% macro html(this, kwargs) %}{% if this.payload %}
        <script type="application/json" id="{{ this.payload_id }}">{{ this.payload }}</script>
        {% endif %}{% endmacro %}
        {% macro script(this, kwargs) %}
        CameraWatchMap.{{ this.function }}({{ this.args|join(", ") }});
        {% endmacro %}
        """
    )

    def __init__(self, function: str, args: Sequence[str], payload: str = "", payload_id: str = "") -> None:
        super().__init__()
        self._name = "CameraWatchCall"
        self.function, self.args, self.payload, self.payload_id = function, list(args), payload, payload_id


# Boundaries on the overview are simplified to about 5 m and rounded to 1.1 m: at city zoom a
# pixel is 20-40 m, and real quarter outlines carry ~740 vertices each (Zürich's average), which
# at 100 neighbourhoods made the overview 1.9 MB; simplified it is a tenth of that.
OVERVIEW_SIMPLIFY_DEG = 0.00005
BOUNDARY_DECIMALS = 5


def simplified(geometry: Mapping[str, Any], tolerance_deg: float = OVERVIEW_SIMPLIFY_DEG) -> dict[str, Any]:
    """The outline with fewer vertices (topology kept, so it never collapses) and rounded positions."""
    shape = shapely.geometry.shape(geometry)
    if tolerance_deg > 0:
        shape = shape.simplify(tolerance_deg, preserve_topology=True)
    return json.loads(shapely.to_geojson(shapely.set_precision(shape, 10**-BOUNDARY_DECIMALS)))


def _bounds(geometry: Mapping[str, Any]) -> list[list[float]]:
    """Leaflet's [[south, west], [north, east]] of a GeoJSON outline."""
    west, south, east, north = bbox(dict(geometry))
    return [[south, west], [north, east]]


def neighbourhood_map(
    *, geometry: Mapping[str, Any], cameras: Iterable[MapCamera], popup_url: str, verify_url: str
) -> folium.Map:
    """One neighbourhood: its boundary, clustered cameras, heat, fields of view, legend, scale.

    `popup_url` contains "{id}" (the camera's popup JSON). The boundary carries no properties,
    so the neighbourhood's name is not in the map document either (the page around it says it).
    """
    m = local_map(zoom_start=15, max_zoom=19)
    folium.GeoJson(
        {"type": "Feature", "properties": {}, "geometry": simplified(geometry, tolerance_deg=0)},
        name="Boundary",
        style_function=lambda _: {"color": "#1e3a8a", "weight": 3, "fill": False},
        control=True,
    ).add_to(m)
    m.fit_bounds(_bounds(geometry), padding=(10, 10))
    control = folium.LayerControl(collapsed=False)
    control.add_to(m)
    data = camera_columns(cameras)
    options = {
        "popupUrl": popup_url,
        "verifyUrl": verify_url,
        "statuses": list(STATUSES),
        "kinds": list(KINDS),
        "colours": STATUS_COLOURS,
        "scale": COORD_SCALE,
        "fovAngle": fov.DEFAULT_ANGLE,
    }
    m.add_child(
        _Call(
            "neighbourhood",
            [
                m.get_name(),
                control.get_name(),
                "JSON.parse(document.getElementById('cw-cameras').textContent)",
                script_json(options),
            ],
            payload=script_json(data),
            payload_id="cw-cameras",
        )
    )
    return m


def density_colour(per_km2: float | None) -> str:
    if per_km2 is None or math.isnan(per_km2):
        return "#e5e7eb"
    colour = DENSITY_COLOURS[0]
    for step, value in zip(DENSITY_STEPS, DENSITY_COLOURS, strict=True):
        if per_km2 >= step:
            colour = value
    return colour


@dataclass(frozen=True, slots=True)
class AreaSummary:
    """A neighbourhood on the overview: its shape and published stats (no user text but its name)."""

    slug: str
    name: str
    geometry: Mapping[str, Any]
    cameras: int
    per_km2: float | None


def overview_map(*, areas: Sequence[AreaSummary], cameras_url: str, page_url: str) -> folium.Map:
    """The city: neighbourhoods coloured by cameras per km², and all cameras as a clustered
    layer loaded by bounding box (off by default). Names reach the tooltips through the
    escaped JSON block and textContent, never as HTML."""
    m = local_map(zoom_start=12, max_zoom=19)
    features = [
        {
            "type": "Feature",
            "properties": {"i": i, "fill": density_colour(a.per_km2)},
            "geometry": simplified(a.geometry),
        }
        for i, a in enumerate(areas)
    ]
    choropleth = folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name="Cameras per km²",
        style_function=lambda f: {
            "fillColor": f["properties"]["fill"],
            "color": "#374151",
            "weight": 1,
            "fillOpacity": 0.65,
        },
        highlight_function=lambda _: {"weight": 3},
    )
    choropleth.add_to(m)
    if areas:
        boxes = [_bounds(a.geometry) for a in areas]
        m.fit_bounds(
            [
                [min(b[0][0] for b in boxes), min(b[0][1] for b in boxes)],
                [max(b[1][0] for b in boxes), max(b[1][1] for b in boxes)],
            ]
        )
    else:
        m.location, m.options["zoom"] = [20, 0], 2
    control = folium.LayerControl(collapsed=False)
    control.add_to(m)
    table = {
        "areas": [{"slug": a.slug, "name": a.name, "cameras": a.cameras, "perKm2": a.per_km2} for a in areas],
        "steps": list(DENSITY_STEPS),
        "colours": list(DENSITY_COLOURS),
        "camerasUrl": cameras_url,
        "pageUrl": page_url,
        "statusColours": STATUS_COLOURS,
    }
    m.add_child(
        _Call(
            "overview",
            [
                m.get_name(),
                control.get_name(),
                choropleth.get_name(),
                "JSON.parse(document.getElementById('cw-areas').textContent)",
            ],
            payload=script_json(table),
            payload_id="cw-areas",
        )
    )
    return m


def html_document(m: folium.Map) -> str:
    return m.get_root().render()
