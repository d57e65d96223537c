"""What the open-data API's bodies look like, as the named schemas of its OpenAPI description.

The open-data views write their bodies themselves (orjson and the csv module, streamed), so no
serializer describes them; these schemas do. They are built from what the writers use (the public
columns and their docs, the vocabularies, the orderings, the licence), so a column added there
shows up here, and one without a type here fails at import, not in the docs. Camera rows are closed
(`additionalProperties: false`): the schema fuzzer (tests/test_api_schema.py) then fails on any
column that was not published on purpose.

`add_components` (a postprocessing hook in settings.SPECTACULAR_SETTINGS) puts them into the
schema's components; the operations (mapapp/api/schema.py) refer to them with `ref()`.
"""

from __future__ import annotations

from typing import Any

from mapapp import vocab
from mapapp.exports import formats as fmt
from mapapp.models import Camera

from . import pagination
from .filters import PUBLIC_STATUSES

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: Schema) -> Schema:
    return {**schema, "nullable": True}


def enum(values: tuple[str, ...] | list[str]) -> Schema:
    return {"type": "string", "enum": list(values)}


def _counts(what: str) -> Schema:
    return {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}, "description": what}


# --- Cameras ------------------------------------------------------------------------------------

DAY = {"type": "string", "format": "date"}
# One entry per public column: what a value may be. The meaning comes from fmt.COLUMN_DOCS.
COLUMN_TYPES: dict[str, Schema] = {
    "id": {"type": "integer"},
    "lat": {"type": "number", "minimum": -90, "maximum": 90},
    "lon": {"type": "number", "minimum": -180, "maximum": 180},
    "status": enum(PUBLIC_STATUSES),
    **{v.field: enum(v.values) for v in vocab.VOCABULARIES},
    "direction": _nullable({"type": "integer", "minimum": 0, "maximum": 359}),
    "operator": {"type": "string"},
    "height": _nullable({"type": "number"}),
    "camera_angle": _nullable({"type": "number", "minimum": 0, "maximum": 90}),
    "confirmations": {"type": "integer", "minimum": 0},
    "contributors": {"type": "integer", "minimum": 0},
    "first_seen": DAY,
    "last_seen": DAY,
    "last_confirmed": _nullable(DAY),
    "neighbourhood": _nullable({"type": "string"}),
    "updated": DAY,
    "osm_id": _nullable({"type": "integer"}),
    "provenance": enum(Camera.Provenance.values),
}


def _columns(names: tuple[str, ...]) -> Schema:
    return {
        "type": "object",
        "properties": {name: {**COLUMN_TYPES[name], "description": fmt.COLUMN_DOCS[name]} for name in names},
        "required": list(names),
        "additionalProperties": False,
    }


def _licensed(properties: Schema, required: list[str], description: str) -> Schema:
    """An object with the licence members (`license`, `attribution`, `citation`) in front."""
    return {
        "type": "object",
        "description": description,
        "properties": {**LICENCE_MEMBERS, **properties},
        "required": [*LICENCE_MEMBERS, *required],
    }


LICENCE_MEMBERS: Schema = {
    "license": ref("Licence"),
    "attribution": {"type": "string", "example": fmt.ATTRIBUTION},
    "citation": {"type": "string", "description": "The suggested citation, dated the day of the request."},
}
NEXT = {
    "type": "string",
    "format": "uri",
    "nullable": True,
    "description": "The next page with the same filters and ordering; null on the last page.",
}
POINT = {
    "type": "object",
    "properties": {
        "type": enum(["Point"]),
        "coordinates": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
    },
    "required": ["type", "coordinates"],
    "description": "[longitude, latitude] (RFC 7946).",
}
CAMERA_FEATURE = {
    "type": "object",
    "properties": {
        "type": enum(["Feature"]),
        "id": {"type": "integer"},
        "geometry": POINT,
        "properties": ref("CameraProperties"),
    },
    "required": ["type", "id", "geometry", "properties"],
}
FEATURE_COLLECTION = enum(["FeatureCollection"])

# --- Neighbourhoods and stats ---------------------------------------------------------------------

AREA_GEOMETRY = {
    "type": "object",
    "properties": {"type": enum(["Polygon", "MultiPolygon"]), "coordinates": {"type": "array", "items": {}}},
    "required": ["type", "coordinates"],
    "description": "GeoJSON geometry, [longitude, latitude] (RFC 7946).",
}
BREAKDOWNS: Schema = {
    "by_status": _counts("Cameras per status."),
    "by_type": _counts("Cameras per camera_type."),
    "by_mount": _counts("Cameras per camera_mount."),
    "by_operator_type": _counts("Cameras per operator_type."),
}
SHARES: Schema = {
    "per_km2": _nullable({"type": "number", "description": "Cameras per km²; null without an area."}),
    "verified_share": _nullable(
        {"type": "number", "minimum": 0, "maximum": 1, "description": "Share of cameras verified; null if none."}
    ),
    "last_update": _nullable({**DAY, "description": "Day (UTC, or its month's first) of the latest change."}),
}
NEIGHBOURHOOD: Schema = {
    "type": "object",
    "properties": {
        "slug": {"type": "string"},
        "name": {"type": "string"},
        "area_km2": {"type": "number", "minimum": 0},
        "is_demo": {"type": "boolean", "description": "Fictional demo data: leave it out of any analysis."},
        "cameras": {"type": "integer", "minimum": 0},
        **SHARES,
        **BREAKDOWNS,
        "bbox": {
            "type": "array",
            "items": {"type": "number"},
            "minItems": 4,
            "maxItems": 4,
            "description": "[west, south, east, north] in degrees.",
        },
        "url": {"type": "string", "format": "uri"},
        "cameras_url": {"type": "string", "format": "uri", "description": "Its cameras in the camera list."},
    },
    "required": ["slug", "name", "area_km2", "is_demo", "cameras", *SHARES, *BREAKDOWNS, "bbox", "url", "cameras_url"],
}
NEIGHBOURHOOD_FEATURE = {
    "type": "object",
    "properties": {
        "type": enum(["Feature"]),
        "id": {"type": "string", "description": "The slug."},
        "geometry": AREA_GEOMETRY,
        "properties": ref("Neighbourhood"),
    },
    "required": ["type", "id", "geometry", "properties"],
}
STATS_PROPERTIES: Schema = {
    "cameras": {"type": "integer", "minimum": 0},
    "neighbourhoods": {"type": "integer", "minimum": 0},
    "cameras_in_neighbourhoods": {"type": "integer", "minimum": 0},
    "cameras_outside_neighbourhoods": {"type": "integer", "minimum": 0},
    "area_km2": {"type": "number", "minimum": 0, "description": "The neighbourhoods' area in all."},
    **SHARES,
    **BREAKDOWNS,
}

# --- Errors -------------------------------------------------------------------------------------

THROTTLE_SCOPES = ["anon", "user", "researcher", "export"]
ERRORS: dict[str, Schema] = {
    "Error": {
        "type": "object",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
        "description": "What went wrong, for a person to read.",
    },
    "ValidationError": {
        "type": "object",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
        "description": "Each key names a bad parameter or field (`non_field_errors` for the whole "
        "request), with what it should look like. Unknown parameters and fields are errors too.",
        "example": {"bbox": ["bbox needs 4 numbers (west,south,east,north), got 3. Give bbox=minlon,..."]},
    },
    "Throttled": {
        "type": "object",
        "properties": {
            "detail": {"type": "string"},
            "retry_after": {"type": "integer", "minimum": 1, "description": "Seconds to wait."},
            "retry_at": {"type": "string", "format": "date-time"},
            "scope": enum(THROTTLE_SCOPES),
            "limit": {"type": "integer"},
            "window_seconds": {"type": "integer"},
            "help": {"type": "string"},
        },
        "required": ["detail", "retry_after", "retry_at", "scope", "limit", "window_seconds", "help"],
        "description": "The budget that ran out and when the next window opens.",
    },
}

COMPONENTS: dict[str, Schema] = {
    "Licence": {
        "type": "object",
        "properties": {
            "id": enum([fmt.LICENCE_ID]),
            "name": enum([fmt.LICENCE_NAME]),
            "url": enum([fmt.LICENCE_URL]),
        },
        "required": ["id", "name", "url"],
    },
    "Camera": {**_columns(fmt.PUBLIC_COLUMNS), "description": "A public camera (CSV: one row, these columns)."},
    "CameraProperties": _columns(tuple(c for c in fmt.PUBLIC_COLUMNS if c not in ("lat", "lon"))),
    "CameraPage": _licensed(
        {"next": NEXT, "results": {"type": "array", "items": ref("Camera")}},
        ["next", "results"],
        "A page of cameras. Follow `next` until it is null.",
    ),
    "CameraFeature": CAMERA_FEATURE,
    "CameraFeaturePage": _licensed(
        {"type": FEATURE_COLLECTION, "next": NEXT, "features": {"type": "array", "items": ref("CameraFeature")}},
        ["type", "next", "features"],
        "A page of cameras as an RFC 7946 FeatureCollection; the licence and `next` are foreign members.",
    ),
    "CameraExport": _licensed(
        {"results": {"type": "array", "items": ref("Camera")}}, ["results"], "Every camera matching the filters."
    ),
    "CameraFeatureExport": _licensed(
        {"type": FEATURE_COLLECTION, "features": {"type": "array", "items": ref("CameraFeature")}},
        ["type", "features"],
        "Every camera matching the filters, as an RFC 7946 FeatureCollection.",
    ),
    "CameraFeatureLicensed": _licensed(CAMERA_FEATURE["properties"], CAMERA_FEATURE["required"], "One camera."),
    "Neighbourhood": NEIGHBOURHOOD,
    "NeighbourhoodDetail": {
        **NEIGHBOURHOOD,
        "properties": {**NEIGHBOURHOOD["properties"], "geometry": AREA_GEOMETRY},
        "required": [*NEIGHBOURHOOD["required"], "geometry"],
    },
    "NeighbourhoodList": _licensed(
        {"results": {"type": "array", "items": ref("Neighbourhood")}}, ["results"], "Every neighbourhood, by name."
    ),
    "NeighbourhoodFeature": NEIGHBOURHOOD_FEATURE,
    "NeighbourhoodFeatureLicensed": _licensed(
        NEIGHBOURHOOD_FEATURE["properties"], NEIGHBOURHOOD_FEATURE["required"], "One neighbourhood."
    ),
    "NeighbourhoodFeatureCollection": _licensed(
        {"type": FEATURE_COLLECTION, "features": {"type": "array", "items": ref("NeighbourhoodFeature")}},
        ["type", "features"],
        "Every neighbourhood with its polygon, as an RFC 7946 FeatureCollection.",
    ),
    "CityStats": _licensed(STATS_PROPERTIES, list(STATS_PROPERTIES), "City-wide totals, at most a minute old."),
    "ApiRoot": _licensed(
        {
            "name": {"type": "string"},
            "version": {"type": "string"},
            "endpoints": {"type": "object", "additionalProperties": {"type": "string"}},
            "formats": {"type": "object", "additionalProperties": {"type": "string"}},
            "filters": {"type": "object", "additionalProperties": {"type": "string"}},
            "ordering": {"type": "array", "items": enum(list(pagination.ORDERINGS))},
            "paging": {"type": "object"},
            "columns": {"type": "object", "additionalProperties": {"type": "string"}},
            "dates": {"type": "string"},
            "rate_limits": {"type": "object"},
        },
        ["name", "version", "endpoints", "formats", "filters", "ordering", "paging", "columns", "dates", "rate_limits"],
        "What there is, in which formats, under which licence, at which rates.",
    ),
    **ERRORS,
}


def add_components(result: Schema, generator: Any, request: Any, public: bool) -> Schema:
    """Postprocessing hook: the named schemas above, next to the serializers' components."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    clash = sorted(set(schemas) & set(COMPONENTS))
    if clash:  # a serializer took one of these names: one of the two would silently describe both
        raise ValueError(f"OpenAPI component names used twice: {', '.join(clash)}")
    schemas.update(COMPONENTS)
    result["components"]["schemas"] = dict(sorted(schemas.items()))
    return result
