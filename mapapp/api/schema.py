"""The API's operations as OpenAPI describes them (drf-spectacular): parameters, headers, answers.

The open-data views carry the decorators defined here (`@doc.CAMERA_LIST`), so the views stay
about HTTP and the description stays in one place; the sighting, vote and token views, whose
bodies have serializers, are annotated where they are (mapapp/api/views.py) with the parameters,
headers, error answers and vote shapes from here. What the open-data bodies look like is
mapapp/api/shapes.py.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer

from mapapp import vocab
from mapapp.consensus.params import MAJORITY, SPLIT, UNANIMOUS
from mapapp.exports import CITY_STATS_MAX_AGE
from mapapp.exports import formats as fmt
from mapapp.models import Camera, Vote
from mapapp.services import CORRECTABLE

from . import pagination
from .filters import CameraFilter
from .renderers import AREA_RENDERERS, CAMERA_RENDERERS, JSON_ONLY
from .shapes import THROTTLE_SCOPES, Schema, enum, ref

API_PREFIX = "/api/v1/"
OPEN_DATA = ["open data"]


def api_paths_only(endpoints: list[tuple[str, str, str, Any]]) -> list[tuple[str, str, str, Any]]:
    """Preprocessing hook: the public API only, not the web pages' own JSON helpers (/geocode/)."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith(API_PREFIX)]


# --- Parameters ---------------------------------------------------------------------------------


def format_parameter(renderers: tuple[type[BaseRenderer], ...]) -> OpenApiParameter:
    formats = list(dict.fromkeys(r.format for r in renderers))
    return OpenApiParameter(
        "format",
        enum=formats,
        default=formats[0],
        description="The answer's format; an `Accept` header works too. Errors are always JSON.",
    )


def _filter_parameter(name: str, f: Any) -> OpenApiParameter:
    text = str(f.extra.get("help_text") or "")
    if name == "bbox":
        number = r"-?\d+(\.\d+)?"
        return OpenApiParameter(
            name,
            {"type": "string", "pattern": rf"^{number},{number},{number},{number}$"},
            description=f"{text} west,south,east,north, e.g. 8.50,47.36,8.56,47.39; "
            "-180 <= west <= east <= 180 and -90 <= south <= north <= 90.",
        )
    if name == "neighbourhood":
        return OpenApiParameter(name, {"type": "string", "pattern": r"^[-a-zA-Z0-9_]+$"}, description=text)
    if name == "updated_since":
        return OpenApiParameter(
            name, OpenApiTypes.DATE, description=f"{text} A date-time is accepted too; only its day counts."
        )
    if name == "min_confirmations":
        return OpenApiParameter(name, {"type": "integer", "minimum": 0}, description=text)
    choices = [value for value, _ in f.extra["choices"]]
    return OpenApiParameter(
        name,
        {"type": "array", "items": enum(choices), "minItems": 1},
        style="form",
        explode=False,
        description=text,
    )


CAMERA_ID = OpenApiParameter(
    "id", int, OpenApiParameter.PATH, description="The camera's id (the `id` column of every format)."
)
SLUG = OpenApiParameter("slug", {"type": "string", "pattern": r"^[-a-zA-Z0-9_]+$"}, OpenApiParameter.PATH)
CAMERA_FILTERS = [_filter_parameter(name, f) for name, f in CameraFilter.base_filters.items()]
PAGE_PARAMETERS = [
    OpenApiParameter(
        "ordering",
        enum=list(pagination.ORDERINGS),
        default=pagination.DEFAULT_ORDERING,
        description="Sort order; a leading minus reverses it. Ties go by ascending id.",
    ),
    OpenApiParameter(
        "page_size",
        {"type": "integer", "minimum": 1, "maximum": pagination.MAX_PAGE_SIZE},
        default=pagination.DEFAULT_PAGE_SIZE,
        description="Cameras per page.",
    ),
    OpenApiParameter(
        "cursor",
        description="Where a page starts: copy it from the previous page's `next` link, never build one. "
        "Keep the same ordering and filters while you follow them.",
    ),
]

# --- Response headers ---------------------------------------------------------------------------


def header(name: str, description: str, codes: list[int], schema: Schema | None = None) -> OpenApiParameter:
    """A response header, always sent with these status codes."""
    schema = schema or {"type": "string"}
    return OpenApiParameter(
        name, schema, OpenApiParameter.HEADER, required=True, description=description, response=codes
    )


def rate_limit_headers(codes: list[int]) -> list[OpenApiParameter]:
    return [
        header("X-RateLimit-Limit", "Requests allowed in the window.", codes, {"type": "integer"}),
        header("X-RateLimit-Remaining", "Requests left in it.", codes, {"type": "integer", "minimum": 0}),
        header("X-RateLimit-Reset", "Unix time at which a new window starts.", codes, {"type": "integer"}),
        header("X-RateLimit-Scope", "The budget these figures describe.", codes, enum(THROTTLE_SCOPES)),
    ]


def licence_headers(codes: list[int]) -> list[OpenApiParameter]:
    return [
        header(
            "Link",
            f'`<{fmt.LICENCE_URL}>; rel="license"`, and the next page as `rel="next"` where there is one.',
            codes,
        ),
        header("X-Attribution", f"`{fmt.ATTRIBUTION_ASCII}`", codes),
    ]


RETRY_AFTER = header("Retry-After", "Seconds to wait.", [429], {"type": "integer", "minimum": 1})
WWW_AUTHENTICATE = header("WWW-Authenticate", "`Token`: how to authenticate.", [401])

# --- Responses ----------------------------------------------------------------------------------

JSON = "application/json"
GEOJSON = "application/geo+json"
CSV = "text/csv"
OSM = "application/vnd.openstreetmap.data+xml"
XML = "application/xml"

BAD_REQUEST = OpenApiResponse(ref("ValidationError"), description="A bad or unknown parameter, named.")
BAD_BODY = OpenApiResponse(
    {"oneOf": [ref("ValidationError"), ref("Error")]},
    description="Bad fields, named (ValidationError), or a body that is not JSON at all (Error).",
)
UNAUTHENTICATED = OpenApiResponse(ref("Error"), description="No credentials where they are needed, or a bad token.")
FORBIDDEN = OpenApiResponse(ref("Error"), description="Not allowed, and why (or a session POST without CSRF).")
NOT_FOUND = OpenApiResponse(ref("Error"), description="Nothing here.")
NOT_ACCEPTABLE = OpenApiResponse(ref("Error"), description="The `Accept` header names no format this speaks.")
UNSUPPORTED = OpenApiResponse(ref("Error"), description="A request body in a media type this does not read.")
TOO_MANY = OpenApiResponse(ref("Throttled"), description="A rate limit ran out; retry after `retry_after` seconds.")


def open_data_responses(success: dict[Any, Any]) -> dict[Any, Any]:
    """The success responses, and the errors every open-data endpoint can give (always JSON)."""
    return {
        **success,
        (400, JSON): BAD_REQUEST,
        (401, JSON): UNAUTHENTICATED,
        (406, JSON): NOT_ACCEPTABLE,
        (429, JSON): TOO_MANY,
    }


CSV_TEXT = {
    "type": "string",
    "description": "RFC 4180 CSV in UTF-8: a header row of the Camera columns, then one row per camera. "
    "Text a spreadsheet would run as a formula starts with a single quote.",
}
OSM_TEXT = {
    "type": "string",
    "description": "OSM XML (API 0.6) for review in JOSM, never for upload: only the cameras not in "
    "OpenStreetMap yet, as new nodes with negative ids (-camera id).",
}


def camera_responses(json: str, geojson: str, description: str) -> dict[Any, Any]:
    # One description per status code in OpenAPI; each format's own notes are on its schema.
    description += " JSON and GeoJSON carry the licence in the body, CSV and OSM XML in the headers."
    return open_data_responses(
        {
            (200, JSON): OpenApiResponse(ref(json), description=description),
            (200, GEOJSON): OpenApiResponse(ref(geojson), description=description),
            (200, CSV): OpenApiResponse(CSV_TEXT, description=description),
            (200, OSM): OpenApiResponse(OSM_TEXT, description=description),
            (200, XML): OpenApiResponse(OSM_TEXT, description=description),
        }
    )


HEADERS = [*rate_limit_headers([200, 429]), *licence_headers([200]), RETRY_AFTER, WWW_AUTHENTICATE]


# --- The open-data operations --------------------------------------------------------------------


def _area_responses(json: str, geojson: str, description: str) -> dict[Any, Any]:
    return open_data_responses(
        {
            (200, JSON): OpenApiResponse(ref(json), description=description),
            (200, GEOJSON): OpenApiResponse(ref(geojson), description=description),
        }
    )


ROOT = extend_schema(
    operation_id="root",
    summary="What the API offers",
    description="The endpoints, formats, filters, orderings, columns, licence and your rate limits.",
    parameters=[format_parameter(JSON_ONLY), *HEADERS],
    responses=open_data_responses({(200, JSON): OpenApiResponse(ref("ApiRoot"))}),
    tags=OPEN_DATA,
)
CAMERA_LIST = extend_schema(
    operation_id="cameras_list",
    summary="A page of public cameras",
    description="Cameras matching every filter given, a page at a time, in any of the four formats. "
    'Follow `next` (in the body, and as `rel="next"` in the `Link` header) until it is absent.',
    parameters=[format_parameter(CAMERA_RENDERERS), *CAMERA_FILTERS, *PAGE_PARAMETERS, *HEADERS],
    responses=camera_responses("CameraPage", "CameraFeaturePage", "A page of cameras."),
    tags=OPEN_DATA,
)
CAMERA_EXPORT = extend_schema(
    operation_id="cameras_export",
    summary="Every public camera matching the filters, in one streamed file",
    description="The same filters and formats as the list, in id order, without pages, as a download "
    "(`Content-Disposition`). Each export also counts against the small `export` budget.",
    parameters=[
        format_parameter(CAMERA_RENDERERS),
        *CAMERA_FILTERS,
        *HEADERS,
        header("Content-Disposition", '`attachment; filename="camerawatch-cameras-<day>.<format>"`', [200]),
    ],
    responses=camera_responses("CameraExport", "CameraFeatureExport", "Every matching camera."),
    tags=OPEN_DATA,
)
CAMERA_DETAIL = extend_schema(
    operation_id="cameras_retrieve",
    summary="One public camera",
    description="A merged camera's id redirects (302) to the camera it became, with the same query. "
    "OSM XML is empty of nodes for a camera OpenStreetMap already has.",
    parameters=[
        format_parameter(CAMERA_RENDERERS),
        CAMERA_ID,
        *HEADERS,
        header("Location", "The camera this one was merged into.", [302]),
    ],
    responses={
        **camera_responses("Camera", "CameraFeatureLicensed", "The camera."),
        302: OpenApiResponse(description="Merged into another camera: follow `Location`."),
        (404, JSON): NOT_FOUND,
    },
    tags=OPEN_DATA,
)
NEIGHBOURHOOD_LIST = extend_schema(
    operation_id="neighbourhoods_list",
    summary="Every neighbourhood with its camera stats",
    description="By name, not paged. As GeoJSON, with their polygons.",
    parameters=[format_parameter(AREA_RENDERERS), *HEADERS],
    responses=_area_responses("NeighbourhoodList", "NeighbourhoodFeatureCollection", "Every neighbourhood."),
    tags=OPEN_DATA,
)
NEIGHBOURHOOD_DETAIL = extend_schema(
    operation_id="neighbourhoods_retrieve",
    summary="One neighbourhood, its stats and its polygon",
    parameters=[format_parameter(AREA_RENDERERS), SLUG, *HEADERS],
    responses={
        **_area_responses("NeighbourhoodDetail", "NeighbourhoodFeatureLicensed", "The neighbourhood."),
        (404, JSON): NOT_FOUND,
    },
    tags=OPEN_DATA,
)
STATS = extend_schema(
    operation_id="stats_retrieve",
    summary="City-wide camera totals",
    description="The neighbourhoods' stats added up, plus the cameras outside every neighbourhood; at "
    "most a minute old.",
    parameters=[
        format_parameter(JSON_ONLY),
        *HEADERS,
        header("Cache-Control", f"`public, max-age={CITY_STATS_MAX_AGE}`", [200]),
    ],
    responses=open_data_responses({(200, JSON): OpenApiResponse(ref("CityStats"))}),
    tags=OPEN_DATA,
)


# --- Votes ---------------------------------------------------------------------------------------
# The vote serializer passes corrections through raw (the vote service judges them, for the web
# form too), so its own schema would say "anything"; this is what the service accepts.


def _corrections() -> dict[str, serializers.Field]:
    """Each correctable attribute as a correction gives it; null or "" means no correction."""
    optional = {"required": False, "allow_null": True}
    fields = {
        "camera_type": serializers.ChoiceField(choices=vocab.CAMERA_TYPE.choices, allow_blank=True, **optional),
        "camera_mount": serializers.ChoiceField(choices=vocab.CAMERA_MOUNT.choices, allow_blank=True, **optional),
        "direction": serializers.IntegerField(min_value=0, max_value=359, help_text="Degrees from north.", **optional),
        "operator": serializers.CharField(max_length=200, allow_blank=True, **optional),
    }
    return {name: fields[name] for name in CORRECTABLE}


VOTE_REQUEST = inline_serializer(
    "Vote",
    {
        "verdict": serializers.ChoiceField(choices=Vote.Verdict.choices),
        **_corrections(),
        "corrections": inline_serializer("Corrections", _corrections(), required=False),
    },
)
VOTE_RESULT = inline_serializer(
    "VoteResult",
    {
        "verdict": serializers.ChoiceField(choices=Vote.Verdict.choices),
        "corrections": serializers.DictField(),
        "camera": inline_serializer(
            "VotedCamera",
            {
                "id": serializers.IntegerField(),
                "status": serializers.ChoiceField(choices=Camera.Status.choices),
                "confirmations": serializers.IntegerField(min_value=0),
                "agreement": serializers.DictField(
                    child=inline_serializer(
                        "AttributeAgreement",
                        {
                            "share": serializers.FloatField(min_value=0, max_value=1),
                            "reports": serializers.IntegerField(min_value=1),
                            "label": serializers.ChoiceField(choices=[UNANIMOUS, MAJORITY, SPLIT]),
                        },
                    ),
                    help_text="Per attribute: how far the reports agree on the camera's value.",
                ),
            },
        ),
    },
)
