"""The open-data API's formats as DRF renderers, for content negotiation only.

`?format=csv` or an Accept header picks one; the views then write the body themselves with
mapapp.exports.formats (orjson, streaming), because a renderer gets a finished Python structure
and the point is never to build one for a million cameras. Errors are always JSON.
"""

from __future__ import annotations

from typing import Any

import orjson
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer


class _Renderer(BaseRenderer):
    charset = None  # JSON is UTF-8 by definition (RFC 8259); errors are all these render

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        # Only error bodies get here, and the views switch those to ErrorRenderer; JSON either way.
        return orjson.dumps(data, default=str)


class ErrorRenderer(_Renderer):
    media_type = "application/json"
    format = "json"


class JSONRenderer(_Renderer):
    media_type = "application/json"
    format = "json"


class GeoJSONRenderer(_Renderer):
    media_type = "application/geo+json"
    format = "geojson"


class CSVRenderer(_Renderer):
    media_type = "text/csv"
    format = "csv"


class OSMRenderer(_Renderer):
    # Registered with IANA for OSM XML; JOSM opens it.
    media_type = "application/vnd.openstreetmap.data+xml"
    format = "osm"


class OSMAsXMLRenderer(OSMRenderer):
    """The same document for clients that ask for plain XML."""

    media_type = "application/xml"


CAMERA_RENDERERS = (JSONRenderer, GeoJSONRenderer, CSVRenderer, OSMRenderer, OSMAsXMLRenderer)
AREA_RENDERERS = (JSONRenderer, GeoJSONRenderer)
JSON_ONLY = (JSONRenderer,)


class FormatNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, but an unknown `?format=` is a 400 that lists the formats, not a bare 404."""

    def filter_renderers(self, renderers: list[BaseRenderer], format: str) -> list[BaseRenderer]:
        matching = [r for r in renderers if r.format == format]
        if not matching:
            known = ", ".join(dict.fromkeys(r.format for r in renderers))
            raise ValidationError({"format": [f"Unknown format {format!r}; this endpoint speaks {known}."]})
        return matching
